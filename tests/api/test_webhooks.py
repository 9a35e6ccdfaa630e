"""Pause and resume notify owners: signed webhook deliveries, retried with backoff, logged."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import text

from control_api.webhooks import SIGNATURE_HEADER, WebhookSender, verify
from gateway.db.models import Role
from tests.api.conftest import Api

pytestmark = pytest.mark.db


@dataclass
class Target:
    server: TestServer
    fail_first: int = 0
    received: list[tuple[bytes, str]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self) -> str:
        return str(self.server.make_url("/hook"))


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    app = web.Application()
    holder: list[Target] = []

    async def hook(request: web.Request) -> web.Response:
        t = holder[0]
        if t.fail_first > 0:
            t.fail_first -= 1
            return web.Response(status=503)
        t.received.append((await request.read(), request.headers[SIGNATURE_HEADER]))
        t.arrived.set()
        return web.Response(status=204)

    app.router.add_post("/hook", hook)
    server = TestServer(app, port=0)
    await server.start_server()
    holder.append(Target(server))
    try:
        yield holder[0]
    finally:
        await server.close()


async def test_pause_is_delivered_signed_after_retries(api: Api, target: Target) -> None:
    c = await api.campaign()
    created = await api.client.post(
        "/v1/webhooks",
        json={"url": target.url(), "campaign_id": c["id"]},
        headers=api.auth(Role.ADMIN),
    )
    hook = await created.json()
    await api.op(c["id"], "start")
    await api.op(c["id"], "pause", category="compliance", text="consent missing")
    target.fail_first = 1
    async with api.engine.begin() as conn:  # the session's database: other tests' leftovers
        await conn.execute(
            text("UPDATE webhook_deliveries SET status = 'failed' "
                 "WHERE status = 'pending' AND webhook_id <> :hook"),
            {"hook": hook["id"]},
        )  # fmt: skip
    now = [datetime.now(UTC)]
    sender = WebhookSender(api.engine, lambda: now[0], base_delay_s=30)
    await sender.start()
    try:
        assert await sender.deliver_due() == 1  # the 503
        assert await sender.deliver_due() == 0  # backing off
        now[0] += timedelta(seconds=31)
        assert await sender.deliver_due() == 1
        async with asyncio.timeout(5):
            await target.arrived.wait()
    finally:
        await sender.stop()
    body, signature = target.received[0]
    assert verify(hook["secret"], body, signature)
    assert b'"category": "compliance"' in body
    log = await api.client.get(
        f"/v1/webhooks/{hook['id']}/deliveries", headers=api.auth(Role.VIEWER)
    )
    [delivery] = (await log.json())["deliveries"]
    assert (delivery["status"], delivery["attempts"], delivery["last_status"]) == (
        "delivered",
        2,
        204,
    )


async def test_unreachable_webhook_fails_the_resume_checklist(api: Api) -> None:
    c = await api.campaign()
    async with api.engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO webhooks (url, secret, campaign_id) VALUES (:u, 's', :c)"),
            {"u": "http://127.0.0.1:9/unreachable", "c": c["id"]},
        )
    from control_api.webhooks import http_probe
    from gateway.campaigns import campaigns
    from gateway.campaigns.governance import checklist

    campaign = await campaigns.get(api.engine, c["id"])
    items = await checklist(api.engine, api.runtime, http_probe, campaign)
    assert items["webhooks_reachable"]["ok"] is False
    # global webhooks other tests of the session registered apply too
    unreachable = items["webhooks_reachable"]["unreachable"]
    assert isinstance(unreachable, list)
    assert "http://127.0.0.1:9/unreachable" in unreachable
