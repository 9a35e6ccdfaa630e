"""Test databases: one fresh, migrated PostgreSQL database per test session.

On the server at ``DIALER_TEST_DATABASE_URL`` when that is set (CI points it at the machine's
PostgreSQL), else on an embedded PostgreSQL started in a temporary directory.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
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
def server_url(external: str | None) -> Iterator[str]:
    """Admin URL of a PostgreSQL server: the external one, or an embedded one for the session.

    The embedded server gets a directory of its own outside pytest's temporary root: pytest
    keeps that root private (0700) and the server runs as an unprivileged user when we are root.
    """
    if external:
        yield with_database(external, urlsplit(external).path.lstrip("/") or "postgres")
        return
    home = Path(tempfile.mkdtemp(prefix="dialer-test-pg-"))
    embedded = EmbeddedPostgres(home / "pgdata")
    try:
        embedded.start()
        yield embedded.admin_url()
    finally:
        embedded.stop()
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def blank_database(admin_url: str) -> Iterator[str]:
    """Create a uniquely named, empty database; drop it afterwards. Yields its URL.

    Usable from async tests too: the admin statements run on a loop of their own in a thread.
    """
    name = f"dialer_test_{uuid.uuid4().hex[:12]}"
    _in_thread(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield with_database(admin_url, name)
    finally:
        _in_thread(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _in_thread(job: Coroutine[object, object, None]) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, job).result()


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """Create a uniquely named database, migrate it to head, drop it afterwards."""
    with blank_database(admin_url) as url:
        upgrade_sync(url)
        yield url
