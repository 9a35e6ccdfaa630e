"""The audit log: every change made through the API or the CLI, with before and after.

Writers call :func:`record` inside the transaction that makes the change, so the log and the
change commit or roll back together. :func:`jsonable` turns row mappings into JSON values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


def jsonable(value: object) -> Any:
    """Row values as JSON values: datetimes as RFC 3339 strings, tuples as lists."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


async def record(
    conn: AsyncConnection,
    actor: str,
    action: str,
    entity: str,
    entity_id: object,
    before: Mapping[str, object] | None,
    after: Mapping[str, object] | None,
) -> None:
    await conn.execute(
        text(
            "INSERT INTO audit_log (actor, action, entity, entity_id, before, after) "
            "VALUES (:actor, :action, :entity, :eid, CAST(:before AS jsonb), CAST(:after AS jsonb))"
        ),
        {
            "actor": actor,
            "action": action,
            "entity": entity,
            "eid": str(entity_id),
            "before": None if before is None else json.dumps(jsonable(before)),
            "after": None if after is None else json.dumps(jsonable(after)),
        },
    )


async def entries(
    conn: AsyncConnection,
    *,
    entity: str | None,
    entity_id: str | None,
    before_id: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Newest first; page with ``before_id`` (the smallest id of the previous page)."""
    rows = await conn.execute(
        text(
            "SELECT id, at, actor, action, entity, entity_id, before, after FROM audit_log "
            "WHERE (CAST(:entity AS text) IS NULL OR entity = :entity) "
            "AND (CAST(:eid AS text) IS NULL OR entity_id = :eid) "
            "AND (CAST(:before_id AS bigint) IS NULL OR id < :before_id) "
            "ORDER BY id DESC LIMIT :limit"
        ),
        {"entity": entity, "eid": entity_id, "before_id": before_id, "limit": limit},
    )
    return [jsonable(dict(r)) for r in rows.mappings()]
