"""``GET /v1/me``: the caller's token name and role, so the console can show what it may do.

The console uses the answer only to enable and disable buttons; every operation is still checked
by the API itself.
"""

from __future__ import annotations

from aiohttp import web

from control_api.auth import MATRIX, Permission
from control_api.http import Call, Route, reply
from control_api.schemas import Field, Reply


async def me(call: Call) -> web.StreamResponse:
    role = call.principal.role
    granted = sorted(str(p) for p, roles in MATRIX.items() if role in roles)
    body = {"name": call.principal.name, "role": str(role), "permissions": granted}
    return reply({**body, "agent_id": call.principal.own_agent})


_ME = Reply(
    "Me",
    (
        Field("name", "string", description="the token's name (the acting user)"),
        Field("role", "string"),
        Field("permissions", "array", items="string"),
        Field("agent_id", "string", nullable=True, description="an agent token's agent"),
    ),
)
ME = Route(
    "GET",
    "/me",
    me,
    "The caller's token name, role and permissions",
    Permission.SELF,
    {200: _ME, 401: "problem"},
    tag="admin",
)
