"""Pause and resume governance (seed ``000``): reasons, the resume checklist, the history.

* A pause takes effect at once and records who, when, a reason category and text.
* A resume names one approving owner (the caller: the campaign's resume owner, or an admin) and
  passes a checklist whose every item is *checked here* by asking the runtime (schedule open
  now, caller-ID numbers available, agents logged in) or probing the webhook targets; the client
  cannot assert them. A failed item refuses the resume with 409 and the whole checklist.
* A start while a pause is open (the campaign was paused, then stopped, reset or force-completed
  and never resumed) is a resume in all but name: :func:`start` sends it through the same
  approval and checklist, and it closes the pause. :mod:`gateway.campaigns.campaigns` refuses
  any other start then, and an owner change by anyone but the current resume owner or an admin.
  Every refusal of an approval is audited (``campaign.refused``).
* A resume may be controlled: for ``review_minutes`` the pacer caps concurrent calls at
  ``max_concurrent_calls`` and/or dials progressive only (columns ``controlled_*`` on the
  campaign, read by the runner).
* Every pause and resume queues a webhook notification in the same transaction.
* The history answers "why do we keep pausing?" with counts per reason category.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.campaigns import campaigns, outbox
from gateway.campaigns.audit import jsonable
from gateway.campaigns.campaigns import Approver, Campaign
from gateway.campaigns.errors import Conflict, Forbidden
from gateway.campaigns.runtime import Probe, Runtime
from gateway.campaigns.typed import columns, row_of
from pacing.lifecycle import CampaignState, Operation, apply

CATEGORIES = (
    "timing",
    "call_quality",
    "logging",
    "compliance",
    "customer_experience",
    "process_failure",
    "other",
)


@dataclass(frozen=True, slots=True)
class PauseEvent:
    """One pause, and its resume once there was one (``control_api.bodies.PAUSE_EVENT``)."""

    id: int
    campaign_id: int
    paused_by: str
    paused_at: datetime
    category: str
    text: str
    resumed_by: str | None
    resumed_at: datetime | None
    checklist: Mapping[str, Any] | None
    controlled: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class PauseHistory:
    """Newest pauses first, and the count per category over the whole history."""

    events: tuple[PauseEvent, ...]
    by_category: Mapping[str, int]
    total: int


EVENT_COLUMNS = columns(PauseEvent)
_EVENT_COLUMNS = ", ".join(EVENT_COLUMNS)


async def pause(
    engine: AsyncEngine, actor: str, campaign_id: int, category: str, reason: str, now: datetime
) -> Campaign:
    """Pause now; returns the campaign. ``actor`` may be a guard (``guard:<name>``)."""

    async def change(conn: AsyncConnection, before: Campaign) -> Mapping[str, object]:
        await conn.execute(
            text(
                "INSERT INTO pause_events (campaign_id, paused_by, paused_at, category, text) "
                "VALUES (:cid, :by, :at, :category, :text)"
            ),
            {"cid": campaign_id, "by": actor, "at": now, "category": category, "text": reason},
        )
        payload = {
            "campaign_id": campaign_id,
            "campaign": before.name,
            "paused_by": actor,
            "paused_at": now.isoformat(),
            "category": category,
            "text": reason,
        }
        await outbox.enqueue(conn, campaign_id, "campaign.paused", payload)
        return payload

    after, _ = await campaigns.transition(engine, actor, campaign_id, Operation.PAUSE, change)
    return after


async def checklist(
    engine: AsyncEngine, runtime: Runtime, probe: Probe, campaign: Campaign
) -> dict[str, dict[str, object]]:
    """Check every resume precondition now; each item says ok and what was seen."""
    cid = campaign.id
    async with engine.connect() as conn:
        urls = await outbox.targets(conn, cid)
    open_now = await runtime.schedule_open(campaign)
    numbers = await runtime.callerids_available(cid)
    agents = await runtime.agents_logged_in(campaign.queue)
    links_up, links_total = await runtime.asterisk_links()
    reachable = await asyncio.gather(*(probe(u) for u in urls))
    down = [u for u, ok in zip(urls, reachable, strict=True) if not ok]
    return {
        "schedule_open": {"ok": open_now},
        "callerids_available": {"ok": numbers > 0, "count": numbers},
        "agents_logged_in": {"ok": agents > 0, "count": agents},
        "webhooks_reachable": {"ok": not down, "targets": len(urls), "unreachable": down},
        "asterisk_links": {"ok": links_total == 0 or links_up > 0, "up": links_up,
                           "total": links_total},
    }  # fmt: skip


def _refusal(items: Mapping[str, Mapping[str, object]]) -> str:
    """The 409's detail: which checklist items failed, and for a link outage what it means."""
    failed = [name for name, item in items.items() if not item["ok"]]
    text = f"the resume checklist failed: {', '.join(failed)}"
    if "asterisk_links" in failed:
        links = items["asterisk_links"]
        text += (
            f"; no Asterisk link is up ({links['up']} of {links['total']} servers reachable), so"
            " the campaign could place no call; resume once a link is back (the diagnostics say"
            " which server is down)"
        )
    return text


async def resume(
    engine: AsyncEngine,
    runtime: Runtime,
    probe: Probe,
    approver: Approver,
    campaign_id: int,
    options: Mapping[str, Any],
    now: datetime,
) -> Campaign:
    """Resume after the owner's approval and a passed checklist; returns the campaign."""
    current = await campaigns.get(engine, campaign_id)
    apply(CampaignState(current.state), Operation.RESUME)  # 409 before any probing
    return await _restart(engine, runtime, probe, approver, current, Operation.RESUME, options, now)


async def start(
    engine: AsyncEngine,
    runtime: Runtime,
    probe: Probe,
    approver: Approver,
    campaign_id: int,
    now: datetime,
) -> Campaign:
    """Start; while a pause is open, only as a resume (the owner's approval and the checklist)."""
    current = await campaigns.get(engine, campaign_id)
    apply(CampaignState(current.state), Operation.START)
    async with engine.connect() as conn:
        paused = await campaigns.has_open_pause(conn, campaign_id)
    if not paused:  # the transition checks again under the lock
        after, _ = await campaigns.transition(engine, approver.name, campaign_id, Operation.START)
        return after
    return await _restart(engine, runtime, probe, approver, current, Operation.START, {}, now)


async def _restart(
    engine: AsyncEngine,
    runtime: Runtime,
    probe: Probe,
    approver: Approver,
    current: Campaign,
    operation: Operation,
    options: Mapping[str, Any],
    now: datetime,
) -> Campaign:
    """The one approval path back to dialing after a pause: approver, checklist, then the
    transition that closes the open pause (a ``campaign.resumed`` notification)."""
    campaign_id = current.id
    if not approver.may_approve(current.resume_owner):
        problem = Forbidden(
            "only the campaign's resume owner or an admin may approve a resume",
            resume_owner=current.resume_owner,
        )
        await campaigns.refused(
            engine,
            approver.name,
            campaign_id,
            {"detail": problem.detail, "operation": str(operation), **problem.extra},
        )
        raise problem
    items = await checklist(engine, runtime, probe, current)
    if not all(item["ok"] for item in items.values()):
        raise Conflict(_refusal(items), checklist=items)
    controlled = _controlled(options, now)
    extra: dict[str, object] = {
        "controlled_until": controlled["until"] if controlled else None,
        "controlled_max_calls": options.get("max_concurrent_calls") if controlled else None,
        "controlled_progressive": bool(options.get("progressive_only")) if controlled else False,
    }

    async def change(conn: AsyncConnection, before: Campaign) -> Mapping[str, object]:
        settings = jsonable(controlled) if controlled else None
        await conn.execute(
            text(
                "UPDATE pause_events SET resumed_by = :by, resumed_at = :at, "
                "checklist = CAST(:checklist AS jsonb), controlled = CAST(:controlled AS jsonb) "
                "WHERE id = (SELECT max(id) FROM pause_events WHERE campaign_id = :cid "
                "AND resumed_at IS NULL)"
            ),
            {
                "by": approver.name,
                "at": now,
                "checklist": _json(items),
                "controlled": None if settings is None else _json(settings),
                "cid": campaign_id,
            },
        )
        # any older open pause (several stops and starts) is closed with it
        await conn.execute(
            text(
                "UPDATE pause_events SET resumed_by = :by, resumed_at = :at "
                "WHERE campaign_id = :cid AND resumed_at IS NULL"
            ),
            {"by": approver.name, "at": now, "cid": campaign_id},
        )
        payload = {
            "campaign_id": campaign_id,
            "campaign": before.name,
            "operation": str(operation),
            "resumed_by": approver.name,
            "resumed_at": now.isoformat(),
            "note": options.get("note", ""),
            "checklist": items,
            "controlled": settings,
        }
        await outbox.enqueue(conn, campaign_id, "campaign.resumed", payload)
        return payload

    after, _ = await campaigns.transition(
        engine, approver.name, campaign_id, operation, change, extra, approved=True
    )
    return after


def _controlled(options: Mapping[str, Any], now: datetime) -> dict[str, object] | None:
    minutes = options.get("review_minutes")
    if minutes is None:
        return None
    return {
        "review_minutes": minutes,
        "until": now + timedelta(minutes=minutes),
        "max_concurrent_calls": options.get("max_concurrent_calls"),
        "progressive_only": bool(options.get("progressive_only", False)),
    }


def _json(value: object) -> str:
    import json

    return json.dumps(value)


async def history(engine: AsyncEngine, campaign_id: int | None, limit: int) -> PauseHistory:
    """Newest pauses first, with counts per category over the whole history."""
    where = "WHERE campaign_id = :cid" if campaign_id is not None else ""
    async with engine.connect() as conn:
        if campaign_id is not None:
            await campaigns.fetch(conn, campaign_id)
        rows = await conn.execute(
            text(
                f"SELECT {_EVENT_COLUMNS} FROM pause_events {where} "  # noqa: S608
                "ORDER BY paused_at DESC, id DESC LIMIT :limit"
            ),
            {"cid": campaign_id, "limit": limit},
        )
        events = tuple(row_of(PauseEvent, r) for r in rows.mappings())
        counts = await conn.execute(
            text(
                f"SELECT category, count(*) FROM pause_events {where} "  # noqa: S608
                "GROUP BY category"
            ),
            {"cid": campaign_id},
        )
        by_category = {category: 0 for category in CATEGORIES}
        by_category.update({r[0]: int(r[1]) for r in counts})
    return PauseHistory(events, by_category, sum(by_category.values()))
