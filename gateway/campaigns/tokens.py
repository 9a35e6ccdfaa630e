"""API token storage: tokens are 32 random bytes (URL-safe base64), stored only as SHA-256.

A database leak therefore does not leak credentials. The token itself is returned once, by
:func:`create_token`; :func:`holder` answers who holds a (hashed) token. Checking a request's
bearer header against these, and the roles' permissions, is :mod:`control_api.auth`. Issuing
and revoking through the API or the CLI write their audit entry in the same transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.campaigns import audit
from gateway.campaigns.errors import Invalid, NotFound
from gateway.campaigns.typed import columns, row_of
from gateway.db.models import Role


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


TOKEN_PREFIX = "dlr_"  # noqa: S105 (a prefix, not a secret): never a leading "-"


def new_token() -> str:
    """A new API token: ``dlr_`` and 43 URL-safe characters (256 random bits).

    The prefix keeps the token from starting with ``-``, which ``--token <value>`` on the
    command line would take for an option, and lets secret scanners recognise it.
    """
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def check_agent(role: Role, agent_id: str | None) -> None:
    """An ``agent`` token is bound to exactly one agent id; no other role takes one."""
    if role is Role.AGENT and not agent_id:
        raise Invalid("agent_id", "is required for a token with the role agent")
    if role is not Role.AGENT and agent_id is not None:
        raise Invalid("agent_id", f"only an agent token is bound to an agent, not {role}")


async def create_token(
    conn: AsyncConnection, name: str, role: Role, created_by: str, agent_id: str | None = None
) -> str:
    """Store a new token's hash; return the token (the only time it is ever visible)."""
    check_agent(role, agent_id)
    token = new_token()
    await conn.execute(
        text(
            "INSERT INTO api_tokens (name, role, token_sha256, created_by, agent_id) "
            "VALUES (:name, :role, :hash, :by, :agent)"
        ),
        {
            "name": name,
            "role": str(role),
            "hash": hash_token(token),
            "by": created_by,
            "agent": agent_id,
        },
    )
    return token


async def holder(engine: AsyncEngine, token: str) -> tuple[str, Role, str | None] | None:
    """The name, role and bound agent of the unrevoked token ``token``, or None."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT name, role, agent_id FROM api_tokens "
                    "WHERE token_sha256 = :hash AND revoked_at IS NULL"
                ),
                {"hash": hash_token(token)},
            )
        ).first()
    return None if row is None else (row[0], Role(row[1]), row[2])


@dataclass(frozen=True, slots=True)
class Token:
    """A token as listed: never its secret or its hash."""

    id: int
    name: str
    role: str
    agent_id: str | None
    created_by: str
    created_at: datetime
    revoked_at: datetime | None


async def listing(engine: AsyncEngine) -> list[Token]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(f"SELECT {', '.join(columns(Token))} FROM api_tokens ORDER BY id")  # noqa: S608
        )
        return [row_of(Token, r) for r in rows.mappings()]


async def issue(
    engine: AsyncEngine, actor: str, name: str, role: Role, agent_id: str | None = None
) -> str:
    """Create a token for ``name`` with the audit entry; returns the token (shown once)."""
    async with engine.begin() as conn:
        token = await create_token(conn, name, role, actor, agent_id)
        shown = {"name": name, "role": str(role), "agent_id": agent_id}
        await audit.record(conn, actor, "token.create", "token", name, None, shown)
    return token


async def revoke(engine: AsyncEngine, actor: str, token_id: int) -> str:
    """Revoke a token; returns its name. :class:`NotFound` if absent or already revoked."""
    async with engine.begin() as conn:
        done = await conn.execute(
            text(
                "UPDATE api_tokens SET revoked_at = now() WHERE id = :id AND revoked_at IS NULL "
                "RETURNING name"
            ),
            {"id": token_id},
        )
        name = done.scalar_one_or_none()
        if name is None:
            raise NotFound(f"token {token_id} does not exist or is revoked")
        await audit.record(conn, actor, "token.revoke", "token", name, None, None)
    return str(name)
