"""Retry rules: what happens to a record after an attempt settles. Pure: no I/O, no clock.

A campaign's ``retry_rules`` JSON maps an outcome to ``{"delay_s": int, "max_attempts": int}``;
missing outcomes use :data:`DEFAULT_RULES` and the campaign-wide ``max_attempts``. Some outcomes
end the record whatever the rules say: ``answered`` (reached), ``failed`` (the number does not
work), ``dnc`` (must never be called) and ``unknown`` (the callee may have been reached, so it is
never redialled automatically). An ``abandoned`` call is retried no sooner than the campaign's
hold-off (72 h by default, the UK rule). Malformed rules raise
:class:`pacing.errors.ScheduleError`, naming the outcome and key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.db.models import RecordStatus
from pacing.errors import ScheduleError
from pacing.outcomes import Outcome


@dataclass(frozen=True, slots=True)
class RetryRule:
    delay_s: int
    max_attempts: int | None = None  # None: the campaign's max_attempts


FINAL = {
    Outcome.ANSWERED: (RecordStatus.DONE, "answered"),
    Outcome.FAILED: (RecordStatus.DONE, "failed"),
    Outcome.DNC: (RecordStatus.DNC, "do not call"),
    Outcome.UNKNOWN: (RecordStatus.DONE, "outcome unknown"),
}

DEFAULT_RULES: Mapping[Outcome, RetryRule] = {
    Outcome.ABANDONED: RetryRule(0),
    Outcome.MACHINE: RetryRule(4 * 3600),
    Outcome.NO_ANSWER: RetryRule(3600),
    Outcome.BUSY: RetryRule(600),
    Outcome.CONGESTION: RetryRule(300),
    Outcome.CANCELLED: RetryRule(60),
}


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int
    abandon_holdoff_s: int
    rules: Mapping[Outcome, RetryRule]

    @classmethod
    def from_json(
        cls, rules: Mapping[str, object], max_attempts: int, abandon_holdoff_s: int
    ) -> RetryPolicy:
        parsed = dict(DEFAULT_RULES)
        for key, value in rules.items():
            try:
                outcome = Outcome(key)
            except ValueError:
                raise ScheduleError(f"retry_rules: unknown outcome {key!r}") from None
            parsed[outcome] = _rule(key, value)
        return cls(max_attempts, abandon_holdoff_s, parsed)


def _rule(key: str, value: object) -> RetryRule:
    if not isinstance(value, Mapping):
        raise ScheduleError(f"retry_rules.{key}: must be an object")
    delay = value.get("delay_s", 0)
    limit = value.get("max_attempts")
    if not isinstance(delay, int) or isinstance(delay, bool) or delay < 0:
        raise ScheduleError(f"retry_rules.{key}.delay_s: must be a non-negative integer")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise ScheduleError(f"retry_rules.{key}.max_attempts: must be a positive integer")
    return RetryRule(delay, limit)


def validate_rules(rules: Mapping[str, object]) -> None:
    """Raise :class:`ScheduleError` if ``rules`` would not parse."""
    RetryPolicy.from_json(rules, 1, 0)


@dataclass(frozen=True, slots=True)
class NextStep:
    status: RecordStatus
    next_attempt_at: datetime | None
    reason: str


def next_step(policy: RetryPolicy, outcome: Outcome, attempts: int, now: datetime) -> NextStep:
    """The record's status after its ``attempts``-th attempt ended in ``outcome`` at ``now``."""
    if outcome in FINAL:
        status, reason = FINAL[outcome]
        return NextStep(status, None, reason)
    rule = policy.rules.get(outcome, RetryRule(0))
    limit = rule.max_attempts if rule.max_attempts is not None else policy.max_attempts
    if attempts >= min(limit, policy.max_attempts):
        return NextStep(RecordStatus.DONE, None, f"max attempts ({outcome})")
    delay = rule.delay_s
    if outcome is Outcome.ABANDONED:
        delay = max(delay, policy.abandon_holdoff_s)
    return NextStep(RecordStatus.RETRY, now + timedelta(seconds=delay), str(outcome))
