"""Record operations on the database: import, reset, force complete, delete, counts.

Shared by the HTTP handlers and the CLI; each operation is one transaction that holds the
campaign row lock, passes the lifecycle check and writes the audit entry
(:func:`gateway.campaigns.campaigns.transition`), so an import can never interleave with a start.
A status change here also keeps the dialing queue (``record_queue``, migration 0004) in step,
in the same statement. Imports live in :mod:`gateway.campaigns.importer` (re-exported here; the
queue rows of imported records come from a trigger). No HTTP here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.campaigns import campaigns
from gateway.campaigns import counts as status_counts
from gateway.campaigns.campaigns import Campaign
from gateway.campaigns.errors import Conflict, Invalid
from gateway.campaigns.importer import ImportReport as ImportReport
from gateway.campaigns.importer import import_upload as import_upload
from gateway.db.models import RecordStatus
from pacing.dispositions import CODE_PATTERN
from pacing.lifecycle import Operation
from pacing.outcomes import Outcome

_CODE = re.compile(CODE_PATTERN)
RESETTABLE = frozenset(
    {RecordStatus.NEW, RecordStatus.RETRY, RecordStatus.CALLBACK, RecordStatus.DONE}
)


def reset_filter(filters: Mapping[str, Any]) -> tuple[str, dict[str, object]]:
    """SQL conditions and parameters for the reset filters (all optional, ANDed)."""
    clauses = ["status IN ('new', 'retry', 'callback', 'done')"]
    params: dict[str, object] = {}
    for value in filters.get("status", []):
        if value not in RESETTABLE:
            raise Invalid("status", f"{value!r} is not a resettable record status")
    for value in filters.get("dispositions", []):
        if value not in Outcome.__members__.values() and not _CODE.fullmatch(value):
            raise Invalid("dispositions", f"{value!r} is neither an outcome nor a disposition code")
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


_CLEARED = (
    "status = 'new', reason = '', disposition = NULL, attempts = 0, next_attempt_at = NULL, "
    "callback_at = NULL, callback_agent = NULL, lease_owner = NULL, lease_expires_at = NULL, "
    "updated_at = now()"
)


def reset_statements(where: str) -> tuple[str, str]:
    """The reset as two statements: records still dialable, and finished (done) ones.

    Both are HOT updates of ``records`` (no index names a column they change, migration 0004).
    A dialable record keeps its queue row, whose retry time is cleared (an upsert, so a missing
    row is put back too); a done record gets a new one with a plain set-based INSERT. Measured on
    500,000 done records, that is about a third cheaper than one upsert over both kinds, which
    probes the queue's key for every row first; the price is a second pass over the campaign's
    records (about 0.2 s per 1,000,000). Nothing else makes a done record dialable (a settle
    starts from ``dialing``) and resets of a campaign are serialised by its row lock, so the
    INSERT cannot meet a queued row.
    """
    queued = (
        f"WITH reset AS (UPDATE records SET {_CLEARED} "  # noqa: S608
        f"WHERE campaign_id = :cid AND {where} AND status IN ('new', 'retry', 'callback') "
        "AND NOT (status = 'new' AND attempts = 0 AND disposition IS NULL) "
        "RETURNING id, campaign_id, priority), "
        "queued AS (INSERT INTO record_queue (campaign_id, priority, record_id) "
        "SELECT campaign_id, priority, id FROM reset "
        "ON CONFLICT (campaign_id, priority, record_id) DO UPDATE SET next_attempt_at = NULL) "
        "SELECT count(*) FROM reset"
    )
    finished = (
        f"WITH reset AS (UPDATE records SET {_CLEARED} "  # noqa: S608
        f"WHERE campaign_id = :cid AND {where} AND status = 'done' "
        "RETURNING id, campaign_id, priority) "
        "INSERT INTO record_queue (campaign_id, priority, record_id) "
        "SELECT campaign_id, priority, id FROM reset"
    )
    return queued, finished


async def reset(
    engine: AsyncEngine, actor: str, campaign_id: int, filters: Mapping[str, Any]
) -> tuple[Campaign, int]:
    """Make matching records dialable again; campaign → ready. Returns (campaign, count)."""
    where, params = reset_filter(filters)
    queued, finished = reset_statements(where)

    async def change(conn: AsyncConnection, _: Campaign) -> Mapping[str, object]:
        values = {**params, "cid": campaign_id}
        count = int((await conn.execute(text(queued), values)).scalar_one())
        count += int((await conn.execute(text(finished), values)).rowcount)
        return {"reset": count, "filters": dict(filters)}

    after, outcome = await campaigns.transition(engine, actor, campaign_id, Operation.RESET, change)
    assert outcome is not None
    return after, int(str(outcome["reset"]))


async def force_complete(engine: AsyncEngine, actor: str, campaign_id: int) -> tuple[Campaign, int]:
    """Mark every record not yet finished complete; campaign → completed."""

    async def change(conn: AsyncConnection, _: Campaign) -> Mapping[str, object]:
        # Exactly the completed records leave the queue: a record settled concurrently (allowed
        # while running) and put back in the queue keeps its row.
        result = await conn.execute(
            text(
                "WITH completed AS (UPDATE records SET status = 'done', "
                "reason = 'force completed', lease_owner = NULL, lease_expires_at = NULL, "
                "updated_at = now() "
                "WHERE campaign_id = :cid AND status IN ('new', 'retry', 'callback') "
                "RETURNING id, campaign_id, priority), "
                "dequeued AS (DELETE FROM record_queue q USING completed c "
                "WHERE q.campaign_id = c.campaign_id AND q.priority = c.priority "
                "AND q.record_id = c.id) "
                "SELECT count(*) FROM completed"
            ),
            {"cid": campaign_id},
        )
        return {"completed": int(result.scalar_one())}

    after, outcome = await campaigns.transition(
        engine, actor, campaign_id, Operation.FORCE_COMPLETE, change
    )
    assert outcome is not None
    return after, int(str(outcome["completed"]))


async def delete_all(engine: AsyncEngine, actor: str, campaign_id: int, confirm: int | None) -> int:
    """Delete every record, only if ``confirm`` equals the current record count."""

    async def change(conn: AsyncConnection, _: Campaign) -> Mapping[str, object]:
        count = await campaigns.count_records(conn, campaign_id)
        if confirm != count:
            raise Conflict(
                f"confirm the deletion by sending confirm={count} (the campaign's record count)",
                record_count=count,
            )
        # The queue rows go with them (trigger ``records_queue_remove``, migration 0004).
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
    """Records per status (every status present, zero when none), from the kept counts."""
    async with engine.connect() as conn:
        await campaigns.fetch(conn, campaign_id)
        found = (await status_counts.read(conn, campaign_id)).records
    return {str(s): found.get(str(s), 0) for s in RecordStatus}


def _wrapup_s(campaign: Campaign, default_s: float) -> float:
    """The wrap-up limit the campaign's dispositions set, else the service's (0: none held)."""
    limit = campaign.dispositions.get("wrapup_limit_s", default_s)
    return float(limit) if isinstance(limit, int | float) and not isinstance(limit, bool) else 0.0


async def complete_if_exhausted(
    engine: AsyncEngine, actor: str, campaign_id: int, wrapup_limit_s: float = 0.0
) -> bool:
    """Runner hook: a running campaign with no record that can ever be dialled → completed.

    ``wrapup_limit_s`` is the service's wrap-up limit (``DIALER_WRAPUP_LIMIT``) for a campaign
    that sets none."""
    async with engine.connect() as conn:
        campaign = await campaigns.fetch(conn, campaign_id)
        if campaign.state != "running":
            return False
        # A dialable record with attempts left (or a callback, kept past them) is in the queue;
        # a dialing record has its unsettled attempt (written together, leasing.start_attempt),
        # found by a partial index; a call whose agent is still in a wrap-up the gateway holds
        # may yet get a disposition that dials its record again (dispositions.wrapup_limit_s).
        left = await conn.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM record_queue q JOIN records r ON r.id = q.record_id "
                "WHERE q.campaign_id = :cid AND r.status IN ('new', 'retry', 'callback') "
                "AND (r.attempts < :max OR r.status = 'callback')) "
                "OR EXISTS (SELECT 1 FROM attempts WHERE status = 'dialing' "
                "AND campaign_id = :cid) "
                "OR EXISTS (SELECT 1 FROM attempts WHERE campaign_id = :cid "
                "AND originated_at > now() - make_interval(secs => :wrapup) - interval '1 day' "
                "AND status = 'settled' AND agent_connected_at IS NOT NULL "
                "AND disposition IS NULL AND settled_at > now() - make_interval(secs => :wrapup))"
            ),
            {
                "cid": campaign_id,
                "max": campaign.max_attempts,
                "wrapup": _wrapup_s(campaign, wrapup_limit_s),
            },
        )
        if left.scalar_one():
            return False
    await campaigns.transition(engine, actor, campaign_id, Operation.COMPLETE)
    return True
