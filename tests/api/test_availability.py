"""Database unavailability becomes 503 (never 500); concurrent reads are shared, never stale."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from control_api.app import build_api
from control_api.availability import Coalescer, unavailable
from control_api.context import ApiContext
from control_api.errors import NotFound
from gateway.campaigns.runtime import StaticRuntime
from gateway.db.engine import async_url
from gateway.settings import Secret
from tests.api.conftest import BOOTSTRAP


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (sa_exc.TimeoutError("QueuePool limit reached"), True),
        (TimeoutError(), True),
        (ConnectionRefusedError(), True),
        (sa_exc.OperationalError("SELECT 1", {}, Exception("gone")), True),
        (sa_exc.DBAPIError("SELECT 1", {}, Exception("x"), connection_invalidated=True), True),
        (ValueError("a bug"), False),
        (sa_exc.IntegrityError("INSERT", {}, Exception("duplicate")), False),
        (KeyError("a bug"), False),
    ],
)
def test_unavailable_classification(error: Exception, expected: bool) -> None:
    assert unavailable(error) is expected


@pytest.mark.parametrize(
    "error", [asyncpg.exceptions.DeadlockDetectedError, asyncpg.exceptions.SerializationError]
)
def test_a_deadlock_or_serialization_failure_is_a_retry_not_a_defect(error: type) -> None:
    wrapped = sa_exc.DBAPIError("UPDATE campaigns …", {}, Exception("aborted"))
    wrapped.orig = error("deadlock detected")
    assert unavailable(wrapped)


def test_a_statement_timeout_from_the_driver_is_unavailable() -> None:
    wrapped = sa_exc.DBAPIError("SELECT pg_sleep(9)", {}, Exception("canceled"))
    wrapped.__cause__ = asyncpg.exceptions.QueryCanceledError("statement timeout")
    assert unavailable(wrapped)


async def test_concurrent_reads_share_one_load_and_late_ones_wait_for_a_fresh_one() -> None:
    loads: list[int] = []
    release = asyncio.Event()

    async def load(key: int) -> int:
        loads.append(key)
        await release.wait()
        return len(loads)

    shared: Coalescer[int, int] = Coalescer(load)
    first = asyncio.ensure_future(shared.get(7))
    await asyncio.sleep(0)  # let the first read start
    later = [asyncio.ensure_future(shared.get(7)) for _ in range(50)]
    release.set()
    assert await first == 1
    assert set(await asyncio.gather(*later)) == {2}  # one fresh read served all fifty
    assert loads == [7, 7]


async def test_errors_reach_every_waiter() -> None:
    async def load(key: int) -> int:
        await asyncio.sleep(0)
        raise NotFound(f"campaign {key} does not exist")

    shared: Coalescer[int, int] = Coalescer(load)
    results = await asyncio.gather(*(shared.get(3) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, NotFound) for r in results)


@pytest.fixture
async def tiny_pool(database_url: str) -> AsyncIterator[AsyncEngine]:
    """One connection, no overflow, a 0.2 s pool timeout: easy to exhaust."""
    engine = create_async_engine(
        async_url(database_url), pool_size=1, max_overflow=0, pool_timeout=0.2
    )
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.mark.db
async def test_pool_exhaustion_is_a_503_problem(tiny_pool: AsyncEngine) -> None:
    ctx = ApiContext(
        tiny_pool, StaticRuntime(), lambda: datetime.now(UTC), bootstrap_token=Secret(BOOTSTRAP)
    )
    root = web.Application()
    root.add_subapp("/v1", build_api(ctx, send_webhooks=False))
    headers = {"Authorization": f"Bearer {BOOTSTRAP}"}
    async with TestClient(TestServer(root, port=0)) as client:
        ok = await client.get("/v1/campaigns", headers=headers)
        assert ok.status == 200
        async with tiny_pool.connect():  # hold the only connection
            busy = await client.get("/v1/campaigns/1/status", headers=headers)
            assert busy.status == 503
            assert busy.headers["Content-Type"].startswith("application/problem+json")
            assert busy.headers["Retry-After"] == "1"
            problem = await busy.json()
            assert problem["status"] == 503
            assert problem["retry_after_s"] == 1
        missing = await client.get("/v1/campaigns/999999999/status", headers=headers)
        assert missing.status == 404
