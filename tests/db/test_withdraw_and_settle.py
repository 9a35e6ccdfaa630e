"""Attempts that never happened, and outcomes that arrive late, on a real PostgreSQL.

An attempt that was written and never sent is withdrawn: its row goes, the record's attempt
count is untouched and the record is in the queue again at once (``max_attempts = 1`` used to
close it as "max attempts (cancelled)"). Only the owning instance withdraws, and only while the
attempt is ``dialing``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.campaigns.batches import settle_attempts
from gateway.campaigns.leasing import (
    AttemptRow,
    lease_records,
    settle_attempt,
    start_attempt,
    withdraw_attempt,
)
from pacing.outcomes import Outcome
from tests.db.test_leasing import NOON_NY, make_campaign, start

pytestmark = pytest.mark.db


async def _record(engine: AsyncEngine, record_id: int) -> tuple[str, int, str | None]:
    sql = text("SELECT status, attempts, lease_owner FROM records WHERE id = :r")
    async with engine.connect() as conn:
        row = (await conn.execute(sql, {"r": record_id})).one()
    return str(row[0]), int(row[1]), row[2]


async def _attempts(engine: AsyncEngine, record_id: int) -> int:
    sql = text("SELECT count(*) FROM attempts WHERE record_id = :r")
    async with engine.connect() as conn:
        return int((await conn.execute(sql, {"r": record_id})).scalar_one())


async def test_an_unsent_attempt_is_withdrawn_and_does_not_count(engine: AsyncEngine) -> None:
    cid = await make_campaign(engine, 1, max_attempts=1)
    [rec] = await lease_records(engine, cid, "gw", 1, NOON_NY, 60)
    attempt = start(cid, rec.id, "gw", NOON_NY)
    assert await start_attempt(engine, attempt)
    assert await _record(engine, rec.id) == ("dialing", 0, "gw")
    assert await withdraw_attempt(engine, attempt.attempt_id, "gw", NOON_NY)
    assert await _record(engine, rec.id) == ("new", 0, None)
    assert await _attempts(engine, rec.id) == 0
    assert not await withdraw_attempt(engine, attempt.attempt_id, "gw", NOON_NY)  # once
    [again] = await lease_records(engine, cid, "gw", 1, NOON_NY + timedelta(seconds=1), 60)
    assert again.id == rec.id  # dialable at once
    assert again.attempts == 0  # max_attempts intact
    second = start(cid, rec.id, "gw", NOON_NY)
    assert await start_attempt(engine, second)
    settled = await settle_attempt(engine, AttemptRow(second.attempt_id, Outcome.BUSY, NOON_NY))
    assert settled is not None
    assert (settled.status, settled.attempts) == ("done", 1)


async def test_a_retry_record_goes_back_as_a_retry(engine: AsyncEngine) -> None:
    cid = await make_campaign(engine, 1, max_attempts=3)
    [rec] = await lease_records(engine, cid, "gw", 1, NOON_NY, 60)
    first = start(cid, rec.id, "gw", NOON_NY)
    await start_attempt(engine, first)
    await settle_attempt(engine, AttemptRow(first.attempt_id, Outcome.NO_ANSWER, NOON_NY))
    later = NOON_NY + timedelta(hours=2)
    [rec2] = await lease_records(engine, cid, "gw", 1, later, 60)
    second = start(cid, rec2.id, "gw", later)
    await start_attempt(engine, second)
    assert await withdraw_attempt(engine, second.attempt_id, "gw", later)
    assert await _record(engine, rec.id) == ("retry", 1, None)


async def test_only_the_owner_withdraws_and_never_a_settled_attempt(engine: AsyncEngine) -> None:
    cid = await make_campaign(engine, 2, max_attempts=1)
    a, b = await lease_records(engine, cid, "gw", 2, NOON_NY, 60)
    adopted, done = start(cid, a.id, "gw", NOON_NY), start(cid, b.id, "gw", NOON_NY)
    await start_attempt(engine, adopted)
    await start_attempt(engine, done)
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE attempts SET instance_id = 'other' WHERE id = :a"),
            {"a": adopted.attempt_id},
        )
    await settle_attempt(engine, AttemptRow(done.attempt_id, Outcome.NO_ANSWER, NOON_NY))
    assert not await withdraw_attempt(engine, adopted.attempt_id, "gw", NOON_NY)
    assert not await withdraw_attempt(engine, done.attempt_id, "gw", NOON_NY)
    assert await _record(engine, a.id) == ("dialing", 0, "gw")
    assert (await _record(engine, b.id))[:2] == ("done", 1)


async def _attempt(engine: AsyncEngine, attempt_id: str) -> tuple[str, str]:
    sql = text("SELECT status, outcome FROM attempts WHERE id = :a")
    async with engine.connect() as conn:
        row = (await conn.execute(sql, {"a": attempt_id})).one()
    return str(row[0]), str(row[1])


async def test_a_real_outcome_replaces_unknown_never_the_reverse(engine: AsyncEngine) -> None:
    cid = await make_campaign(engine, 2, max_attempts=3)
    a, b = await lease_records(engine, cid, "gw", 2, NOON_NY, 60)
    first, second = start(cid, a.id, "gw", NOON_NY), start(cid, b.id, "gw", NOON_NY)
    await start_attempt(engine, first)
    await start_attempt(engine, second)
    # An adopter gives up on ``first``: unknown closes the record (never dialled again by itself).
    gave_up = await settle_attempt(engine, AttemptRow(first.attempt_id, Outcome.UNKNOWN, NOON_NY))
    assert gave_up is not None
    assert gave_up.status == "done"
    # The owner's writer then stores the real outcome: it replaces unknown, the record follows
    # (no answer is retried), and the attempt is counted once.
    later = NOON_NY + timedelta(seconds=3)
    real = await settle_attempt(engine, AttemptRow(first.attempt_id, Outcome.NO_ANSWER, later))
    assert real is not None
    assert (real.status, real.attempts) == ("retry", 1)
    assert await _attempt(engine, first.attempt_id) == ("settled", "no_answer")
    assert await _record(engine, a.id) == ("retry", 1, None)
    # Nothing replaces a real outcome, and unknown replaces nothing.
    assert await settle_attempt(engine, AttemptRow(first.attempt_id, Outcome.BUSY, later)) is None
    assert (
        await settle_attempt(engine, AttemptRow(first.attempt_id, Outcome.UNKNOWN, later)) is None
    )
    assert await _attempt(engine, first.attempt_id) == ("settled", "no_answer")
    # A real outcome first: a late unknown (an adopter's give-up) changes nothing.
    await settle_attempt(engine, AttemptRow(second.attempt_id, Outcome.ANSWERED, NOON_NY))
    assert (
        await settle_attempt(engine, AttemptRow(second.attempt_id, Outcome.UNKNOWN, later)) is None
    )
    assert await _attempt(engine, second.attempt_id) == ("settled", "answered")
    assert await _record(engine, b.id) == ("done", 1, None)


async def test_a_late_outcome_leaves_a_record_that_moved_on(engine: AsyncEngine) -> None:
    cid = await make_campaign(engine, 1, max_attempts=3)
    [rec] = await lease_records(engine, cid, "gw", 1, NOON_NY, 60)
    first = start(cid, rec.id, "gw", NOON_NY)
    await start_attempt(engine, first)
    await settle_attempt(engine, AttemptRow(first.attempt_id, Outcome.UNKNOWN, NOON_NY))
    async with engine.begin() as conn:  # an operator's reset made it dialable again
        await conn.execute(text("UPDATE records SET status = 'new' WHERE id = :r"), {"r": rec.id})
    late = await settle_attempt(engine, AttemptRow(first.attempt_id, Outcome.BUSY, NOON_NY))
    assert late is not None
    assert await _attempt(engine, first.attempt_id) == ("settled", "busy")
    assert (await _record(engine, rec.id))[:2] == ("new", 1)


async def test_the_batched_settle_lets_a_real_outcome_replace_unknown(engine: AsyncEngine) -> None:
    cid = await make_campaign(engine, 3, max_attempts=3)
    recs = await lease_records(engine, cid, "gw", 3, NOON_NY, 60)
    starts = [start(cid, r.id, "gw", NOON_NY) for r in recs]
    for s in starts:
        assert await start_attempt(engine, s)
    ids = [s.attempt_id for s in starts]
    gave_up = await settle_attempts(engine, [AttemptRow(i, Outcome.UNKNOWN, NOON_NY) for i in ids])
    assert [s.status for s in gave_up] == ["done"] * 3
    later = NOON_NY + timedelta(seconds=2)
    real = [Outcome.NO_ANSWER, Outcome.ANSWERED, Outcome.UNKNOWN]  # the last stays unknown
    replaced = await settle_attempts(
        engine, [AttemptRow(i, o, later) for i, o in zip(ids, real, strict=True)], ["s1"] * 3
    )
    assert [(s.status, s.attempts) for s in replaced] == [("retry", 1), ("done", 1)]
    assert [await _attempt(engine, i) for i in ids] == [
        ("settled", "no_answer"), ("settled", "answered"), ("settled", "unknown")
    ]  # fmt: skip
    assert [(await _record(engine, r.id))[:2] for r in recs] == [
        ("retry", 1), ("done", 1), ("done", 1)
    ]  # fmt: skip
    again = await settle_attempts(engine, [AttemptRow(ids[1], Outcome.BUSY, later)])
    assert again == []  # a real outcome is never replaced
