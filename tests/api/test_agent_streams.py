"""The agent event WebSocket streams over a real server: the three ways to present the token
(header, ``bearer.<token>`` subprotocol, first message), refusals before and after the upgrade,
path checks, and the record read from PostgreSQL. The events come from a real hub fed with the
agent changes the dialer would hand it (the full path from the simulated Asterisk is
``tests/e2e/test_agent_events.py``).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from control_api.app import build_api
from control_api.auth import Principal, may_watch_agent, may_watch_campaign
from control_api.context import ApiContext
from control_api.streams import close_sockets
from gateway.agentevents.hub import AgentEventHub
from gateway.asterisk.agentfeed import AgentChange, CallRef, ChangeKind
from gateway.asterisk.agents import AgentStatus
from gateway.campaigns import cards
from gateway.campaigns.runtime import StaticRuntime
from gateway.db.models import Role
from tests.api.conftest import ApiTestServer, make_tokens

pytestmark = pytest.mark.db


@dataclass
class Streams:
    client: TestClient[web.Request, web.Application]
    api: web.Application
    hub: AgentEventHub
    tokens: dict[Role, str]
    campaign_id: int
    record_id: int

    def change(self, kind: ChangeKind, agent: str = "Agent 101") -> AgentChange:
        call = CallRef(uuid.uuid4().hex, self.campaign_id, self.record_id)
        return AgentChange(kind, "pbx1", "sales", "PJSIP/agent-101", agent,
                           AgentStatus.ON_CALL, call, 0.0)  # fmt: skip


@pytest.fixture
async def streams(engine: AsyncEngine) -> AsyncIterator[Streams]:
    hub = AgentEventHub(partial(cards.read_cards, engine))
    ctx = ApiContext(
        engine=engine, runtime=StaticRuntime(), clock=lambda: datetime.now(UTC), agent_events=hub
    )
    root = web.Application()
    api = build_api(ctx, send_webhooks=False)
    root.add_subapp("/v1", api)
    tokens, names = await make_tokens(engine)
    task = asyncio.create_task(hub.run())
    try:
        async with TestClient(ApiTestServer(root, port=0)) as client:
            ops = {"Authorization": f"Bearer {tokens[Role.OPS]}"}
            made = await client.post("/v1/campaigns", headers=ops, json={
                "name": f"c-{uuid.uuid4().hex[:10]}", "owner": names[Role.OPS],
                "resume_owner": names[Role.OPS]})  # fmt: skip
            cid = int((await made.json())["id"])
            up = await client.post(
                f"/v1/campaigns/{cid}/records",
                data=b"phone,name,account\n+12125550101,Grace Hopper,ACC-7\n",
                headers={**ops, "Content-Type": "text/csv"},
            )
            assert up.status == 200, await up.text()
            async with engine.connect() as conn:
                rid = (
                    await conn.execute(
                        text("SELECT id FROM records WHERE campaign_id = :c"), {"c": cid}
                    )
                ).scalar_one()
            yield Streams(client, api, hub, tokens, cid, int(rid))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _next(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    msg = await ws.receive(timeout=5)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    body: dict[str, Any] = json.loads(msg.data)
    return body


AGENT_PATH = "/v1/agents/Agent%20101/events"


async def test_header_token_streams_the_agent_with_its_record(streams: Streams) -> None:
    viewer = {"Authorization": f"Bearer {streams.tokens[Role.VIEWER]}"}
    async with streams.client.ws_connect(AGENT_PATH, headers=viewer) as ws:
        streams.hub.submit(streams.change(ChangeKind.CONNECTED, agent="Agent 102"))  # not ours
        streams.hub.submit(streams.change(ChangeKind.CONNECTED))
        event = await _next(ws)
    assert event["type"] == "agent.connected"
    assert event["agent"] == "Agent 101"
    assert event["record"] == {"id": streams.record_id, "name": "Grace Hopper",
                               "phone": "+12125550101", "skill": "",
                               "custom": {"account": "ACC-7"}}  # fmt: skip
    slash = "/v1/agents/PJSIP%2Fagent-101/events"  # an agent known by its interface
    async with streams.client.ws_connect(slash, headers=viewer) as ws:
        streams.hub.submit(streams.change(ChangeKind.RINGING, agent="PJSIP/agent-101"))
        assert (await _next(ws))["agent"] == "PJSIP/agent-101"


async def test_subprotocol_and_first_message_tokens_work_and_are_never_echoed(
    streams: Streams,
) -> None:
    token = streams.tokens[Role.VIEWER]
    protocols = ("dialer.events.v1", f"bearer.{token}")
    path = f"/v1/campaigns/{streams.campaign_id}/events"
    async with streams.client.ws_connect(path, protocols=protocols) as ws:
        assert ws.protocol == "dialer.events.v1"
        streams.hub.submit(streams.change(ChangeKind.RINGING))
        assert (await _next(ws))["type"] == "agent.ringing"
    async with streams.client.ws_connect(path) as ws:
        await ws.send_str(json.dumps({"type": "auth", "token": token}))
        assert await _next(ws) == {"type": "ready"}
        streams.hub.submit(streams.change(ChangeKind.ENDED))
        assert (await _next(ws))["type"] == "agent.ended"
    upgrade = {
        "Sec-WebSocket-Protocol": f"bearer.{token}",
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    alone = await streams.client.get(path, headers=upgrade)
    assert alone.status == 422  # the answer could not name a protocol without echoing the token
    assert token not in await alone.text()


async def test_refusals_before_and_after_the_upgrade(streams: Streams) -> None:
    client = streams.client
    plain = await client.get(
        AGENT_PATH, headers={"Authorization": f"Bearer {streams.tokens[Role.VIEWER]}"}
    )
    assert plain.status == 426
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect(AGENT_PATH, headers={"Authorization": "Bearer not-a-token"})
    assert refused.value.status == 401
    viewer = {"Authorization": f"Bearer {streams.tokens[Role.VIEWER]}"}
    for bad in ("Agent%20%20101", "Agent%2C101", "%20Agent", "Agent%25101"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as invalid:
            await client.ws_connect(f"/v1/agents/{bad}/events", headers=viewer)
        assert invalid.value.status == 404, bad  # no such agent can exist
    with pytest.raises(aiohttp.WSServerHandshakeError) as missing:
        await client.ws_connect("/v1/campaigns/999999999/events", headers=viewer)
    assert missing.value.status == 404
    # a token in the URL is not a credential: the socket waits for the first message
    url = f"{AGENT_PATH}?token={streams.tokens[Role.ADMIN]}"
    async with client.ws_connect(url) as ws:
        await ws.send_str(json.dumps({"type": "hello"}))
        closed = await ws.receive(timeout=5)
    assert (closed.type, ws.close_code) == (aiohttp.WSMsgType.CLOSE, 4401)
    async with client.ws_connect(AGENT_PATH) as ws:
        await ws.send_str(json.dumps({"type": "auth", "token": "not-a-token"}))
        closed = await ws.receive(timeout=5)
    assert ws.close_code == 4401
    assert "unknown or revoked token" in str(closed.extra)
    async with client.ws_connect("/v1/campaigns/999999999/events") as ws:
        await ws.send_str(json.dumps({"type": "auth", "token": streams.tokens[Role.VIEWER]}))
        await ws.receive(timeout=5)
    assert ws.close_code == 4404


async def test_a_client_that_falls_behind_is_closed_and_resumes(engine: AsyncEngine) -> None:
    hub = AgentEventHub(partial(cards.read_cards, engine), client_queue=10)
    ctx = ApiContext(
        engine=engine, runtime=StaticRuntime(), clock=lambda: datetime.now(UTC), agent_events=hub
    )
    root = web.Application()
    root.add_subapp("/v1", build_api(ctx, send_webhooks=False))
    tokens, _ = await make_tokens(engine)
    viewer = {"Authorization": f"Bearer {tokens[Role.VIEWER]}"}
    task = asyncio.create_task(hub.run())
    change = AgentChange(ChangeKind.STATE, "pbx1", "sales", "PJSIP/agent-101", "Agent 101",
                         AgentStatus.FREE, None, 0.0)  # fmt: skip
    try:
        async with TestClient(ApiTestServer(root, port=0)) as client:
            async with client.ws_connect(AGENT_PATH, headers=viewer) as ws:
                for _ in range(50):  # one burst, more than the client's queue of 10
                    hub.submit(change)
                got = []
                while (msg := await ws.receive(timeout=5)).type is aiohttp.WSMsgType.TEXT:
                    got.append(json.loads(msg.data))
                assert ws.close_code == 1013
                assert len(got) < 50
            after = got[-1]["id"] if got else hub.oldest_id - 1
            async with client.ws_connect(f"{AGENT_PATH}?after={after}", headers=viewer) as ws:
                rest = [await _next(ws) for _ in range(50 - len(got))]
            assert [e["id"] for e in got + rest] == list(range(hub.oldest_id, hub.last_id + 1))
            url = client.make_url(AGENT_PATH)
            async with aiohttp.ClientSession(headers=viewer) as own:
                ws = await own.ws_connect(url)
                await client.close()  # the server shuts down with the stream open
                closed = await ws.receive(timeout=10)  # (its reply may find the socket gone)
                assert (closed.type, closed.data) == (aiohttp.WSMsgType.CLOSE, 1001)
                await ws.close()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_resume_from_an_id_and_a_gap_from_before_the_process(streams: Streams) -> None:
    viewer = {"Authorization": f"Bearer {streams.tokens[Role.VIEWER]}"}
    async with streams.client.ws_connect(AGENT_PATH, headers=viewer) as ws:
        for kind in (ChangeKind.RINGING, ChangeKind.CONNECTED, ChangeKind.ENDED):
            streams.hub.submit(streams.change(kind))
        first = [await _next(ws) for _ in range(3)]
    after = first[0]["id"]
    async with streams.client.ws_connect(f"{AGENT_PATH}?after={after}", headers=viewer) as ws:
        assert [(await _next(ws))["id"] for _ in range(2)] == [e["id"] for e in first[1:]]
    resumed = {**viewer, "Last-Event-ID": str(first[1]["id"])}
    async with streams.client.ws_connect(AGENT_PATH, headers=resumed) as ws:
        assert (await _next(ws))["id"] == first[2]["id"]
    async with streams.client.ws_connect(f"{AGENT_PATH}?after=1", headers=viewer) as ws:
        gap = await _next(ws)
        replay = [await _next(ws) for _ in range(3)]
    assert gap["type"] == "gap"
    assert (gap["after"], gap["oldest_id"]) == (1, streams.hub.oldest_id)
    assert [e["id"] for e in replay] == [e["id"] for e in first]


DOCS = Path(__file__).resolve().parents[2] / "docs" / "agent-events.md"


def _example() -> Callable[..., Coroutine[Any, Any, None]]:
    """The example client of docs/agent-events.md, as it is written there."""
    source = DOCS.read_text().split("## Example client", 1)[1]
    code = source.split("```python\n", 1)[1].split("```", 1)[0]
    assert len(code.strip().splitlines()) <= 30
    space: dict[str, Any] = {}
    exec(compile(code, str(DOCS), "exec"), space)  # noqa: S102 - the project's own document
    follow: Callable[..., Coroutine[Any, Any, None]] = space["follow"]
    return follow


async def test_the_documented_client_resumes_without_a_gap(streams: Streams) -> None:
    got: list[dict[str, Any]] = []
    changed = asyncio.Event()

    async def handle(event: dict[str, Any]) -> None:
        got.append(event)
        changed.set()

    async def until(n: int) -> None:
        async with asyncio.timeout(10):
            while len(got) < n:
                changed.clear()
                await changed.wait()

    base = str(streams.client.make_url("")).rstrip("/")
    token = streams.tokens[Role.VIEWER]
    client: asyncio.Task[None] = asyncio.create_task(_example()(base, token, "Agent 101", handle))
    try:
        async with asyncio.timeout(10):
            while streams.hub.subscribers == 0:  # noqa: ASYNC110 - a counter, no event to await
                await asyncio.sleep(0.01)
        for kind in (ChangeKind.RINGING, ChangeKind.CONNECTED):
            streams.hub.submit(streams.change(kind))
        await until(2)
        await close_sockets(streams.api)  # the server drops the client ...
        for kind in (ChangeKind.ENDED, ChangeKind.WRAPUP):  # ... which misses these meanwhile
            streams.hub.submit(streams.change(kind))
        await until(4)
    finally:
        client.cancel()
        await asyncio.gather(client, return_exceptions=True)
    assert [e["type"] for e in got] == ["agent.ringing", "agent.connected", "agent.ended",
                                        "agent.wrapup"]  # fmt: skip
    assert [e["id"] for e in got] == list(range(got[0]["id"], got[0]["id"] + 4))


async def test_the_openapi_document_has_both_streams_and_the_event_shapes(
    streams: Streams,
) -> None:
    doc = await (await streams.client.get("/v1/openapi.json")).json()
    for path in ("/agents/{agent}/events", "/campaigns/{id}/events"):
        op = doc["paths"][path]["get"]
        assert "101" in op["responses"]
        assert "426" in op["responses"]
        assert "x-messages" in op["responses"]["101"]
        assert {p["name"] for p in op["parameters"]} >= {"after", "Last-Event-ID"}
    (agent,) = [p for p in doc["paths"]["/agents/{agent}/events"]["get"]["parameters"]
                if p["name"] == "agent"]  # fmt: skip
    assert agent["schema"]["type"] == "string"

    def valid(message: dict[str, Any], name: str) -> None:
        schema = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
        jsonschema.validate(message, schema, cls=jsonschema.Draft202012Validator)

    viewer = {"Authorization": f"Bearer {streams.tokens[Role.VIEWER]}"}
    async with streams.client.ws_connect(f"{AGENT_PATH}?after=1", headers=viewer) as ws:
        streams.hub.submit(streams.change(ChangeKind.CONNECTED))
        valid(await _next(ws), "EventGap")
        valid(await _next(ws), "AgentEvent")
        streams.hub.submit(AgentChange(ChangeKind.STATE, "pbx1", "sales", "PJSIP/agent-101",
                                       "Agent 101", AgentStatus.PAUSED, None, 0.0))  # fmt: skip
        valid(await _next(ws), "AgentEvent")
    with pytest.raises(jsonschema.ValidationError):
        valid({"type": "agent.connected"}, "AgentEvent")


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.AGENT])
def test_every_reading_role_may_follow_any_agent_and_campaign(role: Role) -> None:
    who = Principal("someone", role)
    assert may_watch_agent(who, "Agent 101")
    assert may_watch_campaign(who, 1)


def test_an_agent_token_follows_its_own_agent_only() -> None:
    desk = Principal("desk-7", Role.AGENT, "Agent 101")
    assert may_watch_agent(desk, "Agent 101")
    assert not may_watch_agent(desk, "Agent 102")
    assert not may_watch_campaign(desk, 1)  # a campaign stream carries every agent's calls
    assert not may_watch_agent(Principal("unbound", Role.AGENT), "Agent 101")


async def test_an_agent_token_streams_its_own_agent_only(streams: Streams) -> None:
    admin = {"Authorization": f"Bearer {streams.tokens[Role.ADMIN]}"}
    desk = {"name": "desk-101", "role": "agent", "agent_id": "Agent 101"}
    made = await streams.client.post("/v1/tokens", json=desk, headers=admin)
    assert made.status == 201
    token = (await made.json())["token"]
    mine = {"Authorization": f"Bearer {token}"}
    async with streams.client.ws_connect(AGENT_PATH, headers=mine) as ws:
        streams.hub.submit(streams.change(ChangeKind.CONNECTED, agent="Agent 102"))  # not its
        streams.hub.submit(streams.change(ChangeKind.CONNECTED))
        event = await _next(ws)
    assert (event["agent"], event["record"]["name"]) == ("Agent 101", "Grace Hopper")
    for path in ("/v1/agents/Agent%20102/events", f"/v1/campaigns/{streams.campaign_id}/events"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await streams.client.ws_connect(path, headers=mine)
        assert refused.value.status == 403, path
    async with streams.client.ws_connect("/v1/agents/Agent%20102/events") as ws:
        await ws.send_str(json.dumps({"type": "auth", "token": token}))  # the first message
        await ws.receive(timeout=5)
    assert ws.close_code == 4403
