"""Transient database errors are retried, not outages; the runner and the writer share a lock order.

The errors are real ones from PostgreSQL (raised by the server with their SQLSTATE, or a
connection the server terminated), through SQLAlchemy and asyncpg as the service sees them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from dialer.results import ResultWriter
from gateway.campaigns.leasing import lease_records, start_attempt
from gateway.campaigns.store import DbStore
from gateway.db.engine import make_engine
from gateway.db.transient import is_transient
from pacing.calls import AttemptResult
from pacing.outcomes import Outcome
from tests.db.test_leasing import NOON_NY, make_campaign, start

pytestmark = pytest.mark.db


def _raise(sqlstate: str) -> str:
    return f"DO $$ BEGIN RAISE EXCEPTION 'test' USING ERRCODE = '{sqlstate}'; END $$"


async def _error(engine: AsyncEngine, sql: str) -> Exception:
    try:
        async with engine.begin() as conn:
            await conn.execute(text(sql))
    except Exception as exc:
        return exc
    raise AssertionError(f"{sql!r} did not fail")


@pytest.mark.parametrize(
    ("sqlstate", "transient"),
    [("40P01", True), ("40001", True), ("23505", False), ("42P01", False), ("57014", False)],
)
async def test_errors_from_postgres_are_classified(
    engine: AsyncEngine, sqlstate: str, transient: bool
) -> None:
    assert is_transient(await _error(engine, _raise(sqlstate))) is transient


async def test_a_terminated_connection_is_transient(database_url: str) -> None:
    own = make_engine(database_url, pool_size=1)
    try:
        exc = await _error(own, "SELECT pg_terminate_backend(pg_backend_pid())")
        assert is_transient(exc), repr(exc)
    finally:
        await own.dispose()


def _result(attempt_id: str) -> AttemptResult:
    now = datetime.now(UTC)
    return AttemptResult(
        attempt_id=attempt_id, campaign_id=1, record_id=1, outcome=Outcome.BUSY, cause=17,
        server="pbx1", caller_id="+12125550000", agent=None, originated_at=now, rang_at=None,
        answered_at=None, connected_at=None, ended_at=now, post_dial_delay_s=None, ring_s=None,
        hold_s=None, talk_s=None, duration_s=1.0,
    )  # fmt: skip


async def _writer_run(writer: ResultWriter, done: asyncio.Event) -> None:
    task = asyncio.create_task(writer.run())
    try:
        async with asyncio.timeout(20):
            await done.wait()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_the_writer_retries_a_deadlock_and_reports_no_outage(engine: AsyncEngine) -> None:
    failures = ["40P01", "40001"]  # then the database answers
    stored: list[str] = []
    done = asyncio.Event()

    async def persist(batch: Sequence[AttemptResult]) -> None:
        async with engine.begin() as conn:
            if failures:
                await conn.execute(text(_raise(failures.pop(0))))
            await conn.execute(text("SELECT 1"))
        stored.extend(r.attempt_id for r in batch)
        done.set()

    outages: list[str] = []
    writer = ResultWriter(persist, clock=asyncio.get_running_loop().time, on_outage=outages.append)
    writer.submit(_result("a" * 32))
    await _writer_run(writer, done)
    assert stored == ["a" * 32]
    assert outages == []
    assert writer.healthy
    assert writer.transient_retries == 2


async def test_a_lasting_error_is_still_an_outage(engine: AsyncEngine) -> None:
    outages: list[str] = []
    seen = asyncio.Event()

    async def persist(batch: Sequence[AttemptResult]) -> None:
        del batch
        async with engine.begin() as conn:
            await conn.execute(text(_raise("40P01")))

    def outage(error: str) -> None:
        outages.append(error)
        seen.set()

    writer = ResultWriter(persist, clock=asyncio.get_running_loop().time, on_outage=outage)
    writer.submit(_result("b" * 32))
    await _writer_run(writer, seen)
    assert len(outages) == 1
    assert not writer.healthy
    assert writer.pending == 1  # kept, never dropped


async def test_not_transient_is_an_outage_at_once(engine: AsyncEngine) -> None:
    exc = await _error(engine, _raise("23505"))
    assert isinstance(exc, IntegrityError)
    assert not is_transient(exc)


async def test_placed_batches_in_any_order_never_deadlock(
    engine: AsyncEngine, database_url: str
) -> None:
    cid = await make_campaign(engine, 400)
    leased = await lease_records(engine, cid, "gw", 400, NOON_NY, 600)
    ids = []
    for rec in leased:
        attempt = start(cid, rec.id, "gw", NOON_NY)
        assert await start_attempt(engine, attempt)
        ids.append(attempt.attempt_id)
    other = make_engine(database_url, pool_size=2)
    try:
        mine, theirs = (
            DbStore(engine, "gw", clock=lambda: 0.0),
            DbStore(other, "gw", clock=lambda: 0.0),
        )
        for round_ in range(8):
            pairs = [(i, f"s{round_}") for i in ids]
            await asyncio.gather(mine.placed(pairs), theirs.placed(list(reversed(pairs))))
    finally:
        await other.dispose()
    async with engine.connect() as conn:
        servers = (
            (
                await conn.execute(
                    text("SELECT DISTINCT server FROM attempts WHERE id = ANY(:ids)"), {"ids": ids}
                )
            )
            .scalars()
            .all()
        )
    assert servers == ["s7"]
