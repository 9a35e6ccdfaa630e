"""The webhook outbox: notifications written in the transaction of the change they announce.

A change that must notify owners (every pause and resume) calls :func:`enqueue` inside its own
transaction, which writes one ``webhook_deliveries`` row per matching webhook: the notification
exists if and only if the change committed. The sender that drains the outbox over HTTP is
:class:`control_api.webhooks.WebhookSender`; it claims and settles rows through this module's
queries.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


async def enqueue(
    conn: AsyncConnection, campaign_id: int, name: str, payload: Mapping[str, Any]
) -> int:
    """Queue ``name`` for every active webhook of the campaign (or of all campaigns)."""
    result = await conn.execute(
        text(
            "INSERT INTO webhook_deliveries (webhook_id, event, payload) "
            "SELECT id, CAST(:event AS text), CAST(:payload AS jsonb) FROM webhooks "
            "WHERE active AND (campaign_id IS NULL OR campaign_id = :cid) "
            "AND (cardinality(events) = 0 OR CAST(:event AS text) = ANY(events))"
        ),
        {"event": name, "payload": json.dumps(payload), "cid": campaign_id},
    )
    return int(result.rowcount)


async def targets(conn: AsyncConnection, campaign_id: int) -> list[str]:
    """The distinct URLs that would be notified of a change to the campaign."""
    rows = await conn.execute(
        text(
            "SELECT DISTINCT url FROM webhooks WHERE active "
            "AND (campaign_id IS NULL OR campaign_id = :cid) ORDER BY url"
        ),
        {"cid": campaign_id},
    )
    return [r[0] for r in rows]


_CLAIM = text("""
UPDATE webhook_deliveries d SET next_attempt_at = :lease, attempts = d.attempts + 1
FROM (
    SELECT id FROM webhook_deliveries
    WHERE status = 'pending' AND next_attempt_at <= :now
    ORDER BY next_attempt_at, id LIMIT :limit FOR UPDATE SKIP LOCKED
) due, webhooks w
WHERE d.id = due.id AND w.id = d.webhook_id
RETURNING d.id, d.event, d.payload, d.attempts, w.url, w.secret
""")


async def claim_due(
    conn: AsyncConnection, now: datetime, lease: datetime, limit: int
) -> list[tuple[int, str, Any, int, str, str]]:
    """Due deliveries, leased until ``lease`` (so another sender skips them), one try counted.

    Each is ``(delivery id, event, payload, attempt number, url, secret)``.
    """
    rows = (await conn.execute(_CLAIM, {"now": now, "lease": lease, "limit": limit})).all()
    return [(int(r[0]), r[1], r[2], int(r[3]), r[4], r[5]) for r in rows]


async def settle(
    conn: AsyncConnection,
    delivery_id: int,
    *,
    outcome: str,
    next_at: datetime,
    code: int | None,
    error: str,
    now: datetime,
) -> None:
    """Record one try: ``outcome`` is delivered, failed or pending (tried again at ``next_at``)."""
    await conn.execute(
        text(
            "UPDATE webhook_deliveries SET status = :status, next_attempt_at = :next, "
            "last_status = :code, last_error = :error, "
            "delivered_at = CASE WHEN :ok THEN CAST(:now AS timestamptz) END "
            "WHERE id = :id"
        ),
        {
            "status": outcome,
            "next": next_at,
            "code": code,
            "error": error,
            "ok": outcome == "delivered",
            "now": now,
            "id": delivery_id,
        },
    )
