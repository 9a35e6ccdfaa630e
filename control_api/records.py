"""Record operations on the database: import, reset, force complete, delete, counts.

Shared by the HTTP handlers and the CLI; each operation is one transaction that holds the
campaign row lock, passes the lifecycle check and writes the audit entry
(:func:`control_api.campaigns.transition`), so an import can never interleave with a start.
Imports live in :mod:`control_api.importer` (re-exported here). No HTTP here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from control_api import campaigns
from control_api.errors import Conflict, Invalid
from control_api.importer import ImportReport as ImportReport
from control_api.importer import import_upload as import_upload
from control_api.schemas import Field, Schema
from gateway.db.models import RecordStatus
from pacing.lifecycle import Operation
from pacing.outcomes import Outcome

RESET = Schema(
    "Reset",
    (
        Field("from", "datetime", description="last attempt at or after"),
        Field("to", "datetime", description="last attempt before"),
        Field("status", "array", items="string", max_length=16),
        Field("reason", "string", max_length=1000),
        Field("dispositions", "array", items="string", max_length=16),
        Field("priority_min", "integer", minimum=1, maximum=99),
        Field("priority_max", "integer", minimum=1, maximum=99),
        Field("agent", "string", max_length=1000),
        Field("skill", "string", max_length=1000),
    ),
)
_RESETTABLE = frozenset(
    {RecordStatus.NEW, RecordStatus.RETRY, RecordStatus.CALLBACK, RecordStatus.DONE}
)


def reset_filter(filters: Mapping[str, Any]) -> tuple[str, dict[str, object]]:
    """SQL conditions and parameters for the reset filters (all optional, ANDed)."""
    clauses = ["status IN ('new', 'retry', 'callback', 'done')"]
    params: dict[str, object] = {}
    for value in filters.get("status", []):
        if value not in _RESETTABLE:
            raise Invalid("status", f"{value!r} is not a resettable record status")
    for value in filters.get("dispositions", []):
        if value not in Outcome.__members__.values():
            raise Invalid("dispositions", f"{value!r} is not an outcome")
    simple = {
        "from": "last_attempt_at >= :from",
        "to": "last_attempt_at < :to",
        "status": "status = ANY(:status)",
        "reason": "reason = :reason",
        "dispositions": "disposition = ANY(:dispositions)",
        "priority_min": "priority >= :priority_min",
        "priority_max": "priority <= :priority_max",
        "agent": "agent = :agent",
        "skill": "skill = :skill",
    }
    for key, clause in simple.items():
        if key in filters:
            clauses.append(clause)
            params[key] = filters[key]
    return " AND ".join(clauses), params


async def reset(
    engine: AsyncEngine, actor: str, campaign_id: int, filters: Mapping[str, Any]
) -> tuple[dict[str, Any], int]:
    """Make matching records dialable again; campaign → ready. Returns (campaign, count)."""
    where, params = reset_filter(filters)

    async def change(conn: AsyncConnection, _: dict[str, Any]) -> Mapping[str, object]:
        result = await conn.execute(
            text(
                "UPDATE records SET status = 'new', reason = '', disposition = NULL, "  # noqa: S608
                "attempts = 0, next_attempt_at = NULL, callback_at = NULL, lease_owner = NULL, "
                "lease_expires_at = NULL, updated_at = now() "
                f"WHERE campaign_id = :cid AND {where} "
                "AND NOT (status = 'new' AND attempts = 0 AND disposition IS NULL)"
            ),
            {**params, "cid": campaign_id},
        )
        return {"reset": int(result.rowcount), "filters": dict(filters)}

    after, outcome = await campaigns.transition(engine, actor, campaign_id, Operation.RESET, change)
    assert outcome is not None
    return after, int(str(outcome["reset"]))


async def force_complete(
    engine: AsyncEngine, actor: str, campaign_id: int
) -> tuple[dict[str, Any], int]:
    """Mark every record not yet finished complete; campaign → completed."""

    async def change(conn: AsyncConnection, _: dict[str, Any]) -> Mapping[str, object]:
        result = await conn.execute(
            text(
                "UPDATE records SET status = 'done', reason = 'force completed', "
                "lease_owner = NULL, lease_expires_at = NULL, updated_at = now() "
                "WHERE campaign_id = :cid AND status IN ('new', 'retry', 'callback')"
            ),
            {"cid": campaign_id},
        )
        return {"completed": int(result.rowcount)}

    after, outcome = await campaigns.transition(
        engine, actor, campaign_id, Operation.FORCE_COMPLETE, change
    )
    assert outcome is not None
    return after, int(str(outcome["completed"]))


async def delete_all(engine: AsyncEngine, actor: str, campaign_id: int, confirm: int | None) -> int:
    """Delete every record, only if ``confirm`` equals the current record count."""

    async def change(conn: AsyncConnection, _: dict[str, Any]) -> Mapping[str, object]:
        count = await campaigns.count_records(conn, campaign_id)
        if confirm != count:
            raise Conflict(
                f"confirm the deletion by sending confirm={count} (the campaign's record count)",
                record_count=count,
            )
        await conn.execute(
            text("DELETE FROM records WHERE campaign_id = :cid"), {"cid": campaign_id}
        )
        return {"deleted": count}

    _, outcome = await campaigns.transition(
        engine, actor, campaign_id, Operation.DELETE_RECORDS, change
    )
    assert outcome is not None
    return int(str(outcome["deleted"]))


async def counts(engine: AsyncEngine, campaign_id: int) -> dict[str, int]:
    """Records per status (every status present, zero when none)."""
    async with engine.connect() as conn:
        await campaigns.fetch(conn, campaign_id)
        rows = await conn.execute(
            text("SELECT status, count(*) FROM records WHERE campaign_id = :cid GROUP BY status"),
            {"cid": campaign_id},
        )
        found = {r[0]: int(r[1]) for r in rows}
    return {str(s): found.get(str(s), 0) for s in RecordStatus}


async def complete_if_exhausted(engine: AsyncEngine, actor: str, campaign_id: int) -> bool:
    """Runner hook: a running campaign with no record that can ever be dialled → completed."""
    async with engine.connect() as conn:
        campaign = await campaigns.fetch(conn, campaign_id)
        if campaign["state"] != "running":
            return False
        left = await conn.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM records WHERE campaign_id = :cid AND "
                "(status = 'dialing' OR (status IN ('new', 'retry', 'callback') "
                "AND attempts < :max)))"
            ),
            {"cid": campaign_id, "max": campaign["max_attempts"]},
        )
        if left.scalar_one():
            return False
    await campaigns.transition(engine, actor, campaign_id, Operation.COMPLETE)
    return True
