"""Alembic migrations, run programmatically (``dialer db upgrade`` and service start).

The Alembic environment lives in ``gateway/db/migrations``; the URL is handed to it through
``Config.attributes`` so it never sits in a file or a log line.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

from gateway.db.engine import async_url

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = async_url(url)
    return config


def upgrade_sync(url: str, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` (blocks; runs its own event loop)."""
    command.upgrade(alembic_config(url), revision)


async def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade from async code: Alembic runs in a worker thread with its own loop."""
    await asyncio.to_thread(upgrade_sync, url, revision)
