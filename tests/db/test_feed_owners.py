"""The agent feed lease (``agent_feed_owners``) on a real PostgreSQL: one owner per server.

A table of steps against given times (acquire, renew, expiry, takeover, release), the database's
own clock when no time is given, and the keeper (:class:`dialer.feedowner.FeedOwners`) taking
over a server whose owner died without releasing it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from dialer.feedowner import FeedOwners
from gateway.campaigns.feedowners import acquire_feed, feed_owner, release_feed, renew_feed
from gateway.metrics import Metrics
from pacing.errors import LeaseTermsError

pytestmark = pytest.mark.db

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
TTL = 3.0

# (operation, instance, seconds after T0, expected result, owner afterwards at that time)
STEPS = [
    ("acquire", "a", 0.0, True, "a"),
    ("acquire", "b", 1.0, False, "a"),  # held and not expired
    ("renew", "b", 1.0, False, "a"),  # not b's to renew
    ("renew", "a", 2.0, True, "a"),  # now until 5.0
    ("acquire", "b", 4.9, False, "a"),
    ("acquire", "a", 4.9, True, "a"),  # taking one's own is a renewal: until 7.9
    ("renew", "a", 8.0, False, None),  # expired: a renewal does not bring it back
    ("acquire", "b", 8.0, True, "b"),  # expired: taken over
    ("acquire", "a", 9.0, False, "b"),
    ("release", "a", 9.0, None, "b"),  # only the holder releases
    ("release", "b", 9.0, None, None),
    ("acquire", "a", 9.0, True, "a"),  # a released lease is free at once
]


async def _until(check: Callable[[], Awaitable[bool]], within_s: float = 5.0) -> None:
    async with asyncio.timeout(within_s):
        while True:
            if await check():
                return
            await asyncio.sleep(0.02)  # the polling interval


async def _now(value: bool) -> bool:
    return value


async def test_the_lease_steps(engine: AsyncEngine) -> None:
    server = f"ast-{uuid.uuid4().hex[:8]}"
    for op, instance, after_s, want, owner in STEPS:
        at = T0 + timedelta(seconds=after_s)
        got: bool | None
        if op == "acquire":
            got = await acquire_feed(engine, server, instance, TTL, at)
        elif op == "renew":
            got = await renew_feed(engine, server, instance, TTL, at)
        else:
            await release_feed(engine, server, instance)
            got = None
        assert got is want, (op, instance, after_s)
        assert await feed_owner(engine, server, at) == owner, (op, instance, after_s)


async def test_servers_are_leased_apart(engine: AsyncEngine) -> None:
    one, two = f"ast-{uuid.uuid4().hex[:8]}", f"ast-{uuid.uuid4().hex[:8]}"
    assert await acquire_feed(engine, one, "a", TTL, T0)
    assert await acquire_feed(engine, two, "b", TTL, T0)
    assert (await feed_owner(engine, one, T0), await feed_owner(engine, two, T0)) == ("a", "b")


async def test_without_a_time_the_database_clock_judges_expiry(engine: AsyncEngine) -> None:
    server = f"ast-{uuid.uuid4().hex[:8]}"
    assert await acquire_feed(engine, server, "a", 0.3)
    assert not await acquire_feed(engine, server, "b", 0.3)
    assert await feed_owner(engine, server) == "a"
    await asyncio.sleep(0.4)
    assert await feed_owner(engine, server) is None
    assert not await renew_feed(engine, server, "a", 0.3)
    assert await acquire_feed(engine, server, "b", 0.3)


async def test_the_keeper_takes_over_from_an_owner_that_died(engine: AsyncEngine) -> None:
    """A row left by an instance that died (never renewed, never released): the keeper takes
    the server once it expired, and gives it up on the way out."""
    server = f"ast-{uuid.uuid4().hex[:8]}"
    assert await acquire_feed(engine, server, "dead", 1.0)
    registry = CollectorRegistry()
    keeper = FeedOwners(
        engine, "alive", [server], eligible=lambda s: True, clock=time.monotonic,
        ttl_s=1.0, every_s=0.1, margin_s=0.3, on_owner=Metrics(registry, process=False).feed_owner,
    )  # fmt: skip

    def gauge() -> float | None:
        return registry.get_sample_value("dialer_agent_feed_owner", {"server": server})

    task = asyncio.create_task(keeper.run())
    try:
        await asyncio.sleep(0.3)
        assert not keeper.owns(server)  # the dead one's lease has not run out yet
        assert gauge() == 0.0
        await _until(lambda: _now(keeper.owns(server)))
        assert await feed_owner(engine, server) == "alive"
        await _until(lambda: _now(gauge() == 1.0))  # set at the end of the round
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert gauge() == 0.0  # given up on the way out
    assert await feed_owner(engine, server) is None  # released when stopped


async def test_the_keeper_keeps_a_short_cut_and_lets_go_of_a_long_one(engine: AsyncEngine) -> None:
    server = f"ast-{uuid.uuid4().hex[:8]}"
    up = {server: True}
    keeper = FeedOwners(
        engine, "gw", [server], eligible=lambda s: up[s], clock=time.monotonic,
        ttl_s=1.0, every_s=0.05, hold_down_s=0.5, margin_s=0.3,
    )  # fmt: skip
    task = asyncio.create_task(keeper.run())
    try:
        await _until(lambda: _now(keeper.owns(server)))
        up[server] = False
        down_at = time.monotonic()

        async def let_go() -> bool:
            return not keeper.owns(server) and await feed_owner(engine, server) is None

        await _until(let_go)
        assert time.monotonic() - down_at >= 0.5 - 0.05  # held through the hold-down (a tick)
        up[server] = True  # taken again once the link is back
        await _until(lambda: _now(keeper.owns(server)))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_the_keeper_stops_writing_a_margin_before_its_lease_can_expire(
    engine: AsyncEngine,
) -> None:
    """Ownership ends ``margin_s`` before the row can expire, counted from before the statement
    was sent: a frozen owner (its clock runs on, its renewals do not) stops in time."""
    server = f"ast-{uuid.uuid4().hex[:8]}"
    now = [100.0]
    keeper = FeedOwners(
        engine, "gw", [server], eligible=lambda s: True, clock=lambda: now[0],
        ttl_s=3.0, every_s=1.0, margin_s=1.0,
    )  # fmt: skip
    task = asyncio.create_task(keeper.run())
    try:
        await _until(lambda: _now(keeper.owns(server)))  # taken at clock 100: held until 102
        now[0] = 101.999
        assert keeper.owns(server)
        now[0] = 102.0
        assert not keeper.owns(server)
        assert await feed_owner(engine, server) == "gw"  # the row itself has not expired
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    with pytest.raises(LeaseTermsError):  # terms that leave no room for a late renewal
        FeedOwners(engine, "gw", [server], eligible=lambda s: True, clock=time.monotonic,
                   ttl_s=3.0, every_s=1.0, margin_s=1.5)  # fmt: skip
