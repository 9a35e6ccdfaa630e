"""API token storage: tokens are 32 random bytes (URL-safe base64), stored only as SHA-256.

A database leak therefore does not leak credentials. The token itself is returned once, by
:func:`create_token`; :func:`find` answers who holds a (hashed) token. Checking a request's
bearer header against these, and the roles' permissions, is :mod:`control_api.auth`.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.db.models import Role


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


async def create_token(conn: AsyncConnection, name: str, role: Role, created_by: str) -> str:
    """Store a new token's hash; return the token (the only time it is ever visible)."""
    token = new_token()
    await conn.execute(
        text(
            "INSERT INTO api_tokens (name, role, token_sha256, created_by) "
            "VALUES (:name, :role, :hash, :by)"
        ),
        {"name": name, "role": str(role), "hash": hash_token(token), "by": created_by},
    )
    return token


async def find(conn: AsyncConnection, token: str) -> tuple[str, Role] | None:
    """The name and role of the unrevoked token ``token``, or None."""
    row = (
        await conn.execute(
            text(
                "SELECT name, role FROM api_tokens "
                "WHERE token_sha256 = :hash AND revoked_at IS NULL"
            ),
            {"hash": hash_token(token)},
        )
    ).first()
    return None if row is None else (row[0], Role(row[1]))
