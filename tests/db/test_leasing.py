"""Record leasing, attempts and the pacer lease on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.campaigns.leasing import (
    AttemptRow,
    AttemptStart,
    acquire_pacer,
    acquire_pacers,
    lease_records,
    release_pacer,
    renew_pacer,
    settle_attempt,
    start_attempt,
    unsettled_attempts,
)
from gateway.db.engine import make_engine
from pacing.outcomes import Outcome, PbxFault
from pacing.ports import Acquired

pytestmark = pytest.mark.db

NOON_NY = datetime(2026, 3, 10, 17, 0, tzinfo=UTC)  # 13:00 in New York, 10:00 in LA


async def make_campaign(
    engine: AsyncEngine, records: int, *, area: int | None = None, **fields: object
) -> int:
    """A campaign with ``records`` numbers +1<area>0000001…; the area is random unless given
    (a test that lists numbers on the shared DNC list names its own)."""
    area = area if area is not None else 300 + secrets.randbelow(700)
    cols = {"name": f"lease-{uuid.uuid4().hex[:10]}", "time_zone": "America/New_York", **fields}
    names = ", ".join(cols)
    values = ", ".join(f":{k}" for k in cols)
    async with engine.begin() as conn:
        cid = int(
            (
                await conn.execute(
                    text(f"INSERT INTO campaigns ({names}) VALUES ({values}) RETURNING id"),  # noqa: S608
                    cols,
                )
            ).scalar_one()
        )
        await conn.execute(
            text(
                "INSERT INTO records (campaign_id, phone, time_zones) "
                "SELECT :cid, '+1' || :area || lpad(g::text, 7, '0'), ARRAY['America/New_York'] "
                "FROM generate_series(1, :n) g"
            ),
            {"cid": cid, "n": records, "area": str(area)},
        )
    return cid


def start(cid: int, record_id: int, instance: str, at: datetime) -> AttemptStart:
    return AttemptStart(uuid.uuid4().hex, cid, record_id, instance, "pbx1", "+12125550000", at)


async def test_two_instances_never_share_a_record(engine: AsyncEngine, database_url: str) -> None:
    cid = await make_campaign(engine, 300)
    other = make_engine(database_url, pool_size=5)
    try:

        async def loop(eng: AsyncEngine, instance: str) -> list[int]:
            got: list[int] = []
            for _ in range(20):
                batch = await lease_records(eng, cid, instance, 10, NOON_NY, 60)
                got.extend(r.id for r in batch)
            return got

        a, b = await asyncio.gather(loop(engine, "gw-a"), loop(other, "gw-b"))
    finally:
        await other.dispose()
    assert len(a) + len(b) == 300
    assert set(a).isdisjoint(b)
    assert len(set(a)) == len(a)


async def test_attempt_cycle_and_retry_rules(engine: AsyncEngine) -> None:
    cid = await make_campaign(engine, 1, retry_rules='{"busy": {"delay_s": 120}}')
    [rec] = await lease_records(engine, cid, "gw", 5, NOON_NY, 60)
    attempt = start(cid, rec.id, "gw", NOON_NY)
    assert await start_attempt(engine, attempt)
    assert await lease_records(engine, cid, "gw2", 5, NOON_NY + timedelta(hours=1), 60) == []
    [open_attempt] = await unsettled_attempts(engine, instance_id="gw")
    assert open_attempt.attempt_id == attempt.attempt_id
    settled = await settle_attempt(engine, AttemptRow(attempt.attempt_id, Outcome.BUSY, NOON_NY))
    assert settled is not None
    assert settled.status == "retry"
    assert settled.next_attempt_at == NOON_NY + timedelta(seconds=120)
    again = await settle_attempt(engine, AttemptRow(attempt.attempt_id, Outcome.ANSWERED, NOON_NY))
    assert again is None
    assert await lease_records(engine, cid, "gw", 5, NOON_NY + timedelta(seconds=60), 60) == []
    [back] = await lease_records(engine, cid, "gw", 5, NOON_NY + timedelta(seconds=120), 60)
    assert back.caller_id == "+12125550000"  # sticky
    assert back.attempts == 1


async def test_crashed_instance_record_returns_only_after_settle(engine: AsyncEngine) -> None:
    cid = await make_campaign(engine, 1)
    [rec] = await lease_records(engine, cid, "dead", 1, NOON_NY, 30)
    attempt = start(cid, rec.id, "dead", NOON_NY)
    assert await start_attempt(engine, attempt)
    later = NOON_NY + timedelta(minutes=10)
    assert await lease_records(engine, cid, "alive", 1, later, 30) == []
    assert [u.attempt_id for u in await unsettled_attempts(engine, server="pbx1")].count(
        attempt.attempt_id
    ) == 1
    await settle_attempt(engine, AttemptRow(attempt.attempt_id, Outcome.CANCELLED, later))
    [back] = await lease_records(engine, cid, "alive", 1, later + timedelta(minutes=5), 30)
    assert back.id == rec.id


async def test_lost_lease_refuses_start(engine: AsyncEngine) -> None:
    cid = await make_campaign(engine, 1)
    [rec] = await lease_records(engine, cid, "slow", 1, NOON_NY, 5)
    later = NOON_NY + timedelta(seconds=10)
    [taken] = await lease_records(engine, cid, "fast", 1, later, 5)
    assert taken.id == rec.id
    assert not await start_attempt(engine, start(cid, rec.id, "slow", later))


async def test_abandoned_hold_off_and_final_outcomes(engine: AsyncEngine) -> None:
    cid = await make_campaign(engine, 2, max_attempts=5)
    recs = await lease_records(engine, cid, "gw", 2, NOON_NY, 60)
    results = []
    for rec, outcome in zip(recs, (Outcome.ABANDONED, Outcome.ANSWERED), strict=True):
        attempt = start(cid, rec.id, "gw", NOON_NY)
        await start_attempt(engine, attempt)
        results.append(
            await settle_attempt(engine, AttemptRow(attempt.attempt_id, outcome, NOON_NY))
        )
    abandoned, answered = results
    assert abandoned is not None
    assert answered is not None
    assert abandoned.next_attempt_at == NOON_NY + timedelta(hours=72)
    assert answered.status == "done"


async def test_a_call_failed_by_a_pbx_restart_leaves_its_record_dialable(
    engine: AsyncEngine,
) -> None:
    cid = await make_campaign(engine, 2, max_attempts=3)
    recs = await lease_records(engine, cid, "gw", 2, NOON_NY, 60)
    steps = []
    for rec, fault in zip(recs, (PbxFault.PBX_RESTART, None), strict=True):
        attempt = start(cid, rec.id, "gw", NOON_NY)
        await start_attempt(engine, attempt)
        row = AttemptRow(attempt.attempt_id, Outcome.FAILED, NOON_NY, fault=fault)
        steps.append(await settle_attempt(engine, row))
    restarted, failed = steps
    assert restarted is not None
    assert failed is not None
    assert (restarted.status, restarted.next_attempt_at) == (
        "retry",
        NOON_NY + timedelta(minutes=5),
    )
    assert failed.status == "done"  # a number that does not work stays done
    async with engine.connect() as conn:
        query = text("SELECT fault FROM attempts WHERE campaign_id = :c ORDER BY fault")
        faults = (await conn.execute(query, {"c": cid})).all()
    assert [f[0] for f in faults] == ["pbx_restart", None]
    [back] = await lease_records(engine, cid, "gw", 5, NOON_NY + timedelta(minutes=5), 60)
    assert back.id == restarted.record_id


async def test_max_attempts_ends_the_record(engine: AsyncEngine) -> None:
    cid = await make_campaign(engine, 1, max_attempts=1)
    [rec] = await lease_records(engine, cid, "gw", 1, NOON_NY, 60)
    attempt = start(cid, rec.id, "gw", NOON_NY)
    await start_attempt(engine, attempt)
    settled = await settle_attempt(
        engine, AttemptRow(attempt.attempt_id, Outcome.NO_ANSWER, NOON_NY)
    )
    assert settled is not None
    assert settled.status == "done"


async def test_dnc_and_callee_window(engine: AsyncEngine) -> None:
    cid = await make_campaign(engine, 3, area=212)
    async with engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO dnc_numbers (phone) VALUES ('+12120000001') ON CONFLICT DO NOTHING")
        )
        await conn.execute(
            text(
                "UPDATE records SET time_zones = ARRAY['America/New_York', 'America/Los_Angeles'] "
                "WHERE campaign_id = :cid AND phone = '+12120000002'"
            ),
            {"cid": cid},
        )
    early = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)  # 08:30 New York, 05:30 Los Angeles
    got = await lease_records(engine, cid, "gw", 10, early, 60)
    assert [r.phone for r in got] == ["+12120000003"]
    late = datetime(2026, 3, 11, 1, 30, tzinfo=UTC)  # 21:30 New York
    assert await lease_records(engine, cid, "gw2", 10, late, 60) == []


async def test_one_pacer_per_campaign(engine: AsyncEngine) -> None:
    cid = await make_campaign(engine, 0)
    assert await acquire_pacer(engine, cid, "a", 60)
    assert not await acquire_pacer(engine, cid, "b", 60)  # held, not expired
    assert await acquire_pacer(engine, cid, "a", 60)  # the holder renews by acquiring
    assert await renew_pacer(engine, cid, "a", 60)
    assert not await renew_pacer(engine, cid, "b", 60)
    await release_pacer(engine, cid, "b")  # not b's to release: nothing happens
    assert not await acquire_pacer(engine, cid, "b", 60)
    await release_pacer(engine, cid, "a")
    assert await acquire_pacer(engine, cid, "b", 60)
    assert not await renew_pacer(engine, cid, "a", 60)
    assert not await acquire_pacer(engine, cid, "a", 60)


_DB_CLOCK = text("SELECT clock_timestamp()")
_EXPIRY = text("SELECT lease_expires_at FROM campaign_pacers WHERE campaign_id = :cid")


async def _db_clock(engine: AsyncEngine) -> datetime:
    async with engine.connect() as conn:
        return (await conn.execute(_DB_CLOCK)).scalar_one()  # type: ignore[no-any-return]


async def _expiry(engine: AsyncEngine, cid: int) -> datetime:
    async with engine.connect() as conn:
        return (await conn.execute(_EXPIRY, {"cid": cid})).scalar_one()  # type: ignore[no-any-return]


async def test_pacer_lease_runs_on_the_database_clock(engine: AsyncEngine) -> None:
    """The expiry is ttl after the database's time of the statement (no caller's clock is
    involved, so skewed hosts agree), and a renewal counts the ttl afresh from then."""
    cid = await make_campaign(engine, 0)
    before = await _db_clock(engine)
    assert await acquire_pacer(engine, cid, "a", 60)
    after = await _db_clock(engine)
    assert before + timedelta(seconds=60) <= await _expiry(engine, cid)
    assert await _expiry(engine, cid) <= after + timedelta(seconds=60)
    assert await renew_pacer(engine, cid, "a", 3600)
    assert await _expiry(engine, cid) >= after + timedelta(seconds=3600)


async def test_an_expired_pacer_lease_is_taken_and_its_holder_cannot_renew(
    engine: AsyncEngine,
) -> None:
    cid = await make_campaign(engine, 0)
    assert await acquire_pacer(engine, cid, "a", 60)
    assert await renew_pacer(engine, cid, "a", 0.2)  # the last renewal before the holder stops
    expiry = await _expiry(engine, cid)
    await asyncio.sleep((expiry - await _db_clock(engine)).total_seconds() + 0.05)
    assert await _db_clock(engine) > expiry
    assert await acquire_pacer(engine, cid, "b", 60)  # expired on the database's clock: taken
    assert not await renew_pacer(engine, cid, "a", 60)  # the old holder finds it lost
    assert not await acquire_pacer(engine, cid, "a", 60)
    assert await acquire_pacer(engine, cid, "b", 60)


async def test_many_pacer_leases_in_one_statement(engine: AsyncEngine) -> None:
    one, two, three = [await make_campaign(engine, 0) for _ in range(3)]
    missing = three + 10_000_000  # no such campaign (deleted meanwhile): skipped, no error
    first = await acquire_pacers(engine, [two, one], "a", 60)
    assert first == Acquired(frozenset({one, two}), None)
    other = await acquire_pacers(engine, [one, two, three, missing], "b", 60)
    assert other.held == {three}
    assert other.others_expire_in_s is not None
    assert 0 < other.others_expire_in_s <= 60  # a's leases, on the database's clock
    again = await acquire_pacers(engine, [one, two, three], "a", 60)  # renewed
    assert again.held == {one, two}
    assert await renew_pacer(engine, one, "a", 0.5)
    soon = await acquire_pacers(engine, [one, two], "b", 60)
    assert soon.held == frozenset()
    assert soon.others_expire_in_s is not None
    assert 0 < soon.others_expire_in_s <= 0.5  # the soonest of a's two
    expiry = await _expiry(engine, one)
    await asyncio.sleep((expiry - await _db_clock(engine)).total_seconds() + 0.05)
    taken = await acquire_pacers(engine, [one, two, three], "b", 60)
    assert taken.held == {one, three}
    assert await acquire_pacers(engine, [], "b", 60) == Acquired(frozenset())


async def test_two_instances_acquiring_the_same_campaigns_at_once(engine: AsyncEngine) -> None:
    """Overlapping sets, in different orders, at the same time: no deadlock, one holder each."""
    cids = [await make_campaign(engine, 0) for _ in range(20)]
    for _ in range(10):
        got_a, got_b = await asyncio.gather(
            acquire_pacers(engine, cids, "a", 60), acquire_pacers(engine, cids[::-1], "b", 60)
        )
        assert got_a.held | got_b.held == set(cids)
        assert not got_a.held & got_b.held
        for cid in cids:
            await release_pacer(engine, cid, "a")
            await release_pacer(engine, cid, "b")
