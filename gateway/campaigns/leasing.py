"""Record leasing, attempts and the one-pacer lease: the database side of the campaign runner.

Several gateway instances share one database and must never dial the same record at once:

* :func:`lease_records` walks the campaign's ``record_queue`` in lease order (priority, record
  id), locks the records with ``SELECT … FOR UPDATE OF r SKIP LOCKED`` and stamps them with the
  instance and a lease expiry in the same statement, so two instances racing for one campaign
  get disjoint sets. Eligibility is decided in SQL on the record itself: dialable status,
  attempts below the campaign maximum (a callback is a promise and is kept past it),
  ``next_attempt_at`` reached, not on the DNC list, no live lease, an agent-only callback only
  while its agent is free (or once the campaign's callback grace has passed), and the callee's
  local time inside the campaign's callee window in *every* one of the record's time zones (the
  campaign zone when the record has none). The queue only narrows the
  walk (its ``next_attempt_at`` passes over records waiting for a retry without reading them).
* :func:`start_attempt` marks the record dialing, takes it out of the queue and inserts the
  attempt (status ``dialing``) in one statement, only while the caller still holds the lease.
* :func:`settle_attempt` writes the outcome and the record's next status — and puts a record
  that will be retried back in the queue — in one transaction; settling an already settled
  attempt does nothing. A record whose lease expired while dialing (a crashed instance) stays
  ``dialing`` and out of the queue — not eligible — until reconciliation settles its attempt
  (:func:`unsettled_attempts` lists them by instance or server).

None of these updates changes a column that an index of ``records`` names, so they are HOT
updates (migration 0004); the queue is the only index-bearing structure a status change touches.
* :func:`acquire_pacer` / :func:`renew_pacer` / :func:`release_pacer`: one row per campaign in
  ``campaign_pacers`` so exactly one instance paces a campaign at a time. The lease's expiry is
  set and compared on the database's clock, so instances on hosts with skewed clocks agree on
  it; the holder fences itself on its own monotonic clock (:mod:`pacing.supervisor`).

Time is passed in (``now``) everywhere else; nothing here reads a local clock. Retry decisions
are the pure :func:`gateway.campaigns.retry.next_step`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.campaigns.retry import next_step, parse_rules
from gateway.db.errors import DatabaseError
from pacing.dispositions import DispositionSet
from pacing.outcomes import Outcome, PbxFault
from pacing.ports import Acquired


def _free(free_agents: Callable[[str], Collection[str]], campaign: Mapping[str, Any]) -> set[str]:
    """The agents free now in any of the campaign's queues (its queue, and a skill's queue where
    ``pacing.skill_queues`` maps one)."""
    skill_queues = (campaign["pacing"] or {}).get("skill_queues") or {}
    queues = {str(campaign["queue"]), *(str(q) for q in dict(skill_queues).values())}
    return {agent for queue in queues for agent in free_agents(queue)}


def callback_grace_s(document: Mapping[str, Any] | None) -> float:
    """The campaign's callback grace (its ``dispositions`` JSON; the default when unset)."""
    grace = (document or {}).get("callback_grace_s")
    if isinstance(grace, int) and not isinstance(grace, bool) and grace >= 0:
        return float(grace)
    return DispositionSet().callback_grace.total_seconds()


class LeaseError(DatabaseError):
    """A campaign, record or attempt named by the runner does not exist."""


@dataclass(frozen=True, slots=True)
class LeasedRecord:
    id: int
    campaign_id: int
    phone: str
    name: str
    time_zones: tuple[str, ...]
    priority: int
    skill: str
    agent: str
    custom: Mapping[str, Any]
    attempts: int
    caller_id: str | None  # the number used before (sticky caller ID), if any
    lease_expires_at: datetime
    # an agent-only callback leased within its grace (its agent is free): only that agent may
    # take the call; None for anyone (no such callback, or the grace has passed)
    callback_agent: str | None = None


@dataclass(frozen=True, slots=True)
class AttemptStart:
    attempt_id: str  # uuid4().hex
    campaign_id: int
    record_id: int
    instance_id: str
    server: str
    caller_id: str
    originated_at: datetime


@dataclass(frozen=True, slots=True)
class AttemptRow:
    """The settled columns of one ``attempts`` row, as :func:`settle_attempt` writes them.

    Not the settled attempt itself (that is :class:`pacing.calls.AttemptResult`, built by the call
    tracker): this is the narrower shape the table stores, with the database's column names and
    ``settled_at``. It is also written for an attempt that never reached Asterisk (refused before
    dialling), which has no tracker result at all.
    """

    attempt_id: str
    outcome: Outcome
    settled_at: datetime
    q850_cause: int | None = None
    first_ring_at: datetime | None = None
    answered_at: datetime | None = None
    agent_connected_at: datetime | None = None
    hangup_at: datetime | None = None
    agent: str | None = None
    server: str | None = None  # where the call went (None: keep what the runner wrote)
    fault: PbxFault | None = None  # a failed call the PBX ended (restart, crash): retried


@dataclass(frozen=True, slots=True)
class Settled:
    record_id: int
    status: str
    next_attempt_at: datetime | None
    attempts: int


@dataclass(frozen=True, slots=True)
class UnsettledAttempt:
    attempt_id: str
    campaign_id: int
    record_id: int
    instance_id: str
    server: str
    originated_at: datetime


_CAMPAIGN = text(
    "SELECT max_attempts, time_zone, callee_window_start, callee_window_end, retry_rules, "
    "abandon_holdoff_s, queue, pacing, dispositions FROM campaigns WHERE id = :cid"
)

_LEASE = text("""
WITH picked AS (
    SELECT r.id FROM record_queue q JOIN records r ON r.id = q.record_id
    WHERE q.campaign_id = :cid
      AND (q.next_attempt_at IS NULL OR q.next_attempt_at <= :now)
      AND r.status IN ('new', 'retry', 'callback')
      AND (r.attempts < :max_attempts OR r.status = 'callback')
      AND (r.next_attempt_at IS NULL OR r.next_attempt_at <= :now)
      AND (r.lease_expires_at IS NULL OR r.lease_expires_at <= :now)
      AND (CAST(:skills AS text[]) IS NULL OR r.skill = ANY(CAST(:skills AS text[])))
      AND NOT EXISTS (SELECT 1 FROM dnc_numbers d WHERE d.phone = r.phone)
      AND NOT EXISTS (
        SELECT 1 FROM unnest(
            CASE WHEN cardinality(r.time_zones) = 0 THEN ARRAY[CAST(:tz AS text)]
                 ELSE r.time_zones END) AS z(name)
        WHERE NOT (
            (extract(hour FROM (CAST(:now AS timestamptz) AT TIME ZONE z.name)) * 60
             + extract(minute FROM (CAST(:now AS timestamptz) AT TIME ZONE z.name)))
            BETWEEN :wstart AND :wend - 1))
      AND (r.callback_agent IS NULL OR r.status <> 'callback'
           OR r.callback_agent = ANY(CAST(:free_agents AS text[]))
           OR r.callback_at <= CAST(:now AS timestamptz) - make_interval(secs => :grace_s))
    ORDER BY q.priority, q.record_id
    LIMIT :limit
    FOR UPDATE OF r SKIP LOCKED
)
UPDATE records r SET lease_owner = :iid, lease_expires_at = :until, updated_at = :now
FROM picked WHERE r.id = picked.id
RETURNING r.id, r.campaign_id, r.phone, r.name, r.time_zones, r.priority, r.skill, r.agent,
          r.custom, r.attempts, r.caller_id, r.lease_expires_at,
          CASE WHEN r.status = 'callback' AND r.callback_agent IS NOT NULL
                AND (r.callback_at IS NULL
                     OR r.callback_at > CAST(:now AS timestamptz) - make_interval(secs => :grace_s))
               THEN r.callback_agent END
""")

# One statement: the record leaves the queue as it starts dialing, and the attempt exists exactly
# when the record is ``dialing`` (nothing is written if the lease was lost).
_START = text("""
WITH marked AS (
    UPDATE records SET status = 'dialing', last_attempt_at = :at,
        caller_id = COALESCE(caller_id, :cli), updated_at = :at
    WHERE id = :rid AND campaign_id = :cid AND lease_owner = :iid AND lease_expires_at > :at
      AND status IN ('new', 'retry', 'callback')
    RETURNING id, campaign_id, priority
), dequeued AS (
    DELETE FROM record_queue q USING marked m
    WHERE q.campaign_id = m.campaign_id AND q.priority = m.priority AND q.record_id = m.id
)
INSERT INTO attempts (id, campaign_id, record_id, instance_id, server, caller_id, status,
                      originated_at)
SELECT CAST(:id AS text), m.campaign_id, m.id, :iid, CAST(:server AS text), :cli, 'dialing', :at
FROM marked m
""")

# The record's next step, and its queue row to match: back in the queue (or its retry time moved)
# when it may be dialled again, out of it otherwise.
# After a CTE ``settled`` of updated records (id, campaign_id, priority, status,
# next_attempt_at): their queue rows follow — queued while dialable, removed otherwise.
QUEUE_FOLLOWS = """
), queued AS (
    INSERT INTO record_queue (campaign_id, priority, record_id, next_attempt_at)
    SELECT campaign_id, priority, id, next_attempt_at FROM settled
    WHERE status IN ('new', 'retry', 'callback')
    ON CONFLICT (campaign_id, priority, record_id)
    DO UPDATE SET next_attempt_at = EXCLUDED.next_attempt_at
)
DELETE FROM record_queue q USING settled s
WHERE s.status NOT IN ('new', 'retry', 'callback')
  AND q.campaign_id = s.campaign_id AND q.priority = s.priority AND q.record_id = s.id
"""
_SETTLE_RECORD_HEAD = """
WITH settled AS (
    UPDATE records SET status = :status, reason = :reason, disposition = :outcome,
        attempts = attempts + :counted, next_attempt_at = :next, lease_owner = NULL,
        lease_expires_at = NULL, agent = COALESCE(:agent, agent), updated_at = :at
    WHERE id = :rid
    RETURNING id, campaign_id, priority, status, next_attempt_at"""
_SETTLE_RECORD = text(_SETTLE_RECORD_HEAD + QUEUE_FOLLOWS)


async def _campaign(conn: AsyncConnection, campaign_id: int) -> Mapping[str, Any]:
    row = (await conn.execute(_CAMPAIGN, {"cid": campaign_id})).mappings().first()
    if row is None:
        raise LeaseError(f"campaign {campaign_id} does not exist")
    return dict(row)


async def lease_records(
    engine: AsyncEngine,
    campaign_id: int,
    instance_id: str,
    limit: int,
    now: datetime,
    lease_seconds: float,
    *,
    skills: Sequence[str] | None = None,
    free_agents: Callable[[str], Collection[str]] | None = None,
) -> list[LeasedRecord]:
    """Lease up to ``limit`` eligible records of the campaign to ``instance_id``.

    ``skills`` given: only records whose ``skill`` is one of them (``""``: no skill), for the
    skill groups of :mod:`pacing.skills`; None: any record. ``free_agents(queue)`` names the
    agents free in a queue now: an agent-only callback is leased only while its agent is free in
    one of the campaign's queues, or once the campaign's callback grace has passed
    (:func:`pacing.callbacks.decide`, the same rule).
    """
    if limit <= 0:
        return []
    async with engine.begin() as conn:
        c = await _campaign(conn, campaign_id)
        free = sorted(_free(free_agents, c)) if free_agents is not None else []
        params = {
            "free_agents": free,
            "grace_s": callback_grace_s(c["dispositions"]),
            "cid": campaign_id,
            "max_attempts": c["max_attempts"],
            "now": now,
            "tz": c["time_zone"],
            "wstart": c["callee_window_start"],
            "wend": c["callee_window_end"],
            "limit": limit,
            "iid": instance_id,
            "until": now + timedelta(seconds=lease_seconds),
            "skills": None if skills is None else list(skills),
        }
        rows = (await conn.execute(_LEASE, params)).all()
    leased = [
        LeasedRecord(
            id=r[0],
            campaign_id=r[1],
            phone=r[2],
            name=r[3],
            time_zones=tuple(r[4]),
            priority=r[5],
            skill=r[6],
            agent=r[7],
            custom=r[8],
            attempts=r[9],
            caller_id=r[10],
            lease_expires_at=r[11],
            callback_agent=r[12],
        )
        for r in rows
    ]
    leased.sort(key=lambda rec: (rec.priority, rec.id))
    return leased


async def release_records(engine: AsyncEngine, instance_id: str, record_ids: Sequence[int]) -> int:
    """Give back leased records that will not be dialled; returns how many were released."""
    async with engine.begin() as conn:
        result = await conn.execute(
            text(
                "UPDATE records SET lease_owner = NULL, lease_expires_at = NULL "
                "WHERE id = ANY(:ids) AND lease_owner = :iid AND status <> 'dialing'"
            ),
            {"ids": list(record_ids), "iid": instance_id},
        )
    return int(result.rowcount)


async def start_attempt(engine: AsyncEngine, start: AttemptStart) -> bool:
    """Record that dialing starts; False (and nothing written) if the lease is no longer held."""
    async with engine.begin() as conn:
        started = await conn.execute(
            _START,
            {
                "id": start.attempt_id,
                "at": start.originated_at,
                "cli": start.caller_id,
                "rid": start.record_id,
                "cid": start.campaign_id,
                "iid": start.instance_id,
                "server": start.server,
            },
        )
    return bool(started.rowcount == 1)


# ``unknown`` is provisional: a real outcome that arrives later (the owner's writer after an
# adopter gave up, a hang-up seen after a reconnect) replaces it; nothing replaces a real outcome,
# and ``unknown`` never replaces anything. ``replaced`` says which case the row was.
_SETTLE_ATTEMPT = text("""
WITH old AS (SELECT id, status FROM attempts WHERE id = :id FOR UPDATE)
UPDATE attempts a SET status = 'settled', outcome = :outcome, q850_cause = :cause,
    fault = CAST(:fault AS text), first_ring_at = :ring, answered_at = :answer,
    agent_connected_at = :connect,
    hangup_at = :hangup, agent = :agent, settled_at = :at,
    server = COALESCE(CAST(:server AS text), a.server)
FROM old WHERE a.id = old.id AND (a.status = 'dialing'
    OR (a.status = 'settled' AND a.outcome = 'unknown' AND :outcome <> 'unknown'))
RETURNING a.record_id, a.campaign_id, old.status = 'settled'
""")
_RECORD_FOR_UPDATE = text(
    "SELECT attempts, status, disposition FROM records WHERE id = :rid FOR UPDATE"
)


def _settle_params(result: AttemptRow) -> dict[str, object]:
    return {
        "id": result.attempt_id,
        "outcome": str(result.outcome),
        "cause": result.q850_cause,
        "fault": None if result.fault is None else str(result.fault),
        "ring": result.first_ring_at,
        "answer": result.answered_at,
        "connect": result.agent_connected_at,
        "hangup": result.hangup_at,
        "agent": result.agent,
        "at": result.settled_at,
        "server": result.server,
    }


async def settle_attempt(engine: AsyncEngine, result: AttemptRow) -> Settled | None:
    """Write the outcome and the record's next step; None if the attempt was already settled.

    An attempt settled ``unknown`` takes a real outcome that arrives later; its record follows
    only while it is still where ``unknown`` left it (done, disposition unknown), and the attempt
    is not counted twice. Locks: the attempt's row, then its record's (as every statement here).
    """
    async with engine.begin() as conn:
        row = (await conn.execute(_SETTLE_ATTEMPT, _settle_params(result))).first()
        if row is None:
            return None
        record_id, campaign_id, replaced = int(row[0]), int(row[1]), bool(row[2])
        c = await _campaign(conn, campaign_id)
        policy = parse_rules(c["retry_rules"], c["max_attempts"], c["abandon_holdoff_s"])
        rec = (await conn.execute(_RECORD_FOR_UPDATE, {"rid": record_id})).one()
        attempts = int(rec[0]) + (0 if replaced else 1)
        if replaced and (rec[1] != "done" or rec[2] != str(Outcome.UNKNOWN)):
            return Settled(record_id, str(rec[1]), None, attempts)  # the record moved on
        step = next_step(policy, result.outcome, attempts, result.settled_at, result.fault)
        await conn.execute(
            _SETTLE_RECORD,
            {
                "status": str(step.status),
                "reason": step.reason,
                "outcome": str(result.outcome),
                "next": step.next_attempt_at,
                "agent": result.agent,
                "at": result.settled_at,
                "rid": record_id,
                "counted": 0 if replaced else 1,
            },
        )
    return Settled(record_id, str(step.status), step.next_attempt_at, attempts)


# An attempt whose Originate was never written (no capacity, the link went down before the send,
# the service stopped with it queued) is withdrawn: it did not happen, so its row goes, the
# record's attempt count is untouched and the record is dialable again at once. Only the owning
# instance withdraws, and only while the attempt is still ``dialing`` (an adopter that settled
# it meanwhile keeps its result). Lock order as everywhere here: the attempt, then its record.
_WITHDRAW = text("""
WITH gone AS (
    DELETE FROM attempts WHERE id = :id AND status = 'dialing' AND instance_id = :iid
    RETURNING record_id
), restored AS (
    UPDATE records r SET status = CASE WHEN r.attempts > 0 THEN 'retry'
            WHEN r.callback_at IS NOT NULL THEN 'callback' ELSE 'new' END,
        lease_owner = NULL, lease_expires_at = NULL, updated_at = :at
    FROM gone WHERE r.id = gone.record_id AND r.status = 'dialing'
    RETURNING r.id, r.campaign_id, r.priority, r.next_attempt_at
)
INSERT INTO record_queue (campaign_id, priority, record_id, next_attempt_at)
SELECT campaign_id, priority, id, next_attempt_at FROM restored
ON CONFLICT (campaign_id, priority, record_id)
DO UPDATE SET next_attempt_at = EXCLUDED.next_attempt_at
RETURNING record_id
""")


async def withdraw_attempt(
    engine: AsyncEngine, attempt_id: str, instance_id: str, now: datetime
) -> bool:
    """Undo an attempt that was never sent; True if it was withdrawn (its record queued again)."""
    async with engine.begin() as conn:
        row = (
            await conn.execute(_WITHDRAW, {"id": attempt_id, "iid": instance_id, "at": now})
        ).first()
    return row is not None


async def unsettled_attempts(
    engine: AsyncEngine, *, instance_id: str | None = None, server: str | None = None
) -> list[UnsettledAttempt]:
    """Attempts still dialing, for one instance and/or one Asterisk server (reconciliation)."""
    clauses = ["status = 'dialing'"]
    params: dict[str, object] = {}
    if instance_id is not None:
        clauses.append("instance_id = :iid")
        params["iid"] = instance_id
    if server is not None:
        clauses.append("server = :server")
        params["server"] = server
    query = text(
        "SELECT id, campaign_id, record_id, instance_id, server, originated_at FROM attempts "  # noqa: S608
        f"WHERE {' AND '.join(clauses)} ORDER BY originated_at"
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query, params)).all()
    return [UnsettledAttempt(r[0], int(r[1]), int(r[2]), r[3], r[4], r[5]) for r in rows]


# The pacer lease runs on the database's clock (``now()``, the statement's transaction start):
# every instance compares expiries against the same clock, whatever the skew between their
# hosts. ``now()`` is never later than the moment the row is written, so an expiry it sets is
# never later than ttl after the holder sent the statement (the holder's own deadline, counted
# from its clock read before sending, is therefore safe) and a contender never sees a lease
# expired before its time.
_ACQUIRE_HEAD = """
INSERT INTO campaign_pacers (campaign_id, instance_id, lease_expires_at)"""
_ACQUIRE_TAIL = """
ON CONFLICT (campaign_id) DO UPDATE
SET instance_id = EXCLUDED.instance_id, lease_expires_at = EXCLUDED.lease_expires_at
WHERE campaign_pacers.instance_id = EXCLUDED.instance_id
   OR campaign_pacers.lease_expires_at <= now()
RETURNING campaign_id
"""
_ACQUIRE = text(
    _ACQUIRE_HEAD + "\nVALUES (:cid, :iid, now() + make_interval(secs => :ttl))" + _ACQUIRE_TAIL
)
# Many campaigns in one statement (a supervision round), their rows locked in id order so that
# two instances acquiring overlapping sets cannot deadlock; a campaign deleted meanwhile is
# skipped.
_ACQUIRE_MANY = text(
    _ACQUIRE_HEAD
    + "\nSELECT c.id, :iid, now() + make_interval(secs => :ttl) FROM campaigns c"
    + "\nWHERE c.id = ANY(CAST(:cids AS bigint[])) ORDER BY c.id"
    + _ACQUIRE_TAIL
)
# In the same transaction (the same now()): the leases among them still held by others.
_OTHERS_EXPIRE = text(
    "SELECT EXTRACT(EPOCH FROM min(lease_expires_at) - now()) FROM campaign_pacers "
    "WHERE campaign_id = ANY(CAST(:cids AS bigint[])) AND instance_id <> :iid"
)
_RENEW = text(
    "UPDATE campaign_pacers SET lease_expires_at = now() + make_interval(secs => :ttl) "
    "WHERE campaign_id = :cid AND instance_id = :iid"
)


async def acquire_pacer(
    engine: AsyncEngine, campaign_id: int, instance_id: str, ttl: float
) -> bool:
    """Take (or keep) the pacing lease of a campaign for ``ttl`` seconds of the database's clock;
    True if ``instance_id`` now holds it (it held it already, or the last holder's lease expired).
    """
    async with engine.begin() as conn:
        row = (
            await conn.execute(_ACQUIRE, {"cid": campaign_id, "iid": instance_id, "ttl": ttl})
        ).first()
    return row is not None


async def acquire_pacers(
    engine: AsyncEngine, campaign_ids: Sequence[int], instance_id: str, ttl: float
) -> Acquired:
    """:func:`acquire_pacer` for many campaigns in one statement: the ones now held, and when
    the soonest of the leases other instances hold among them expires."""
    if not campaign_ids:
        return Acquired(frozenset())
    params = {"cids": sorted(set(campaign_ids)), "iid": instance_id, "ttl": ttl}
    async with engine.begin() as conn:
        held = frozenset(int(c) for c in (await conn.execute(_ACQUIRE_MANY, params)).scalars())
        soonest = (await conn.execute(_OTHERS_EXPIRE, params)).scalar_one()
    return Acquired(held, None if soonest is None else float(soonest))


async def renew_pacer(engine: AsyncEngine, campaign_id: int, instance_id: str, ttl: float) -> bool:
    """Extend a held pacing lease to ``ttl`` seconds from now (the database's clock); False if it
    was lost (expired and taken by another, or released)."""
    async with engine.begin() as conn:
        result = await conn.execute(_RENEW, {"cid": campaign_id, "iid": instance_id, "ttl": ttl})
    return bool(result.rowcount == 1)


async def release_pacer(engine: AsyncEngine, campaign_id: int, instance_id: str) -> None:
    """Give up the pacing lease (only if held by ``instance_id``)."""
    async with engine.begin() as conn:
        await conn.execute(
            text("DELETE FROM campaign_pacers WHERE campaign_id = :cid AND instance_id = :iid"),
            {"cid": campaign_id, "iid": instance_id},
        )
