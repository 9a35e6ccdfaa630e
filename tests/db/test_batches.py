"""Set-based attempt writes (``gateway.campaigns.batches``) on a real PostgreSQL.

Equivalence: the same decisions and results written one by one (``leasing.start_attempt`` /
``settle_attempt``) and in batches give the same records, attempts and queue rows. Then the
batch's own guarantees: all-or-nothing, safe to repeat, lost leases, and stored progress
deciding an ``unknown``.
"""

from __future__ import annotations

import dataclasses
import secrets
import uuid
from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.campaigns import batches, leasing
from gateway.campaigns.leasing import AttemptRow, AttemptStart, lease_records
from pacing.errors import ScheduleError
from pacing.outcomes import Outcome, PbxFault
from tests.db.test_leasing import NOON_NY, make_campaign

pytestmark = pytest.mark.db

# Every outcome, retry rules with a delay and an attempt limit, records on their last attempt.
OUTCOMES = [
    Outcome.NO_ANSWER,
    Outcome.BUSY,
    Outcome.ANSWERED,
    Outcome.ABANDONED,
    Outcome.MACHINE,
    Outcome.FAILED,
    Outcome.CANCELLED,
    Outcome.CONGESTION,
    Outcome.UNKNOWN,
    Outcome.DNC,
]
RULES = '{"busy": {"delay_s": 120, "max_attempts": 2}, "no_answer": {"delay_s": 600}}'
CLIS = ("+12125550001", "+12125550002", "+13105550003")


def _results(starts: Sequence[AttemptStart], round_: int) -> list[AttemptRow]:
    at = NOON_NY + timedelta(minutes=round_)
    out = []
    for i, s in enumerate(starts):
        outcome = OUTCOMES[(i + round_) % len(OUTCOMES)]
        talked = outcome is Outcome.ANSWERED
        out.append(
            AttemptRow(
                s.attempt_id,
                outcome,
                at,
                q850_cause=16 if talked else 17,
                first_ring_at=at - timedelta(seconds=20),
                answered_at=at - timedelta(seconds=10) if talked else None,
                agent_connected_at=at - timedelta(seconds=9) if talked else None,
                hangup_at=at,
                agent=f"agent-{i % 3}" if talked else None,
                # every other failure is one the PBX caused (a restart): retried, not final
                fault=PbxFault.PBX_RESTART if outcome is Outcome.FAILED and i % 2 else None,
            )
        )
    return out


async def _run(engine: AsyncEngine, cid: int, batched: bool) -> None:
    """Three rounds of lease → start → settle, with the clock moved so retries come due."""
    for round_ in range(3):
        now = NOON_NY + timedelta(hours=round_)
        leased = await lease_records(engine, cid, "gw-batch", 100, now, 60)
        starts = [
            AttemptStart(
                uuid.uuid4().hex, cid, r.id, "gw-batch", "pbx1", CLIS[int(r.phone) % 3], now
            )
            for r in leased
        ]
        if batched:
            assert await batches.start_attempts(engine, starts) == {s.attempt_id for s in starts}
            await batches.settle_attempts(engine, _results(starts, round_))
        else:
            for s in starts:
                assert await leasing.start_attempt(engine, s)
            for result in _results(starts, round_):
                await leasing.settle_attempt(engine, result)


State = tuple[list[tuple[object, ...]], list[tuple[object, ...]], list[tuple[object, ...]]]


async def _state(engine: AsyncEngine, cid: int) -> State:
    """Records, attempts and queue rows of the campaign, keyed by the record's phone number."""
    async with engine.connect() as conn:
        records = (
            await conn.execute(
                text(
                    "SELECT phone, status, reason, disposition, attempts, next_attempt_at, "
                    "caller_id, lease_owner, lease_expires_at, agent, last_attempt_at "
                    "FROM records WHERE campaign_id = :cid ORDER BY phone"
                ),
                {"cid": cid},
            )
        ).all()
        attempts = (
            await conn.execute(
                text(
                    "SELECT r.phone, a.originated_at, a.status, a.outcome, a.q850_cause, "
                    "a.first_ring_at, a.answered_at, a.agent_connected_at, a.hangup_at, "
                    "a.settled_at, a.agent, a.caller_id, a.server, a.instance_id, a.fault "
                    "FROM attempts a JOIN records r ON r.id = a.record_id "
                    "WHERE a.campaign_id = :cid ORDER BY 1, 2"
                ),
                {"cid": cid},
            )
        ).all()
        queue = (
            await conn.execute(
                text(
                    "SELECT r.phone, q.priority, q.next_attempt_at FROM record_queue q "
                    "JOIN records r ON r.id = q.record_id WHERE q.campaign_id = :cid ORDER BY 1"
                ),
                {"cid": cid},
            )
        ).all()
    return [tuple(r) for r in records], [tuple(a) for a in attempts], [tuple(q) for q in queue]


async def test_batched_writes_match_one_by_one(engine: AsyncEngine) -> None:
    area = 300 + secrets.randbelow(700)  # the same numbers in both, compared by phone
    one = await make_campaign(engine, 40, area=area, max_attempts=3, retry_rules=RULES)
    many = await make_campaign(engine, 40, area=area, max_attempts=3, retry_rules=RULES)
    await _run(engine, one, batched=False)
    await _run(engine, many, batched=True)
    before, after = await _state(engine, one), await _state(engine, many)
    assert len(before[1]) > 40  # retries were dialled again
    assert {r[1] for r in before[0]} >= {"done", "retry", "dnc"}
    assert any(a[-1] == "pbx_restart" for a in before[1])  # failed by a restart, retried
    assert before == after


async def test_batch_returns_the_next_steps_in_order(engine: AsyncEngine) -> None:
    cid = await make_campaign(engine, 3, retry_rules=RULES)
    leased = await lease_records(engine, cid, "gw-batch", 3, NOON_NY, 60)
    starts = [AttemptStart(uuid.uuid4().hex, cid, r.id, "gw-batch", "pbx1", CLIS[0], NOON_NY)
              for r in leased]  # fmt: skip
    await batches.start_attempts(engine, starts)
    outcomes = (Outcome.BUSY, Outcome.ANSWERED, Outcome.NO_ANSWER)
    pairs = zip(starts, outcomes, strict=True)
    results = [AttemptRow(s.attempt_id, o, NOON_NY) for s, o in pairs]
    settled = await batches.settle_attempts(engine, results)
    assert [(s.record_id, s.status, s.next_attempt_at, s.attempts) for s in settled] == [
        (leased[0].id, "retry", NOON_NY + timedelta(seconds=120), 1),
        (leased[1].id, "done", None, 1),
        (leased[2].id, "retry", NOON_NY + timedelta(seconds=600), 1),
    ]


async def test_repeating_a_batch_changes_nothing(engine: AsyncEngine) -> None:
    cid = await make_campaign(engine, 20, retry_rules=RULES)
    leased = await lease_records(engine, cid, "gw-batch", 20, NOON_NY, 60)
    starts = [AttemptStart(uuid.uuid4().hex, cid, r.id, "gw-batch", "pbx1", CLIS[1], NOON_NY)
              for r in leased]  # fmt: skip
    await batches.start_attempts(engine, starts)
    results = _results(starts, 0)
    first = await batches.settle_attempts(engine, results)
    state = await _state(engine, cid)
    # The commit outcome was unknown: the writer sends the batch again, with a later report.
    again = [*results, *_results(starts, 5)]
    assert len(first) == 20
    assert await batches.settle_attempts(engine, again) == []
    assert await _state(engine, cid) == state


async def test_a_failing_batch_writes_nothing(engine: AsyncEngine) -> None:
    good = await make_campaign(engine, 5)
    bad = await make_campaign(engine, 1, retry_rules='{"busy": {"delay_s": -1}}')
    starts = []
    for cid in (good, bad):
        leased = await lease_records(engine, cid, "gw-batch", 5, NOON_NY, 60)
        starts += [AttemptStart(uuid.uuid4().hex, cid, r.id, "gw-batch", "pbx1", CLIS[2], NOON_NY)
                   for r in leased]  # fmt: skip
    await batches.start_attempts(engine, starts)
    before = await _state(engine, good), await _state(engine, bad)
    results = [AttemptRow(s.attempt_id, Outcome.BUSY, NOON_NY) for s in starts]
    with pytest.raises(ScheduleError):
        await batches.settle_attempts(engine, results)
    assert (await _state(engine, good), await _state(engine, bad)) == before
    assert len(await leasing.unsettled_attempts(engine, instance_id="gw-batch")) >= 6


async def test_start_skips_lost_leases_only(engine: AsyncEngine) -> None:
    cid = await make_campaign(engine, 3)
    leased = await lease_records(engine, cid, "slow", 3, NOON_NY, 5)
    later = NOON_NY + timedelta(seconds=10)
    [taken] = await lease_records(engine, cid, "fast", 1, later, 5)
    starts = [AttemptStart(uuid.uuid4().hex, cid, r.id, "slow", "pending", CLIS[0], NOON_NY)
              for r in leased]  # fmt: skip
    lost = next(s for s in starts if s.record_id == taken.id)
    written = await batches.start_attempts(engine, starts)
    assert written == {s.attempt_id for s in starts} - {lost.attempt_id}
    async with engine.connect() as conn:
        dialing = (
            await conn.execute(
                text("SELECT id FROM records WHERE campaign_id = :cid AND status = 'dialing'"),
                {"cid": cid},
            )
        ).scalars()
        assert sorted(dialing) == sorted(r.id for r in leased if r.id != taken.id)


async def test_two_attempts_of_one_record_in_one_batch(engine: AsyncEngine) -> None:
    """A call refused before dialling, its record dialled again, both reports in one batch."""
    cid = await make_campaign(engine, 1, max_attempts=3)
    [rec] = await lease_records(engine, cid, "gw-batch", 1, NOON_NY, 60)
    first = AttemptStart(uuid.uuid4().hex, cid, rec.id, "gw-batch", "pbx1", CLIS[0], NOON_NY)
    await batches.start_attempts(engine, [first])
    async with engine.begin() as conn:  # as if settled cancelled and leased again, unwritten
        await conn.execute(
            text("UPDATE records SET status = 'retry' WHERE id = :rid"), {"rid": rec.id}
        )
    second = AttemptStart(uuid.uuid4().hex, cid, rec.id, "gw-batch", "pbx1", CLIS[0], NOON_NY)
    assert await batches.start_attempts(engine, [second]) == {second.attempt_id}
    settled = await batches.settle_attempts(
        engine,
        [
            AttemptRow(first.attempt_id, Outcome.CANCELLED, NOON_NY),
            AttemptRow(second.attempt_id, Outcome.ANSWERED, NOON_NY),
        ],
    )
    assert [(s.status, s.attempts) for s in settled] == [("retry", 1), ("done", 2)]
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT status, attempts, disposition FROM records WHERE id = :rid"),
                {"rid": rec.id},
            )
        ).one()
    assert tuple(row) == ("done", 2, "answered")


async def test_stored_progress_decides_an_unknown(engine: AsyncEngine) -> None:
    cid = await make_campaign(engine, 4)
    leased = await lease_records(engine, cid, "gw-batch", 4, NOON_NY, 60)
    starts = [AttemptStart(uuid.uuid4().hex, cid, r.id, "gw-batch", "pbx1", CLIS[0], NOON_NY)
              for r in leased]  # fmt: skip
    await batches.start_attempts(engine, starts)
    talking, machine, answered, silent = starts
    t = NOON_NY + timedelta(seconds=12)
    written = await batches.save_progress(
        engine,
        [
            batches.Progress(talking.attempt_id, answered_at=t),
            batches.Progress(machine.attempt_id, answered_at=t, amd_status="MACHINE"),
            batches.Progress(answered.attempt_id, answered_at=t),
            batches.Progress(talking.attempt_id, t, t + timedelta(seconds=2), "agent-7"),
        ],
    )
    assert written == 3
    later = NOON_NY + timedelta(minutes=5)
    settled = await batches.settle_attempts(
        engine, [AttemptRow(s.attempt_id, Outcome.UNKNOWN, later) for s in starts]
    )
    assert [s.status for s in settled] == ["done", "retry", "done", "done"]
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT id, outcome, agent, agent_connected_at, amd_status FROM attempts "
                    "WHERE campaign_id = :cid"
                ),
                {"cid": cid},
            )
        ).all()
        agent = (
            await conn.execute(
                text("SELECT agent, disposition FROM records WHERE id = :rid"),
                {"rid": talking.record_id},
            )
        ).one()
    by_id = {r[0]: tuple(r[1:]) for r in rows}
    assert by_id[talking.attempt_id] == ("answered", "agent-7", t + timedelta(seconds=2), None)
    assert by_id[machine.attempt_id] == ("machine", None, None, "MACHINE")
    assert by_id[answered.attempt_id][0] == "unknown"  # answered, but no agent: not known
    assert by_id[silent.attempt_id][0] == "unknown"
    assert tuple(agent) == ("agent-7", "answered")
    # Progress never touches a settled attempt.
    assert await batches.save_progress(engine, [batches.Progress(silent.attempt_id, t)]) == 0


async def test_bench_leasing_measures_both_paths(engine: AsyncEngine) -> None:
    from bench.leasing import run

    results = await run(engine, records=300, batch=50, dial=200)
    single, batched = results["single"], results["batched"]
    assert isinstance(single, dict)
    assert isinstance(batched, dict)
    assert single["dialled"] == batched["dialled"] == 200
    assert set(single) == set(batched) >= {"cycle_per_s", "start_per_s", "settle_per_s"}
    assert isinstance(results["cycle_speedup"], float)


async def test_a_failing_start_writes_nothing_and_a_repeat_changes_nothing(
    engine: AsyncEngine,
) -> None:
    cid = await make_campaign(engine, 4)
    leased = await lease_records(engine, cid, "gw-batch", 4, NOON_NY, 60)
    starts = [AttemptStart(uuid.uuid4().hex, cid, r.id, "gw-batch", "pbx1", CLIS[0], NOON_NY)
              for r in leased]  # fmt: skip
    before = await _state(engine, cid)
    clash = [*starts[:3], dataclasses.replace(starts[3], attempt_id=starts[0].attempt_id)]
    with pytest.raises(IntegrityError):  # one attempt id twice: the whole decision fails
        await batches.start_attempts(engine, clash)
    assert await _state(engine, cid) == before
    assert await batches.start_attempts(engine, starts) == {s.attempt_id for s in starts}
    written = await _state(engine, cid)
    # The commit outcome was unknown and the decision is written again: nothing changes, and
    # no attempt is reported written (none of them is sent a second time).
    assert await batches.start_attempts(engine, starts) == set()
    assert await _state(engine, cid) == written


async def test_withdrawals_in_one_statement_match_one_by_one(engine: AsyncEngine) -> None:
    area = 300 + secrets.randbelow(700)
    one = await make_campaign(engine, 6, area=area, max_attempts=2)
    many = await make_campaign(engine, 6, area=area, max_attempts=2)
    for cid in (one, many):
        leased = await lease_records(engine, cid, "gw-batch", 6, NOON_NY, 60)
        starts = [AttemptStart(uuid.uuid4().hex, cid, r.id, "gw-batch", "pbx1", CLIS[0],
                               NOON_NY) for r in leased]  # fmt: skip
        await batches.start_attempts(engine, starts)
        # One settled first (never withdrawn), one adopted by another instance (not ours).
        await batches.settle_attempts(engine, [AttemptRow(starts[0].attempt_id, Outcome.BUSY,
                                                          NOON_NY)])  # fmt: skip
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE attempts SET instance_id = 'other' WHERE id = :a"),
                               {"a": starts[1].attempt_id})  # fmt: skip
        ids = [s.attempt_id for s in starts]
        later = NOON_NY + timedelta(seconds=5)
        if cid == one:
            got = {a for a in ids if await leasing.withdraw_attempt(engine, a, "gw-batch", later)}
        else:
            got = await batches.withdraw_attempts(engine, ids, "gw-batch", later)
        assert got == set(ids[2:])
    assert await _state(engine, one) == await _state(engine, many)
    state = await _state(engine, many)
    assert sum(1 for r in state[0] if r[1] == "new") == 4  # dialable again, nothing counted
    assert sum(1 for r in state[0] if r[1] == "dialing") == 1  # the adopted one
    # Repeating after an unknown commit outcome: nothing more is withdrawn or changed.
    sql = text("SELECT id FROM attempts WHERE campaign_id = :c")
    async with engine.connect() as conn:
        left = list((await conn.execute(sql, {"c": many})).scalars())
    assert len(state[1]) == len(left) == 2
    assert await batches.withdraw_attempts(engine, left, "gw-batch", NOON_NY) == set()
    assert await _state(engine, many) == state


async def test_place_attempts_records_each_server(engine: AsyncEngine) -> None:
    cid = await make_campaign(engine, 3)
    leased = await lease_records(engine, cid, "gw-batch", 3, NOON_NY, 60)
    starts = [AttemptStart(uuid.uuid4().hex, cid, r.id, "gw-batch", "pending", CLIS[0], NOON_NY)
              for r in leased]  # fmt: skip
    await batches.start_attempts(engine, starts)
    placed = [(s.attempt_id, f"pbx{i}") for i, s in enumerate(starts[:2])]
    await batches.place_attempts(engine, placed)
    await batches.place_attempts(engine, placed)  # repeated: the same
    sql = text("SELECT id, server FROM attempts WHERE campaign_id = :c")
    async with engine.connect() as conn:
        rows = {str(r[0]): str(r[1]) for r in (await conn.execute(sql, {"c": cid})).all()}
    assert rows == {starts[0].attempt_id: "pbx0", starts[1].attempt_id: "pbx1",
                    starts[2].attempt_id: "pending"}  # fmt: skip
