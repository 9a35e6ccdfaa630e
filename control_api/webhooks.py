"""Webhook notifications over HTTP: the background sender that drains the outbox, the URL probe.

The outbox itself (rows written in the transaction of the change they announce, claimed and
settled here) is :mod:`gateway.campaigns.outbox`. :class:`WebhookSender` is the one background
task that delivers them: it claims due rows (pushing their ``next_attempt_at`` forward as a
lease, so several gateway instances never send the same row at the same time), POSTs the JSON
body signed with HMAC-SHA256 of the webhook's secret (header ``X-Dialer-Signature:
sha256=<hex>``), and on failure retries with exponential backoff (``base_delay_s * 2**attempt``,
capped) until ``max_attempts``, then marks the row failed. Every try is logged on the row
(status code, error).

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
from datetime import timedelta
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.campaigns import outbox
from gateway.campaigns.runtime import Clock
from gateway.logs import event

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Dialer-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, body), signature)


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
            rows = await outbox.claim_due(conn, now, lease, limit)
        for row in rows:
            await self._deliver(*row)
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
            await outbox.settle(
                conn,
                delivery_id,
                outcome=outcome,
                next_at=next_at,
                code=status,
                error=error,
                now=now,
            )
        event(log, "webhook delivery", delivery=delivery_id, status=outcome, code=status)
