"""Record eligibility: may this record be dialled now, and if not, why; may it ever be again.

The checks run in a fixed order so every record gets one reason, the first that applies: do-not-
call, completed, exhausted attempts, leased (another dialer holds it or a call is in progress),
the abandoned-call hold-off, waiting for a callback, waiting for a retry, outside the callee's
local hours. The same function drives the diagnostics counts ("no eligible records: 120 waiting
for retry, 40 outside callee hours").

Record statuses mirror the ``records.status`` column (``new``, ``retry``, ``callback``,
``dialing``, ``done``, ``dnc``). Pure: functions of a record's state, the rules and ``now``.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from pacing.outcomes import Outcome
from pacing.retry import FINAL_OUTCOMES, RetryRules
from pacing.schedule import CalleeWindow, callee_state


class DialStatus(enum.StrEnum):
    """A record's status (the ``records.status`` column)."""

    NEW = "new"
    RETRY = "retry"
    CALLBACK = "callback"
    DIALING = "dialing"
    DONE = "done"
    DNC = "dnc"


class Ineligible(enum.StrEnum):
    """Why a record cannot be dialled now."""

    DNC = "dnc"
    COMPLETED = "completed"
    EXHAUSTED = "exhausted_attempts"
    LEASED = "leased"
    ABANDON_HOLDOFF = "abandon_holdoff"
    WAITING_CALLBACK = "waiting_callback"
    WAITING_RETRY = "waiting_retry"
    OUTSIDE_CALLEE_WINDOW = "outside_callee_window"


@dataclass(frozen=True, slots=True)
class RecordState:
    """What eligibility needs to know about one record."""

    status: DialStatus
    attempts: int = 0
    last_outcome: Outcome | None = None
    last_attempt_at: dt.datetime | None = None
    next_attempt_at: dt.datetime | None = None
    callback_at: dt.datetime | None = None
    dnc: bool = False
    lease_expires_at: dt.datetime | None = None
    time_zones: tuple[str, ...] = ()  # the record's zone, else its number's zones


@dataclass(frozen=True, slots=True)
class Verdict:
    """Dialable now, or the reason not and when that reason lapses (if known)."""

    dialable: bool
    reason: Ineligible | None = None
    until: dt.datetime | None = None


def _blocked(record: RecordState, rules: RetryRules, now: dt.datetime) -> Verdict | None:
    """The first reason that holds regardless of time windows."""
    if record.dnc or record.status is DialStatus.DNC or record.last_outcome is Outcome.DNC:
        return Verdict(False, Ineligible.DNC)
    if record.status is DialStatus.DONE or record.last_outcome in FINAL_OUTCOMES:
        return Verdict(False, Ineligible.COMPLETED)
    last = record.last_outcome
    if record.attempts >= (rules.limit_for(last) if last else rules.max_attempts):
        return Verdict(False, Ineligible.EXHAUSTED)
    if record.status is DialStatus.DIALING:
        return Verdict(False, Ineligible.LEASED, record.lease_expires_at)
    if record.lease_expires_at is not None and record.lease_expires_at > now:
        return Verdict(False, Ineligible.LEASED, record.lease_expires_at)
    return None


def check(
    record: RecordState,
    rules: RetryRules,
    now: dt.datetime,
    window: CalleeWindow | None = None,
) -> Verdict:
    """Whether ``record`` may be dialled at ``now``, and if not the first reason why."""
    blocked = _blocked(record, rules, now)
    if blocked is not None:
        return blocked
    if record.last_outcome is Outcome.ABANDONED and record.last_attempt_at is not None:
        until = record.last_attempt_at + rules.abandon_holdoff
        if now < until:
            return Verdict(False, Ineligible.ABANDON_HOLDOFF, until)
    if record.status is DialStatus.CALLBACK and record.callback_at is not None:
        if now < record.callback_at:
            return Verdict(False, Ineligible.WAITING_CALLBACK, record.callback_at)
    elif record.next_attempt_at is not None and now < record.next_attempt_at:
        return Verdict(False, Ineligible.WAITING_RETRY, record.next_attempt_at)
    callee = callee_state(record.time_zones, now, window or CalleeWindow())
    if not callee.open:
        return Verdict(False, Ineligible.OUTSIDE_CALLEE_WINDOW, callee.next_open)
    return Verdict(True)


def can_ever_dial(record: RecordState, rules: RetryRules) -> bool:
    """Whether ``record`` may be dialled at some time from now on (for automatic completion).

    A record held by a call in progress counts as dialable again: its outcome is not known yet.
    """
    if record.dnc or record.status in (DialStatus.DNC, DialStatus.DONE):
        return False
    if record.status is DialStatus.DIALING:
        return True
    if record.last_outcome in FINAL_OUTCOMES:
        return False
    last = record.last_outcome
    return record.attempts < (rules.limit_for(last) if last else rules.max_attempts)


def count_reasons(
    records: Iterable[RecordState],
    rules: RetryRules,
    now: dt.datetime,
    window: CalleeWindow | None = None,
) -> Counter[str]:
    """How many records are dialable (key ``"dialable"``) and how many are not, per reason."""
    counts: Counter[str] = Counter()
    for record in records:
        verdict = check(record, rules, now, window)
        counts["dialable" if verdict.dialable else str(verdict.reason)] += 1
    return counts
