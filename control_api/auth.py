"""Roles, the permission matrix, and bearer tokens (stored as SHA-256, shown once).

Permission matrix (``MATRIX``; a row per permission, the roles that hold it):

=================  =====  ===  ========  ======  =====
permission         admin  ops  reviewer  viewer  agent
=================  =====  ===  ========  ======  =====
read                 x     x      x        x
campaign_write       x     x
campaign_run         x     x
pause                x     x      x
resume               x     x      x
records_write        x     x
records_read         x     x      x
numbers_write        x     x
agents_control       x     x
agents_pause         x     x                       x
webhooks_write       x
tokens_manage        x
dispose              x     x                       x
watch_agent          x     x      x        x       x
self                 x     x      x        x       x
=================  =====  ===  ========  ======  =====

An ``agent`` token is bound to one agent id (the queue member name attempts store): it may set
dispositions on that agent's own calls only (:meth:`Principal.own_agent`), follow that agent's
event stream only (``watch_agent``, narrowed by :func:`may_watch_agent`), pause and unpause that
agent only (``agents_pause``, narrowed by ``control_api.routes_agents._may_act_on``), and read
who it is (``self``: ``GET /v1/me``).

``resume`` is further limited to the campaign's resume owner (the token name) unless the caller
is an admin: one person explicitly approves a restart. The same holds for a start after a pause
that was never resumed, and for changing a paused campaign's resume owner
(:mod:`gateway.campaigns.governance`). Reviewers (QA, RevOps) may pause for
quality or compliance but not run campaigns. Viewers only read.

Tokens are stored by :mod:`gateway.campaigns.tokens` (only their SHA-256); the middleware owns
requests.
"""

from __future__ import annotations

import enum
import hmac
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from control_api.errors import Forbidden, Unauthorized
from gateway.campaigns import tokens
from gateway.campaigns.tokens import hash_token
from gateway.db.models import Role
from gateway.settings import Secret


class Permission(enum.StrEnum):
    READ = "read"
    CAMPAIGN_WRITE = "campaign_write"
    CAMPAIGN_RUN = "campaign_run"
    PAUSE = "pause"
    RESUME = "resume"
    RECORDS_WRITE = "records_write"
    RECORDS_READ = "records_read"
    NUMBERS_WRITE = "numbers_write"
    WEBHOOKS_WRITE = "webhooks_write"
    TOKENS_MANAGE = "tokens_manage"
    AGENTS_CONTROL = "agents_control"  # log agents in and out of a queue, pause, unpause
    AGENTS_PAUSE = "agents_pause"  # pause and unpause an agent (an agent token: its own only)
    DISPOSE = "dispose"
    SELF = "self"  # who am I (``GET /v1/me``)
    WATCH_AGENT = "watch_agent"  # one agent's event stream (an agent token: its own only)


_ALL = frozenset(Role) - {Role.AGENT}
_OPS = frozenset({Role.ADMIN, Role.OPS})
_REVIEW = frozenset({Role.ADMIN, Role.OPS, Role.REVIEWER})
_ADMIN = frozenset({Role.ADMIN})

MATRIX: dict[Permission, frozenset[Role]] = {
    Permission.READ: _ALL,
    Permission.CAMPAIGN_WRITE: _OPS,
    Permission.CAMPAIGN_RUN: _OPS,
    Permission.PAUSE: _REVIEW,
    Permission.RESUME: _REVIEW,
    Permission.RECORDS_WRITE: _OPS,
    Permission.RECORDS_READ: _REVIEW,
    Permission.NUMBERS_WRITE: _OPS,
    Permission.WEBHOOKS_WRITE: _ADMIN,
    Permission.TOKENS_MANAGE: _ADMIN,
    Permission.AGENTS_CONTROL: _OPS,
    Permission.AGENTS_PAUSE: frozenset({Role.ADMIN, Role.OPS, Role.AGENT}),
    Permission.DISPOSE: frozenset({Role.ADMIN, Role.OPS, Role.AGENT}),
    Permission.SELF: frozenset(Role),
    Permission.WATCH_AGENT: frozenset(Role),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's name (the acting user), role and, for an ``agent`` token,
    the agent it is bound to."""

    name: str
    role: Role
    agent_id: str | None = None

    @property
    def own_agent(self) -> str | None:
        """The only agent whose calls this caller may act on (None: any agent's)."""
        return self.agent_id if self.role is Role.AGENT else None

    def may_approve(self, resume_owner: str) -> bool:
        """The resume rule (:func:`may_resume`) for this caller."""
        return may_resume(self, resume_owner)

    def require(self, permission: Permission) -> None:
        if self.role not in MATRIX[permission]:
            raise Forbidden(f"role {self.role} may not {permission}", permission=str(permission))


def may_resume(principal: Principal, resume_owner: str) -> bool:
    """Only the campaign's resume owner, or an admin, approves a resume."""
    return principal.role is Role.ADMIN or (
        principal.role in MATRIX[Permission.RESUME] and principal.name == resume_owner != ""
    )


def may_watch_agent(principal: Principal, agent: str) -> bool:
    """Whether the caller may follow ``agent``'s events (``/v1/agents/{agent}/events``).

    Every role that reads (viewer and above) may follow any agent; an ``agent`` token only the
    agent it is bound to (its screen pops carry its own callees' records, nobody else's).
    """
    if principal.role is Role.AGENT:
        return principal.agent_id is not None and principal.agent_id == agent
    return principal.role in MATRIX[Permission.READ]


def may_watch_campaign(principal: Principal, campaign_id: int) -> bool:
    """Whether the caller may follow a campaign's agent events (viewer and above)."""
    del campaign_id
    return principal.role in MATRIX[Permission.READ]


_BEARER = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9._~+/-]+=*)")
MAX_TOKEN = 512


def bearer_token(header: str | None) -> str:
    """The token of an ``Authorization: Bearer <b64token>`` header (RFC 6750 grammar), or
    :class:`Unauthorized`. The reply never quotes the header."""
    if header is None or not header.strip():
        raise Unauthorized("a bearer token is required")
    if len(header) > MAX_TOKEN + 16:
        raise Unauthorized(f"the bearer token is longer than {MAX_TOKEN} characters")
    found = _BEARER.fullmatch(header)
    if found is None:
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return found.group(1)


async def authenticate(
    engine: AsyncEngine, header: str | None, bootstrap: Secret | None
) -> Principal:
    """The principal for an ``Authorization: Bearer …`` header, or :class:`Unauthorized`."""
    token = bearer_token(header)
    if bootstrap is not None and hmac.compare_digest(token.encode(), bootstrap.reveal().encode()):
        return Principal("bootstrap", Role.ADMIN)
    found = await tokens.holder(engine, token)
    if found is None:
        raise Unauthorized("unknown or revoked token")
    return Principal(*found)


class TokenCache:
    """Recently authenticated tokens (by SHA-256), kept ``ttl_s`` seconds; owned by the app.

    Spares a database round trip per request. A revocation through this API clears it after
    it commits, and bumps ``generation``: a look-up that began before the clear (and may have
    read the token as still valid) passes the generation it saw to :meth:`put`, which then keeps
    nothing, so a revoked token is refused from the first request after the revocation's reply.
    A revocation made elsewhere (another instance, the CLI) takes effect within ``ttl_s``.
    """

    def __init__(self, ttl_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[str, tuple[Principal, float]] = {}
        self.generation = 0

    def get(self, header: str) -> Principal | None:
        found = self._entries.get(hash_token(header))
        if found is None or found[1] < self._clock():
            return None
        return found[0]

    def put(self, header: str, principal: Principal, generation: int) -> None:
        """Keep ``principal``, unless the cache was cleared since ``generation`` was read."""
        if generation != self.generation:
            return
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[hash_token(header)] = (principal, self._clock() + self._ttl_s)

    def clear(self) -> None:
        self._entries.clear()
        self.generation += 1
