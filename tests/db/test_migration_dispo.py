"""Migration rev_dispo_1: upgrade adds the disposition columns and the agent role, downgrade
takes them away again (agent tokens with it), and upgrade works once more."""

from __future__ import annotations

import asyncio

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from gateway.db.engine import make_engine
from gateway.db.migrate import alembic_config, upgrade
from tests.dbutil import blank_database

_COLUMNS = (
    "SELECT table_name || '.' || column_name FROM information_schema.columns "
    "WHERE table_schema = 'public' AND column_name IN ('disposition', 'disposition_note', "
    "'disposed_at', 'disposed_by', 'callback_at', 'callback_scope', 'dispositions', "
    "'callback_agent', 'agent_id')"
)
_AGENT_TOKEN = (
    "INSERT INTO api_tokens (name, role, token_sha256, agent_id) "
    "VALUES ('desk', 'agent', 'h', 'Agent 7')"
)
ADDED = {
    "attempts.disposition",
    "attempts.disposition_note",
    "attempts.disposed_at",
    "attempts.disposed_by",
    "attempts.callback_at",
    "attempts.callback_scope",
    "campaigns.dispositions",
    "records.callback_agent",
    "api_tokens.agent_id",
}
BEFORE = {"records.disposition", "records.callback_at"}  # 0002's own


async def test_upgrade_downgrade_round_trip(database_server_url: str) -> None:
    with blank_database(database_server_url) as url:
        await upgrade(url, "rev_dispo_1")
        engine = make_engine(url, pool_size=2)
        try:
            async with engine.begin() as conn:
                columns = set((await conn.execute(text(_COLUMNS))).scalars())
                await conn.execute(text(_AGENT_TOKEN))
            assert columns == ADDED | BEFORE
            await asyncio.to_thread(command.downgrade, alembic_config(url), "rev_writepath_1")
            async with engine.begin() as conn:
                assert set((await conn.execute(text(_COLUMNS))).scalars()) == BEFORE
                left = await conn.execute(text("SELECT count(*) FROM api_tokens"))
                assert left.scalar_one() == 0  # agent tokens go with their role
            refused = (
                "INSERT INTO api_tokens (name, role, token_sha256) VALUES ('x', 'agent', 'h2')"
            )
            with pytest.raises(IntegrityError):  # the agent role went with the downgrade
                async with engine.begin() as conn:
                    await conn.execute(text(refused))
            await upgrade(url, "rev_dispo_1")
            async with engine.begin() as conn:
                assert set((await conn.execute(text(_COLUMNS))).scalars()) == ADDED | BEFORE
        finally:
            await engine.dispose()
