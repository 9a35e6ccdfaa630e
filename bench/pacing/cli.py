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
    parser.set_defaults(handler=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    """Run the benchmark as asked; exit 2 on an unknown scenario."""
    grid = default_grid()
    if args.scenario is not None:
        grid = [s for s in grid if s.name == args.scenario]
        if not grid:
            names = ", ".join(s.name for s in default_grid())
            print(
                f"dialer: error: unknown scenario {args.scenario!r} (one of {names})",
                file=sys.stderr,
            )
            return 2
    if args.hours is not None:
        grid = [shorten(s, args.hours * 3600.0) for s in grid]
    seeds = tuple(range(1, max(1, args.seeds) + 1))
    console = Console(stderr=True)
    started = time.monotonic()
    results = []
    for scenario in grid:
        with console.status(f"simulating {scenario.name}") as status:
            results.append(
                run_scenario(
                    scenario,
                    seeds,
                    args.power_ratio,
                    progress=status.update,
                )
            )
    elapsed = time.monotonic() - started
    document = to_json(results, elapsed)
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(to_markdown(results, document), encoding="utf-8")
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        Console(width=max(150, Console().width)).print(to_table(results))
        print(summary_text(document["summary"]))
    return 0


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
