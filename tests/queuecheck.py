"""Test helper: where the dialing queue and the records' statuses disagree.

The invariant (migration 0004): a record has exactly one ``record_queue`` row, with its campaign,
priority and ``next_attempt_at``, when its status is new, retry or callback, and none otherwise.
And (migration 0005) the rows of ``record_counts`` sum to the records per campaign and status.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_MISMATCHES = text("""
SELECT 'not queued' AS problem, r.id FROM records r
WHERE (CAST(:cid AS bigint) IS NULL OR r.campaign_id = :cid)
  AND r.status IN ('new', 'retry', 'callback')
  AND NOT EXISTS (
    SELECT 1 FROM record_queue q
    WHERE q.campaign_id = r.campaign_id AND q.priority = r.priority AND q.record_id = r.id
      AND q.next_attempt_at IS NOT DISTINCT FROM r.next_attempt_at)
UNION ALL
SELECT CASE WHEN r.id IS NULL THEN 'queued, no record' ELSE 'queued, ' || r.status END, q.record_id
FROM record_queue q LEFT JOIN records r ON r.id = q.record_id
WHERE (CAST(:cid AS bigint) IS NULL OR q.campaign_id = :cid)
  AND (r.id IS NULL OR r.status NOT IN ('new', 'retry', 'callback')
       OR r.campaign_id <> q.campaign_id OR r.priority <> q.priority)
ORDER BY 2
""")
_COUNT_MISMATCHES = text("""
SELECT 'counted ' || coalesce(k.status, a.status) || ' off by '
       || (coalesce(k.n, 0) - coalesce(a.n, 0)), coalesce(k.campaign_id, a.campaign_id)
FROM (SELECT campaign_id, status, sum(n) AS n FROM record_counts
      WHERE CAST(:cid AS bigint) IS NULL OR campaign_id = :cid
      GROUP BY 1, 2 HAVING sum(n) <> 0) k
FULL JOIN (SELECT campaign_id, status, count(*) AS n FROM records
           WHERE CAST(:cid AS bigint) IS NULL OR campaign_id = :cid GROUP BY 1, 2) a
  ON a.campaign_id = k.campaign_id AND a.status = k.status
WHERE k.n IS DISTINCT FROM a.n
ORDER BY 2
""")


async def queue_mismatches(engine: AsyncEngine, campaign_id: int | None = None) -> list[str]:
    """``"<problem> <record id>"`` for every disagreement (empty: queue and records agree), and
    ``"counted <status> off by <n> <campaign id>"`` where the records per status disagree."""
    async with engine.connect() as conn:
        rows = list((await conn.execute(_MISMATCHES, {"cid": campaign_id})).all())
        counted = await conn.execute(text("SELECT to_regclass('record_counts') IS NOT NULL"))
        if counted.scalar_one():  # from migration 0005 on
            rows.extend((await conn.execute(_COUNT_MISMATCHES, {"cid": campaign_id})).all())
    return [f"{problem} {record_id}" for problem, record_id in rows]
