"""The pacing benchmark: a small scenario holds the abandon bound; the CLI registrar works."""

from __future__ import annotations

import argparse
import json

import pytest

from bench.pacing import register_bench
from bench.pacing.adapt import AdaptTapered
from bench.pacing.grid import run_one
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
        ["bench", "pacing", "--scenario", "a5-l50-t60", "--hours", "0.1", "--seeds", "1", "--json"]
    )
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
