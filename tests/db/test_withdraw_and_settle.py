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
