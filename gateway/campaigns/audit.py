"""The audit log: every change made through the API or the CLI, with before and after.

Writers call :func:`record` inside the transaction that makes the change, so the log and the
change commit or roll back together. :func:`jsonable` turns rows
(typed or mappings) into JSON values, as the log stores them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.campaigns.typed import row_of

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Snapshot: TypeAlias = "Mapping[str, object] | DataclassInstance"


def jsonable(value: object) -> Any:
    """Row values as JSON values: datetimes as RFC 3339 strings, tuples as lists, typed rows
    (dataclasses) as objects."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
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
    before: Snapshot | None,
    after: Snapshot | None,
) -> None:
    """Log one change; ``before``/``after`` are the entity as a mapping or a typed row."""
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


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One change: who did what to which entity, with the entity before and after (JSON)."""

    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    before: Any
    after: Any


async def entries(
    engine: AsyncEngine,
    *,
    entity: str | None,
    entity_id: str | None,
    before_id: int | None,
    limit: int,
) -> list[AuditEntry]:
    """Newest first; page with ``before_id`` (the smallest id of the previous page)."""
    async with engine.connect() as conn:
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
        return [row_of(AuditEntry, r) for r in rows.mappings()]
