"""Campaign service: create, read, update, delete, and lifecycle transitions with audit.

Shared by the HTTP handlers and the CLI. Every change runs in one transaction that locks the
campaign row, checks the lifecycle (:func:`pacing.lifecycle.apply`), bumps ``version`` and
writes the audit entry; clients may send the ``version`` they read to refuse lost updates
(409). The runtime hook is called by the caller *after* commit. No HTTP here.

A pause stays *open* until an approved restart closes it (``pause_events.resumed_at``): a stop,
a reset or a force-complete leave it open. While it is open, :func:`transition` refuses a start
that did not go through the owner's approval and the checklist
(:func:`gateway.campaigns.governance.start`), and :func:`update` lets only the current resume
owner or an admin change ``resume_owner``: there is one way back to dialing after a pause.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import phonenumbers
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.campaigns import audit, dispositions
from gateway.campaigns.errors import Conflict, Forbidden, Invalid, NotFound
from gateway.campaigns.retry import validate_rules
from gateway.campaigns.typed import columns, row_of
from pacing.errors import ScheduleError
from pacing.lifecycle import CampaignState, Operation, apply
from pacing.schedule_doc import parse_schedule
from pacing.skills import SkillError, parse_skill_queues

MAX_ID = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Campaign:
    """A campaign as stored; the fields are its columns in reply order
    (``control_api.bodies.CAMPAIGN`` names the same). JSON documents stay as decoded."""

    id: int
    name: str
    state: str
    time_zone: str
    default_region: str
    schedule: Mapping[str, Any]
    callee_window_start: int
    callee_window_end: int
    pacing_mode: str
    pacing: Mapping[str, Any]
    abandon_target: float
    queue: str
    retry_rules: Mapping[str, Any]
    dispositions: Mapping[str, Any]
    max_attempts: int
    abandon_holdoff_s: int
    owner: str
    resume_owner: str
    controlled_until: datetime | None
    controlled_max_calls: int | None
    controlled_progressive: bool
    created_at: datetime
    updated_at: datetime
    version: int


COLUMNS = columns(Campaign)
_JSON_COLUMNS = frozenset({"schedule", "pacing", "retry_rules", "dispositions"})


class Approver(Protocol):
    """Who approves a restart: ``name`` is recorded; ``may_approve(resume_owner)`` says whether
    this caller may approve for a campaign whose resume owner is ``resume_owner`` (that owner, or
    an admin)."""

    @property
    def name(self) -> str: ...

    def may_approve(self, resume_owner: str) -> bool: ...


PAUSED_START = (
    "the campaign was paused and has not been resumed since: starting it needs its resume "
    "owner's (or an admin's) approval and the checklist"
)
OWNER_CHANGE = (
    "only the current resume owner or an admin may change the resume owner of a paused campaign"
)

Hook = Callable[[int, str], None]
Change = Callable[[AsyncConnection, Campaign], Awaitable[Mapping[str, object] | None]]


def check_setup(data: Mapping[str, Any]) -> None:
    """Cross-field and semantic checks the schema cannot express."""
    zone = data.get("time_zone")
    if zone is not None and zone not in zoneinfo.available_timezones():
        raise Invalid("time_zone", f"unknown time zone {zone!r}")
    region = data.get("default_region")
    if region is not None and region not in phonenumbers.SUPPORTED_REGIONS:
        raise Invalid("default_region", f"unknown region {region!r}")
    rules = data.get("retry_rules")
    if rules is not None:
        try:
            validate_rules(rules)
        except ScheduleError as exc:
            raise Invalid("retry_rules", str(exc)) from None
    codes = data.get("dispositions")
    if codes is not None:
        dispositions.validate(codes)
    schedule = data.get("schedule")
    if schedule:
        try:
            parse_schedule(schedule, zone or "UTC")
        except ScheduleError as exc:
            raise Invalid("schedule", str(exc)) from None
    skill_queues = (data.get("pacing") or {}).get("skill_queues")
    if skill_queues is not None:
        try:
            parse_skill_queues(skill_queues)
        except SkillError as exc:
            raise Invalid("pacing.skill_queues", str(exc)) from None
    start, end = data.get("callee_window_start"), data.get("callee_window_end")
    if start is not None and end is not None and start >= end:
        raise Invalid("callee_window_end", "must be after callee_window_start")


def _assignments(data: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    parts, params = [], {}
    for key, value in data.items():
        if key in _JSON_COLUMNS:
            parts.append(f"{key} = CAST(:{key} AS jsonb)")
            params[key] = _dumps(value)
        else:
            parts.append(f"{key} = :{key}")
            params[key] = value
    return ", ".join(parts), params


def _dumps(value: object) -> str:
    import json

    return json.dumps(value)


def valid_id(campaign_id: int) -> int:
    if not 1 <= campaign_id <= MAX_ID:
        raise NotFound(f"campaign {campaign_id} does not exist")
    return campaign_id


async def fetch(conn: AsyncConnection, campaign_id: int, *, lock: bool = False) -> Campaign:
    """The campaign; :class:`NotFound` if absent."""
    query = f"SELECT {', '.join(COLUMNS)} FROM campaigns WHERE id = :id"  # noqa: S608
    if lock:
        query += " FOR UPDATE"
    row = (await conn.execute(text(query), {"id": valid_id(campaign_id)})).mappings().first()
    if row is None:
        raise NotFound(f"campaign {campaign_id} does not exist")
    return row_of(Campaign, row)


async def create(engine: AsyncEngine, actor: str, data: Mapping[str, Any]) -> Campaign:
    check_setup(data)
    fields = dict(data)
    names = ", ".join(fields)
    values = ", ".join(f"CAST(:{k} AS jsonb)" if k in _JSON_COLUMNS else f":{k}" for k in fields)
    params = {k: _dumps(v) if k in _JSON_COLUMNS else v for k, v in fields.items()}
    try:
        async with engine.begin() as conn:
            new_id = (
                await conn.execute(
                    text(f"INSERT INTO campaigns ({names}) VALUES ({values}) RETURNING id"),  # noqa: S608
                    params,
                )
            ).scalar_one()
            after = await fetch(conn, int(new_id))
            await audit.record(conn, actor, "campaign.create", "campaign", new_id, None, after)
    except IntegrityError as exc:
        raise Conflict(f"a campaign named {data['name']!r} already exists") from exc
    return after


async def listing(
    engine: AsyncEngine,
    state: str | None,
    limit: int,
    offset: int,
    *,
    newest_first: bool = False,
) -> list[Campaign]:
    order = "id DESC" if newest_first else "id"
    query = (
        f"SELECT {', '.join(COLUMNS)} FROM campaigns "  # noqa: S608
        "WHERE (CAST(:state AS text) IS NULL OR state = :state) "
        f"ORDER BY {order} LIMIT :limit OFFSET :offset"
    )
    async with engine.connect() as conn:
        rows = await conn.execute(text(query), {"state": state, "limit": limit, "offset": offset})
        return [row_of(Campaign, r) for r in rows.mappings()]


async def get(engine: AsyncEngine, campaign_id: int) -> Campaign:
    async with engine.connect() as conn:
        return await fetch(conn, campaign_id)


async def has_open_pause(conn: AsyncConnection, campaign_id: int) -> bool:
    """Whether the campaign was paused and no approved restart has closed that pause since."""
    found = await conn.execute(
        text("SELECT 1 FROM pause_events WHERE campaign_id = :cid AND resumed_at IS NULL LIMIT 1"),
        {"cid": campaign_id},
    )
    return found.first() is not None


async def refused(
    engine: AsyncEngine, actor: str, campaign_id: int, facts: Mapping[str, object]
) -> None:
    """Audit a refused approval (``campaign.refused``) in a transaction of its own."""
    async with engine.begin() as conn:
        await audit.record(conn, actor, "campaign.refused", "campaign", campaign_id, None, facts)


async def update(
    engine: AsyncEngine,
    approver: Approver,
    campaign_id: int,
    data: Mapping[str, Any],
) -> Campaign:
    """Change the setup; ``approver`` is the caller (recorded, and checked for an owner change)."""
    check_setup(data)
    changes = {k: v for k, v in data.items() if k != "version"}
    try:
        return await _update(engine, approver, campaign_id, data, changes)
    except Forbidden as exc:
        await refused(engine, approver.name, campaign_id, {"detail": exc.detail, **exc.extra})
        raise


async def _update(
    engine: AsyncEngine,
    approver: Approver,
    campaign_id: int,
    data: Mapping[str, Any],
    changes: Mapping[str, Any],
) -> Campaign:
    actor = approver.name
    try:
        async with engine.begin() as conn:
            before = await fetch(conn, campaign_id, lock=True)
            owner = changes.get("resume_owner", before.resume_owner)
            if (
                owner != before.resume_owner
                and (
                    before.state == CampaignState.PAUSED or await has_open_pause(conn, campaign_id)
                )
                and not approver.may_approve(before.resume_owner)
            ):
                raise Forbidden(OWNER_CHANGE, resume_owner=before.resume_owner, operation="update")
            expected = data.get("version")
            if expected is not None and expected != before.version:
                raise Conflict(
                    "the campaign changed since it was read",
                    version=before.version,
                )
            start = changes.get("callee_window_start", before.callee_window_start)
            end = changes.get("callee_window_end", before.callee_window_end)
            if start >= end:  # one of the two is the stored one (check_setup saw both given)
                raise Conflict(
                    "the callee window would end before it starts: change both ends together",
                    field="callee_window_end",
                    callee_window_start=start,
                    callee_window_end=end,
                )
            if changes:
                sets, params = _assignments(changes)
                await conn.execute(
                    text(
                        f"UPDATE campaigns SET {sets}, version = version + 1, "  # noqa: S608
                        "updated_at = now() WHERE id = :id"
                    ),
                    {**params, "id": campaign_id},
                )
            after = await fetch(conn, campaign_id)
            await audit.record(
                conn, actor, "campaign.update", "campaign", campaign_id, before, after
            )
    except IntegrityError as exc:
        raise Conflict(f"a campaign named {data.get('name')!r} already exists") from exc
    return after


async def delete(engine: AsyncEngine, actor: str, campaign_id: int) -> None:
    async with engine.begin() as conn:
        before = await fetch(conn, campaign_id, lock=True)
        apply(CampaignState(before.state), Operation.DELETE_RECORDS)
        await conn.execute(text("DELETE FROM campaigns WHERE id = :id"), {"id": campaign_id})
        # its records' counts (migration 0005) have no foreign key: they go with it here
        await conn.execute(
            text("DELETE FROM record_counts WHERE campaign_id = :id"), {"id": campaign_id}
        )
        await audit.record(conn, actor, "campaign.delete", "campaign", campaign_id, before, None)


async def transition(
    engine: AsyncEngine,
    actor: str,
    campaign_id: int,
    operation: Operation,
    change: Change | None = None,
    extra: Mapping[str, object] | None = None,
    *,
    approved: bool = False,
) -> tuple[Campaign, Mapping[str, object] | None]:
    """Apply ``operation``; ``change`` runs in the same transaction (records work, governance).

    Returns the campaign after the change and what ``change`` returned. ``extra`` columns are
    set together with the new state (e.g. the controlled-resume settings). A start while a pause
    is open is refused unless ``approved`` (only :mod:`gateway.campaigns.governance` says so,
    after the owner's approval and the checklist).
    """
    async with engine.begin() as conn:
        before = await fetch(conn, campaign_id, lock=True)
        state = apply(CampaignState(before.state), operation)
        if (
            operation is Operation.START
            and not approved
            and await has_open_pause(conn, campaign_id)
        ):
            raise Forbidden(PAUSED_START, resume_owner=before.resume_owner, operation="start")
        outcome = await change(conn, before) if change is not None else None
        sets, params = _assignments({"state": str(state), **(extra or {})})
        await conn.execute(
            text(
                f"UPDATE campaigns SET {sets}, version = version + 1, "  # noqa: S608
                "updated_at = now() WHERE id = :id"
            ),
            {**params, "id": campaign_id},
        )
        after = await fetch(conn, campaign_id)
        await audit.record(
            conn, actor, f"campaign.{operation}", "campaign", campaign_id, before, after
        )
    return after, outcome


async def count_records(conn: AsyncConnection, campaign_id: int) -> int:
    return int(
        (
            await conn.execute(
                text("SELECT count(*) FROM records WHERE campaign_id = :id"), {"id": campaign_id}
            )
        ).scalar_one()
    )
