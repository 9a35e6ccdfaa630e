"""Migration 0004 with data: upgrade fills the queue, downgrade restores 0003, and back again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.db.engine import make_engine
from gateway.db.migrate import alembic_config, upgrade
from tests.dbutil import blank_database
from tests.queuecheck import queue_mismatches

pytestmark = pytest.mark.db

# Records in every status, on the 0003 schema (retry and callback with their times).
_RECORDS = """
INSERT INTO records (campaign_id, phone, status, priority, next_attempt_at, attempts)
SELECT :cid, '+1718' || lpad(g::text, 7, '0'),
       (ARRAY['new', 'retry', 'callback', 'dialing', 'done', 'dnc'])[1 + g % 6], 1 + g % 7,
       CASE WHEN g % 6 IN (1, 2) THEN now() + g * interval '1 minute' END, g % 3
FROM generate_series(1, 120) g
"""
_SNAPSHOT = "SELECT id, campaign_id, status, priority, next_attempt_at, attempts FROM records"


@pytest.fixture
async def old_engine(database_server_url: str) -> AsyncIterator[tuple[str, AsyncEngine]]:
    """A database of its own, at revision 0003."""
    with blank_database(database_server_url) as url:
        await upgrade(url, "0003")
        eng = make_engine(url, pool_size=2)
        try:
            yield url, eng
        finally:
            await eng.dispose()


async def _names(engine: AsyncEngine, sql: str) -> set[str]:
    async with engine.connect() as conn:
        return set((await conn.execute(text(sql))).scalars())


async def _snapshot(engine: AsyncEngine) -> list[tuple[object, ...]]:
    async with engine.connect() as conn:
        return [tuple(r) for r in (await conn.execute(text(_SNAPSHOT + " ORDER BY id"))).all()]


async def test_upgrade_downgrade_round_trip_with_data(
    old_engine: tuple[str, AsyncEngine],
) -> None:
    url, engine = old_engine
    async with engine.begin() as conn:
        for name in ("a", "b"):
            cid = (
                await conn.execute(
                    text("INSERT INTO campaigns (name) VALUES (:n) RETURNING id"), {"n": name}
                )
            ).scalar_one()
            await conn.execute(text(_RECORDS), {"cid": cid})
    stored = await _snapshot(engine)

    await upgrade(url, "0004")
    assert await queue_mismatches(engine) == []
    async with engine.connect() as conn:
        queued = (await conn.execute(text("SELECT count(*) FROM record_queue"))).scalar_one()
    assert queued == 2 * 60  # new, retry, callback: half of each campaign's 120
    assert await _snapshot(engine) == stored

    await asyncio.to_thread(command.downgrade, alembic_config(url), "0003")
    tables = await _names(engine, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    indexes = await _names(engine, "SELECT indexname FROM pg_indexes WHERE tablename = 'records'")
    triggers = await _names(engine, "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
    assert "record_queue" not in tables
    assert {"records_eligible", "records_campaign_phone"} <= indexes
    assert triggers == set()
    assert await _snapshot(engine) == stored

    await upgrade(url, "head")
    assert await queue_mismatches(engine) == []
    assert await _snapshot(engine) == stored
