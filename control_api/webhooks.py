"""Webhook notifications: a transactional outbox and the background sender that drains it.

A change that must notify owners (every pause and resume) calls :func:`enqueue` inside its own
transaction, which writes one ``webhook_deliveries`` row per matching webhook: the notification
exists if and only if the change committed. :class:`WebhookSender` is the one background task
that delivers them: it claims due rows (pushing their ``next_attempt_at`` forward as a lease, so
several gateway instances never send the same row at the same time), POSTs the JSON body signed
with HMAC-SHA256 of the webhook's secret (header ``X-Dialer-Signature: sha256=<hex>``), and on
failure retries with exponential backoff (``base_delay_s * 2**attempt``, capped) until
``max_attempts``, then marks the row failed. Every try is logged on the row (status code, error).

The sender is owned: :meth:`WebhookSender.start` creates its task and HTTP session,
:meth:`WebhookSender.stop` cancels and awaits the task and closes the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import aiohttp
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from control_api.context import Clock
from gateway.logs import event

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Dialer-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, body), signature)


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
    rows = await conn.execute(
        text(
            "SELECT DISTINCT url FROM webhooks WHERE active "
            "AND (campaign_id IS NULL OR campaign_id = :cid) ORDER BY url"
        ),
        {"cid": campaign_id},
    )
    return [r[0] for r in rows]


async def http_probe(url: str) -> bool:
    """Reachable means any HTTP answer within 2 s (even 4xx: the endpoint exists)."""
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session,
            session.head(url, allow_redirects=False) as response,
        ):
            return response.status < 500
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return False


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


class WebhookSender:
    """Delivers queued webhook notifications; one task, started and stopped by its owner."""

    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        *,
        poll_s: float = 1.0,
        timeout_s: float = 5.0,
        max_attempts: int = 8,
        base_delay_s: float = 1.0,
        max_delay_s: float = 600.0,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._poll_s = poll_s
        self._timeout_s = timeout_s
        self._max_attempts = max_attempts
        self._base_delay_s = base_delay_s
        self._max_delay_s = max_delay_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._task is not None:
            return
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout_s))
        self._task = asyncio.create_task(self._run(), name="webhook-sender")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def wake(self) -> None:
        """Deliver now instead of at the next poll (called after a notification is queued)."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                while await self.deliver_due() > 0:
                    pass
            except Exception as exc:  # the loop must outlive one bad pass
                event(log, "webhook pass failed", logging.WARNING, error=repr(exc))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_s):
                    await self._wake.wait()
            self._wake.clear()

    async def deliver_due(self, limit: int = 20) -> int:
        """Try every due delivery once; returns how many were tried."""
        now = self._clock()
        async with self._engine.begin() as conn:
            lease = now + timedelta(seconds=self._timeout_s * 2)
            rows = (await conn.execute(_CLAIM, {"now": now, "lease": lease, "limit": limit})).all()
        for row in rows:
            await self._deliver(int(row[0]), row[1], row[2], int(row[3]), row[4], row[5])
        return len(rows)

    async def _deliver(
        self, delivery_id: int, name: str, payload: Any, attempt: int, url: str, secret: str
    ) -> None:
        body = json.dumps({"event": name, "delivery": delivery_id, **payload}).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body)}
        status: int | None = None
        error = ""
        session = self._session
        if session is None:
            raise RuntimeError("WebhookSender.start() was not awaited")
        try:
            async with session.post(url, data=body, headers=headers) as response:
                status = response.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        await self._record(delivery_id, attempt, status, error)

    async def _record(self, delivery_id: int, attempt: int, status: int | None, error: str) -> None:
        now = self._clock()
        ok = status is not None and 200 <= status < 300
        if ok:
            outcome, next_at = "delivered", now
        elif attempt >= self._max_attempts:
            outcome, next_at = "failed", now
        else:
            delay = min(self._base_delay_s * 2 ** (attempt - 1), self._max_delay_s)
            outcome, next_at = "pending", now + timedelta(seconds=delay)
        async with self._engine.begin() as conn:
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
                    "code": status,
                    "error": error,
                    "ok": ok,
                    "now": now,
                    "id": delivery_id,
                },
            )
        event(log, "webhook delivery", delivery=delivery_id, status=outcome, code=status)
