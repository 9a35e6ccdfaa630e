"""The pacing benchmark's grid: scenarios, the policies compared, tuned power's search, summaries.

Every policy runs on the same seeds of each scenario (common random numbers, see
:mod:`bench.pacing.world`). *Tuned power* is, per scenario, the largest fixed power ratio whose run
keeps the abandon rate at or under the target on every seed, found by bisection on the ratio.
Pure computation on a virtual clock; printing lives in :mod:`bench.pacing.cli`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from bench.pacing.adapt import AdaptTapered
from bench.pacing.world import RunResult, Scenario, Simulation
from pacing.policies import power, predictive, progressive
from pacing.snapshot import Caps, PacingConfig, PacingMode

TARGET = 0.03
POLICIES = ("progressive", "power", "tuned_power", "adapt_tapered", "predictive")
HOUR = 3600.0


def duration_for(agents: int) -> float:
    """Simulated seconds per scenario: 4 h at 5 agents, 3 h at 10, 1.5 h at 25, 1 h at 100.

    Small teams run longest because their abandon rate needs the most live answers to mean
    anything; the whole grid then runs in a few minutes on one core.
    """
    if agents >= 100:
        return 1 * HOUR
    if agents >= 25:
        return 1.5 * HOUR
    if agents >= 10:
        return 3 * HOUR
    return 4 * HOUR


def default_grid() -> list[Scenario]:
    """5, 10, 25, 100 agents × live-answer 10/25/50 % × mean talk 60/300 s."""
    return [
        Scenario(agents, live, talk, duration_for(agents))
        for agents in (5, 10, 25, 100)
        for live in (0.10, 0.25, 0.50)
        for talk in (60.0, 300.0)
    ]


@dataclass(frozen=True, slots=True)
class PolicyResult:
    """One policy on one scenario, averaged over the seeds."""

    policy: str
    talk_per_agent_hour: float  # talk minutes per agent-hour
    occupancy: float
    abandon_rate: float  # pooled over the seeds
    worst_seed_abandon_rate: float
    worst_hour_rate: float  # worst rolling hour over every seed
    calls_per_hour: float
    percent_of_limit: float
    ratio: float | None = None  # power ratios


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    """Every policy on one scenario."""

    scenario: Scenario
    seeds: tuple[int, ...]
    results: tuple[PolicyResult, ...]

    def get(self, policy: str) -> PolicyResult:
        """The result of ``policy``."""
        return next(r for r in self.results if r.policy == policy)


def run_one(scenario: Scenario, seed: int, policy: str, ratio: float = 2.0) -> RunResult:
    """One run of one policy (``ratio`` for power)."""
    caps = Caps(max_lines_per_agent=6.0)
    stream_seed = seed * 1_000_003 + scenario.agents * 7919 + round(scenario.live_rate * 100) * 31
    stream_seed += round(scenario.talk_mean)
    if policy == "progressive":
        sim = Simulation(scenario, stream_seed, PacingConfig(PacingMode.PROGRESSIVE), caps)
        return sim.run(progressive.decide, invariant=True)
    if policy == "power":
        config = PacingConfig(PacingMode.POWER, power_ratio=ratio)
        return Simulation(scenario, stream_seed, config, caps).run(power.decide, invariant=True)
    if policy == "adapt_tapered":
        sim = Simulation(scenario, stream_seed, PacingConfig(PacingMode.POWER), caps)
        return sim.run(AdaptTapered(scenario.duration_s, TARGET).decide, tick=1.0)
    config = PacingConfig(PacingMode.PREDICTIVE, abandon_target=TARGET)
    return Simulation(scenario, stream_seed, config, caps).run(predictive.decide)


def summarise(
    scenario: Scenario, policy: str, runs: Sequence[RunResult], ratio: float | None = None
) -> PolicyResult:
    """Average the runs of one policy."""
    hours = sum(r.agent_hours for r in runs)
    live = sum(r.live_answers for r in runs)
    talk = sum(r.talk_s for r in runs) / 60.0 / hours
    return PolicyResult(
        policy=policy,
        talk_per_agent_hour=talk,
        occupancy=sum(r.busy_s for r in runs) / 3600.0 / hours,
        abandon_rate=sum(r.abandons for r in runs) / live if live else 0.0,
        worst_seed_abandon_rate=max(r.abandon_rate for r in runs),
        worst_hour_rate=max(r.worst_hour_rate for r in runs),
        calls_per_hour=sum(r.calls for r in runs) / (len(runs) * scenario.duration_s / HOUR),
        percent_of_limit=100.0 * talk / scenario.limit,
        ratio=ratio,
    )


def tune_power(
    scenario: Scenario, seeds: Sequence[int], steps: int = 5
) -> tuple[float, list[RunResult]]:
    """The largest power ratio whose runs all keep the abandon rate ≤ target.

    The worst seed's abandon rate rises with the ratio; the search brackets the target (doubling
    the upper end while it is still feasible), then narrows the bracket by false position on
    that rate, falling back to halving when false position stalls. It returns the best feasible
    ratio it ran.
    """

    def worst(runs: list[RunResult]) -> float:
        return max(r.abandon_rate for r in runs)

    lo, lo_runs = 1.0, list[RunResult]()  # ratio 1 is progressive-like: run only if needed
    hi = max(2.0, 2.0 / scenario.live_rate)
    hi_runs = [run_one(scenario, seed, "power", hi) for seed in seeds]
    while worst(hi_runs) <= TARGET and hi < 64.0:
        lo, lo_runs = hi, hi_runs
        hi *= 2.0
        hi_runs = [run_one(scenario, seed, "power", hi) for seed in seeds]
    if worst(hi_runs) <= TARGET:
        return hi, hi_runs
    for step in range(steps):
        f_lo = worst(lo_runs) - TARGET if lo_runs else -TARGET
        f_hi = worst(hi_runs) - TARGET
        mid = lo + (hi - lo) * (-f_lo) / (f_hi - f_lo) if f_hi > f_lo else (lo + hi) / 2.0
        if step % 2 == 1 or not lo + 0.05 * (hi - lo) < mid < hi - 0.05 * (hi - lo):
            mid = (lo + hi) / 2.0
        runs = [run_one(scenario, seed, "power", mid) for seed in seeds]
        if worst(runs) <= TARGET:
            lo, lo_runs = mid, runs
        else:
            hi, hi_runs = mid, runs
    if not lo_runs:
        lo_runs = [run_one(scenario, seed, "power", lo) for seed in seeds]
    return lo, lo_runs


def run_scenario(
    scenario: Scenario,
    seeds: Sequence[int],
    power_ratio: float = 2.0,
    policies: Sequence[str] = POLICIES,
    progress: Callable[[str], None] | None = None,
) -> ScenarioResult:
    """Every requested policy on one scenario."""
    results = []
    for policy in policies:
        if progress is not None:
            progress(f"{scenario.name} {policy}")
        ratio: float | None = None
        if policy == "tuned_power":
            ratio, runs = tune_power(scenario, seeds)
        else:
            ratio = power_ratio if policy == "power" else None
            runs = [run_one(scenario, seed, policy, power_ratio) for seed in seeds]
        results.append(summarise(scenario, policy, runs, ratio))
    return ScenarioResult(scenario, tuple(seeds), tuple(results))


def shorten(scenario: Scenario, duration_s: float) -> Scenario:
    """The same scenario over another simulated duration."""
    return replace(scenario, duration_s=duration_s)
