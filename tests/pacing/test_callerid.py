"""Table tests for caller-ID selection, availability reasons and health."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import pytest

from pacing.callerid import (
    CallerIdNumber,
    NumberStatus,
    NumberUsage,
    Unavailable,
    choose,
    choose_many,
    health_score,
    locality,
    rest_orders,
    unavailable,
)
from pacing.errors import CallerIdError

NOW = dt.datetime(2026, 1, 6, 16, 0, tzinfo=dt.UTC)
NYC = CallerIdNumber("+12125550100", max_concurrent=2)
NYC_ALT = CallerIdNumber("+16465550100", max_concurrent=2)  # also New York, other area code
LA = CallerIdNumber("+13105550100", max_concurrent=2, region="US-CA")
LONDON = CallerIdNumber("+442071838750", max_concurrent=2)
POOL = (NYC, NYC_ALT, LA, LONDON)


@pytest.mark.parametrize(
    ("number", "usage", "reason"),
    [
        (NYC, NumberUsage(), None),
        (
            CallerIdNumber("+12125550100", status=NumberStatus.RESTING, rest_reason="low answers"),
            NumberUsage(),
            Unavailable.RESTING,
        ),
        (
            CallerIdNumber("+12125550100", status=NumberStatus.RETIRED),
            NumberUsage(),
            Unavailable.RETIRED,
        ),
        (NYC, NumberUsage(in_flight=2), Unavailable.CONCURRENT_CAP),
        (NYC, NumberUsage(today=100), Unavailable.DAILY_CAP),
        (
            CallerIdNumber("+12125550100", cooldown=dt.timedelta(seconds=30)),
            NumberUsage(last_used_at=NOW - dt.timedelta(seconds=10)),
            Unavailable.COOLDOWN,
        ),
        (
            CallerIdNumber("+12125550100", cooldown=dt.timedelta(seconds=30)),
            NumberUsage(last_used_at=NOW - dt.timedelta(seconds=30)),
            None,
        ),
    ],
)
def test_availability(
    number: CallerIdNumber, usage: NumberUsage, reason: Unavailable | None
) -> None:
    blocked = unavailable(number, usage, NOW)
    assert (blocked.reason if blocked else None) is reason


@pytest.mark.parametrize(
    ("callee", "usage", "sticky", "region", "chosen"),
    [
        ("+12125559999", {}, None, "", NYC.number),  # same area code
        ("+16465559999", {}, None, "", NYC_ALT.number),
        ("+13105559999", {}, None, "", LA.number),
        ("+442079460000", {}, None, "", LONDON.number),  # same country
        # No other 212 number: locality ties, the lowest number wins.
        ("+12125559999", {NYC.number: NumberUsage(in_flight=2)}, None, "", LA.number),
        (
            "+12125559999",
            {NYC.number: NumberUsage(in_flight=2), LA.number: NumberUsage(today=1)},
            None,
            "",
            NYC_ALT.number,
        ),
        ("+12125559999", {}, LA.number, "", LA.number),  # sticky wins over local
        ("+12125559999", {LA.number: NumberUsage(in_flight=2)}, LA.number, "", NYC.number),
        ("+12125559999", {}, None, "US-CA", LA.number),  # a region tag wins
        # A foreign callee: the least used number today.
        (
            "+33142685300",
            {
                NYC.number: NumberUsage(today=5),
                NYC_ALT.number: NumberUsage(today=5),
                LA.number: NumberUsage(today=1),
                LONDON.number: NumberUsage(today=3),
            },
            None,
            "",
            LA.number,
        ),
    ],
)
def test_choose(
    callee: str, usage: dict[str, NumberUsage], sticky: str | None, region: str, chosen: str
) -> None:
    assert choose(POOL, usage, callee, NOW, sticky=sticky, callee_region=region).number == chosen


def test_no_number_means_no_call_with_every_reason() -> None:
    usage = {NYC.number: NumberUsage(in_flight=2), NYC_ALT.number: NumberUsage(today=100)}
    pool = (NYC, NYC_ALT, CallerIdNumber("+13105550100", status=NumberStatus.RETIRED))
    choice = choose(pool, usage, "+12125559999", NOW)
    assert choice.number is None
    assert {(b.number, b.reason) for b in choice.unavailable} == {
        (NYC.number, Unavailable.CONCURRENT_CAP),
        (NYC_ALT.number, Unavailable.DAILY_CAP),
        ("+13105550100", Unavailable.RETIRED),
    }
    assert choose((), {}, "+12125559999", NOW).why == "the campaign has no numbers"


def test_locality() -> None:
    callee = (1, "2125559999")
    assert locality(NYC.number, callee) == 6  # 212555 shared
    assert locality(LA.number, callee) == 0
    assert locality(LONDON.number, callee) == -1


def test_health_and_automatic_rest() -> None:
    usage = {
        NYC.number: NumberUsage(attempts=200, answers=8),  # 4 % against the pool's 25 %
        NYC_ALT.number: NumberUsage(attempts=200, answers=50),
        LA.number: NumberUsage(attempts=200, answers=50),
        LONDON.number: NumberUsage(attempts=10, answers=0),  # too few calls to judge
    }
    score = health_score(NYC.number, POOL, usage)
    assert score is not None
    assert score == pytest.approx(0.04 / (100 / 410))
    assert health_score(LONDON.number, POOL, usage) is None
    orders = rest_orders(POOL, usage)
    assert [o.number for o in orders] == [NYC.number]
    assert "8/200" in orders[0].reason
    # The healthier New York number is preferred when locality ties.
    assert choose((NYC, NYC_ALT), usage, "+13475559999", NOW).number == NYC_ALT.number


def test_bad_numbers_are_refused() -> None:
    with pytest.raises(CallerIdError):
        CallerIdNumber("12345")


def _one_by_one(
    pool: tuple[CallerIdNumber, ...],
    usage: dict[str, NumberUsage],
    calls: list[tuple[str, str | None]],
) -> tuple[list[object], dict[str, NumberUsage]]:
    """The reference: :func:`choose` per call, each pick counted as the caller-ID book does."""
    usage = dict(usage)
    choices: list[object] = []
    for callee, sticky in calls:
        choice = choose(pool, usage, callee, NOW, sticky=sticky)
        choices.append(choice)
        if choice.number is not None:
            used = usage.get(choice.number, NumberUsage())
            usage[choice.number] = dataclasses.replace(
                used, in_flight=used.in_flight + 1, today=used.today + 1, last_used_at=NOW
            )
    return choices, usage


@pytest.mark.parametrize("seed", range(40))
def test_choose_many_answers_as_choose_one_by_one(seed: int) -> None:
    """Caps filling within the decision, cooldowns, sticky numbers, resting and duplicate
    entries, health scores past the sample: every choice (reasons included) and the usage
    after the decision are those of :func:`choose` called once per call."""
    rng = random.Random(seed)
    numbers = ["+12125550100", "+16465550100", "+13105550100", "+442071838750", "+12125550199"]
    pool = tuple(
        CallerIdNumber(
            rng.choice(numbers) if rng.random() < 0.2 else number,
            status=rng.choice([NumberStatus.ACTIVE] * 5 + [NumberStatus.RESTING]),
            max_concurrent=rng.randint(0, 4),
            max_per_day=rng.randint(1, 8),
            cooldown=dt.timedelta(seconds=rng.choice([0, 0, 30])),
        )
        for number in numbers[: rng.randint(1, len(numbers))]
    )
    usage = {
        n: NumberUsage(
            in_flight=rng.randint(0, 2),
            today=rng.randint(0, 3),
            last_used_at=rng.choice([None, NOW - dt.timedelta(seconds=rng.randint(0, 60))]),
            attempts=rng.choice([0, 60, 200]),
            answers=rng.randint(0, 50),
        )
        for n in numbers
        if rng.random() < 0.7
    }
    callees = ["+12125559999", "+13105559999", "+442079460000", "+33142685300", "+16465551234"]
    calls = [
        (rng.choice(callees), rng.choice([None, None, *numbers])) for _ in range(rng.randint(0, 30))
    ]
    expected = _one_by_one(pool, usage, calls)
    assert choose_many(pool, usage, calls, NOW) == expected
    assert choose_many((), usage, calls[:2], NOW)[0] == [
        choose((), usage, callee, NOW, sticky=sticky) for callee, sticky in calls[:2]
    ]
