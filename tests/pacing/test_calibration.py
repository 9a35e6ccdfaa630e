"""Table tests for the model's calibration: the estimator, what the learner feeds it, and the
policy pricing its calls with it (no event loop)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from pacing.errors import SnapshotError
from pacing.learning import Learner
from pacing.outcomes import Outcome
from pacing.policies import predictive
from pacing.policies.controller import risk_threshold
from pacing.policies.model import horizons, risk
from pacing.snapshot import (
    Agent,
    AgentState,
    CallInFlight,
    PacingConfig,
    PacingSnapshot,
)
from pacing.stats import CalibrationTuning, RiskCalibration
from tests.pacing.test_policies import CALM, EST, NOW  # the policy tables' healthy day


def fed(priced: float, abandons: int, live: int = 1000) -> RiskCalibration:
    """A calibration fed ``live`` answers priced ``priced`` in all, ``abandons`` of them lost."""
    cal = RiskCalibration(CalibrationTuning(memory=1e9))  # no decay: exact sums
    for i in range(live):
        cal.observe(priced / live, abandoned=i < abandons)
    return cal


@pytest.mark.parametrize(
    ("priced", "abandons", "low", "high"),
    [
        (0.0, 0, 1.70, 1.71),  # no evidence: (2 + √2) / 2, careful
        (10.0, 10, 1.0, 1.3),  # as priced: close to 1, a little above (the error bar)
        (100.0, 100, 1.0, 1.11),  # ... closer with more evidence
        (10.0, 30, 2.8, 3.3),  # abandoned three times as often as priced
        (100.0, 10, 0.67, 0.67),  # far fewer than priced: clamped low
        (1.0, 60, 4.0, 4.0),  # far more: clamped high
    ],
)
def test_scale_is_realised_over_priced_at_its_upper_error_bar(
    priced: float, abandons: int, low: float, high: float
) -> None:
    scale = fed(priced, abandons).scale()
    assert low - 1e-3 <= scale <= high + 1e-3, scale


def test_old_evidence_decays() -> None:
    cal = RiskCalibration(CalibrationTuning(memory=200.0))
    for i in range(400):  # a bad stretch: 3× as priced
        cal.observe(0.01, abandoned=i % 33 == 0)
    bad = cal.scale()
    for _ in range(2000):  # then a long calm one, priced at 1 %, no abandon at all
        cal.observe(0.01, abandoned=False)
    assert bad > 2.0
    assert cal.scale() < 1.0


def connected(learner: Learner, attempt: str, risk_: float | None, at: float) -> None:
    learner.dialled(attempt, at, risk=risk_)
    learner.answered(attempt, at + 5.0)
    learner.connected(attempt, at + 6.0)
    learner.settled(attempt, Outcome.ANSWERED, at + 60.0, talk_s=54.0)


def test_learner_feeds_live_answers_of_calls_placed_on_the_models_risk() -> None:
    learner = Learner()
    for i in range(200):
        connected(learner, f"c{i}", 0.02, float(i))  # priced 4 abandons in all
    for i in range(12):  # 12 abandoned: three times as priced
        attempt = f"a{i}"
        learner.dialled(attempt, 300.0 + i, risk=0.02)
        learner.answered(attempt, 305.0 + i)
        learner.settled(attempt, Outcome.ABANDONED, 309.0 + i)
    for i in range(50):  # placed one per free agent (no risk): say nothing of the model
        learner.dialled(f"p{i}", 400.0 + i, risk=None)
        learner.settled(f"p{i}", Outcome.ABANDONED, 420.0 + i)
    assert learner.calibration.observed == 212
    # (12 + 2 + √14) / (4.24 + 2) = 2.84 before the sums' slight decay (2.94 after); a connected
    # call's hang-up is not a second answer, nor are the calls placed one per free agent
    assert 2.8 <= learner.estimates().risk_scale <= 3.0


def test_a_learner_with_no_evidence_prices_carefully() -> None:
    assert Learner().estimates().risk_scale == pytest.approx((2 + math.sqrt(2)) / 2)


def test_estimates_refuse_a_scale_that_is_not_positive() -> None:
    with pytest.raises(SnapshotError):
        replace(EST, risk_scale=0.0)


def team(free: int, busy: tuple[float, ...]) -> tuple[Agent, ...]:
    agents = [Agent(f"f{i}", AgentState.FREE, NOW - 5) for i in range(free)]
    agents += [Agent(f"b{i}", AgentState.BUSY, NOW - e) for i, e in enumerate(busy)]
    return tuple(agents)


def snapshot(scale: float, calls: int = 0) -> PacingSnapshot:
    ringing = tuple(CallInFlight(f"r{i}", NOW - 4) for i in range(calls))
    est = replace(EST, live_answer_probability=0.1, risk_scale=scale)  # many lines per agent
    members = team(2, tuple(float(e) for e in range(10, 260, 10)))  # 25 talking, 2 free
    return PacingSnapshot("c1", PacingConfig(), members, ringing, CALM, est)


@pytest.mark.parametrize("scale", [0.67, 1.0, 1.5])
def test_policy_prices_its_calls_at_risk_times_scale(scale: float) -> None:
    snap = snapshot(scale)
    decision = predictive.decide(snap, NOW)
    theta = risk_threshold(CALM, 0.03).theta
    points = horizons(snap, NOW)
    assert decision.calls > 2  # beyond the two free agents
    assert risk(points, decision.calls) * scale <= theta
    assert risk(points, decision.calls + 1) * scale > theta


def test_a_model_found_under_pricing_places_fewer_calls() -> None:
    counts = [predictive.decide(snapshot(scale), NOW).calls for scale in (0.67, 1.0, 2.0, 4.0)]
    assert counts == sorted(counts, reverse=True)
    assert counts[0] > counts[-1]


def test_decision_says_each_calls_risk_none_within_one_per_free_agent() -> None:
    snap = snapshot(1.0)
    decision = predictive.decide(snap, NOW)
    points = horizons(snap, NOW)
    assert len(decision.call_risks) == decision.calls
    assert decision.call_risks[:2] == (None, None)  # two free agents, no call in flight
    expected = [risk(points, n) for n in range(3, decision.calls + 1)]
    assert list(decision.call_risks[2:]) == pytest.approx(expected)
