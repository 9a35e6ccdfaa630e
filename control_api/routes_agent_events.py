"""Agent event streams: ``GET /v1/agents/{agent}/events`` and ``GET /v1/campaigns/{id}/events``
(WebSocket), and the JSON shapes of their messages for the OpenAPI document.

HTTP only: the upgrade and its authentication are :mod:`control_api.streams`; the events come
from the running gateway's hub (:class:`gateway.agentevents.hub.AgentEventHub`, in
:class:`control_api.context.ApiContext`). Who may follow an agent is
:func:`control_api.auth.may_watch_agent` (a campaign: :func:`~control_api.auth.may_watch_campaign`).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from control_api.auth import Permission as P
from control_api.auth import Principal, may_watch_agent, may_watch_campaign
from control_api.errors import Forbidden, ServiceUnavailable
from control_api.http import Call, PathName, Route
from control_api.schemas import Field
from control_api.streams import Subscribe, wrap_socket
from gateway.agentevents.hub import AgentEventHub, Subscription
from gateway.agentevents.model import EventType
from gateway.asterisk import validate
from gateway.asterisk.agents import AgentStatus
from gateway.campaigns import campaigns

AGENT = PathName(
    lambda value: validate.agent("agent", value),
    validate.AGENT_PATTERN,
    80,
    "the agent id as queue events name it: the member name (`Agent 101`), else the interface "
    "(`PJSIP/agent-101`); percent-encoded in the path (a space as %20, a slash as %2F)",
)
AFTER = Field(
    "after",
    "integer",
    minimum=0,
    maximum=2**53,
    description="resume after this event id: the held events after it come first (with a gap "
    "message first when some are no longer held); the header Last-Event-ID does the same",
)

RECORD_CARD: dict[str, Any] = {
    "type": "object",
    "description": "the record on the line; only `id` when it could not be read in time "
    "(database away) or was deleted",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "phone": {"type": "string", "description": "E.164"},
        "skill": {"type": "string"},
        "custom": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "the upload's own columns (name: the cell's text), as imported",
        },
    },
    "required": ["id"],
}
AGENT_EVENT: dict[str, Any] = {
    "type": "object",
    "description": "one change of one agent. `id` increases by one per event within a gateway "
    "process and starts at the process's start time in microseconds, so ids after a restart "
    "are larger than any before it. Also the body of an agent webhook (with `event` and "
    "`delivery` added)",
    "properties": {
        "id": {"type": "integer"},
        "type": {"type": "string", "enum": list(EventType)},
        "at": {"type": "string", "format": "date-time", "description": "UTC"},
        "agent": {"type": "string"},
        "queue": {"type": "string"},
        "server": {"type": "string"},
        "status": {
            "type": "string",
            "enum": list(AgentStatus),
            "description": "the agent's status after the change",
        },
        "campaign_id": {"type": ["integer", "null"]},
        "attempt_id": {"type": ["string", "null"]},
        "record": {
            "anyOf": [{"$ref": "#/components/schemas/RecordCard"}, {"type": "null"}],
            "description": "null for a state change outside a call",
        },
        "wrapup_s": {"type": "integer", "description": "the wrap-up (agent.wrapup), else 0"},
    },
    "required": [
        "id",
        "type",
        "at",
        "agent",
        "queue",
        "server",
        "status",
        "campaign_id",
        "attempt_id",
        "record",
        "wrapup_s",
    ],
}
EVENT_GAP: dict[str, Any] = {
    "type": "object",
    "description": "first message of a stream resumed from an id the buffer no longer holds "
    "(evicted, or from before a restart): the events in between are lost; the replay that "
    "follows starts at `oldest_id`",
    "properties": {
        "type": {"const": "gap"},
        "after": {"type": "integer"},
        "oldest_id": {"type": "integer"},
        "last_id": {"type": "integer"},
        "detail": {"type": "string"},
    },
    "required": ["type", "after", "oldest_id", "last_id", "detail"],
}
STREAM_AUTH: dict[str, Any] = {
    "type": "object",
    "description": "first client message, only when neither the Authorization header nor the "
    "`bearer.<token>` subprotocol carried the token",
    "properties": {"type": {"const": "auth"}, "token": {"type": "string"}},
    "required": ["type", "token"],
}
STREAM_READY: dict[str, Any] = {
    "type": "object",
    "description": "the server's answer to StreamAuth: the stream is subscribed",
    "properties": {"type": {"const": "ready"}},
    "required": ["type"],
}
MESSAGES = (
    ("AgentEvent", AGENT_EVENT),
    ("EventGap", EVENT_GAP),
    ("RecordCard", RECORD_CARD),
    ("StreamAuth", STREAM_AUTH),
    ("StreamReady", STREAM_READY),
)
_SOCKET_REPLIES: dict[int, str] = {422: "problem", 426: "problem", 503: "problem"}
_SOCKET: dict[str, Any] = {
    "messages": MESSAGES,
    "sends": ("AgentEvent", "EventGap", "StreamReady"),
    "receives": ("StreamAuth",),
}


def _hub(call: Call) -> AgentEventHub:
    hub = call.ctx.agent_events
    if hub is None:
        raise ServiceUnavailable("agent events need the running gateway (dialer serve)")
    return hub


def _guard_agent(principal: Principal, call: Call) -> None:
    if not may_watch_agent(principal, call.names["agent"]):
        raise Forbidden(f"this token may not follow agent {call.names['agent']!r}")


def _guard_campaign(principal: Principal, call: Call) -> None:
    if not may_watch_campaign(principal, call.ids["id"]):
        raise Forbidden(f"this token may not follow campaign {call.ids['id']}")


async def check_agent(call: Call) -> web.StreamResponse:
    _hub(call)
    return web.Response(status=204)  # allowed; the stream follows (control_api.streams)


async def check_campaign(call: Call) -> web.StreamResponse:
    _hub(call)
    await campaigns.get(call.ctx.engine, call.ids["id"])  # 404 before the upgrade
    return web.Response(status=204)


def _agent_subscription(call: Call, after: int | None) -> Subscription:
    return _hub(call).subscribe(agent=call.names["agent"], after=after)


def _campaign_subscription(call: Call, after: int | None) -> Subscription:
    return _hub(call).subscribe(campaign_id=call.ids["id"], after=after)


_DESCRIBE = (
    "WebSocket (GET with Upgrade: websocket; 101 Switching Protocols). The bearer token in the "
    "Authorization header, or as the subprotocol `bearer.<token>` offered with "
    "`dialer.events.v1`, or as the first message (StreamAuth, answered with StreamReady) — "
    "never in the URL. Messages: "
    "EventGap (when resuming from an id no longer held), then AgentEvent, oldest first. Close "
    "codes: 1013 the client fell behind (reconnect with after=<last id>), 1001 shutdown, 4000 + "
    "the refusal's HTTP status after a first-message token (4401 no or bad token, 4403 not "
    "allowed, 4404 no such campaign)."
)

STREAMS: tuple[tuple[Route, Subscribe], ...] = (
    (
        Route(
            "GET", "/agents/{agent}/events", check_agent,
            "Follow one agent's events (WebSocket)", P.WATCH_AGENT, _SOCKET_REPLIES,
            query=(AFTER,),
            tag="agents", names=("agent",), name_rules={"agent": AGENT}, socket=True,
            guard=_guard_agent,
            description="Ringing, connected (with the record), ended, wrap-up and state "
            "changes of one agent. " + _DESCRIBE, **_SOCKET,
        ),
        _agent_subscription,
    ),
    (
        Route(
            "GET", "/campaigns/{id}/events", check_campaign,
            "Follow the agent events of a campaign's calls (WebSocket)", P.READ,
            _SOCKET_REPLIES, query=(AFTER,), tag="agents", ids=("id",), socket=True,
            guard=_guard_campaign,
            description="The agent events of one campaign's calls. " + _DESCRIBE, **_SOCKET,
        ),
        _campaign_subscription,
    ),
)  # fmt: skip
ROUTES = tuple(route for route, _ in STREAMS)


def add_streams(app: web.Application) -> None:
    for route, subscribe in STREAMS:
        app.router.add_route(route.method, route.path, wrap_socket(route, subscribe))
