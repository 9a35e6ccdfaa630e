"""Retry rules per outcome: when a record may be dialled again, and when never.

Some outcomes end the record whatever the rules say: ``answered`` (reached), ``failed`` (the number
does not work), ``dnc`` (must never be called) and ``unknown`` (the callee may have been reached).
A ``failed`` attempt with a :class:`~pacing.outcomes.PbxFault` (Asterisk restarted or crashed
under the call) is the exception: the number was not at fault, so the record is retried under the
campaign's ``congestion`` rule, like any other failure of the network to complete the call.
Others are retried after the rule's delay while attempts remain; an ``abandoned`` call is retried
no sooner than the hold-off (72 h by default, the UK rule). ``gateway/campaigns/retry.py`` parses a
campaign's stored rules into :class:`RetryRules` and applies :func:`plan_retry` to its records.

Pure: functions of the rules, the outcome, the attempt count and the end time.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from pacing.errors import ScheduleError
from pacing.outcomes import Outcome, PbxFault

FINAL_OUTCOMES = frozenset({Outcome.ANSWERED, Outcome.FAILED, Outcome.DNC, Outcome.UNKNOWN})


@dataclass(frozen=True, slots=True)
class RetryRule:
    """Retry an outcome after ``delay``; at most ``max_attempts`` attempts (None: campaign's)."""

    delay: dt.timedelta
    max_attempts: int | None = None

    def __post_init__(self) -> None:
        if self.delay < dt.timedelta(0):
            raise ScheduleError("retry delay must not be negative")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ScheduleError("retry max_attempts must be at least 1")


def _default_rules() -> dict[Outcome, RetryRule]:
    return {
        Outcome.ABANDONED: RetryRule(dt.timedelta(0)),
        Outcome.MACHINE: RetryRule(dt.timedelta(hours=4)),
        Outcome.NO_ANSWER: RetryRule(dt.timedelta(hours=1)),
        Outcome.BUSY: RetryRule(dt.timedelta(minutes=10)),
        Outcome.CONGESTION: RetryRule(dt.timedelta(minutes=5)),
        Outcome.CANCELLED: RetryRule(dt.timedelta(minutes=1)),
    }


@dataclass(frozen=True, slots=True)
class RetryRules:
    """A campaign's retry rules."""

    max_attempts: int = 3
    abandon_holdoff: dt.timedelta = dt.timedelta(hours=72)
    rules: Mapping[Outcome, RetryRule] = field(default_factory=_default_rules)

    def limit_for(self, outcome: Outcome) -> int:
        """The attempt limit that applies after ``outcome``."""
        rule = self.rules.get(outcome)
        if rule is None or rule.max_attempts is None:
            return self.max_attempts
        return min(rule.max_attempts, self.max_attempts)


class RetryVerdict(enum.StrEnum):
    """What becomes of a record after an attempt."""

    RETRY = "retry"
    FINAL = "final"  # the outcome ends the record
    EXHAUSTED = "exhausted"  # no attempts left


@dataclass(frozen=True, slots=True)
class RetryPlan:
    """The verdict and, for a retry, the earliest time of the next attempt."""

    verdict: RetryVerdict
    at: dt.datetime | None
    reason: str


def plan_retry(
    rules: RetryRules,
    outcome: Outcome,
    attempts: int,
    ended_at: dt.datetime,
    fault: PbxFault | None = None,
) -> RetryPlan:
    """What happens after the ``attempts``-th attempt ended in ``outcome`` at ``ended_at``."""
    if outcome is Outcome.FAILED and fault is not None:
        plan = plan_retry(rules, Outcome.CONGESTION, attempts, ended_at)
        if plan.verdict is RetryVerdict.RETRY:
            return RetryPlan(plan.verdict, plan.at, f"retry after failed ({fault})")
        return RetryPlan(plan.verdict, None, f"{attempts} attempts, last failed ({fault})")
    if outcome in FINAL_OUTCOMES:
        return RetryPlan(RetryVerdict.FINAL, None, f"{outcome} ends the record")
    if attempts >= rules.limit_for(outcome):
        return RetryPlan(RetryVerdict.EXHAUSTED, None, f"{attempts} attempts, last {outcome}")
    rule = rules.rules.get(outcome, RetryRule(dt.timedelta(0)))
    delay = rule.delay
    if outcome is Outcome.ABANDONED:
        delay = max(delay, rules.abandon_holdoff)
    return RetryPlan(RetryVerdict.RETRY, ended_at + delay, f"retry after {outcome}")
