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
from dialer.app import Running, Service
from dialer.demo import wait_ready, with_simulated_servers
from gateway.db.embedded import EmbeddedPostgres
from gateway.settings import DatabaseSettings, HttpSettings, Secret, Settings

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
    settings = with_simulated_servers(
        Settings(
            http=HttpSettings(port=0),
            database=DatabaseSettings(url=Secret(own_database.url)),
            api_token=Secret(token),
            instance_id=instance_id,
            tick_interval_s=0.1,
        ),
        sim,
        token,
    )
    stop = asyncio.Event()
    ready: asyncio.Future[Running] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(Service(settings).run(stop, on_ready=ready.set_result))
    try:
        running = await asyncio.wait_for(wait_ready(ready, task), 60)
        api = f"http://127.0.0.1:{running.http_port}/v1"
        yield Stack(running, sim, own_database, api, token)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


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
