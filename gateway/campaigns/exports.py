"""The data of a campaign download: its records' columns, read in bounded pieces.

:func:`copy_csv` is PostgreSQL's own ``COPY … TO STDOUT (FORMAT csv, HEADER)``: the driver
hands over pieces of a few kilobytes, which are gathered and passed on in chunks of about
:data:`CHUNK` bytes; no row is touched in Python. :func:`batches` reads the same rows from a
server-side cursor, :data:`BATCH` at a time, for the formats written in Python
(:mod:`control_api.formats`). Memory stays flat in the number of records either way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

Sink = Callable[[bytes], Awaitable[None]]
COLUMNS = (
    "id",
    "phone",
    "name",
    "time_zone",
    "priority",
    "skill",
    "agent",
    "callback_at",
    "status",
    "reason",
    "disposition",
    "attempts",
    "next_attempt_at",
    "last_attempt_at",
    "caller_id",
    "custom",
)
BATCH = 5000
CHUNK = 1024 * 1024
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM records WHERE campaign_id = :cid ORDER BY id"  # noqa: S608


async def copy_csv(engine: AsyncEngine, campaign_id: int, sink: Sink) -> int:
    """Write the campaign's records as CSV (with a header line); returns the number of rows."""
    query = _SELECT.replace(":cid", "$1")
    pending = bytearray()

    async def gather(piece: bytes) -> None:
        pending.extend(piece)
        if len(pending) >= CHUNK:
            chunk = bytes(pending)
            pending.clear()
            await sink(chunk)

    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        status = await raw.copy_from_query(
            query, campaign_id, output=gather, format="csv", header=True
        )
    if pending:
        await sink(bytes(pending))
    return int(str(status).split()[-1]) if status else 0


async def batches(engine: AsyncEngine, campaign_id: int) -> AsyncIterator[Sequence[Sequence[Any]]]:
    """The campaign's records in :data:`COLUMNS` order, by id, :data:`BATCH` rows at a time."""
    async with engine.connect() as conn:
        result = await conn.stream(
            text(_SELECT).execution_options(yield_per=BATCH), {"cid": campaign_id}
        )
        async for partition in result.partitions(BATCH):
            yield partition
