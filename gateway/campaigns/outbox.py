"""Webhooks: the subscriptions, and the outbox of notifications written in the transaction of
the change they announce.

A change that must notify owners (every pause and resume) calls :func:`enqueue` inside its own
transaction, which writes one ``webhook_deliveries`` row per matching webhook: the notification
exists if and only if the change committed. The sender that drains the outbox over HTTP is
:class:`control_api.webhooks.WebhookSender`; it claims and settles rows through this module's
queries. Subscriptions (:func:`subscribe`, :func:`unsubscribe`) write their audit entry in
the same transaction; a subscription's secret is shown once, when it is created.

Agent events (:mod:`gateway.agentevents`) are not a change of the database: the hub writes them
in batches with :func:`enqueue_agent_events`, after they happened, to the webhooks that name
them (:data:`WEBHOOK_EVENTS`).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.campaigns import audit, campaigns
from gateway.campaigns.errors import Invalid, NotFound
from gateway.campaigns.typed import columns, row_of

CAMPAIGN_EVENTS = ("campaign.paused", "campaign.resumed")
AGENT_EVENTS = ("agent.ringing", "agent.connected", "agent.ended", "agent.wrapup", "agent.state")
ALL_AGENT_EVENTS = "agent.*"
# What a webhook's ``events`` may name. An empty list means every campaign event; agent events
# (many per call) go only to webhooks that name them, one by one or all with ``agent.*``.
WEBHOOK_EVENTS = (*CAMPAIGN_EVENTS, *AGENT_EVENTS, ALL_AGENT_EVENTS)


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


_AGENT_ENQUEUE = text("""
INSERT INTO webhook_deliveries (webhook_id, event, payload)
SELECT w.id, e.event, CAST(e.payload AS jsonb)
FROM unnest(CAST(:cids AS bigint[]), CAST(:events AS text[]), CAST(:payloads AS text[]))
     WITH ORDINALITY AS e(cid, event, payload, n)
JOIN webhooks w ON w.active
    AND (w.campaign_id IS NULL OR w.campaign_id = e.cid)
    AND (e.event = ANY(w.events) OR CAST(:all AS text) = ANY(w.events))
ORDER BY e.n, w.id
""")


async def enqueue_agent_events(
    engine: AsyncEngine, events: Sequence[tuple[int | None, str, str]]
) -> int:
    """Queue agent events (``(campaign id or None, event name, JSON payload)``, in order) for
    the webhooks that subscribed to them, in one statement; returns the deliveries queued.

    An event without a campaign (an agent's state change between calls) goes only to the
    webhooks of every campaign.
    """
    if not events:
        return 0
    params = {
        "cids": [cid for cid, _, _ in events],
        "events": [name for _, name, _ in events],
        "payloads": [payload for _, _, payload in events],
        "all": ALL_AGENT_EVENTS,
    }
    async with engine.begin() as conn:
        result = await conn.execute(_AGENT_ENQUEUE, params)
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


@dataclass(frozen=True, slots=True)
class Webhook:
    """A subscription: ``events`` empty means every event; ``campaign_id`` None, every campaign.

    The signing secret is never part of it: :func:`subscribe` returns it once.
    """

    id: int
    url: str
    campaign_id: int | None
    events: tuple[str, ...]
    active: bool


@dataclass(frozen=True, slots=True)
class Delivery:
    """One notification to one webhook and how its tries went."""

    id: int
    event: str
    status: str
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def _webhook(row: Mapping[Any, Any]) -> Webhook:
    return Webhook(row["id"], row["url"], row["campaign_id"], tuple(row["events"]), row["active"])


async def webhooks(engine: AsyncEngine) -> list[Webhook]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT id, url, campaign_id, events, active FROM webhooks ORDER BY id")
        )
        return [_webhook(r) for r in rows.mappings()]


async def subscribe(
    engine: AsyncEngine,
    actor: str,
    url: str,
    campaign_id: int | None,
    events: Sequence[str],
) -> tuple[Webhook, str]:
    """Add a webhook; returns it and its signing secret (the only time the secret is shown)."""
    if not url.startswith(("http://", "https://")):
        raise Invalid("url", "must be an http:// or https:// URL")
    unknown = sorted(set(events) - set(WEBHOOK_EVENTS))
    if unknown:
        raise Invalid("events", f"unknown event {unknown[0]!r}; one of {', '.join(WEBHOOK_EVENTS)}")
    secret = secrets.token_urlsafe(32)
    async with engine.begin() as conn:
        if campaign_id is not None:
            await campaigns.fetch(conn, campaign_id)
        new_id = (
            await conn.execute(
                text(
                    "INSERT INTO webhooks (url, secret, campaign_id, events) "
                    "VALUES (:url, :secret, :cid, :events) RETURNING id"
                ),
                {"url": url, "secret": secret, "cid": campaign_id, "events": list(events)},
            )
        ).scalar_one()
        hook = Webhook(int(new_id), url, campaign_id, tuple(events), True)
        await audit.record(conn, actor, "webhook.create", "webhook", new_id, None, asdict(hook))
    return hook, secret


async def unsubscribe(engine: AsyncEngine, actor: str, webhook_id: int) -> None:
    """Remove a webhook (its deliveries go with it); :class:`NotFound` if absent."""
    async with engine.begin() as conn:
        gone = await conn.execute(
            text("DELETE FROM webhooks WHERE id = :id RETURNING url"), {"id": webhook_id}
        )
        url = gone.scalar_one_or_none()
        if url is None:
            raise NotFound(f"webhook {webhook_id} does not exist")
        await audit.record(conn, actor, "webhook.delete", "webhook", webhook_id, {"url": url}, None)


async def deliveries(engine: AsyncEngine, webhook_id: int, limit: int) -> list[Delivery]:
    """A webhook's delivery log, newest first."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                f"SELECT {', '.join(columns(Delivery))} FROM webhook_deliveries "  # noqa: S608
                "WHERE webhook_id = :id ORDER BY id DESC LIMIT :l"
            ),
            {"id": webhook_id, "l": limit},
        )
        return [row_of(Delivery, r) for r in rows.mappings()]
