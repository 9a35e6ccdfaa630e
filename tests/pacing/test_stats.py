"""Tests for the rolling windows and the call estimators."""

from __future__ import annotations

import math
import random

import pytest

from pacing.outcomes import Outcome
from pacing.stats import (
    DAY,
    HOUR,
    AbandonWindows,
    CallEstimator,
    DayCounter,
    EstimatorPriors,
    WindowCounter,
    wholly_after,
)


def test_window_counts_and_expiry() -> None:
    window = WindowCounter(HOUR, 60.0)
    window.add(0.0, Outcome.ANSWERED)
    window.add(10.0, Outcome.ABANDONED)
    window.add(20.0, Outcome.MACHINE)
    window.add(30.0, Outcome.NO_ANSWER)
    window.add(40.0, Outcome.DNC)  # never dialled: not counted
    counts = window.read(100.0)
    assert (counts.attempts, counts.answers, counts.live_answers, counts.abandons) == (4, 3, 2, 1)
    assert counts.abandon_rate == 0.5
    window.add(1800.0, Outcome.ABANDONED)
    assert window.read(HOUR + 59.0).attempts == 5  # the first minute's bucket is still inside
    later = window.read(HOUR + 61.0)
    assert (later.attempts, later.abandons) == (1, 1)
    assert window.read(3 * HOUR).attempts == 0


def test_abandon_windows_keep_day_and_month() -> None:
    windows = AbandonWindows()
    windows.add(0.0, Outcome.ABANDONED)
    windows.add(2 * DAY, Outcome.ANSWERED)
    stats = windows.read(2 * DAY + 1)
    assert (stats.hour.live_answers, stats.day.live_answers, stats.month.live_answers) == (1, 1, 2)
    assert stats.month.abandons == 1
    assert stats.day.abandons == 0


def test_the_hour_window_says_how_much_of_the_hour_it_covers() -> None:
    windows = AbandonWindows()
    assert windows.read(0.0).hour_span_s == 0.0  # nothing counted yet
    windows.add(130.0, Outcome.ANSWERED)
    assert windows.read(400.0).hour_span_s == pytest.approx(270.0)  # since the first attempt
    assert windows.read(3000.0).hour_span_s == pytest.approx(2870.0)
    windows.add(5000.0, Outcome.ANSWERED)
    # A whole hour, though the window holds one attempt: the quiet stretch was counted too.
    assert windows.read(5000.0).hour_span_s == HOUR
    assert windows.read(9 * HOUR).hour_span_s == HOUR


def test_estimator_starts_cautious_and_converges() -> None:
    estimator = CallEstimator(EstimatorPriors(live_answer_probability=0.5))
    assert estimator.estimates().live_answer_probability == 0.5
    rng = random.Random(7)
    for _ in range(3000):
        u = rng.random()
        ring = 3.0 + 17.0 * rng.random()
        if u < 0.2:
            estimator.record_attempt(Outcome.ANSWERED, ring)
            estimator.record_talk(math.exp(rng.gauss(math.log(60.0), 0.5)))
        elif u < 0.3:
            estimator.record_attempt(Outcome.MACHINE, ring)
        else:
            estimator.record_attempt(Outcome.NO_ANSWER)
    for _ in range(60):
        estimator.record_wrap(12.0)
    est = estimator.estimates()
    assert est.live_answer_probability == pytest.approx(0.2, abs=0.05)
    assert est.machine_probability == pytest.approx(0.1, abs=0.04)
    assert est.ring_quantiles[0] >= 3.0
    assert est.ring_quantiles[-1] <= 20.0
    assert est.ring_quantiles[5] == pytest.approx(11.5, abs=1.5)
    assert est.talk_log_mean == pytest.approx(math.log(60.0), abs=0.1)
    assert est.talk_log_sd == pytest.approx(0.5, abs=0.1)
    assert est.wrap_mean == pytest.approx(12.0, abs=0.1)
    assert est.sample_size == 3000


def test_attempts_are_counted_in_dial_order() -> None:
    # Quick answers finish first; held back until the calls dialled before them have finished,
    # they cannot make answers look likelier than they are.
    estimator = CallEstimator(EstimatorPriors(live_answer_probability=0.3, prior_weight=1.0))
    for k in range(40):
        estimator.record_attempt(Outcome.ANSWERED, 4.0, dialled_at=float(k))
    estimator.release(oldest_unfinished=0.0)  # call 0 still ringing: nothing counted yet
    assert estimator.estimates().live_answer_probability == pytest.approx(0.3)
    assert estimator.estimates().sample_size == 0
    for k in range(40, 200):
        estimator.record_attempt(Outcome.NO_ANSWER, None, dialled_at=float(k - 40) + 0.5)
    estimator.release(None)
    est = estimator.estimates()
    assert est.sample_size == 200
    assert est.live_answer_probability == pytest.approx(0.2, abs=0.05)


def test_talk_fit_counts_calls_in_progress() -> None:
    rng = random.Random(3)
    estimator = CallEstimator()
    talks = [math.exp(rng.gauss(math.log(300.0), 0.8)) for _ in range(200)]
    # Two minutes in, only the calls shorter than 120 s have finished.
    for talk in talks:
        if talk < 120.0:
            estimator.record_talk(talk)
    naive_median = math.exp(estimator.talk_fit()[0])
    ongoing = [120.0 for talk in talks if talk >= 120.0]
    median = math.exp(estimator.talk_fit(ongoing)[0])
    assert naive_median < 100.0
    assert median == pytest.approx(120.0)  # not reached yet: the longest time seen
    assert estimator.estimates(ongoing).talk_log_mean == pytest.approx(math.log(median))


def test_day_counter_counts_the_calling_day_and_starts_afresh() -> None:
    day = DayCounter()
    day.add(10.0, Outcome.ABANDONED)  # no day yet: not counted
    assert day.begin(100.0)
    assert not day.begin(100.4)  # the same opening, seen again
    day.add(50.0, Outcome.ABANDONED)  # before the day opened
    for outcome in (Outcome.ANSWERED, Outcome.ABANDONED, Outcome.MACHINE, Outcome.NO_ANSWER):
        day.add(200.0, outcome)
    counts = day.read()
    assert (counts.attempts, counts.answers, counts.live_answers, counts.abandons) == (4, 3, 2, 1)
    assert day.begin(100.0 + DAY)  # the next day
    assert day.read().attempts == 0


@pytest.mark.parametrize(
    ("history", "kept"),
    [
        # Stamped at 1000 + 300 = 1300 and later: every attempt ended after the resume at 1000.
        ([(1300.0, Outcome.ABANDONED, 4), (1600.0, Outcome.ANSWERED, 9)], 2),
        # Stamped 1200: it spans 900–1200 and may hold the abandons the resume judged.
        ([(1200.0, Outcome.ABANDONED, 93), (1301.0, Outcome.ANSWERED, 2)], 1),
        ([(900.0, Outcome.ABANDONED, 50)], 0),
        ([], 0),
    ],
)
def test_only_history_buckets_wholly_after_a_resume_are_new_evidence(
    history: list[tuple[float, Outcome, int]], kept: int
) -> None:
    after = wholly_after(history, 1000.0, 300.0)
    assert after == [h for h in history if h[0] >= 1300.0]
    assert len(after) == kept
