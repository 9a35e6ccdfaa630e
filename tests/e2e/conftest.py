"""End-to-end fixtures: a real PostgreSQL of the test's own, the simulated Asterisk, the service.

The database is an embedded server owned by the test (not the session's shared one) so that a
test can take it away and bring it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from asterisk_sim import SimAsterisk, SimConfig
from dialer.app import Running
from gateway.db.embedded import EmbeddedPostgres
from tests.service import running_service, sim_settings

# Simulated time runs 10x faster than wall time (E2E_TIME_SCALE=1 replays at real speed).
TIME_SCALE = float(os.environ.get("E2E_TIME_SCALE", "0.1"))


@dataclasses.dataclass(frozen=True, slots=True)
class OwnDatabase:
    server: EmbeddedPostgres
    url: str


@dataclasses.dataclass(frozen=True, slots=True)
class Stack:
    running: Running
    sim: SimAsterisk
    database: OwnDatabase
    api: str
    token: str


@pytest.fixture
def own_database(scratch_dir: Path) -> Iterator[OwnDatabase]:
    server = EmbeddedPostgres(scratch_dir / "pgdata")
    url = server.start()
    try:
        yield OwnDatabase(server, url)
    finally:
        server.stop()


@pytest.fixture
async def stack(own_database: OwnDatabase) -> AsyncIterator[Stack]:
    """Simulated Asterisk (10 agents, time 10x faster) + the whole gateway service."""
    config = SimConfig.demo(agents=10, seed=3, ami_port=0, ari_port=0, time_scale=TIME_SCALE)
    token = secrets.token_urlsafe(16)
    async with SimAsterisk(config) as sim, serve(sim, own_database, token, "e2e-1") as running:
        yield running


@contextlib.asynccontextmanager
async def serve(
    sim: SimAsterisk, own_database: OwnDatabase, token: str, instance_id: str
) -> AsyncIterator[Stack]:
    """The whole gateway service over ``sim`` and the test's database, until the block ends."""
    settings = sim_settings(sim, own_database.url, token, instance_id)
    async with running_service(settings) as running:
        yield Stack(running, sim, own_database, f"http://127.0.0.1:{running.http_port}/v1", token)


@pytest.fixture
def prometheus_path() -> str:
    """Path of Debian's ``prometheus`` server; skips with what to install when absent."""
    path = shutil.which("prometheus")
    if path is None:
        pytest.skip("needs Debian's prometheus package: apt-get install -y prometheus")
    return path


async def until(check: Callable[[], Awaitable[bool]], limit_s: float, what: str) -> None:
    """Poll ``check`` (a database or API condition) until true; fail naming ``what``."""
    try:
        async with asyncio.timeout(limit_s):
            while True:
                if await check():
                    return
                await asyncio.sleep(0.2)  # the polling interval of a condition
    except TimeoutError:
        raise AssertionError(f"timed out after {limit_s} s waiting for {what}") from None
