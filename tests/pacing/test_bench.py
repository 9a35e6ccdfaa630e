"""The pacing benchmark: a small scenario holds the abandon bound; the CLI registrar works."""

from __future__ import annotations

import argparse
import json
import random

import pytest

from bench.pacing import register_bench
from bench.pacing.adapt import AdaptTapered
from bench.pacing.grid import run_one
from bench.pacing.hard import HardScenario, mixture_talk, run_day
from bench.pacing.world import AttemptStream, Scenario, Simulation, worst_hour
from pacing.policies import power
from pacing.snapshot import Caps, PacingConfig, PacingMode

SMALL = Scenario(agents=5, live_rate=0.25, talk_mean=60.0, duration_s=1.5 * 3600)


@pytest.mark.parametrize("seed", [1, 2])
def test_small_scenario_keeps_the_abandon_bound(seed: int) -> None:
    ours = run_one(SMALL, seed, "predictive")
    progressive = run_one(SMALL, seed, "progressive")
    assert ours.live_answers > 200
    assert ours.abandon_rate <= 0.03
    assert progressive.abandons == 0
    assert ours.talk_s > 1.2 * progressive.talk_s


def test_common_random_numbers() -> None:
    a, b = AttemptStream(SMALL, 42), AttemptStream(SMALL, 42)
    assert [a.next() for _ in range(100)] == [b.next() for _ in range(100)]
    assert AttemptStream(SMALL, 43).next() != AttemptStream(SMALL, 42).next()


def test_the_two_second_rule_abandons_unconnected_answers() -> None:
    # One agent, power at 3 lines per free agent with 100 % live answers: drops must happen.
    scenario = Scenario(
        agents=1, live_rate=1.0, talk_mean=60.0, duration_s=1800.0, machine_rate=0.0
    )
    sim = Simulation(scenario, 1, PacingConfig(PacingMode.POWER, power_ratio=3.0), Caps())
    result = sim.run(power.decide, invariant=True)
    assert result.abandons > result.live_answers / 2
    assert result.talk_s > 0


def test_adapt_tapered_stays_within_its_level_bounds() -> None:
    policy = AdaptTapered(day_end=3600.0)
    scenario = Scenario(agents=5, live_rate=0.25, talk_mean=60.0, duration_s=1800.0)
    result = Simulation(scenario, 3, PacingConfig(PacingMode.POWER), Caps()).run(
        policy.decide, tick=0.5
    )
    assert result.calls > 0
    assert 1.0 <= policy.level <= 3.0


def test_worst_hour() -> None:
    live = [(float(t), t >= 5400 and t < 5460) for t in range(0, 7200, 10)]
    assert worst_hour(live, 7200.0) == pytest.approx(6 / 360, abs=1e-9)
    assert worst_hour([(1.0, True), (2.0, False)], 600.0) == 0.5


def test_registrar_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="dialer")
    bench = parser.add_subparsers(dest="command").add_parser("bench")
    register_bench(bench.add_subparsers(dest="bench_command"))
    args = parser.parse_args(
        ["bench", "pacing", "--scenario", "a5-l50-t60", "--hours", "0.1", "--seeds", "1", "--json",
         "--tick-agents", ""]
    )  # fmt: skip
    assert args.handler(args) == 0
    document = json.loads(capsys.readouterr().out)
    (scenario,) = document["scenarios"]
    assert scenario["name"] == "a5-l50-t60"
    assert set(scenario["policies"]) == {
        "progressive",
        "power",
        "tuned_power",
        "adapt_tapered",
        "predictive",
    }
    assert scenario["policies"]["tuned_power"]["ratio"] >= 1.0
    assert "gain_over_tuned_power_mean" in document["summary"]
    bad = parser.parse_args(["bench", "pacing", "--scenario", "nope"])
    assert bad.handler(bad) == 2


def test_harder_world_day_drives_the_learner_and_the_guards() -> None:
    scenario = HardScenario(10, 0.08, 0.25, duration_s=1800.0)
    day = run_day(scenario, 1, "predictive")
    again = run_day(scenario, 1, "predictive")
    assert day == again  # deterministic
    assert day.live_answers > 20
    assert day.first_live > 0
    assert 0 < day.agent_hours <= 10 * 0.5
    assert day.talk_per_agent_hour > 0
    slow = run_day(scenario, 1, "progressive")
    assert slow.abandons <= day.abandons + 3
    # Power far over what the world allows abandons callers until the backstop pauses it.
    reckless = run_day(scenario, 1, "power", ratio=20.0)
    assert reckless.trips
    assert reckless.trips[0].guard == "abandon_limit"
    assert "over 24 h" in reckless.trips[0].text


def test_mixture_talk_has_short_long_and_a_heavy_tail() -> None:
    rng = random.Random(5)
    talks = [mixture_talk(rng.random(), rng.gauss(0.0, 1.0), rng.random()) for _ in range(20000)]
    short = sum(1 for t in talks if t < 60) / len(talks)
    tail = sum(1 for t in talks if t > 600) / len(talks)
    assert 0.5 < short < 0.7
    assert 0.02 < tail < 0.06
    assert max(talks) <= 3600.0


def test_harder_world_json_reports_per_seed_and_the_tick_cost(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = argparse.ArgumentParser(prog="dialer")
    bench = parser.add_subparsers(dest="command").add_parser("bench")
    register_bench(bench.add_subparsers(dest="bench_command"))
    args = parser.parse_args(
        ["bench", "pacing", "--world", "hard", "--scenario", "hard-a5-l10", "--hours", "0.25",
         "--seeds", "2", "--json", "--tick-agents", "20"]
    )  # fmt: skip
    assert args.handler(args) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["scenarios"] == []
    (scenario,) = document["hard"]["scenarios"]
    assert scenario["name"] == "hard-a5-l10"
    ours = scenario["policies"]["predictive"]["seeds"]
    assert [row["seed"] for row in ours] == [1, 2]
    keys = {"day_abandon_rate", "worst_rolling_hour_abandon_rate", "first_10_min_abandon_rate",
            "guard_trips", "talk_minutes_per_agent_hour"}  # fmt: skip
    assert keys <= set(ours[0])
    assert set(scenario["policies"]) == {"progressive", "tuned_power", "predictive"}
    assert "targets_met" in document["hard"]["summary"]
    cost = document["tick_cost_ms"]["20"]
    assert 0 < cost["mean"] <= cost["max"]
    for bad in (["--tick-agents", "x"], ["--tick-agents", "0"], ["--world", "hard", "--scenario",
                                                                  "a5-l50-t60"]):  # fmt: skip
        wrong = parser.parse_args(["bench", "pacing", *bad])
        assert wrong.handler(wrong) == 2
