"""Dispositions on the database: a campaign's codes (its ``dispositions`` JSON) and setting one
on an attempt.

The stored document (validated by the campaign create/update body and by :func:`parse`)::

    {"codes": [{"code": "sale", "step": "done"},
               {"code": "later", "step": "retry", "delay_s": 3600}, ...],
     "default_code": "not_interested", "wrapup_limit_s": 120, "callback_grace_s": 900}

Every member is optional; ``{}`` is the default codes of :func:`pacing.dispositions.default_codes`
and the limits passed in (the service settings). :func:`dispose` is one transaction: it locks
the attempt, then its record (the lock order of every attempt writer), refuses what may not be
disposed (another agent's call, a call that reached no agent, a second disposition), writes the
code on the attempt, moves the record to the code's step through the campaign's retry rules
(:func:`pacing.dispositions.plan`), puts a ``dnc`` number on the do-not-call list, and writes the
audit entry. A disposition set while the call is still in progress is kept on the attempt and
applied when the call is settled (:mod:`gateway.campaigns.batches`). No HTTP here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.campaigns import audit
from gateway.campaigns.errors import Conflict, Forbidden, Invalid, NotFound
from gateway.campaigns.leasing import QUEUE_FOLLOWS
from gateway.campaigns.retry import parse_rules
from pacing.dispositions import Code, DispositionSet, Plan, Refused, Scope, Step, plan
from pacing.errors import ScheduleError
from pacing.retry import RetryRules

_KEYS = frozenset({"codes", "default_code", "wrapup_limit_s", "callback_grace_s"})


def parse(
    document: Mapping[str, Any],
    *,
    wrapup_limit_s: int = 0,
    default_code: str | None = None,
) -> DispositionSet:
    """A campaign's disposition set from its stored JSON; the service defaults fill the gaps
    (a default code the campaign's codes do not have is ignored)."""
    for key in document:
        if key not in _KEYS:
            raise ScheduleError(f"dispositions.{key}: unknown member")
    base = DispositionSet()
    codes = dict(base.codes)
    if "codes" in document:
        codes = {}
        for item in document["codes"]:
            delay = dt.timedelta(seconds=item.get("delay_s", 0))
            code = Code(item["code"], Step(item["step"]), delay)
            if code.code in codes:
                raise ScheduleError(f"dispositions: code {code.code!r} appears twice")
            codes[code.code] = code
    default = document.get("default_code")
    if default is None and default_code in codes:
        default = default_code
    limit = document.get("wrapup_limit_s", wrapup_limit_s)
    grace = document.get("callback_grace_s", int(base.callback_grace.total_seconds()))
    return DispositionSet(codes, default, dt.timedelta(seconds=limit), dt.timedelta(seconds=grace))


def validate(document: Mapping[str, Any]) -> None:
    """Raise :class:`Invalid` (field ``dispositions``) if the document would not parse."""
    try:
        parsed = parse(document)
    except (ScheduleError, KeyError, ValueError, TypeError) as exc:
        raise Invalid("dispositions", str(exc)) from None
    for code in parsed.codes.values():
        if code.step is Step.RETRY and code.delay <= dt.timedelta(0):
            raise Invalid("dispositions", f"{code.code}: a retry code needs delay_s > 0")


@dataclass(frozen=True, slots=True)
class Disposed:
    """A disposition as recorded, and the record's step it led to (``applied`` False: the call
    is still in progress, the step follows when it is settled)."""

    attempt_id: str
    campaign_id: int
    record_id: int
    code: str
    agent: str | None
    server: str
    queue: str
    disposed_by: str
    disposed_at: dt.datetime
    applied: bool
    record_status: str | None
    next_attempt_at: dt.datetime | None
    callback_agent: str | None


_ATTEMPT = text(
    "SELECT id, campaign_id, record_id, status, agent, agent_connected_at, disposition, "
    "disposed_by, disposed_at, server FROM attempts WHERE id = :id FOR UPDATE"
)
_CAMPAIGN = text(
    "SELECT queue, dispositions, retry_rules, max_attempts, abandon_holdoff_s FROM campaigns "
    "WHERE id = :cid"
)
_RECORD = text("SELECT id, phone, status, attempts FROM records WHERE id = :rid FOR UPDATE")
_MARK = text(
    "UPDATE attempts SET disposition = :code, disposition_note = :note, disposed_at = :at, "
    "disposed_by = :by, callback_at = :callback_at, callback_scope = :scope WHERE id = :id"
)
_STEP_HEAD = """
WITH settled AS (
    UPDATE records SET status = :status, reason = :reason, disposition = :code,
        next_attempt_at = :next, callback_at = :callback_at, callback_agent = :callback_agent,
        agent = COALESCE(:agent, agent), lease_owner = NULL, lease_expires_at = NULL,
        updated_at = :at
    WHERE id = :rid
    RETURNING id, campaign_id, priority, status, next_attempt_at"""
_STEP = text(_STEP_HEAD + QUEUE_FOLLOWS)
_DNC = text(
    "INSERT INTO dnc_numbers (phone, reason, added_by) VALUES (:phone, :reason, :by) "
    "ON CONFLICT (phone) DO NOTHING"
)


@dataclass(frozen=True, slots=True)
class Request:
    """What the caller asks: the code, an optional note and callback."""

    code: str
    note: str | None = None
    callback_at: dt.datetime | None = None
    scope: Scope = Scope.ANYONE


def _refuse_attempt(row: Mapping[str, Any], attempt_id: str, agent_id: str | None) -> None:
    if agent_id is not None and row["agent"] != agent_id:
        raise Forbidden(
            f"attempt {attempt_id} is not a call of agent {agent_id}", operation="disposition"
        )
    if row["agent_connected_at"] is None:
        raise Conflict(
            f"attempt {attempt_id} never reached an agent: there is no wrap-up to dispose",
            reason="no_agent",
        )
    if row["disposition"] is not None:
        raise Conflict(
            f"attempt {attempt_id} already has the disposition {row['disposition']!r} "
            f"(set by {row['disposed_by']} at {row['disposed_at'].isoformat()})",
            reason="already_disposed",
            disposition=row["disposition"],
        )


async def dispose(
    engine: AsyncEngine,
    actor: str,
    attempt_id: str,
    request: Request,
    now: dt.datetime,
    *,
    agent_id: str | None = None,
) -> Disposed:
    """Record ``request`` on the attempt; ``agent_id`` (an agent token): only its own calls."""
    async with engine.begin() as conn:
        found = (await conn.execute(_ATTEMPT, {"id": attempt_id})).mappings().first()
        if found is None:
            raise NotFound(f"attempt {attempt_id} does not exist")
        row = dict(found)
        _refuse_attempt(row, attempt_id, agent_id)
        campaign = (await conn.execute(_CAMPAIGN, {"cid": row["campaign_id"]})).mappings().one()
        codes = parse(campaign["dispositions"])
        try:
            code = codes.code(request.code)
        except ScheduleError as exc:
            raise Invalid("code", str(exc)) from None
        record = dict((await conn.execute(_RECORD, {"rid": row["record_id"]})).mappings().one())
        rules = parse_rules(
            campaign["retry_rules"], campaign["max_attempts"], campaign["abandon_holdoff_s"]
        )
        try:
            step = plan(code, rules, record["attempts"], now, callback_at=request.callback_at,
                        scope=request.scope, agent=row["agent"])  # fmt: skip
        except Refused as exc:
            raise Invalid(exc.field, str(exc)) from None
        marked = {"code": code.code, "note": request.note, "at": now, "by": actor}
        asked = {"callback_at": request.callback_at, "scope": str(request.scope)}
        await conn.execute(_MARK, {**marked, **asked, "id": attempt_id})
        applied = row["status"] == "settled"
        if applied:
            await _apply(conn, record, step, code.code, row["agent"], actor, now)
        disposed = Disposed(
            attempt_id, int(row["campaign_id"]), int(row["record_id"]), code.code, row["agent"],
            str(row["server"]), str(campaign["queue"]), actor, now, applied,
            step.status if applied else None, step.at if applied else None,
            step.callback_agent if applied else None)  # fmt: skip
        await audit.record(
            conn, actor, "attempt.disposition", "attempt", attempt_id,
            {"record_status": record["status"]}, disposed)  # fmt: skip
    return disposed


async def _apply(
    conn: AsyncConnection,
    record: Mapping[str, Any],
    step: Plan,
    code: str,
    agent: str | None,
    actor: str,
    now: dt.datetime,
) -> None:
    """Move the record to the disposition's step (and its number to the DNC list)."""
    if record["status"] == "dialing":
        raise Conflict(
            f"record {record['id']} is being dialled again: its disposition cannot move it",
            reason="record_dialing",
        )
    await conn.execute(
        _STEP,
        {
            "status": step.status,
            "reason": step.reason,
            "code": code,
            "next": step.at,
            "callback_at": step.at if step.status == "callback" else None,
            "callback_agent": step.callback_agent,
            "agent": agent,
            "at": now,
            "rid": record["id"],
        },
    )
    if step.add_dnc:
        await conn.execute(
            _DNC, {"phone": record["phone"], "reason": f"disposition {code}", "by": actor}
        )


def settled_step(
    codes: DispositionSet,
    rules: RetryRules,
    attempts: int,
    at: dt.datetime,
    asked: tuple[str, dt.datetime | None, str | None, str | None],
) -> Plan:
    """The step of a disposition set during the call, when the call is settled at ``at``;
    ``asked`` is the attempt's (code, callback_at, callback_scope, agent). Never raises: a code
    the campaign no longer has, or a callback time that has passed meanwhile, ends the record
    with the code as its disposition (the call reached an agent)."""
    code, callback_at, scope, agent = asked
    try:
        return plan(codes.code(code), rules, attempts, at, callback_at=callback_at,
                    scope=Scope(scope or Scope.ANYONE), agent=agent)  # fmt: skip
    except (ScheduleError, ValueError):
        return Plan("done", None, f"disposition {code}")
