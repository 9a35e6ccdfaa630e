"""Engine creation and the readiness probe. The only place that turns a URL into an engine."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from gateway.db.errors import DatabaseError


def async_url(url: str) -> str:
    """Normalise ``postgresql://`` / ``postgres://`` URLs to the asyncpg dialect."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise DatabaseError("database URL must start with postgresql://")


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An async engine on asyncpg with a bounded pool and liveness checks."""
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_timeout=10,
        connect_args={"timeout": 10, "command_timeout": 60},
    )


async def ping(engine: AsyncEngine, limit_s: float = 2.0) -> None:
    """Raise :class:`DatabaseError` unless ``SELECT 1`` answers within ``limit_s`` seconds."""
    try:
        async with asyncio.timeout(limit_s), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (TimeoutError, SQLAlchemyError, OSError) as exc:
        raise DatabaseError(f"database not reachable: {type(exc).__name__}") from exc
