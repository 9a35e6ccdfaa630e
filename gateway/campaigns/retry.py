"""Retry rules for stored records: the campaign's ``retry_rules`` JSON → :mod:`pacing.retry`.

A campaign's ``retry_rules`` JSON maps an outcome to ``{"delay_s": int, "max_attempts": int}``;
missing outcomes use the pacing defaults and the campaign-wide ``max_attempts``. The decision
itself (final outcomes, attempt limits, the abandoned-call hold-off) is
:func:`pacing.retry.plan_retry`; this module only parses the stored document and turns the
verdict into the record's status and reason. Malformed rules raise
:class:`pacing.errors.ScheduleError`, naming the outcome and key. Pure: no I/O, no clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.db.models import RecordStatus
from pacing.errors import ScheduleError
from pacing.outcomes import Outcome, PbxFault
from pacing.retry import RetryRule, RetryRules, RetryVerdict, plan_retry

# Status and reason of a record whose attempt ended in a final outcome.
FINAL = {
    Outcome.ANSWERED: (RecordStatus.DONE, "answered"),
    Outcome.FAILED: (RecordStatus.DONE, "failed"),
    Outcome.DNC: (RecordStatus.DNC, "do not call"),
    Outcome.UNKNOWN: (RecordStatus.DONE, "outcome unknown"),
}


def parse_rules(
    document: Mapping[str, object], max_attempts: int, abandon_holdoff_s: int
) -> RetryRules:
    """The campaign's rules from its stored JSON (defaults for the outcomes it leaves out)."""
    parsed = dict(RetryRules().rules)
    for key, value in document.items():
        try:
            outcome = Outcome(key)
        except ValueError:
            raise ScheduleError(f"retry_rules: unknown outcome {key!r}") from None
        parsed[outcome] = _rule(key, value)
    return RetryRules(max_attempts, dt.timedelta(seconds=abandon_holdoff_s), parsed)


def _rule(key: str, value: object) -> RetryRule:
    if not isinstance(value, Mapping):
        raise ScheduleError(f"retry_rules.{key}: must be an object")
    delay = value.get("delay_s", 0)
    limit = value.get("max_attempts")
    if not isinstance(delay, int) or isinstance(delay, bool) or delay < 0:
        raise ScheduleError(f"retry_rules.{key}.delay_s: must be a non-negative integer")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise ScheduleError(f"retry_rules.{key}.max_attempts: must be a positive integer")
    return RetryRule(dt.timedelta(seconds=delay), limit)


def validate_rules(rules: Mapping[str, object]) -> None:
    """Raise :class:`ScheduleError` if ``rules`` would not parse."""
    parse_rules(rules, 1, 0)


@dataclass(frozen=True, slots=True)
class NextStep:
    status: RecordStatus
    next_attempt_at: dt.datetime | None
    reason: str


def next_step(
    rules: RetryRules,
    outcome: Outcome,
    attempts: int,
    now: dt.datetime,
    fault: PbxFault | None = None,
) -> NextStep:
    """The record's status after its ``attempts``-th attempt ended in ``outcome`` at ``now``
    (``fault``: the PBX ended a ``failed`` call, which is then retried, not final)."""
    plan = plan_retry(rules, outcome, attempts, now, fault)
    what = str(outcome) if fault is None else f"{outcome} ({fault})"
    if plan.verdict is RetryVerdict.FINAL:
        status, reason = FINAL.get(outcome, (RecordStatus.DONE, str(outcome)))
        return NextStep(status, None, reason)
    if plan.verdict is RetryVerdict.EXHAUSTED:
        return NextStep(RecordStatus.DONE, None, f"max attempts ({what})")
    return NextStep(RecordStatus.RETRY, plan.at, what)
