"""Records per status from ``record_counts`` (migration 0005): read exactly, fold when they pile up.

The triggers of migration 0005 add one signed row per campaign and status that a statement on
``records`` changed, and never update a row, so writers never wait on each other here. Readers
sum a campaign's rows; :func:`compact` folds them into one row per status, in one statement
(``DELETE … RETURNING`` feeding an ``INSERT``), which is safe against concurrent writers and
compactors: a row inserted after the statement's snapshot is not deleted, and a row another
compactor deleted first is skipped.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

#: rows per campaign beyond which the background compaction folds them
PILE = 32

_READ = text(
    "SELECT statement_timestamp() AS as_of, "
    "(SELECT json_object_agg(s.status, s.n) FROM (SELECT status, sum(n) AS n FROM record_counts "
    "WHERE campaign_id = :cid GROUP BY status) s) AS records, "
    "(SELECT count(*) FROM record_counts WHERE campaign_id = :cid) AS pieces"
)
_COMPACT_ONE = text(
    "WITH folded AS (DELETE FROM record_counts WHERE campaign_id = :cid RETURNING status, n) "
    "INSERT INTO record_counts (campaign_id, status, n) "
    "SELECT :cid, status, sum(n) FROM folded GROUP BY status HAVING sum(n) <> 0"
)
_COMPACT_PILED = text(
    "WITH piled AS (SELECT campaign_id FROM record_counts GROUP BY campaign_id "
    "HAVING count(*) > :pile), "
    "folded AS (DELETE FROM record_counts c USING piled p WHERE c.campaign_id = p.campaign_id "
    "RETURNING c.campaign_id, c.status, c.n) "
    "INSERT INTO record_counts (campaign_id, status, n) "
    "SELECT campaign_id, status, sum(n) FROM folded GROUP BY campaign_id, status "
    "HAVING sum(n) <> 0"
)


class StatusCounts(NamedTuple):
    """A campaign's records per status present (absent: none) as of ``as_of`` (database time)."""

    records: dict[str, int]
    as_of: datetime
    pieces: int  # rows summed: many means it is time to compact


async def read(conn: AsyncConnection, campaign_id: int) -> StatusCounts:
    row = (await conn.execute(_READ, {"cid": campaign_id})).one()
    found = row.records or {}
    return StatusCounts({str(k): int(v) for k, v in found.items()}, row.as_of, int(row.pieces))


async def compact(conn: AsyncConnection, campaign_id: int | None = None) -> None:
    """Fold one campaign's rows, or (``None``) those of every campaign with more than PILE."""
    if campaign_id is None:
        await conn.execute(_COMPACT_PILED, {"pile": PILE})
    else:
        await conn.execute(_COMPACT_ONE, {"cid": campaign_id})
