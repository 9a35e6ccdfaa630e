"""Shared fixtures: a real PostgreSQL per test session, engines that clean up."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.db.engine import make_engine
from tests.dbutil import fresh_database, server_url


@pytest.fixture(scope="session")
def database_server_url() -> Iterator[str]:
    """Admin URL of the session's PostgreSQL server (external or embedded)."""
    external = os.environ.get("DIALER_TEST_DATABASE_URL")
    with server_url(external) as url:
        yield url


@pytest.fixture(scope="session")
def database_url(database_server_url: str) -> Iterator[str]:
    """A fresh database, migrated to head, for this test session."""
    with fresh_database(database_server_url) as url:
        yield url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the session database, disposed after the test."""
    eng = make_engine(database_url, pool_size=5)
    try:
        yield eng
    finally:
        await eng.dispose()


@pytest.fixture
def scratch_dir() -> Iterator[Path]:
    """A temporary directory outside pytest's private root, for an embedded PostgreSQL."""
    path = Path(tempfile.mkdtemp(prefix="dialer-test-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
