"""Shared fixtures: a real PostgreSQL per test session, engines that clean up."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.db.engine import make_engine
from tests.dbutil import fresh_database, server_url


@pytest.fixture(scope="session")
def database_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Admin URL of the session's PostgreSQL server (external or embedded)."""
    external = os.environ.get("DIALER_TEST_DATABASE_URL")
    with server_url(external, tmp_path_factory.mktemp("embedded-pg")) as url:
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
