"""``dialer bench pacing``: run the pacing grid, print a rich table, ``--json``, Markdown.

The only module of the benchmark that prints or writes a file. ``register_bench`` is imported by
``dialer/cli.py`` and adds the ``pacing`` sub-command to the ``bench`` group.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.pacing.grid import (
    POLICIES,
    TARGET,
    ScenarioResult,
    default_grid,
    run_scenario,
    shorten,
)
from bench.pacing.hard import (
    FIRST_S,
    DayResult,
    HardScenario,
    hard_grid,
    policy_for,
    run_day,
    tick_world,
    tune_power_day,
)
from bench.pacing.world import Scenario

COLUMNS = ("talk min/agent-h", "occupancy", "abandon", "worst hour", "calls/h", "% of limit")


def register_bench(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``pacing`` to the ``dialer bench`` group."""
    parser = subparsers.add_parser(
        "pacing", help="simulate the pacing policies on a grid of scenarios (virtual clock)"
    )
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    parser.add_argument("--scenario", default=None, help="run one scenario, e.g. a10-l25-t60")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per scenario (default 2)")
    parser.add_argument("--hours", type=float, default=None, help="simulated hours per scenario")
    parser.add_argument("--power-ratio", type=float, default=2.0, help="fixed power ratio")
    parser.add_argument("--markdown", type=Path, default=None, help="write the table to FILE")
    parser.add_argument(
        "--world",
        choices=("grid", "hard", "both"),
        default="both",
        help="today's grid, the harder world (a cold calling day, guards on), or both",
    )
    parser.add_argument(
        "--tick-agents",
        default="100,1000",
        help="team sizes to time one runner tick at, comma-separated ('' for none)",
    )
    parser.set_defaults(handler=run_bench)


class UsageError(Exception):
    """A mistake on the command line (one line, exit 2)."""


def select(args: argparse.Namespace) -> tuple[list[Scenario], list[HardScenario], list[int]]:
    """The grid scenarios, the harder-world days and the tick-cost team sizes asked for."""
    grid = default_grid() if args.world != "hard" else []
    hard = hard_grid() if args.world != "grid" else []
    if args.scenario is not None:
        names = [s.name for s in default_grid()] + [s.name for s in hard_grid()]
        grid = [s for s in grid if s.name == args.scenario]
        hard = [s for s in hard if s.name == args.scenario]
        if not grid and not hard:
            raise UsageError(
                f"unknown scenario {args.scenario!r} in world {args.world!r}"
                f" (one of {', '.join(names)})"
            )
    try:
        sizes = [int(n) for n in args.tick_agents.split(",") if n.strip()]
    except ValueError:
        raise UsageError(
            f"--tick-agents {args.tick_agents!r} is not a list of team sizes"
        ) from None
    if any(n < 1 for n in sizes):
        raise UsageError("--tick-agents sizes must be at least 1")
    if args.hours is not None:
        grid = [shorten(s, args.hours * 3600.0) for s in grid]
        hard = [replace(s, duration_s=args.hours * 3600.0) for s in hard]
    return grid, hard, sizes


def run_bench(args: argparse.Namespace) -> int:
    """Run the benchmark as asked; exit 2 on an unknown scenario or team size."""
    try:
        grid, hard, tick_sizes = select(args)
    except UsageError as exc:
        print(f"dialer: error: {exc}", file=sys.stderr)
        return 2
    seeds = tuple(range(1, max(1, args.seeds) + 1))
    console = Console(stderr=True)
    started = time.monotonic()
    results = []
    for scenario in grid:
        with console.status(f"simulating {scenario.name}") as status:
            results.append(run_scenario(scenario, seeds, args.power_ratio, progress=status.update))
    hard_results = []
    for day in hard:
        with console.status(f"simulating {day.name}") as status:
            hard_results.append(run_hard(day, seeds, status.update))
    costs = {n: tick_cost(n) for n in tick_sizes}
    document = to_json(results, time.monotonic() - started)
    if hard_results:
        document["hard"] = hard_json(hard_results)
    if costs:
        document["tick_cost_ms"] = {str(n): c for n, c in costs.items()}
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(to_markdown(results, document), encoding="utf-8")
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        print_tables(results, hard_results, document, costs)
    return 0


def print_tables(
    results: Sequence[ScenarioResult],
    hard_results: Sequence[HardResult],
    document: dict[str, Any],
    costs: dict[int, dict[str, float]],
) -> None:
    """The tables, the summaries and the tick costs, as text."""
    wide = Console(width=max(150, Console().width))
    if results:
        wide.print(to_table(results))
        print(summary_text(document["summary"]))
    if hard_results:
        wide.print(hard_table(hard_results))
        print(summary_text(document["hard"]["summary"]))
    for n, cost in costs.items():
        print(
            f"time per tick at {n} agents: mean {cost['mean']:.2f} ms, "
            f"p95 {cost['p95']:.2f} ms, max {cost['max']:.2f} ms ({cost['ticks']:.0f} ticks)"
        )


def _row(result: ScenarioResult, policy: str) -> dict[str, Any]:
    r = result.get(policy)
    return {
        "talk_minutes_per_agent_hour": round(r.talk_per_agent_hour, 2),
        "occupancy": round(r.occupancy, 4),
        "abandon_rate": round(r.abandon_rate, 4),
        "worst_seed_abandon_rate": round(r.worst_seed_abandon_rate, 4),
        "worst_rolling_hour_abandon_rate": round(r.worst_hour_rate, 4),
        "calls_per_hour": round(r.calls_per_hour, 1),
        "percent_of_limit": round(r.percent_of_limit, 1),
        "ratio": None if r.ratio is None else round(r.ratio, 3),
    }


def summarise_grid(results: Sequence[ScenarioResult]) -> dict[str, Any]:
    """The targets: gains over progressive and tuned power, abandon bounds."""
    summary: dict[str, Any] = {"target_abandon_rate": TARGET}
    have = {r.policy for r in results[0].results} if results else set()
    if "predictive" not in have:
        return summary
    ours = [r.get("predictive") for r in results]
    summary["predictive_worst_run_abandon_rate"] = round(
        max(r.worst_seed_abandon_rate for r in ours), 4
    )
    summary["predictive_worst_rolling_hour"] = round(max(r.worst_hour_rate for r in ours), 4)
    summary["predictive_abandon_target_met"] = all(
        r.worst_seed_abandon_rate <= TARGET for r in ours
    )
    if "progressive" in have:
        big = [r for r in results if r.scenario.agents >= 10 and r.scenario.live_rate <= 0.25]
        gains = [
            r.get("predictive").talk_per_agent_hour - r.get("progressive").talk_per_agent_hour
            for r in big
        ]
        if gains:
            summary["gain_over_progressive_10plus_agents_live_le_25"] = round(
                sum(gains) / len(gains), 2
            )
    if "tuned_power" in have:
        gains = [
            r.get("predictive").talk_per_agent_hour - r.get("tuned_power").talk_per_agent_hour
            for r in results
        ]
        summary["gain_over_tuned_power_mean"] = round(sum(gains) / len(gains), 2)
        summary["gain_over_tuned_power_min"] = round(min(gains), 2)
    return summary


def to_json(results: Sequence[ScenarioResult], elapsed: float) -> dict[str, Any]:
    """The results as one JSON-ready object."""
    return {
        "seeds": list(results[0].seeds) if results else [],
        "wall_seconds": round(elapsed, 1),
        "scenarios": [
            {
                "name": r.scenario.name,
                "agents": r.scenario.agents,
                "live_answer_rate": r.scenario.live_rate,
                "mean_talk_s": r.scenario.talk_mean,
                "simulated_hours": r.scenario.duration_s / 3600.0,
                "limit_talk_minutes_per_agent_hour": round(r.scenario.limit, 2),
                "policies": {p.policy: _row(r, p.policy) for p in r.results},
            }
            for r in results
        ],
        "summary": summarise_grid(results),
    }


def _cells(result: ScenarioResult, policy: str) -> list[str]:
    r = result.get(policy)
    return [
        f"{r.talk_per_agent_hour:.1f}",
        f"{r.occupancy:.1%}",
        f"{r.abandon_rate:.2%}",
        f"{r.worst_hour_rate:.1%}",
        f"{r.calls_per_hour:.0f}",
        f"{r.percent_of_limit:.0f}%",
    ]


def _label(result: ScenarioResult, policy: str) -> str:
    ratio = result.get(policy).ratio
    return f"{policy} ({ratio:.2f})" if ratio is not None else policy


def to_table(results: Sequence[ScenarioResult]) -> Table:
    """A rich table: one row per scenario and policy."""
    table = Table(title="Pacing benchmark (simulated, virtual clock)")
    for name in ("scenario", "h", "limit", "policy", *COLUMNS):
        table.add_column(name, justify="left" if name in ("scenario", "policy") else "right")
    for result in results:
        s = result.scenario
        for i, p in enumerate(result.results):
            head = [s.name, f"{s.duration_s / 3600:g}", f"{s.limit:.1f}"] if i == 0 else [""] * 3
            table.add_row(
                *head,
                _label(result, p.policy),
                *_cells(result, p.policy),
                end_section=i == len(result.results) - 1,
            )
    return table


def summary_text(summary: dict[str, Any]) -> str:
    """One line per summary number."""
    return "\n".join(f"{key}: {value}" for key, value in summary.items())


def to_markdown(results: Sequence[ScenarioResult], document: dict[str, Any]) -> str:
    """The table as Markdown, with how it was produced and the summary."""
    policies = [p.policy for p in results[0].results] if results else list(POLICIES)
    lines = [
        "# Pacing benchmark",
        "",
        "Produced by `dialer bench pacing --markdown docs/pacing-benchmark.md` "
        f"({len(document['seeds'])} seeds per scenario, common random numbers, "
        f"{document['wall_seconds']:.0f} s of wall time). Simulated agents and callees on a "
        "virtual clock: live answer rate as named, answering machines 10 %, the rest no answer "
        "(ring timeout 25 s), ring time to answer uniform 3–20 s, log-normal talk time (CV 1), "
        "wrap-up 10 s, a live answer not connected within 2 s is abandoned. Scenario names are "
        "`a<agents>-l<live %>-t<mean talk s>`; `limit` = 60 × talk / (talk + wrap-up) talk "
        "minutes per agent-hour. Power ratios are in brackets. Simulated hours per scenario: "
        "4 (5 agents), 3 (10), 1.5 (25), 1 (100), each from an empty start. `abandon` is pooled "
        "over the seeds; `worst hour` is the highest abandon rate in any one-hour window "
        "(sliding by a minute) of any seed (the whole run when it lasts one hour).",
        "",
        "| scenario | hours | limit | policy | " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * (4 + len(COLUMNS)),
    ]
    for result in results:
        s = result.scenario
        for policy in policies:
            head = f"| {s.name} | {s.duration_s / 3600:g} | {s.limit:.1f} |"
            lines.append(
                f"{head} {_label(result, policy)} | " + " | ".join(_cells(result, policy)) + " |"
            )
    lines += ["", "## Summary", ""]
    lines += [f"- `{key}`: {value}" for key, value in document["summary"].items()]
    return "\n".join(lines) + "\n"


HARD_POLICIES = ("progressive", "tuned_power", "predictive")


@dataclass(frozen=True, slots=True)
class HardResult:
    """Every policy of the harder world on one scenario: per seed, and tuned power's ratio."""

    scenario: HardScenario
    seeds: tuple[int, ...]
    days: dict[str, list[DayResult]]
    ratio: float


def run_hard(scenario: HardScenario, seeds: Sequence[int], progress: Any = None) -> HardResult:
    """Progressive, tuned power and predictive through one calling day per seed."""
    days: dict[str, list[DayResult]] = {}
    for policy in HARD_POLICIES:
        if progress is not None:
            progress(f"{scenario.name} {policy}")
        if policy == "tuned_power":
            ratio, runs = tune_power_day(scenario, seeds)
        else:
            runs = [run_day(scenario, seed, policy) for seed in seeds]
        days[policy] = runs
    return HardResult(scenario, tuple(seeds), days, ratio)


def tick_cost(agents: int, ticks: int | None = None) -> dict[str, float]:
    """Wall milliseconds per runner tick (snapshot, learner, decide, guards) at ``agents``."""
    day = tick_world(agents)
    count = ticks or (300 if agents <= 200 else 60)
    _, decide = policy_for("predictive")
    times = []
    at = day.now
    for _ in range(count):
        at += 1.0
        day.advance(at)
        begun = time.perf_counter()
        day.tick(decide)
        times.append((time.perf_counter() - begun) * 1000.0)
    times.sort()
    return {
        "mean": round(sum(times) / len(times), 3),
        "p95": round(times[max(0, round(0.95 * len(times)) - 1)], 3),
        "max": round(times[-1], 3),
        "ticks": float(count),
    }


def _seed_row(seed: int, day: DayResult) -> dict[str, Any]:
    return {
        "seed": seed,
        "day_abandon_rate": round(day.abandon_rate, 4),
        "worst_rolling_hour_abandon_rate": round(day.worst_hour_rate, 4),
        "first_10_min_abandon_rate": round(day.first_rate, 4),
        "first_10_min_live_answers": day.first_live,
        "guard_trips": len(day.trips),
        "trips": [f"{t.at / 60:.0f} min {t.guard}: {t.text}" for t in day.trips[:3]],
        "talk_minutes_per_agent_hour": round(day.talk_per_agent_hour, 2),
        "live_answers": day.live_answers,
        "calls": day.calls,
    }


def _mean_talk(days: Sequence[DayResult]) -> float:
    hours = sum(d.agent_hours for d in days)
    return sum(d.talk_s for d in days) / 60.0 / hours if hours else 0.0


def hard_json(results: Sequence[HardResult]) -> dict[str, Any]:
    """The harder world's results and its targets, as one JSON-ready object."""
    scenarios = []
    for r in results:
        s = r.scenario
        scenarios.append(
            {
                "name": s.name,
                "agents": s.agents,
                "live_answer_rate": [s.live_start, s.live_end],
                "simulated_hours": s.duration_s / 3600.0,
                "tuned_power_ratio": round(r.ratio, 3),
                "policies": {
                    policy: {
                        "talk_minutes_per_agent_hour": round(_mean_talk(days), 2),
                        "seeds": [
                            _seed_row(seed, d) for seed, d in zip(r.seeds, days, strict=True)
                        ],
                    }
                    for policy, days in r.days.items()
                },
            }
        )
    ours = [d for r in results for d in r.days["predictive"]]
    gains = [_mean_talk(r.days["predictive"]) - _mean_talk(r.days["tuned_power"]) for r in results]
    summary: dict[str, Any] = {
        "target_abandon_rate": TARGET,
        "predictive_worst_day": round(max(d.abandon_rate for d in ours), 4),
        "predictive_worst_rolling_hour": round(max(d.worst_hour_rate for d in ours), 4),
        "predictive_worst_first_10_min": round(max(d.first_rate for d in ours), 4),
        "predictive_guard_trips": sum(len(d.trips) for d in ours),
        "predictive_days_with_a_trip": sum(1 for d in ours if d.trips),
        "gain_over_tuned_power_mean": round(sum(gains) / len(gains), 2),
        "gain_over_tuned_power_min": round(min(gains), 2),
    }
    summary["targets_met"] = {
        "day_le_3pct": summary["predictive_worst_day"] <= TARGET,
        "worst_hour_le_5pct": summary["predictive_worst_rolling_hour"] <= 0.05,
        "first_10_min_le_3pct": summary["predictive_worst_first_10_min"] <= TARGET,
        "zero_guard_trips": summary["predictive_guard_trips"] == 0,
        "talk_ge_tuned_power_plus_1_5": summary["gain_over_tuned_power_mean"] >= 1.5,
    }
    return {"seeds": list(results[0].seeds), "scenarios": scenarios, "summary": summary}


def hard_table(results: Sequence[HardResult]) -> Table:
    """A rich table of the harder world: one row per scenario, policy and seed."""
    table = Table(title=f"Pacing benchmark, harder world (a cold calling day, guards on; "
                        f"first = first {FIRST_S / 60:.0f} min)")  # fmt: skip
    for name in ("scenario", "policy", "seed", "talk min/agent-h", "day", "worst hour",
                 "first", "trips", "live"):  # fmt: skip
        table.add_column(name, justify="left" if name in ("scenario", "policy") else "right")
    for r in results:
        first_row = True
        for policy, days in r.days.items():
            label = f"tuned_power ({r.ratio:.2f})" if policy == "tuned_power" else policy
            for i, (seed, d) in enumerate(zip(r.seeds, days, strict=True)):
                table.add_row(
                    r.scenario.name if first_row else "",
                    label if i == 0 else "",
                    str(seed),
                    f"{d.talk_per_agent_hour:.1f}",
                    f"{d.abandon_rate:.2%}",
                    f"{d.worst_hour_rate:.1%}",
                    f"{d.first_rate:.1%}",
                    str(len(d.trips)),
                    str(d.live_answers),
                    end_section=policy == "predictive" and i == len(days) - 1,
                )
                first_row = False
    return table
