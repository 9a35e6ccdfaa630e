"""The dialing queue (``record_queue``, migration 0004) on a real PostgreSQL.

The queue must hold exactly the dialable records (new, retry, callback) after every operation that
writes records — import, lease, start, settle, release, reset, force complete, delete — and the
reset's updates of ``records`` must be HOT (no index of ``records`` names a column they change).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.campaigns import campaigns, records
from gateway.campaigns.leasing import (
    AttemptRow,
    AttemptStart,
    lease_records,
    release_records,
    settle_attempt,
    start_attempt,
)
from gateway.db.engine import make_engine
from gateway.db.models import RECORDS_FILLFACTOR
from pacing.lifecycle import Operation
from pacing.outcomes import Outcome
from tests.queuecheck import queue_mismatches

pytestmark = pytest.mark.db

NOON_NY = datetime(2026, 3, 10, 17, 0, tzinfo=UTC)
ACTOR = "test"


async def new_campaign(engine: AsyncEngine, **fields: Any) -> int:
    data = {"name": f"q-{uuid.uuid4().hex[:10]}", "time_zone": "America/New_York", **fields}
    return (await campaigns.create(engine, ACTOR, data)).id


def csv_rows(count: int) -> bytes:
    """An upload of ``count`` records, priorities 1..5.

    Numbers no other test uses: the session database's DNC list is shared, and an import skips
    the numbers on it.
    """
    lines = ["phone,priority"] + [f"+1307555{i:04d},{1 + i % 5}" for i in range(count)]
    return ("\n".join(lines) + "\n").encode()


async def insert_records(engine: AsyncEngine, cid: int, sql_rows: str, n: int) -> None:
    """``n`` records straight into the table (the bench's way), ``sql_rows`` the varying part."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO records (campaign_id, phone, status, disposition, attempts, "  # noqa: S608
                "last_attempt_at, priority, agent, skill, reason) "
                f"SELECT :cid, '+1646' || lpad(g::text, 7, '0'), {sql_rows} "
                "FROM generate_series(1, :n) g"
            ),
            {"cid": cid, "n": n},
        )


def begin(cid: int, record_id: int, instance: str = "gw") -> AttemptStart:
    return AttemptStart(uuid.uuid4().hex, cid, record_id, instance, "pbx1", "+12125550000", NOON_NY)


async def test_queue_follows_import_lease_start_settle_and_release(engine: AsyncEngine) -> None:
    cid = await new_campaign(engine, retry_rules={"busy": {"delay_s": 600}})
    await records.import_upload(engine, ACTOR, cid, "csv", csv_rows(6))
    callback = b"phone,callback_at\n+13075559999,2026-03-11T10:00:00-05:00\n"
    await records.import_upload(engine, ACTOR, cid, "csv", callback)
    assert await queue_mismatches(engine, cid) == []

    leased = await lease_records(engine, cid, "gw", 4, NOON_NY, 60)
    assert [r.priority for r in leased] == sorted(r.priority for r in leased)
    assert await queue_mismatches(engine, cid) == []
    starts = [begin(cid, r.id) for r in leased[:3]]
    for s in starts:
        assert await start_attempt(engine, s)
    assert await queue_mismatches(engine, cid) == []
    assert await release_records(engine, "gw", [leased[3].id]) == 1

    outcomes = (Outcome.BUSY, Outcome.ANSWERED, Outcome.DNC)
    settled = [
        await settle_attempt(engine, AttemptRow(s.attempt_id, o, NOON_NY))
        for s, o in zip(starts, outcomes, strict=True)
    ]
    assert [s.status if s else None for s in settled] == ["retry", "done", "dnc"]
    assert await queue_mismatches(engine, cid) == []
    counts = await records.counts(engine, cid)
    assert counts == {"new": 3, "retry": 1, "callback": 1, "dialing": 0, "done": 1, "dnc": 1}


async def test_a_retry_comes_back_at_its_time_in_priority_order(engine: AsyncEngine) -> None:
    cid = await new_campaign(engine, retry_rules={"busy": {"delay_s": 600}})
    await records.import_upload(engine, ACTOR, cid, "csv", csv_rows(10))
    first = await lease_records(engine, cid, "gw", 10, NOON_NY, 60)
    assert [(r.priority, r.id) for r in first] == sorted((r.priority, r.id) for r in first)
    top = first[0]
    attempt = begin(cid, top.id)
    assert await start_attempt(engine, attempt)
    await settle_attempt(engine, AttemptRow(attempt.attempt_id, Outcome.BUSY, NOON_NY))
    await release_records(engine, "gw", [r.id for r in first[1:]])

    before = await lease_records(engine, cid, "gw", 10, NOON_NY + timedelta(seconds=599), 60)
    assert top.id not in [r.id for r in before]
    await release_records(engine, "gw", [r.id for r in before])
    due = await lease_records(engine, cid, "gw", 10, NOON_NY + timedelta(seconds=600), 60)
    assert due[0].id == top.id  # priority 1, lowest id: first again once due
    assert due[0].attempts == 1
    assert await queue_mismatches(engine, cid) == []


async def test_two_instances_dial_every_record_exactly_once(
    engine: AsyncEngine, database_url: str
) -> None:
    cid = await new_campaign(engine)
    assert (await records.import_upload(engine, ACTOR, cid, "csv", csv_rows(240))).added == 240
    other = make_engine(database_url, pool_size=5)

    async def dial(eng: AsyncEngine, instance: str) -> list[int]:
        dialled: list[int] = []
        while batch := await lease_records(eng, cid, instance, 7, NOON_NY, 60):
            for rec in batch:
                attempt = begin(cid, rec.id, instance)
                assert await start_attempt(eng, attempt)
                await settle_attempt(eng, AttemptRow(attempt.attempt_id, Outcome.BUSY, NOON_NY))
                dialled.append(rec.id)
        return dialled

    try:
        a, b = await asyncio.gather(dial(engine, "gw-a"), dial(other, "gw-b"))
    finally:
        await other.dispose()
    assert len(a) + len(b) == 240
    assert set(a).isdisjoint(b)
    async with engine.connect() as conn:
        per_record = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM attempts WHERE campaign_id = :cid "
                    "GROUP BY record_id HAVING count(*) <> 1"
                ),
                {"cid": cid},
            )
        ).all()
    assert per_record == []
    assert await queue_mismatches(engine, cid) == []


async def test_reset_filters_requeue_exactly_the_matching_records(engine: AsyncEngine) -> None:
    cid = await new_campaign(engine)
    # 60 records: every status that a reset may touch, two dispositions, two agents, priorities.
    await insert_records(
        engine,
        cid,
        "(ARRAY['new', 'retry', 'callback', 'done', 'done', 'dnc'])[1 + g % 6], "
        "CASE WHEN g % 2 = 0 THEN 'no_answer' ELSE 'busy' END, 1 + g % 3, "
        "now() - g * interval '1 hour', 1 + g % 10, "
        "CASE WHEN g % 4 = 0 THEN 'ann' ELSE 'bob' END, 'sales', 'r' || (g % 2)",
        60,
    )
    assert await queue_mismatches(engine, cid) == []
    await campaigns.transition(engine, ACTOR, cid, Operation.FORCE_COMPLETE)
    assert await queue_mismatches(engine, cid) == []
    cases: list[dict[str, Any]] = [
        {"dispositions": ["no_answer"], "agent": "ann"},
        {"status": ["done"], "priority_min": 5, "priority_max": 8},
        {"reason": "r1", "skill": "sales"},
        {"from": datetime.now(UTC) - timedelta(hours=20), "to": datetime.now(UTC)},
        {},
    ]
    for filters in cases:
        before = await _snapshot(engine, cid)
        _, count = await records.reset(engine, ACTOR, cid, filters)
        after = await _snapshot(engine, cid)
        changed = [i for i in before if before[i] != after[i]]
        assert count == len(changed), filters
        assert all(after[i] == ("new", 0, None) for i in changed)
        assert await queue_mismatches(engine, cid) == [], filters
        await records.force_complete(engine, ACTOR, cid)
        assert await queue_mismatches(engine, cid) == []
    counts = await records.counts(engine, cid)
    assert counts["dnc"] == 10
    assert counts["done"] == 50


async def _snapshot(engine: AsyncEngine, cid: int) -> dict[int, tuple[str, int, str | None]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT id, status, attempts, disposition FROM records WHERE campaign_id = :c"),
            {"c": cid},
        )
        return {r[0]: (r[1], r[2], r[3]) for r in rows}


async def test_force_complete_leaves_a_dialing_record_to_its_outcome(engine: AsyncEngine) -> None:
    cid = await new_campaign(engine)
    await records.import_upload(engine, ACTOR, cid, "csv", csv_rows(3))
    [rec, *_] = await lease_records(engine, cid, "gw", 1, NOON_NY, 60)
    attempt = begin(cid, rec.id)
    assert await start_attempt(engine, attempt)
    _, completed = await records.force_complete(engine, ACTOR, cid)
    assert completed == 2
    settled = await settle_attempt(engine, AttemptRow(attempt.attempt_id, Outcome.BUSY, NOON_NY))
    assert settled is not None
    assert settled.status == "retry"
    assert await queue_mismatches(engine, cid) == []


async def test_deleting_records_or_the_campaign_empties_its_queue(engine: AsyncEngine) -> None:
    kept_id, emptied_id, deleted_id = [await new_campaign(engine) for _ in range(3)]
    for cid in (kept_id, emptied_id, deleted_id):
        await records.import_upload(engine, ACTOR, cid, "csv", csv_rows(5))
    assert await records.delete_all(engine, ACTOR, emptied_id, 5) == 5
    await campaigns.delete(engine, ACTOR, deleted_id)
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT campaign_id, count(*) FROM record_queue "
                "WHERE campaign_id = ANY(:ids) GROUP BY 1"
            ),
            {"ids": [kept_id, emptied_id, deleted_id]},
        )
        left = {int(r[0]): int(r[1]) for r in rows}
    assert left == {kept_id: 5}
    assert await queue_mismatches(engine) == []


async def test_reset_updates_of_records_are_hot(engine: AsyncEngine) -> None:
    """The bench's shape: every other record done with no answer; the reset is all HOT."""
    cid = await new_campaign(engine)
    await insert_records(
        engine,
        cid,
        "'done', CASE WHEN g % 2 = 0 THEN 'no_answer' ELSE 'answered' END, 1, now(), "
        "1 + g % 99, '', 'sales', ''",
        2000,
    )
    await campaigns.transition(engine, ACTOR, cid, Operation.FORCE_COMPLETE)
    where, params = records.reset_filter({"dispositions": ["no_answer"]})
    queued, finished = records.reset_statements(where)
    async with engine.begin() as conn:
        values = {**params, "cid": cid}
        count = int((await conn.execute(text(queued), values)).scalar_one())
        count += int((await conn.execute(text(finished), values)).rowcount)
        updated, hot = (
            await conn.execute(
                text(
                    "SELECT pg_stat_get_xact_tuples_updated('records'::regclass), "
                    "pg_stat_get_xact_tuples_hot_updated('records'::regclass)"
                )
            )
        ).one()
    assert count == 1000
    assert updated == hot == 1000
    assert await queue_mismatches(engine, cid) == []


async def test_no_index_of_records_names_a_column_that_dialing_changes(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as conn:
        indexed = set(
            (
                await conn.execute(
                    text(
                        "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
                        "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                        "WHERE i.indrelid = 'records'::regclass"
                    )
                )
            ).scalars()
        )
        partial_or_expression = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM pg_index WHERE indrelid = 'records'::regclass "
                    "AND (indpred IS NOT NULL OR indexprs IS NOT NULL)"
                )
            )
        ).scalar_one()
        options = (
            await conn.execute(
                text("SELECT reloptions FROM pg_class WHERE oid = 'records'::regclass")
            )
        ).scalar_one()
    assert indexed == {"id", "campaign_id", "phone"}
    assert partial_or_expression == 0
    assert f"fillfactor={RECORDS_FILLFACTOR}" in options
