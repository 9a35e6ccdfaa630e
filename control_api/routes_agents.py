"""Agent control endpoints: the members of a campaign's queue, log in, log out, pause, unpause.

Handlers translate HTTP to :mod:`gateway.campaigns.agents` (which finds the campaign's queue,
asks the running gateway's :class:`~gateway.campaigns.agents.AgentPort` and audits) and its typed
rows back to JSON. ``queue`` (login body, or the query of the others) picks one of the
campaign's skill queues; the default is the campaign's own queue, and the listing shows them all.
``{agent}`` is a member name or an interface (``PJSIP/1001`` is sent as
``PJSIP%2F1001``), percent-decoded and held to the strict-name grammar by
:func:`control_api.http.wrap`. An API without a dialer (no port in the context) answers 503.

Roles: ops and admin (``agents_control``) for everything; pause and unpause also an agent token
(``agents_pause``), for the agent it is bound to only and by that id (the member name, not the
interface): :func:`_may_act_on` refuses it anything else with a 403 problem.
"""

from __future__ import annotations

from aiohttp import web

from control_api.auth import Permission as P
from control_api.auth import Principal
from control_api.errors import Forbidden
from control_api.http import Call, Route, reply
from control_api.schemas import Field, Reply, Schema, document
from gateway.asterisk import validate
from gateway.campaigns import agents
from gateway.campaigns.agents import AgentPort
from gateway.campaigns.errors import Unavailable
from gateway.db.models import Role

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


def _may_act_on(principal: Principal, agent: str, action: str) -> None:
    """Refuse (403) what the route's permission let through but this caller may not do.

    Ops and admin may do any ``action`` (login, logout, pause, unpause) to any agent. An agent
    token (the ``agent`` role, bound to one agent id) reaches only the pause and unpause routes
    (``agents_pause``), and there only its own agent: ``agent`` (the path's, or a login's name)
    must be that id exactly; its interface, another agent or no bound id is refused.
    """
    if principal.role is not Role.AGENT:
        return
    if action not in ("pause", "unpause"):
        raise Forbidden(f"an agent token may not {action} an agent", permission="agents_control")
    if principal.agent_id is None or agent != principal.agent_id:
        raise Forbidden(
            f"an agent token may {action} only its own agent ({principal.agent_id!r}), "
            f"not {agent!r}",
            permission=str(P.AGENTS_PAUSE),
        )


async def list_agents(call: Call) -> web.StreamResponse:
    rows = await agents.listing(call.ctx.engine, _port(call), call.ids["id"])
    return reply({"agents": [document(r) for r in rows]})


async def login(call: Call) -> web.StreamResponse:
    _may_act_on(call.principal, call.body["name"], "login")
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
    _may_act_on(call.principal, agent, "logout")
    move = await agents.logout(
        call.ctx.engine, _port(call), call.principal.name, call.ids["id"], agent,
        call.query.get("queue"),
    )  # fmt: skip
    return reply(document(move))


async def pause(call: Call) -> web.StreamResponse:
    agent = call.names["agent"]
    _may_act_on(call.principal, agent, "pause")
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
    _may_act_on(call.principal, agent, "unpause")
    move = await agents.unpause(
        call.ctx.engine, _port(call), call.principal.name, call.ids["id"], agent,
        call.query.get("queue"),
    )  # fmt: skip
    return reply(document(move))


_ID = ("id",)
_AGENT = ("agent",)
_SELF_PAUSE = (
    "Roles admin and ops: any agent. An agent token (role agent, bound to one agent id): only "
    "its own agent, named by that id (the member name) in the path; another agent, or its own "
    "by interface, is a 403 problem."
)

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
          P.AGENTS_PAUSE, {200: AGENT_MOVE, **_REFUSED}, body=PAUSE, ids=_ID, names=_AGENT,
          query=_QUEUE, tag="agents", description=_SELF_PAUSE),
    Route("POST", "/campaigns/{id}/agents/{agent}/unpause", unpause,
          "Unpause an agent in the campaign's queue (AMI QueuePause Paused: false)",
          P.AGENTS_PAUSE, {200: AGENT_MOVE, **_REFUSED}, ids=_ID, names=_AGENT, query=_QUEUE,
          tag="agents", description=_SELF_PAUSE),
)  # fmt: skip
