"""Table tests for retry rules, eligibility reasons and "can it ever be dialled again"."""

from __future__ import annotations

import datetime as dt

import pytest

from pacing.eligibility import (
    DialStatus,
    Ineligible,
    RecordState,
    can_ever_dial,
    check,
    count_reasons,
)
from pacing.errors import ScheduleError
from pacing.outcomes import Outcome, PbxFault
from pacing.retry import RetryPlan, RetryRule, RetryRules, RetryVerdict, plan_retry

NOW = dt.datetime(2026, 1, 6, 16, 0, tzinfo=dt.UTC)  # 11:00 in New York
NY = ("America/New_York",)
RULES = RetryRules(max_attempts=3)
HOUR = dt.timedelta(hours=1)


@pytest.mark.parametrize(
    ("outcome", "attempts", "plan"),
    [
        (Outcome.NO_ANSWER, 1, RetryPlan(RetryVerdict.RETRY, NOW + HOUR, "retry after no_answer")),
        (Outcome.BUSY, 1, RetryPlan(RetryVerdict.RETRY, NOW + 10 * HOUR / 60, "retry after busy")),
        (
            Outcome.ABANDONED,
            1,
            RetryPlan(RetryVerdict.RETRY, NOW + 72 * HOUR, "retry after abandoned"),
        ),
        (
            Outcome.NO_ANSWER,
            3,
            RetryPlan(RetryVerdict.EXHAUSTED, None, "3 attempts, last no_answer"),
        ),
        (Outcome.ANSWERED, 1, RetryPlan(RetryVerdict.FINAL, None, "answered ends the record")),
        (Outcome.UNKNOWN, 1, RetryPlan(RetryVerdict.FINAL, None, "unknown ends the record")),
        (Outcome.FAILED, 1, RetryPlan(RetryVerdict.FINAL, None, "failed ends the record")),
    ],
)
def test_plan_retry(outcome: Outcome, attempts: int, plan: RetryPlan) -> None:
    assert plan_retry(RULES, outcome, attempts, NOW) == plan


@pytest.mark.parametrize(
    ("fault", "attempts", "plan"),
    [
        (None, 1, RetryPlan(RetryVerdict.FINAL, None, "failed ends the record")),
        (
            PbxFault.PBX_RESTART,
            1,
            RetryPlan(RetryVerdict.RETRY, NOW + 5 * HOUR / 60, "retry after failed (pbx_restart)"),
        ),
        (
            PbxFault.PBX_LOST,
            2,
            RetryPlan(RetryVerdict.RETRY, NOW + 5 * HOUR / 60, "retry after failed (pbx_lost)"),
        ),
        (
            PbxFault.PBX_LOST,
            3,
            RetryPlan(RetryVerdict.EXHAUSTED, None, "3 attempts, last failed (pbx_lost)"),
        ),
    ],
)
def test_a_call_the_pbx_ended_is_retried_as_congestion(
    fault: PbxFault | None, attempts: int, plan: RetryPlan
) -> None:
    assert plan_retry(RULES, Outcome.FAILED, attempts, NOW, fault) == plan


def test_per_outcome_limit_and_configurable_holdoff() -> None:
    rules = RetryRules(
        max_attempts=5,
        abandon_holdoff=dt.timedelta(hours=24),
        rules={Outcome.MACHINE: RetryRule(2 * HOUR, max_attempts=2)},
    )
    assert plan_retry(rules, Outcome.MACHINE, 2, NOW).verdict is RetryVerdict.EXHAUSTED
    assert plan_retry(rules, Outcome.MACHINE, 1, NOW).at == NOW + 2 * HOUR
    assert plan_retry(rules, Outcome.ABANDONED, 1, NOW).at == NOW + 24 * HOUR
    with pytest.raises(ScheduleError):
        RetryRule(-HOUR)


def rec(**kwargs: object) -> RecordState:
    base: dict[str, object] = {"status": DialStatus.RETRY, "attempts": 1, "time_zones": NY}
    base.update(kwargs)
    return RecordState(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("record", "reason", "until"),
    [
        (rec(status=DialStatus.NEW, attempts=0), None, None),
        (rec(dnc=True), Ineligible.DNC, None),
        (rec(status=DialStatus.DNC), Ineligible.DNC, None),
        (rec(status=DialStatus.DONE), Ineligible.COMPLETED, None),
        (rec(last_outcome=Outcome.ANSWERED), Ineligible.COMPLETED, None),
        (rec(attempts=3, last_outcome=Outcome.NO_ANSWER), Ineligible.EXHAUSTED, None),
        (
            rec(status=DialStatus.DIALING, lease_expires_at=NOW + HOUR),
            Ineligible.LEASED,
            NOW + HOUR,
        ),
        (rec(lease_expires_at=NOW + HOUR), Ineligible.LEASED, NOW + HOUR),
        (rec(lease_expires_at=NOW - HOUR), None, None),  # an expired lease does not hold
        (
            rec(
                last_outcome=Outcome.ABANDONED,
                last_attempt_at=NOW - HOUR,
                next_attempt_at=NOW - HOUR,
            ),
            Ineligible.ABANDON_HOLDOFF,
            NOW + 71 * HOUR,
        ),
        (rec(last_outcome=Outcome.ABANDONED, last_attempt_at=NOW - 73 * HOUR), None, None),
        (
            rec(status=DialStatus.CALLBACK, callback_at=NOW + HOUR, next_attempt_at=NOW - HOUR),
            Ineligible.WAITING_CALLBACK,
            NOW + HOUR,
        ),
        (
            rec(status=DialStatus.CALLBACK, callback_at=NOW - HOUR, next_attempt_at=NOW + HOUR),
            None,
            None,
        ),  # a due callback wins over the retry delay
        (rec(next_attempt_at=NOW + HOUR), Ineligible.WAITING_RETRY, NOW + HOUR),
        (
            rec(time_zones=("Asia/Tokyo",)),
            Ineligible.OUTSIDE_CALLEE_WINDOW,
            dt.datetime(2026, 1, 6, 23, 0, tzinfo=dt.UTC),
        ),
        (rec(time_zones=()), Ineligible.OUTSIDE_CALLEE_WINDOW, None),
    ],
)
def test_check_reasons(
    record: RecordState, reason: Ineligible | None, until: dt.datetime | None
) -> None:
    verdict = check(record, RULES, NOW)
    assert verdict.dialable is (reason is None)
    assert verdict.reason is reason
    assert verdict.until == until


@pytest.mark.parametrize(
    ("record", "ever"),
    [
        (rec(status=DialStatus.NEW, attempts=0), True),
        (rec(next_attempt_at=NOW + 100 * HOUR), True),
        (rec(last_outcome=Outcome.ABANDONED, last_attempt_at=NOW), True),
        (rec(attempts=3, last_outcome=Outcome.BUSY), False),
        (rec(status=DialStatus.DONE), False),
        (rec(dnc=True), False),
        (rec(last_outcome=Outcome.UNKNOWN), False),
        (rec(status=DialStatus.DIALING, attempts=3), True),  # outcome still to come
    ],
)
def test_can_ever_dial(record: RecordState, ever: bool) -> None:
    assert can_ever_dial(record, RULES) is ever


def test_count_reasons_for_diagnostics() -> None:
    records = [
        rec(status=DialStatus.NEW, attempts=0),
        rec(next_attempt_at=NOW + HOUR),
        rec(next_attempt_at=NOW + 2 * HOUR),
        rec(dnc=True),
    ]
    counts = count_reasons(records, RULES, NOW)
    assert counts == {"dialable": 1, "waiting_retry": 2, "dnc": 1}
