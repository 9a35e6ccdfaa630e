"""The database edge against a real PostgreSQL: migrations applied, readiness probe."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.db.engine import async_url, make_engine, ping
from gateway.db.errors import DatabaseError

pytestmark = pytest.mark.db


async def test_migrations_create_the_schema(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        tables = (
            (
                await conn.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                )
            )
            .scalars()
            .all()
        )
    assert version is not None
    assert "service_instances" in tables


async def test_ping_succeeds_on_a_live_database(engine: AsyncEngine) -> None:
    await ping(engine)


async def test_ping_fails_clearly_when_the_server_is_unreachable() -> None:
    dead = make_engine("postgresql://nobody@127.0.0.1:1/none", pool_size=1)
    try:
        with pytest.raises(DatabaseError, match="database not reachable"):
            await ping(dead, limit_s=3)
    finally:
        await dead.dispose()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
    ],
)
def test_async_url_normalises_the_scheme(given: str, expected: str) -> None:
    assert async_url(given) == expected


def test_async_url_refuses_other_databases() -> None:
    with pytest.raises(DatabaseError):
        async_url("mysql://u@h/db")
