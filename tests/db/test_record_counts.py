"""Records per status kept by triggers (``record_counts``, migration 0005) on a real PostgreSQL.

Every queue test also checks these sums (``tests/queuecheck.py``) after import, lease, start,
settle, release, reset, force complete and delete; here: the migration with data, statements
that change no status, folding (alone and against concurrent writers), and the status reader.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.campaigns import counts
from gateway.campaigns.status import read_counts
from gateway.db.engine import make_engine
from gateway.db.migrate import alembic_config, upgrade
from tests.db.test_record_queue import insert_records, new_campaign
from tests.dbutil import blank_database
from tests.queuecheck import queue_mismatches

pytestmark = pytest.mark.db

_STATUSES = "(ARRAY['new', 'retry', 'dialing', 'done', 'dnc'])[1 + g % 5], '', 0, NULL, 1, '', "
_STATUSES += "'sales', ''"


async def _rows(engine: AsyncEngine, cid: int) -> int:
    async with engine.connect() as conn:
        sql = text("SELECT count(*) FROM record_counts WHERE campaign_id = :c")
        return int((await conn.execute(sql, {"c": cid})).scalar_one())


async def _sums(engine: AsyncEngine, cid: int) -> dict[str, int]:
    async with engine.connect() as conn:
        return (await counts.read(conn, cid)).records


@pytest.fixture
async def engine_at_0004(database_server_url: str) -> AsyncIterator[tuple[str, AsyncEngine]]:
    with blank_database(database_server_url) as url:
        await upgrade(url, "0004")
        eng = make_engine(url, pool_size=2)
        try:
            yield url, eng
        finally:
            await eng.dispose()


async def test_migration_counts_existing_records_and_round_trips(
    engine_at_0004: tuple[str, AsyncEngine],
) -> None:
    url, engine = engine_at_0004
    async with engine.begin() as conn:
        cid = (
            await conn.execute(text("INSERT INTO campaigns (name) VALUES ('c') RETURNING id"))
        ).scalar_one()
    await insert_records(engine, cid, _STATUSES, 50)
    await upgrade(url, "head")
    assert await _sums(engine, cid) == {
        "new": 10,
        "retry": 10,
        "dialing": 10,
        "done": 10,
        "dnc": 10,
    }
    assert await queue_mismatches(engine) == []

    await asyncio.to_thread(command.downgrade, alembic_config(url), "0004")
    async with engine.connect() as conn:
        gone = await conn.execute(text("SELECT to_regclass('record_counts') IS NULL"))
        assert gone.scalar_one()
        triggers = await conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"))
        assert set(triggers.scalars()) == {"records_queue_add", "records_queue_remove"}
    await upgrade(url, "head")
    assert await queue_mismatches(engine) == []


async def test_a_statement_that_changes_no_status_adds_no_row(engine: AsyncEngine) -> None:
    cid = await new_campaign(engine)
    await insert_records(engine, cid, _STATUSES, 20)
    before = await _rows(engine, cid)
    async with engine.begin() as conn:
        await conn.execute(
            # records that are not queued (the queue repeats a queued record's priority)
            text(
                "UPDATE records SET priority = 7, attempts = attempts + 1 "
                "WHERE campaign_id = :c AND status IN ('dialing', 'done', 'dnc')"
            ),
            {"c": cid},
        )
    assert await _rows(engine, cid) == before
    async with engine.begin() as conn:  # one record done: one row, two statuses changed
        await conn.execute(
            text(
                "UPDATE records SET status = 'done' WHERE id = "
                "(SELECT min(id) FROM records WHERE campaign_id = :c AND status = 'dialing')"
            ),
            {"c": cid},
        )
    assert await _rows(engine, cid) == before + 2
    assert await _sums(engine, cid) == {"new": 4, "retry": 4, "dialing": 3, "done": 5, "dnc": 4}
    assert await queue_mismatches(engine, cid) == []


async def test_folding_keeps_the_sums_against_concurrent_writers(engine: AsyncEngine) -> None:
    cid = await new_campaign(engine)
    await insert_records(engine, cid, _STATUSES, 200)
    flips = 100

    async def writer() -> None:
        for i in range(flips):  # one status change per statement and transaction
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "UPDATE records SET status = CASE status WHEN 'done' THEN 'dnc' "
                        "ELSE 'done' END WHERE id = (SELECT id FROM records WHERE campaign_id = :c "
                        "AND status IN ('dialing', 'done', 'dnc') ORDER BY id OFFSET :i LIMIT 1)"
                    ),
                    {"c": cid, "i": i},
                )

    async def folder(done: asyncio.Event) -> int:
        folds = 0
        while not done.is_set():
            async with engine.begin() as conn:
                await counts.compact(conn, cid if folds % 2 else None)
            folds += 1
            await asyncio.sleep(0)
        return folds

    done = asyncio.Event()
    fold_task = asyncio.create_task(folder(done))
    await writer()
    done.set()
    assert await fold_task > 1
    assert await queue_mismatches(engine, cid) == []  # the sums still equal the records
    async with engine.begin() as conn:
        await counts.compact(conn, cid)
    assert await _rows(engine, cid) <= 5  # one row per status
    assert await queue_mismatches(engine, cid) == []


async def test_the_status_reader_folds_piled_rows(engine: AsyncEngine) -> None:
    cid = await new_campaign(engine)
    await insert_records(engine, cid, _STATUSES, 10)
    for _ in range(counts.PILE + 5):
        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO record_counts (campaign_id, status, n) VALUES (:c, 'done', 0)"),
                {"c": cid},
            )
    assert await _rows(engine, cid) > counts.PILE
    found = await read_counts(engine, cid)
    assert (found.records["new"], found.records["retry"], found.records["done"]) == (2, 2, 2)
    assert found.records["callback"] == 0
    assert await _rows(engine, cid) <= 5
    assert await queue_mismatches(engine, cid) == []
