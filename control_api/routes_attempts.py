"""Attempt endpoints: the wrap-up disposition of a call that reached an agent.

``POST /v1/attempts/{id}/disposition`` calls :func:`gateway.campaigns.dispositions.dispose` (one
transaction: the attempt, the record's step, the DNC list, the audit entry) and, after the commit,
tells the runtime that the agent's wrap-up is over (``disposed``: the agent is unpaused and
the metric counted), so pacing sees the agent free at once. An ``agent`` token acts only on its
own agent's calls (403 otherwise). HTTP only.
"""

from __future__ import annotations

import re

from aiohttp import web

from control_api import bodies
from control_api.auth import Permission as P
from control_api.errors import NotFound
from control_api.http import Call, Route, reply
from control_api.schemas import document
from gateway.campaigns import dispositions
from pacing.dispositions import Scope

_ATTEMPT_ID = re.compile(r"[0-9a-f]{1,32}")


def attempt_id(call: Call) -> str:
    raw = call.names["id"]
    if not _ATTEMPT_ID.fullmatch(raw):
        raise NotFound(f"attempt {raw!r} does not exist")
    return raw


async def dispose(call: Call) -> web.StreamResponse:
    body = call.body
    request = dispositions.Request(
        body["code"],
        body.get("note"),
        body.get("callback_at"),
        Scope(body.get("callback_scope", Scope.ANYONE)),
    )
    done = await dispositions.dispose(
        call.ctx.engine,
        call.principal.name,
        attempt_id(call),
        request,
        call.ctx.clock(),
        agent_id=call.principal.own_agent,
    )
    call.ctx.runtime.disposed(done)  # after the commit: end the wrap-up, count it
    return reply(document(done), 201)


ROUTES = (
    Route(
        "POST",
        "/attempts/{id}/disposition",
        dispose,
        "Set the wrap-up disposition of a call that reached an agent (once)",
        P.DISPOSE,
        {201: bodies.DISPOSED, 409: "problem"},
        body=bodies.DISPOSE,
        names=("id",),
        tag="attempts",
    ),
)
