"""The status endpoint: state read fresh, record counts from a short per-campaign cache.

The cache's rules are tested on their own with a hand-driven loader and monotonic clock; the
endpoint is tested over HTTP on the real database, with the API's monotonic clock in hand.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from control_api.app import build_api
from control_api.context import ApiContext
from gateway.campaigns.runtime import StaticRuntime
from gateway.campaigns.status import MAX_AGE_S, REFRESH_AFTER_S, Counts, RecordCounts
from gateway.db.models import RecordStatus, Role
from tests.api.conftest import Api, always_reachable, make_tokens

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: float = 100.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Loader:
    """Counts on demand: each call waits until the test releases it with a value."""

    calls: list[int] = field(default_factory=list)
    pending: list[asyncio.Future[int]] = field(default_factory=list)
    called: asyncio.Condition = field(default_factory=asyncio.Condition)
    loaded: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, campaign_id: int) -> Counts:
        gate: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        async with self.called:
            self.calls.append(campaign_id)
            self.pending.append(gate)
            self.called.notify_all()
        n = await gate
        self.loaded.set()  # the refresh stores its result before the waiter runs
        return Counts({"new": n}, T0)

    async def release(self, n: int) -> None:
        self.loaded.clear()
        self.pending.pop(0).set_result(n)
        await asyncio.wait_for(self.loaded.wait(), 1)


async def started(loader: Loader, calls: int) -> None:
    """Wait until the cache's refresh tasks have called the loader ``calls`` times in all."""
    async with loader.called:
        await asyncio.wait_for(loader.called.wait_for(lambda: len(loader.calls) >= calls), 1)


async def primed(count: int = 10) -> tuple[RecordCounts, Loader, Clock]:
    """A cache that has loaded campaign 1 once (``count`` new records) at the clock's start."""
    loader, clock = Loader(), Clock()
    cache = RecordCounts(loader, clock=clock)
    first = asyncio.ensure_future(cache.get(1))
    await started(loader, 1)
    await loader.release(count)
    assert (await first).records == {"new": count}
    return cache, loader, clock


async def test_a_fresh_count_is_served_without_loading() -> None:
    cache, loader, clock = await primed()
    clock.now += REFRESH_AFTER_S
    assert (await cache.get(1)).records == {"new": 10}
    assert loader.calls == [1]
    await cache.close()


async def test_an_older_count_is_served_and_refreshed_once_in_the_background() -> None:
    cache, loader, clock = await primed()
    clock.now += REFRESH_AFTER_S + 0.1
    served = await asyncio.gather(*(cache.get(1) for _ in range(20)))
    assert {c.records["new"] for c in served} == {10}  # nobody waited
    await started(loader, 2)
    assert loader.calls == [1, 1]  # one refresh for all twenty
    await loader.release(11)
    assert (await cache.get(1)).records == {"new": 11}
    await cache.close()


async def test_a_count_past_the_maximum_age_is_waited_for() -> None:
    cache, loader, clock = await primed()
    clock.now += MAX_AGE_S + 0.1
    waiting = [asyncio.ensure_future(cache.get(1)) for _ in range(3)]
    await started(loader, 2)
    assert not any(w.done() for w in waiting)
    await loader.release(12)
    assert {(await w).records["new"] for w in waiting} == {12}
    assert len(loader.calls) == 2
    await cache.close()


async def test_after_invalidation_an_earlier_refresh_is_neither_kept_nor_served() -> None:
    loader, clock = Loader(), Clock()
    cache = RecordCounts(loader, clock=clock)
    before = asyncio.ensure_future(cache.get(1))
    await started(loader, 1)
    cache.invalidate(1)  # e.g. an import committed while the count ran
    after = asyncio.ensure_future(cache.get(1))
    await started(loader, 2)
    await loader.release(10)  # the count from before the import
    assert (await before).records == {"new": 10}
    assert not after.done()
    await loader.release(15)
    assert (await after).records == {"new": 15}
    assert (await cache.get(1)).records == {"new": 15}
    await cache.close()


async def test_failures_reach_the_waiters_and_the_next_request_retries() -> None:
    calls = 0

    async def load(campaign_id: int) -> Counts:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionRefusedError("database gone")
        return Counts({"new": campaign_id}, T0)

    cache = RecordCounts(load, clock=Clock())
    results = await asyncio.gather(cache.get(4), cache.get(4), return_exceptions=True)
    assert all(isinstance(r, ConnectionRefusedError) for r in results)
    assert (await cache.get(4)).records == {"new": 4}
    await cache.close()


async def test_close_cancels_a_refresh_in_flight() -> None:
    loader = Loader()
    cache = RecordCounts(loader, clock=Clock())
    waiting = asyncio.ensure_future(cache.get(1))
    await started(loader, 1)
    await cache.close()
    with pytest.raises(asyncio.CancelledError):
        await waiting


@pytest.fixture
async def timed_api(engine: AsyncEngine) -> AsyncIterator[tuple[Api, Clock]]:
    """The API with its monotonic clock in the test's hand."""
    runtime, clock = StaticRuntime(), Clock()
    ctx = ApiContext(
        engine=engine,
        runtime=runtime,
        clock=lambda: datetime.now(UTC),
        probe=always_reachable,
        monotonic=clock,
    )
    root = web.Application()
    root.add_subapp("/v1", build_api(ctx, send_webhooks=False))
    tokens, names = await make_tokens(engine)
    async with TestClient(TestServer(root, port=0)) as client:
        yield Api(client, runtime, engine, tokens, names), clock


async def _status(api: Api, cid: int) -> dict[str, object]:
    response = await api.client.get(f"/v1/campaigns/{cid}/status", headers=api.auth(Role.VIEWER))
    assert response.status == 200
    body: dict[str, object] = await response.json()
    return body


@pytest.mark.db
async def test_status_counts_own_writes_at_once_and_others_within_the_maximum_age(
    timed_api: tuple[Api, Clock],
) -> None:
    api, clock = timed_api
    c = await api.campaign()
    empty = await _status(api, c["id"])
    assert empty["records"] == dict.fromkeys(map(str, RecordStatus), 0)
    assert datetime.fromisoformat(str(empty["records_as_of"])).tzinfo is not None

    up = await api.client.post(
        f"/v1/campaigns/{c['id']}/records",
        data=b"phone\n+12125550101\n+12125550102\n",
        headers={**api.auth(Role.OPS), "Content-Type": "text/csv"},
    )
    assert (await up.json())["added"] == 2
    mine = await _status(api, c["id"])
    assert mine["records"] == {**dict.fromkeys(map(str, RecordStatus), 0), "new": 2}

    async with api.engine.begin() as conn:  # the dialer finishing a record: not through the API
        # as the dialer's settle does: status and the dialing queue (migration 0004) together
        done = await conn.execute(
            text(
                "UPDATE records SET status = 'done' WHERE campaign_id = :c AND phone = :p "
                "RETURNING id"
            ),
            {"c": c["id"], "p": "+12125550101"},
        )
        await conn.execute(
            text("DELETE FROM record_queue WHERE record_id = :r"), {"r": done.scalar_one()}
        )
    cached = await _status(api, c["id"])
    assert cached["records"] == mine["records"]
    assert cached["records_as_of"] == mine["records_as_of"]

    clock.now += MAX_AGE_S + 0.1
    fresh = await _status(api, c["id"])
    assert fresh["records"] == {**dict.fromkeys(map(str, RecordStatus), 0), "new": 1, "done": 1}
    assert str(fresh["records_as_of"]) > str(mine["records_as_of"])


@pytest.mark.db
async def test_state_is_read_fresh_even_when_counts_are_cached(api: Api) -> None:
    c = await api.campaign()
    assert (await _status(api, c["id"]))["state"] == "ready"
    async with api.engine.begin() as conn:  # a change made by another gateway instance
        await conn.execute(
            text("UPDATE campaigns SET state = 'running', version = version + 1 WHERE id = :c"),
            {"c": c["id"]},
        )
    after = await _status(api, c["id"])
    assert (after["state"], after["version"]) == ("running", c["version"] + 1)
    gone = await api.client.get("/v1/campaigns/999999999/status", headers=api.auth(Role.VIEWER))
    assert gone.status == 404
