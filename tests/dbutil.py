"""Test databases: one fresh, migrated PostgreSQL database per test session.

On the server at ``DIALER_TEST_DATABASE_URL`` when that is set (CI points it at the machine's
PostgreSQL), else on an embedded PostgreSQL started in a temporary directory.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from gateway.db.embedded import EmbeddedPostgres
from gateway.db.engine import async_url
from gateway.db.migrate import upgrade_sync


def with_database(url: str, database: str) -> str:
    parts = urlsplit(async_url(url))
    return urlunsplit(parts._replace(path=f"/{database}"))


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=10)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def server_url(external: str | None, tmp: Path) -> Iterator[str]:
    """Admin URL of a PostgreSQL server: the external one, or an embedded one for the session."""
    if external:
        yield with_database(external, urlsplit(external).path.lstrip("/") or "postgres")
        return
    embedded = EmbeddedPostgres(tmp / "pgdata")
    embedded.start()
    try:
        yield embedded.admin_url()
    finally:
        embedded.stop()


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """Create a uniquely named database, migrate it to head, drop it afterwards."""
    name = f"dialer_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    url = with_database(admin_url, name)
    try:
        upgrade_sync(url)
        yield url
    finally:
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
