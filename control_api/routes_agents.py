"""Agent control endpoints: the members of a campaign's queue, log in, log out, pause, unpause.

Handlers translate HTTP to :mod:`gateway.campaigns.agents` (which finds the campaign's queue,
asks the running gateway's :class:`~gateway.campaigns.agents.AgentPort` and audits) and its typed
rows back to JSON. ``queue`` (login body, or the query of the others) picks one of the
campaign's skill queues; the default is the campaign's own queue, and the listing shows them all.
``{agent}`` is a member name or an interface (``PJSIP/1001`` is sent as
``PJSIP%2F1001``), percent-decoded and held to the strict-name grammar by
:func:`control_api.http.wrap`. An API without a dialer (no port in the context) answers 503.

Roles: ops and admin (``agents_control``). Hook for agent tokens: :func:`_may_act_on` is where
a token bound to one agent id will be let through for its own pause and unpause (and nothing
else); it is the only place to change, the routes already pass it the agent.
"""

from __future__ import annotations

from aiohttp import web

from control_api.auth import Permission as P
from control_api.auth import Principal
from control_api.http import Call, Route, reply
from control_api.schemas import Field, Reply, Schema, document
from gateway.asterisk import validate
from gateway.campaigns import agents
from gateway.campaigns.agents import AgentPort
from gateway.campaigns.errors import Unavailable

_NAME = validate.NAME_PATTERN

_QUEUE_FIELD = Field(
    "queue", "string", max_length=80, pattern=_NAME,
    description="one of the campaign's skill queues (pacing.skill_queues); default its own queue",
)  # fmt: skip
_QUEUE = (_QUEUE_FIELD,)

LOGIN = Schema(
    "AgentLogin",
    (
        Field("interface", "string", True, max_length=80, pattern=_NAME,
              description="the member's device, e.g. PJSIP/1001 or Local/1001@agents/n"),
        Field("name", "string", True, max_length=80, pattern=_NAME,
              description="the member name: the agent's id (no spaces)"),
        _QUEUE_FIELD,
    ),
)  # fmt: skip
PAUSE = Schema(
    "AgentPause",
    (
        Field("reason", "string", True, max_length=32, pattern=validate.REASON_PATTERN,
              description="a reason code (lunch, break, training…): also a metric label"),
    ),
)  # fmt: skip
QUEUE_AGENT = Reply(
    "QueueAgent",
    (
        Field("server", "string"),
        Field("queue", "string"),
        Field("interface", "string"),
        Field("name", "string"),
        Field(
            "state",
            "string",
            enum=("free", "ringing", "on_call", "wrapup", "paused", "unavailable"),
        ),
        Field("paused_reason", "string"),
        Field("penalty", "integer"),
    ),
)
AGENT_MOVE = Reply(
    "AgentMove",
    (
        Field("action", "string", enum=("login", "logout", "pause", "unpause")),
        Field("campaign_id", "integer"),
        Field("queue", "string"),
        Field("interface", "string"),
        Field("name", "string"),
        Field("servers", "array"),
        Field("reason", "string"),
    ),
)
_LIST = Reply("QueueAgentList", (Field("agents", "array", shape=QUEUE_AGENT),))
_REFUSED = {404: "problem", 409: "problem", 503: "problem"}


def _port(call: Call) -> AgentPort:
    port = call.ctx.agents
    if port is None:
        raise Unavailable("this API runs without a dialer: agents cannot be controlled here")
    return port


def _may_act_on(principal: Principal, agent: str) -> None:
    """The caller may change ``agent``: today the route's ``agents_control`` is all it takes.

    An agent token (the ``agent`` role, bound to one agent id) will be allowed here for its own
    pause and unpause only: ``principal.name`` matched to ``agent``, the routes' permission
    widened to the role. Until then this does nothing beyond the route's permission check.
    """
    del principal, agent


async def list_agents(call: Call) -> web.StreamResponse:
    rows = await agents.listing(call.ctx.engine, _port(call), call.ids["id"])
    return reply({"agents": [document(r) for r in rows]})


async def login(call: Call) -> web.StreamResponse:
    _may_act_on(call.principal, call.body["name"])
    move = await agents.login(
        call.ctx.engine,
        _port(call),
        call.principal.name,
        call.ids["id"],
        call.body["interface"],
        call.body["name"],
        call.body.get("queue"),
    )
    return reply(document(move), 201)


async def logout(call: Call) -> web.StreamResponse:
    agent = call.names["agent"]
    _may_act_on(call.principal, agent)
    move = await agents.logout(
        call.ctx.engine, _port(call), call.principal.name, call.ids["id"], agent,
        call.query.get("queue"),
    )  # fmt: skip
    return reply(document(move))


async def pause(call: Call) -> web.StreamResponse:
    agent = call.names["agent"]
    _may_act_on(call.principal, agent)
    move = await agents.pause(
        call.ctx.engine,
        _port(call),
        call.principal.name,
        call.ids["id"],
        agent,
        call.body["reason"],
        call.query.get("queue"),
    )
    return reply(document(move))


async def unpause(call: Call) -> web.StreamResponse:
    agent = call.names["agent"]
    _may_act_on(call.principal, agent)
    move = await agents.unpause(
        call.ctx.engine, _port(call), call.principal.name, call.ids["id"], agent,
        call.query.get("queue"),
    )  # fmt: skip
    return reply(document(move))


_ID = ("id",)
_AGENT = ("agent",)

ROUTES: tuple[Route, ...] = (
    Route("GET", "/campaigns/{id}/agents", list_agents,
          "Members of the campaign's queue on every server, with their state", P.READ,
          {200: _LIST, 503: "problem"}, ids=_ID, tag="agents"),
    Route("POST", "/campaigns/{id}/agents", login,
          "Log an agent in to the campaign's queue (AMI QueueAdd on the servers holding it)",
          P.AGENTS_CONTROL, {201: AGENT_MOVE, **_REFUSED}, body=LOGIN, ids=_ID, tag="agents"),
    Route("DELETE", "/campaigns/{id}/agents/{agent}", logout,
          "Log an agent out of the campaign's queue (AMI QueueRemove)", P.AGENTS_CONTROL,
          {200: AGENT_MOVE, **_REFUSED}, ids=_ID, names=_AGENT, query=_QUEUE, tag="agents"),
    Route("POST", "/campaigns/{id}/agents/{agent}/pause", pause,
          "Pause an agent in the campaign's queue with a reason code (AMI QueuePause)",
          P.AGENTS_CONTROL, {200: AGENT_MOVE, **_REFUSED}, body=PAUSE, ids=_ID, names=_AGENT,
          query=_QUEUE, tag="agents"),
    Route("POST", "/campaigns/{id}/agents/{agent}/unpause", unpause,
          "Unpause an agent in the campaign's queue (AMI QueuePause Paused: false)",
          P.AGENTS_CONTROL, {200: AGENT_MOVE, **_REFUSED}, ids=_ID, names=_AGENT, query=_QUEUE,
          tag="agents"),
)  # fmt: skip
