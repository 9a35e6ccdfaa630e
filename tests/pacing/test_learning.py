"""Table tests for the runner's bookkeeping (pacing.learning): when each thing is learnt."""

from __future__ import annotations

import math

import pytest

from pacing.learning import (
    DEFAULT_PRIOR,
    Abandons,
    History,
    Learner,
    Prior,
    choose_prior,
    history_of,
)
from pacing.outcomes import Outcome
from pacing.snapshot import Agent, AgentState

# A prior of 0.5 live with little weight, so that a handful of outcomes moves it visibly.
LIGHT = Prior(live_answer_probability=0.5, machine_probability=0.1, weight=2.0)


def test_live_answer_counts_when_connected_not_when_it_hangs_up() -> None:
    learner = Learner(LIGHT)
    for i in range(10):
        learner.dialled(f"c{i}", float(i))
    # Calls 0 and 1 reach agents (live); the other eight ring out. Nobody has hung up yet.
    learner.answered("c0", 5.0)
    learner.connected("c0", 6.0)
    learner.connected("c1", 7.0)
    for i in range(2, 10):
        learner.settled(f"c{i}", Outcome.NO_ANSWER, 30.0 + i)
    est = learner.estimates()
    assert est.sample_size == 10
    # (0.5·2 + 2 live) / (2 + 10 attempts) = 0.25, EWMA weights make it exactly that.
    assert est.live_answer_probability == pytest.approx(0.25, abs=0.01)
    # The live calls settling later (talk over) do not count them twice.
    learner.settled("c0", Outcome.ANSWERED, 200.0, ring_s=5.0, talk_s=190.0)
    learner.settled("c1", Outcome.ANSWERED, 210.0, ring_s=7.0, talk_s=200.0)
    assert learner.estimates().sample_size == 10
    assert learner.live_answers == 2


@pytest.mark.parametrize(
    ("events", "counted"),
    [
        # The oldest call still rings: the later no-answer is held back (censored cohort).
        ([("settle", "b", Outcome.NO_ANSWER)], 0),
        # Once the oldest rings out too, both count.
        ([("settle", "b", Outcome.NO_ANSWER), ("settle", "a", Outcome.NO_ANSWER)], 2),
        # Answered with AMD still running: not resolved, still holds the cohort.
        ([("answer", "a", None), ("settle", "b", Outcome.NO_ANSWER)], 0),
        # ... until it reaches an agent (live) or settles as a machine.
        ([("answer", "a", None), ("settle", "b", Outcome.NO_ANSWER), ("connect", "a", None)], 2),
        (
            [
                ("answer", "a", None),
                ("settle", "b", Outcome.NO_ANSWER),
                ("settle", "a", Outcome.MACHINE),
            ],
            2,
        ),
        # DNC / cancelled are not outcomes of the call process.
        ([("settle", "a", Outcome.CANCELLED), ("settle", "b", Outcome.NO_ANSWER)], 1),
    ],
)
def test_cohorts_hold_outcomes_until_older_calls_resolve(
    events: list[tuple[str, str, Outcome | None]], counted: int
) -> None:
    learner = Learner(LIGHT)
    learner.dialled("a", 0.0)
    learner.dialled("b", 1.0)
    for at, (kind, call, outcome) in enumerate(events, start=10):
        if kind == "answer":
            learner.answered(call, float(at))
        elif kind == "connect":
            learner.connected(call, float(at))
        else:
            assert outcome is not None
            learner.settled(call, outcome, float(at))
    assert learner.estimates().sample_size == counted


def test_ring_time_is_measured_from_dial_to_answer() -> None:
    learner = Learner(LIGHT)
    for i in range(30):
        learner.dialled(f"c{i}", 100.0 + i)
        learner.answered(f"c{i}", 100.0 + i + 7.0)
        learner.connected(f"c{i}", 100.0 + i + 9.0)  # AMD and queue time are not ring time
    quantiles = learner.estimates().ring_quantiles
    assert quantiles[0] == pytest.approx(7.0)
    assert quantiles[-1] == pytest.approx(7.0)
    assert learner.waits() == (2.0,) * 30


@pytest.mark.parametrize(
    ("finished", "ongoing", "at_least", "at_most"),
    [
        # Fifteen short calls finished, 25 long ones still going: under half are done, so the
        # median is not reached yet and is taken at the longest time seen (errs long).
        ([30.0] * 15, [400.0] * 25, math.log(399.0), math.log(401.0)),
        # Twenty of forty done at 30 s: the product-limit median is 30 s exactly.
        ([30.0] * 20, [400.0] * 20, math.log(29.9), math.log(30.1)),
        # Without the censored calls the first sample would say 30 s.
        ([30.0] * 15, [], math.log(29.0), math.log(31.0)),
        # Few finished calls: the prior, pushed up to the longest call going on.
        ([30.0] * 3, [1000.0], math.log(999.0), math.log(1001.0)),
    ],
)
def test_talk_time_counts_calls_in_progress_as_censored(
    finished: list[float], ongoing: list[float], at_least: float, at_most: float
) -> None:
    learner = Learner(LIGHT)
    for i, talk in enumerate(finished):
        learner.dialled(f"c{i}", 0.0)
        learner.connected(f"c{i}", 5.0)
        learner.settled(f"c{i}", Outcome.ANSWERED, 5.0 + talk, ring_s=5.0, talk_s=talk)
    est = learner.estimates(ongoing)
    assert at_least <= est.talk_log_mean <= at_most


def test_wrap_up_is_learnt_from_agent_events() -> None:
    learner = Learner(LIGHT)
    assert learner.estimates().wrap_mean == LIGHT.wrap_s
    for k in range(60):
        t = 100.0 * k
        learner.agents((Agent("a1", AgentState.WRAP, t), Agent("a2", AgentState.BUSY, t)))
        # a1 leaves wrap-up 25 s after it began, a2 is still talking, a3 logged out in wrap-up.
        learner.agents((Agent("a1", AgentState.FREE, t + 25.0), Agent("a2", AgentState.BUSY, t)))
    learner.agents((Agent("a3", AgentState.WRAP, 0.0),))
    learner.agents(())
    assert learner.wraps_learnt == 60
    assert learner.estimates().wrap_mean == pytest.approx(25.0, abs=0.5)


def test_abandons_are_counted_by_cause_and_forgotten_after_the_window() -> None:
    learner = Learner(LIGHT)
    learner.dialled("p", 0.0, progressive=True)
    learner.dialled("o", 0.0)
    learner.dialled("f", 0.0)
    learner.settled("p", Outcome.ABANDONED, 10.0)
    learner.settled("o", Outcome.ABANDONED, 20.0)
    learner.settled("f", Outcome.ABANDONED, 30.0, agent_free=True)
    assert learner.abandons(0.0) == Abandons(total=3, progressive=1, agent_free=1)
    assert learner.abandons(15.0) == Abandons(total=2, progressive=0, agent_free=1)
    assert learner.live_answers == 3


BIG = History(attempts=1000, live_answers=200, machines=100, talk_mean_s=80.0, wrap_mean_s=12.0)
THIN = History(attempts=50, live_answers=40, machines=0)


@pytest.mark.parametrize(
    ("campaign", "server", "listed", "source"),
    [
        (BIG, None, None, "campaign"),
        (THIN, BIG, None, "server"),
        (None, THIN, BIG, "list"),
        (THIN, THIN, THIN, "defaults"),
        (None, None, None, "defaults"),
    ],
)
def test_prior_comes_from_own_history_else_server_else_list_else_defaults(
    campaign: History | None, server: History | None, listed: History | None, source: str
) -> None:
    prior = choose_prior(campaign, server, listed)
    assert prior.source == source
    if source != "defaults":
        # 20 % live, shaded up by one standard error (1.26 points at 1,000 attempts).
        assert prior.live_answer_probability == pytest.approx(0.2 + math.sqrt(0.16 / 1000))
        assert prior.talk_mean_s == 80.0
        assert prior.wrap_s == 12.0
        assert prior.weight <= 300.0
    else:
        assert prior == DEFAULT_PRIOR


def test_history_of_store_buckets() -> None:
    buckets = [
        (10.0, Outcome.ANSWERED, 3),
        (20.0, Outcome.ABANDONED, 1),
        (30.0, Outcome.MACHINE, 2),
        (40.0, Outcome.NO_ANSWER, 10),
        (50.0, Outcome.DNC, 7),
    ]
    assert history_of(buckets) == History(attempts=16, live_answers=4, machines=2)


@pytest.mark.parametrize(("weight", "low", "high"), [(2.0, 0.09, 0.15), (300.0, 0.35, 0.45)])
def test_prior_weight_sets_how_fast_evidence_moves_the_estimate(
    weight: float, low: float, high: float
) -> None:
    learner = Learner(Prior(live_answer_probability=0.5, weight=weight))
    for i in range(100):
        learner.dialled(f"c{i}", float(i))
        if i % 10 == 0:
            learner.connected(f"c{i}", i + 5.0)
        else:
            learner.settled(f"c{i}", Outcome.NO_ANSWER, i + 25.0)
    assert low <= learner.estimates().live_answer_probability <= high


def test_calls_of_one_tick_are_counted_in_dial_order_not_outcome_order() -> None:
    # 1600 calls placed in one tick at t = 0, every 4th a live answer (25 %). The live answers
    # connect within seconds, the others ring out at 25 s; however the outcomes arrive, the
    # estimate must see the cohort in the order it was dialled.
    learner = Learner(choose_prior())
    for k in range(1600):
        learner.dialled(f"c{k}", 0.0)
    for k in range(0, 1600, 4):
        learner.answered(f"c{k}", 5.0)
        learner.connected(f"c{k}", 5.5)
    for k in range(1600):
        if k % 4:
            learner.settled(f"c{k}", Outcome.NO_ANSWER, 25.0)
    assert learner.estimates().live_answer_probability == pytest.approx(0.25, abs=0.05)
