"""Adoption is fenced, on a real PostgreSQL, with the monotonic clock passed in.

An adopter adopts only after watching the other instance's heartbeat stay stale for the whole
takeover period with its own database contact unbroken; an adopter whose contact failed starts
watching afresh. An owner whose own heartbeat is older than half the period is fenced until it
has beaten again and re-checked ownership.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dialer.instances import Instances

pytestmark = pytest.mark.db


class Clock:
    def __init__(self) -> None:
        self.mono = 1000.0
        self.wall = dt.datetime(2026, 3, 10, 17, 0, tzinfo=dt.UTC)

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += dt.timedelta(seconds=seconds)


async def _no_reconcile(pairs: Sequence[tuple[str, str]]) -> None:
    del pairs


def _instance(engine: AsyncEngine, name: str, clock: Clock) -> Instances:
    return Instances(
        engine, name, _no_reconcile, wall=lambda: clock.wall, fallback_server="pbx1",
        dead_after_s=6.0, clock=lambda: clock.mono,
    )  # fmt: skip


async def _dialing_attempt(engine: AsyncEngine, owner: str, at: dt.datetime) -> str:
    aid = uuid.uuid4().hex
    async with engine.begin() as conn:
        cid = (await conn.execute(text(
            "INSERT INTO campaigns (name, time_zone) VALUES (:n, 'UTC') RETURNING id"),
            {"n": f"fence-{aid[:8]}"})).scalar_one()  # fmt: skip
        rid = (await conn.execute(text(
            "INSERT INTO records (campaign_id, phone, status) VALUES (:c, '+13135550001', "
            "'dialing') RETURNING id"), {"c": cid})).scalar_one()  # fmt: skip
        await conn.execute(text(
            "INSERT INTO attempts (id, campaign_id, record_id, instance_id, server, caller_id, "
            "status, originated_at) VALUES (:a, :c, :r, :o, 'pbx1', '+13135550000', 'dialing', "
            ":t)"), {"a": aid, "c": cid, "r": rid, "o": owner, "t": at})  # fmt: skip
    return aid


async def _owner(engine: AsyncEngine, aid: str) -> str:
    async with engine.connect() as conn:
        sql = text("SELECT instance_id FROM attempts WHERE id = :a")
        return str((await conn.execute(sql, {"a": aid})).scalar_one())


async def test_an_adopter_cut_off_from_the_database_does_not_adopt_on_reconnect(
    engine: AsyncEngine,
) -> None:
    clock = Clock()
    tag = uuid.uuid4().hex[:6]
    a, b = _instance(engine, f"a-{tag}", clock), _instance(engine, f"b-{tag}", clock)
    await a.round()
    await b.round()
    aid = await _dialing_attempt(engine, f"a-{tag}", clock.wall)
    clock.advance(10.0)  # both cut off for 10 s: no round of either succeeds
    b._lost_contact()  # what a failed round does (run() calls it on any database error)
    await b.round()  # B reconnects first: A's heartbeat is 10 s old, but B watched nothing
    assert b.adopted == 0
    clock.advance(1.0)
    await a.round()  # A is alive: its next heartbeat ends B's watch
    for _ in range(10):
        clock.advance(1.0)
        await b.round()
        await a.round()
    assert await _owner(engine, aid) == f"a-{tag}"
    assert b.adopted == 0


async def test_a_silent_instance_is_adopted_after_a_full_watch(engine: AsyncEngine) -> None:
    clock = Clock()
    tag = uuid.uuid4().hex[:6]
    a, b = _instance(engine, f"a-{tag}", clock), _instance(engine, f"b-{tag}", clock)
    await a.round()
    await b.round()
    aid = await _dialing_attempt(engine, f"a-{tag}", clock.wall)
    for _ in range(5):  # A is silent; B watches for 5 s: not yet
        clock.advance(1.0)
        await b.round()
    assert await _owner(engine, aid) == f"a-{tag}"
    assert a.fenced()  # A's own heartbeat is 5 s old: over half the period, it sends nothing
    for _ in range(3):
        clock.advance(1.0)
        await b.round()
    assert await _owner(engine, aid) == f"b-{tag}"
    await a.round()  # A comes back: beats, re-checks, and is no longer fenced
    assert not a.fenced()
