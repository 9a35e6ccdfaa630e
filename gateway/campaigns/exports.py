"""The data of a campaign download: its records' columns, read in bounded pieces.

:func:`copy_csv` is PostgreSQL's own ``COPY … TO STDOUT (FORMAT csv, HEADER)``: the driver
hands over pieces of a few kilobytes, which are gathered and passed on in chunks of about
:data:`CHUNK` bytes; no row is touched in Python. :func:`batches` reads the same rows from a
server-side cursor, :data:`BATCH` at a time, for the formats written in Python
(:mod:`control_api.formats`). Memory stays flat in the number of records either way.
"""

from __future__ import annotations

import re
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

# Formula injection: a spreadsheet runs a cell that starts with one of these as a formula
# (``=HYPERLINK(…)``, ``@SUM(…)``, ``-2+3``, a DDE ``=cmd|…``); a tab or CR before one hides it.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A plain signed number (``+12125550190``, ``-5``) starts with + or - but is read as a number,
# never run: it stays as it is, so E.164 phone numbers survive a round trip.
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_TEXT_COLUMNS = frozenset(
    {"phone", "name", "time_zone", "skill", "agent", "status", "reason", "disposition", "caller_id"}
)


def is_formula(text: str) -> bool:
    """Whether a spreadsheet would run ``text`` as a formula if written as it is in CSV."""
    return text.startswith(FORMULA_STARTS) and _PLAIN_NUMBER.fullmatch(text) is None


def neutralised(text: str) -> str:
    """The CSV cell for ``text``: a leading apostrophe when a spreadsheet would run it."""
    return "'" + text if is_formula(text) else text


def _csv_expression(column: str) -> str:
    """The SQL of :func:`neutralised` for one text column (the same rule, run by PostgreSQL)."""
    if column not in _TEXT_COLUMNS:
        return column
    starts, number = r"'^[-=+@\t\r]'", r"'^[-+]?[0-9]+(\.[0-9]+)?$'"
    return (
        f"CASE WHEN {column} ~ {starts} AND {column} !~ {number} "
        f"THEN chr(39) || {column} ELSE {column} END AS {column}"
    )


_SELECT_CSV = (
    f"SELECT {', '.join(_csv_expression(c) for c in COLUMNS)} "  # noqa: S608
    "FROM records WHERE campaign_id = $1 ORDER BY id"
)


async def copy_csv(engine: AsyncEngine, campaign_id: int, sink: Sink) -> int:
    """Write the campaign's records as CSV (with a header line); returns the number of rows.

    Text cells that a spreadsheet would run as a formula get a leading apostrophe
    (:func:`neutralised`, done in the query so that COPY still streams untouched rows).
    """
    query = _SELECT_CSV
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
