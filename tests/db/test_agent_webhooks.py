"""Agent events in the webhook outbox: only webhooks that name them (or ``agent.*``) get them,
a campaign's webhook only its campaign's, in the order of the events."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.campaigns import campaigns, outbox
from gateway.campaigns.errors import Invalid

pytestmark = pytest.mark.db


async def _campaign(engine: AsyncEngine) -> int:
    fields = {"name": f"c-{uuid.uuid4().hex[:10]}", "owner": "tests", "resume_owner": "tests"}
    made = await campaigns.create(engine, "tests", fields)
    return made.id


async def test_agent_events_reach_only_the_webhooks_that_name_them(engine: AsyncEngine) -> None:
    cid, other = await _campaign(engine), await _campaign(engine)
    url = "http://127.0.0.1:9/hook"
    hooks = {
        "connected": (await outbox.subscribe(engine, "t", url, cid, ["agent.connected"]))[0].id,
        "all_agent": (await outbox.subscribe(engine, "t", url, None, ["agent.*"]))[0].id,
        "default": (await outbox.subscribe(engine, "t", url, cid, []))[0].id,
        "elsewhere": (await outbox.subscribe(engine, "t", url, other, ["agent.*"]))[0].id,
        "paused": (await outbox.subscribe(engine, "t", url, cid, ["campaign.paused"]))[0].id,
    }
    try:
        events = [
            (cid, "agent.ringing", json.dumps({"id": 1, "type": "agent.ringing"})),
            (cid, "agent.connected", json.dumps({"id": 2, "type": "agent.connected"})),
            (None, "agent.state", json.dumps({"id": 3, "type": "agent.state"})),
        ]
        assert await outbox.enqueue_agent_events(engine, events) == 4
        async with engine.connect() as conn:
            rows = (await conn.execute(
                text("SELECT webhook_id, event, payload FROM webhook_deliveries "
                     "WHERE webhook_id = ANY(:ids) ORDER BY id"),
                {"ids": list(hooks.values())})).all()  # fmt: skip
        got = [(r.webhook_id, r.event, r.payload["id"]) for r in rows]
        assert got == [
            (hooks["all_agent"], "agent.ringing", 1),
            (hooks["connected"], "agent.connected", 2),
            (hooks["all_agent"], "agent.connected", 2),
            (hooks["all_agent"], "agent.state", 3),
        ]
        with pytest.raises(Invalid) as refused:
            await outbox.subscribe(engine, "t", url, cid, ["agent.connect"])
        assert refused.value.field == "events"
    finally:
        for webhook_id in hooks.values():
            await outbox.unsubscribe(engine, "t", webhook_id)
