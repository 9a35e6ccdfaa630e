"""Table tests for a disposition's record step (:func:`pacing.dispositions.plan`) and the code
set's own rules."""

from __future__ import annotations

import datetime as dt

import pytest

from pacing.dispositions import (
    Code,
    DispositionSet,
    Plan,
    Refused,
    Scope,
    Step,
    default_codes,
    plan,
)
from pacing.errors import ScheduleError
from pacing.retry import RetryRules

NOW = dt.datetime(2026, 1, 6, 16, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
RULES = RetryRules(max_attempts=3)
SALE = Code("sale", Step.DONE)
LATER = Code("later", Step.RETRY, 2 * HOUR)
CALLBACK = Code("callback", Step.CALLBACK)
DNC = Code("dnc", Step.DNC)


@pytest.mark.parametrize(
    ("code", "attempts", "kwargs", "expected"),
    [
        (SALE, 1, {}, Plan("done", None, "disposition sale")),
        (SALE, 3, {}, Plan("done", None, "disposition sale")),
        (DNC, 1, {}, Plan("dnc", None, "disposition dnc", add_dnc=True)),
        (LATER, 1, {}, Plan("retry", NOW + 2 * HOUR, "disposition later")),
        (LATER, 2, {}, Plan("retry", NOW + 2 * HOUR, "disposition later")),
        (LATER, 3, {}, Plan("done", None, "max attempts (later)")),  # the retry rules' limit
        (
            CALLBACK,
            1,
            {"callback_at": NOW + HOUR},
            Plan("callback", NOW + HOUR, "disposition callback"),
        ),
        (  # a callback is a promise: kept past max_attempts
            CALLBACK,
            5,
            {"callback_at": NOW + HOUR},
            Plan("callback", NOW + HOUR, "disposition callback"),
        ),
        (
            CALLBACK,
            1,
            {"callback_at": NOW + HOUR, "scope": Scope.AGENT, "agent": "ann"},
            Plan("callback", NOW + HOUR, "disposition callback", callback_agent="ann"),
        ),
        (
            CALLBACK,
            1,
            {"callback_at": NOW + HOUR, "scope": Scope.ANYONE, "agent": "ann"},
            Plan("callback", NOW + HOUR, "disposition callback"),
        ),
    ],
)
def test_plan(code: Code, attempts: int, kwargs: dict[str, object], expected: Plan) -> None:
    assert plan(code, RULES, attempts, NOW, **kwargs) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "kwargs", "field"),
    [
        (CALLBACK, {}, "callback_at"),
        (CALLBACK, {"callback_at": NOW}, "callback_at"),  # not in the future
        (CALLBACK, {"callback_at": NOW - HOUR}, "callback_at"),
        (SALE, {"callback_at": NOW + HOUR}, "callback_at"),  # not a callback code
        (CALLBACK, {"callback_at": NOW + HOUR, "scope": Scope.AGENT}, "callback_scope"),
    ],
)
def test_refused(code: Code, kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(Refused) as refused:
        plan(code, RULES, 1, NOW, **kwargs)  # type: ignore[arg-type]
    assert refused.value.field == field


def test_default_codes() -> None:
    steps = {name: code.step for name, code in default_codes().items()}
    assert steps == {
        "sale": Step.DONE,
        "not_interested": Step.DONE,
        "callback": Step.CALLBACK,
        "dnc": Step.DNC,
        "wrong_number": Step.DONE,
    }


@pytest.mark.parametrize("name", ["Sale", "1sale", "sale-x", "a" * 17, "", "sale x"])
def test_code_names_are_short_slugs(name: str) -> None:
    with pytest.raises(ScheduleError):
        Code(name, Step.DONE)


def test_a_set_needs_codes_and_a_known_default() -> None:
    with pytest.raises(ScheduleError):
        DispositionSet({})
    with pytest.raises(ScheduleError):
        DispositionSet({"sale": SALE}, default_code="dnc")
    with pytest.raises(ScheduleError):
        DispositionSet(wrapup_limit=-HOUR)
    assert DispositionSet({"sale": SALE}, "sale").code("sale") is SALE
    with pytest.raises(ScheduleError, match="not a disposition code"):
        DispositionSet().code("refund")
