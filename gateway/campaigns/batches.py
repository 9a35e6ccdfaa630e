"""Set-based attempt writes: a whole decision, a whole batch of results, in a constant number of
statements.

The one-call-at-a-time functions of :mod:`gateway.campaigns.leasing` (``start_attempt``,
``settle_attempt``) cost a transaction and up to four round trips per call; at the rate one
Asterisk accepts (thousands of originations a second) the database, not the switch, would pace
the campaign. The functions here do the same writes for many calls at once, with the same rules:

* :func:`start_attempts` — one statement for a decision: every record still leased by the caller
  is marked ``dialing``, leaves the queue and gets its attempt (status ``dialing``); a record
  whose lease was lost gets nothing. Written before any Originate is sent (write-before-send).
* :func:`settle_attempts` — one transaction for a batch of results, three statements (one more
  per extra *wave* when the batch holds two attempts of one record): the attempts are settled
  and their records locked and read, the campaigns' retry rules are read once, the next step
  of each record is computed by :func:`gateway.campaigns.retry.next_step` (the pure
  :mod:`pacing.retry` rules), and every record is updated and queued (or dequeued) at once.
  Settling is idempotent: an attempt already settled is skipped, so a batch whose commit
  outcome was unknown can be written again. ``unknown`` is provisional: a real outcome for an
  attempt settled ``unknown`` replaces it (the attempt is not counted twice, and its record
  follows only while it is still where ``unknown`` left it); nothing replaces a real outcome.
  Locks are taken in one order: the batch's attempts by id, then their records by id. An
  attempt that reached an agent and was given a disposition while the call was still going
  (:mod:`gateway.campaigns.dispositions`) moves its record to the disposition's step instead of
  the outcome's (a ``dnc`` code also puts the number on the do-not-call list).
* :func:`withdraw_attempts` — attempts never sent (no room, the link dropped before the send, the
  service stopped with them queued) withdrawn in one statement, as ``leasing.withdraw_attempt``
  does one by one: the attempt row goes, the record is dialable again and its count untouched.
* :func:`place_attempts` — which server each attempt of a decision went to, one statement.
* :func:`save_progress` — what decides an outcome (answered, agent connected with the agent, the
  AMD result) written onto attempts still ``dialing``, one statement per batch. When a crashed
  gateway's attempt is later settled ``unknown``, the settle statement upgrades it from that
  evidence: an attempt that reached an agent is ``answered``, one that AMD called a machine is
  ``machine``.

The effective outcome is decided in SQL (it needs the stored progress) and returned, so the
record's next step is computed from what the attempt row says. Time is always passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.campaigns import dispositions
from gateway.campaigns.leasing import QUEUE_FOLLOWS, AttemptRow, AttemptStart, Settled
from gateway.campaigns.retry import next_step, parse_rules
from pacing.dispositions import DispositionSet
from pacing.errors import ScheduleError
from pacing.outcomes import Outcome, PbxFault
from pacing.retry import RetryRules


@dataclass(frozen=True, slots=True)
class Progress:
    """What is known of a live attempt so far (None: not yet)."""

    attempt_id: str
    answered_at: datetime | None = None
    agent_connected_at: datetime | None = None
    agent: str | None = None
    amd_status: str | None = None  # Asterisk AMD's AMDSTATUS: MACHINE, HUMAN, NOTSURE, HANGUP


_START = text("""
WITH u AS (
    SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:cids AS bigint[]), CAST(:rids AS bigint[]),
                         CAST(:iids AS text[]), CAST(:servers AS text[]), CAST(:clis AS text[]),
                         CAST(:ats AS timestamptz[]))
        AS u(id, cid, rid, iid, server, cli, at)
), marked AS (
    UPDATE records r SET status = 'dialing', last_attempt_at = u.at,
        caller_id = COALESCE(r.caller_id, u.cli), updated_at = u.at
    FROM u
    WHERE r.id = u.rid AND r.campaign_id = u.cid AND r.lease_owner = u.iid
      AND r.lease_expires_at > u.at AND r.status IN ('new', 'retry', 'callback')
    RETURNING r.id, r.campaign_id, r.priority, u.id AS aid, u.iid, u.server, u.cli, u.at
), dequeued AS (
    DELETE FROM record_queue q USING marked m
    WHERE q.campaign_id = m.campaign_id AND q.priority = m.priority AND q.record_id = m.id
)
INSERT INTO attempts (id, campaign_id, record_id, instance_id, server, caller_id, status,
                      originated_at)
SELECT m.aid, m.campaign_id, m.id, m.iid, m.server, m.cli, 'dialing', m.at FROM marked m
RETURNING id
""")


async def start_attempts(engine: AsyncEngine, starts: Sequence[AttemptStart]) -> set[str]:
    """Write every start whose lease is still held, in one statement; the attempt ids written."""
    if not starts:
        return set()
    params = {
        "ids": [s.attempt_id for s in starts],
        "cids": [s.campaign_id for s in starts],
        "rids": [s.record_id for s in starts],
        "iids": [s.instance_id for s in starts],
        "servers": [s.server for s in starts],
        "clis": [s.caller_id for s in starts],
        "ats": [s.originated_at for s in starts],
    }
    async with engine.begin() as conn:
        rows = (await conn.execute(_START, params)).all()
    return {str(r[0]) for r in rows}


# The outcome an attempt is settled with: the reported one, except that the progress already
# stored on the attempt decides what a gateway that lost the call cannot know: a call that
# reached an agent is ``answered`` (as the tracker decides it), an ``unknown`` one that AMD called
# a machine is ``machine``.
_SETTLE_ATTEMPTS = text("""
WITH u AS (
    SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:outcomes AS text[]),
                         CAST(:causes AS smallint[]), CAST(:rings AS timestamptz[]),
                         CAST(:answers AS timestamptz[]), CAST(:connects AS timestamptz[]),
                         CAST(:hangups AS timestamptz[]), CAST(:agents AS text[]),
                         CAST(:ats AS timestamptz[]), CAST(:servers AS text[]),
                         CAST(:faults AS text[]))
        AS u(id, outcome, cause, ring, answer, connect, hangup, agent, at, server, fault)
), s AS (
    UPDATE attempts a SET status = 'settled',
        outcome = CASE
            WHEN COALESCE(u.connect, a.agent_connected_at) IS NOT NULL THEN 'answered'
            WHEN u.outcome = 'unknown' AND upper(COALESCE(a.amd_status, '')) = 'MACHINE'
                THEN 'machine'
            ELSE u.outcome END,
        fault = CASE WHEN COALESCE(u.connect, a.agent_connected_at) IS NULL THEN u.fault END,
        q850_cause = u.cause, first_ring_at = u.ring,
        answered_at = COALESCE(u.answer, a.answered_at),
        agent_connected_at = COALESCE(u.connect, a.agent_connected_at),
        hangup_at = u.hangup, agent = COALESCE(u.agent, a.agent), settled_at = u.at,
        server = COALESCE(NULLIF(u.server, ''), a.server)
    FROM u
    WHERE a.id = u.id AND (a.status = 'dialing'
        OR (a.status = 'settled' AND a.outcome = 'unknown' AND u.outcome <> 'unknown'))
    RETURNING a.id, a.record_id, a.campaign_id, a.outcome, a.agent, u.at, a.disposition AS code,
        a.callback_at AS callback_at, a.callback_scope AS scope, a.fault
)
SELECT s.id, s.record_id, s.campaign_id, s.outcome, s.agent, s.at, r.attempts, r.status,
       r.disposition, s.code, s.callback_at, s.scope, r.phone, s.fault
FROM s JOIN records r ON r.id = s.record_id
ORDER BY r.id
FOR UPDATE OF r
""")
# Lock order, shared with every writer of attempts (the runner's server batch, the other
# instance's writer settling the same calls): the batch's attempt rows first, by id.
_LOCK_ATTEMPTS = text("SELECT id, status FROM attempts WHERE id = ANY(:ids) ORDER BY id FOR UPDATE")

_RULES = text(
    "SELECT id, max_attempts, retry_rules, abandon_holdoff_s, dispositions FROM campaigns "
    "WHERE id = ANY(:ids)"
)

# The records' next steps, and their queue rows to match (as leasing._SETTLE_RECORD, set-based).
_SETTLE_RECORDS_HEAD = """
WITH v AS (
    SELECT * FROM unnest(CAST(:rids AS bigint[]), CAST(:statuses AS text[]),
                         CAST(:reasons AS text[]), CAST(:outcomes AS text[]),
                         CAST(:nexts AS timestamptz[]), CAST(:agents AS text[]),
                         CAST(:ats AS timestamptz[]), CAST(:counted AS integer[]),
                         CAST(:callbacks AS boolean[]), CAST(:keepers AS text[]))
        AS v(rid, status, reason, outcome, next, agent, at, counted, callback, keeper)
), settled AS (
    UPDATE records r SET status = v.status, reason = v.reason, disposition = v.outcome,
        attempts = r.attempts + v.counted, next_attempt_at = v.next, lease_owner = NULL,
        lease_expires_at = NULL, agent = COALESCE(v.agent, r.agent), updated_at = v.at,
        callback_at = CASE WHEN v.callback THEN v.next ELSE r.callback_at END,
        callback_agent = v.keeper
    FROM v WHERE r.id = v.rid
    RETURNING r.id, r.campaign_id, r.priority, r.status, r.next_attempt_at"""
_SETTLE_RECORDS = text(_SETTLE_RECORDS_HEAD + QUEUE_FOLLOWS)


def _unique(results: Sequence[AttemptRow]) -> list[AttemptRow]:
    """The batch without repeated attempt ids (the first report wins, as settling one by one)."""
    seen: set[str] = set()
    unique = []
    for result in results:
        if result.attempt_id not in seen:
            seen.add(result.attempt_id)
            unique.append(result)
    return unique


async def settle_attempts(
    engine: AsyncEngine,
    results: Sequence[AttemptRow],
    servers: Sequence[str] | None = None,
) -> list[Settled]:
    """Settle a batch in one transaction; the records' next steps (already settled: skipped).

    ``servers`` (parallel to ``results``, "" for none) records which server each attempt went
    to, in the same statement. Returned in the order of ``results``.
    """
    batch = _unique(results)
    if not batch:
        return []
    where = dict(zip((r.attempt_id for r in results), servers or (), strict=False))
    order = {r.attempt_id: i for i, r in enumerate(batch)}
    async with engine.begin() as conn:
        locked = (await conn.execute(_LOCK_ATTEMPTS, {"ids": sorted(order)})).all()
        replacing = {str(r[0]) for r in locked if r[1] == "settled"}  # unknown, until now
        rows = (await conn.execute(_SETTLE_ATTEMPTS, _attempt_params(batch, where))).all()
        if not rows:
            return []
        rules = await _rules(conn, {int(r[2]) for r in rows})
        rows = sorted(rows, key=lambda r: order[str(r[0])])
        settled: dict[str, Settled] = {}
        for wave in _waves(rows):
            settled.update(await _settle_records(conn, wave, rules, replacing))
    return [settled[r.attempt_id] for r in batch if r.attempt_id in settled]


@dataclass(frozen=True, slots=True)
class _Rules:
    retry: RetryRules
    codes: DispositionSet | None  # None: the stored codes do not parse (only old data could)


def _codes(document: Any) -> DispositionSet | None:
    try:
        return dispositions.parse(document or {})
    except (ScheduleError, KeyError, ValueError, TypeError):
        return None


async def _rules(conn: AsyncConnection, campaign_ids: set[int]) -> dict[int, _Rules]:
    """Each campaign's retry rules and disposition codes, read once for the batch."""
    rows = (await conn.execute(_RULES, {"ids": sorted(campaign_ids)})).mappings()
    return {
        int(c["id"]): _Rules(
            parse_rules(c["retry_rules"], c["max_attempts"], c["abandon_holdoff_s"]),
            _codes(c["dispositions"]),
        )
        for c in rows
    }


def _waves(rows: Sequence[Any]) -> list[list[tuple[Any, int]]]:
    """Rows (with the record's attempt count so far) in waves of distinct records.

    A batch rarely holds two attempts of one record (a call refused before dialling and its
    record dialled again); the second one is settled in a later wave, after the first, as one
    by one settling would.
    """
    waves: list[list[tuple[Any, int]]] = []
    seen: dict[int, int] = {}
    for row in rows:
        rid = int(row[1])
        n = seen.get(rid, 0)
        seen[rid] = n + 1
        if n == len(waves):
            waves.append([])
        waves[n].append((row, int(row[6]) + n))
    return waves


def _step(row: Any, rules: _Rules, attempts: int) -> tuple[Any, ...]:
    """One record's update: the disposition's step when one was set during the call (on a call
    that reached an agent), else the outcome's; columns as :data:`_COLUMNS`."""
    rid, outcome, agent, at = int(row[1]), row[3], row[4], row[5]
    code = row[9]
    if code is not None and outcome == str(Outcome.ANSWERED) and rules.codes is not None:
        asked = (str(code), row[10], row[11], agent)
        step = dispositions.settled_step(rules.codes, rules.retry, attempts, at, asked)
        return (rid, step.status, step.reason, code, step.at, agent, at,
                step.status == "callback", step.callback_agent, step.add_dnc)  # fmt: skip
    fault = None if row[13] is None else PbxFault(row[13])
    nxt = next_step(rules.retry, Outcome(outcome), attempts, at, fault)
    return (rid, str(nxt.status), nxt.reason, outcome, nxt.next_attempt_at, agent, at,
            False, None, False)  # fmt: skip


_COLUMNS = ("rids", "statuses", "reasons", "outcomes", "nexts", "agents", "ats", "callbacks",
            "keepers")  # fmt: skip
_DNC = text(
    "INSERT INTO dnc_numbers (phone, reason, added_by) "
    "SELECT p, 'disposition dnc', 'system' FROM unnest(CAST(:phones AS text[])) AS p "
    "ON CONFLICT (phone) DO NOTHING"
)


async def _settle_records(
    conn: AsyncConnection,
    wave: Sequence[tuple[Any, int]],
    rules: dict[int, _Rules],
    replacing: set[str],
) -> dict[str, Settled]:
    """The records' next steps. A real outcome that replaces ``unknown`` counts no new attempt,
    and moves its record only while the record is still where ``unknown`` left it."""
    updates, counts, phones, settled = [], [], [], {}
    for row, attempts in wave:
        aid, rid, status, disposition = str(row[0]), int(row[1]), row[7], row[8]
        counted = 0 if aid in replacing else 1
        if not counted and (status != "done" or disposition != str(Outcome.UNKNOWN)):
            settled[aid] = Settled(rid, str(status), None, attempts)
            continue
        update = _step(row, rules[int(row[2])], attempts + counted)
        updates.append(update[:9])
        counts.append(counted)
        if update[9]:
            phones.append(str(row[12]))
        settled[aid] = Settled(rid, str(update[1]), update[4], attempts + counted)
    if not updates:
        return settled
    params: dict[str, Any] = {k: [u[i] for u in updates] for i, k in enumerate(_COLUMNS)}
    await conn.execute(_SETTLE_RECORDS, {**params, "counted": counts})
    if phones:
        await conn.execute(_DNC, {"phones": phones})
    return settled


def _attempt_params(batch: Sequence[AttemptRow], servers: dict[str, str]) -> dict[str, Any]:
    return {
        "ids": [r.attempt_id for r in batch],
        "outcomes": [str(r.outcome) for r in batch],
        "causes": [r.q850_cause for r in batch],
        "rings": [r.first_ring_at for r in batch],
        "answers": [r.answered_at for r in batch],
        "connects": [r.agent_connected_at for r in batch],
        "hangups": [r.hangup_at for r in batch],
        "agents": [r.agent for r in batch],
        "ats": [r.settled_at for r in batch],
        "servers": [servers.get(r.attempt_id, "") for r in batch],
        "faults": [None if r.fault is None else str(r.fault) for r in batch],
    }


_PROGRESS = text("""
WITH u AS (
    SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:answers AS timestamptz[]),
                         CAST(:connects AS timestamptz[]), CAST(:agents AS text[]),
                         CAST(:amds AS text[]))
        AS u(id, answer, connect, agent, amd)
)
UPDATE attempts a SET answered_at = COALESCE(u.answer, a.answered_at),
    agent_connected_at = COALESCE(u.connect, a.agent_connected_at),
    agent = COALESCE(u.agent, a.agent), amd_status = COALESCE(u.amd, a.amd_status)
FROM u WHERE a.id = u.id AND a.status = 'dialing'
""")


async def save_progress(engine: AsyncEngine, progress: Sequence[Progress]) -> int:
    """Store what is known of live attempts (settled ones are left alone); how many rows."""
    if not progress:
        return 0
    latest = {p.attempt_id: p for p in progress}  # each report carries everything known so far
    items = list(latest.values())
    params = {
        "ids": [p.attempt_id for p in items],
        "answers": [p.answered_at for p in items],
        "connects": [p.agent_connected_at for p in items],
        "agents": [p.agent for p in items],
        "amds": [p.amd_status for p in items],
    }
    async with engine.begin() as conn:
        result = await conn.execute(_PROGRESS, params)
    return int(result.rowcount)


# As leasing._WITHDRAW, for many attempts: only the owning instance withdraws, only attempts
# still ``dialing``; the attempts are locked first, by id (the lock order of every writer).
_WITHDRAW = text("""
WITH locked AS (
    SELECT id FROM attempts
    WHERE id = ANY(:ids) AND status = 'dialing' AND instance_id = :iid
    ORDER BY id FOR UPDATE
), gone AS (
    DELETE FROM attempts a USING locked WHERE a.id = locked.id RETURNING a.id, a.record_id
), restored AS (
    UPDATE records r SET status = CASE WHEN r.attempts > 0 THEN 'retry'
            WHEN r.callback_at IS NOT NULL THEN 'callback' ELSE 'new' END,
        lease_owner = NULL, lease_expires_at = NULL, updated_at = :at
    FROM gone WHERE r.id = gone.record_id AND r.status = 'dialing'
    RETURNING r.id, r.campaign_id, r.priority, r.next_attempt_at
), queued AS (
    INSERT INTO record_queue (campaign_id, priority, record_id, next_attempt_at)
    SELECT campaign_id, priority, id, next_attempt_at FROM restored
    ON CONFLICT (campaign_id, priority, record_id)
    DO UPDATE SET next_attempt_at = EXCLUDED.next_attempt_at
)
SELECT id FROM gone
""")


async def withdraw_attempts(
    engine: AsyncEngine, attempt_ids: Sequence[str], instance_id: str, now: datetime
) -> set[str]:
    """Undo attempts that were never sent, in one statement; the ids withdrawn (others: kept).

    Safe to repeat: an attempt withdrawn already is gone, one settled meanwhile is left alone.
    """
    if not attempt_ids:
        return set()
    params = {"ids": sorted(set(attempt_ids)), "iid": instance_id, "at": now}
    async with engine.begin() as conn:
        rows = (await conn.execute(_WITHDRAW, params)).all()
    return {str(r[0]) for r in rows}


# Every row this statement changes is locked first by the ordered CTE (the lock order of every
# writer of attempts: by id), as the one-by-one updates in id order did.
_PLACE = text("""
WITH u AS (
    SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:servers AS text[])) AS u(id, server)
), locked AS (
    SELECT a.id, u.server FROM attempts a JOIN u ON u.id = a.id ORDER BY a.id FOR UPDATE OF a
)
UPDATE attempts a SET server = locked.server FROM locked WHERE a.id = locked.id
""")


async def place_attempts(engine: AsyncEngine, servers: Sequence[tuple[str, str]]) -> None:
    """Record which server each attempt went to (``(attempt_id, server)``), one statement."""
    if not servers:
        return
    pairs = sorted(servers)  # one lock order: by attempt id
    params = {"ids": [a for a, _ in pairs], "servers": [s for _, s in pairs]}
    async with engine.begin() as conn:
        await conn.execute(_PLACE, params)
