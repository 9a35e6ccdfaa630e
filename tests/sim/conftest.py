"""Fixtures for the simulator tests: a running SimAsterisk on free ports and an AMI client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from asterisk_sim import SimAsterisk, SimConfig
from tests.sim.amiclient import AmiTestClient

FAST = 0.02


@pytest.fixture
async def sim() -> AsyncIterator[SimAsterisk]:
    async with SimAsterisk(SimConfig(ami_port=0, ari_port=0, time_scale=FAST, seed=3)) as s:
        yield s


@pytest.fixture
async def ami(sim: SimAsterisk) -> AsyncIterator[AmiTestClient]:
    client = await AmiTestClient.connect(sim.ami_port)
    await client.login()
    yield client
    await client.close()


@pytest.fixture
async def ami_factory(sim: SimAsterisk) -> AsyncIterator[Callable[[], Awaitable[AmiTestClient]]]:
    clients: list[AmiTestClient] = []

    async def make() -> AmiTestClient:
        client = await AmiTestClient.connect(sim.ami_port)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()
