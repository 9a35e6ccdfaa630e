"""``dialer bench leasing``: the runner's database side — lease, start, settle — measured.

Two paths, each on a campaign of its own, side by side: ``single`` — one transaction per start
(``leasing.start_attempt``) and per settle (``leasing.settle_attempt``), as the runner wrote
before — and ``batched`` — one statement per decision (``batches.start_attempts``) and one
transaction per batch of results (``batches.settle_attempts``), as it writes now.

On the configured database (embedded by default): one campaign of ``--records`` records
(1,000,000 by default, inserted with ``generate_series`` as an import would leave them), then the
cycle the campaign runner and the result writer run, one batch at a time: lease ``--batch``
records (``leasing.lease_records``, ``SKIP LOCKED``), start an attempt for each and settle
them with a fixed mix of outcomes (six in ten no answer, three answered, one busy: retries pile
up ahead of fresh records, as they do in a real campaign), until ``--dial`` records went round.
The clock is virtual (a fixed noon in New York plus a quarter second per batch), so the callee
window is open and no retry comes due during the run.

Prints records per second of each step and p50/p99 of one lease call; ``--json`` prints one
object. Numbers are printed, never asserted. Not imported by the gateway at run time.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TypeAlias

from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.report import emit
from dialer.control_cli import open_engine
from gateway.campaigns import batches, leasing
from pacing.outcomes import Outcome

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
INSTANCE = "bench-leasing"
NOON_NEW_YORK = datetime(2026, 3, 10, 17, 0, tzinfo=UTC)
TICK = timedelta(seconds=0.25)
PATHS = ("single", "batched")
MIX = (Outcome.NO_ANSWER,) * 6 + (Outcome.ANSWERED,) * 3 + (Outcome.BUSY,)


async def make_campaign(engine: AsyncEngine, records: int) -> int:
    """A campaign in New York time with ``records`` new records, priorities 1..10."""
    async with engine.begin() as conn:
        cid = int(
            (
                await conn.execute(
                    text(
                        "INSERT INTO campaigns (name, time_zone) "
                        "VALUES (:name, 'America/New_York') RETURNING id"
                    ),
                    {"name": f"bench-leasing-{uuid.uuid4().hex[:8]}"},
                )
            ).scalar_one()
        )
        await conn.execute(
            text(
                "INSERT INTO records (campaign_id, phone, name, priority, skill) "
                "SELECT :cid, '+1' || (3000000000 + g)::text, 'Name ' || g, 1 + g % 10, 'sales' "
                "FROM generate_series(1, :n) g"
            ),
            {"cid": cid, "n": records},
        )
        await conn.execute(text("ANALYZE"))
    return cid


class _Clock:
    """Seconds spent per step, and the duration of every lease call."""

    def __init__(self) -> None:
        self.spent = {"lease": 0.0, "start": 0.0, "settle": 0.0}
        self.lease_calls: list[float] = []


async def _start_settle_single(
    engine: AsyncEngine, starts: list[leasing.AttemptStart], results: list[Outcome], now: datetime
) -> tuple[float, float]:
    """The old path: one transaction per start, one per settle."""
    t0 = time.perf_counter()
    started = [s.attempt_id for s in starts if await leasing.start_attempt(engine, s)]
    t1 = time.perf_counter()
    for attempt, outcome in zip(started, results, strict=False):
        await leasing.settle_attempt(engine, leasing.AttemptRow(attempt, outcome, now))
    return t1 - t0, time.perf_counter() - t1


async def _start_settle_batched(
    engine: AsyncEngine, starts: list[leasing.AttemptStart], results: list[Outcome], now: datetime
) -> tuple[float, float]:
    """The set-based path: one statement per decision, one transaction per batch of results."""
    t0 = time.perf_counter()
    written = await batches.start_attempts(engine, starts)
    t1 = time.perf_counter()
    started = [s.attempt_id for s in starts if s.attempt_id in written]
    settle = [leasing.AttemptRow(a, o, now) for a, o in zip(started, results, strict=False)]
    await batches.settle_attempts(engine, settle)
    return t1 - t0, time.perf_counter() - t1


async def _batch(
    engine: AsyncEngine,
    cid: int,
    size: int,
    now: datetime,
    clock: _Clock,
    counter: int,
    batched: bool,
) -> int:
    t0 = time.perf_counter()
    leased = await leasing.lease_records(engine, cid, INSTANCE, size, now, 60.0)
    clock.lease_calls.append(time.perf_counter() - t0)
    clock.spent["lease"] += clock.lease_calls[-1]
    starts = [
        leasing.AttemptStart(uuid.uuid4().hex, cid, rec.id, INSTANCE, "pbx1", "+12125550000", now)
        for rec in leased
    ]
    outcomes = [MIX[(counter + i) % len(MIX)] for i in range(len(starts))]
    step = _start_settle_batched if batched else _start_settle_single
    start_s, settle_s = await step(engine, starts, outcomes, now)
    clock.spent["start"] += start_s
    clock.spent["settle"] += settle_s
    return len(leased)


async def _path(
    engine: AsyncEngine, records: int, batch: int, dial: int, batched: bool
) -> dict[str, float]:
    cid = await make_campaign(engine, records)
    clock = _Clock()
    done, now = 0, NOON_NEW_YORK
    started = time.perf_counter()
    while done < dial:
        got = await _batch(engine, cid, min(batch, dial - done), now, clock, done, batched)
        if got == 0:
            break
        done += got
        now += TICK
    elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(clock.lease_calls, n=100) if len(clock.lease_calls) > 1 else [0.0]
    return {
        "dialled": done,
        "cycle_per_s": done / elapsed,
        "lease_per_s": done / clock.spent["lease"],
        "lease_p50_ms": statistics.median(clock.lease_calls) * 1000,
        "lease_p99_ms": cuts[-1] * 1000,
        "start_per_s": done / clock.spent["start"],
        "settle_per_s": done / clock.spent["settle"],
    }


async def run(
    engine: AsyncEngine, records: int, batch: int, dial: int, paths: tuple[str, ...] = PATHS
) -> dict[str, object]:
    """Each path on a campaign of its own: lease/start/settle until ``dial`` records went round."""
    measured = {n: await _path(engine, records, batch, dial, n == "batched") for n in paths}
    results: dict[str, object] = {"records": records, "batch": batch, **measured}
    if len(measured) == len(PATHS):
        speedup = measured["batched"]["cycle_per_s"] / measured["single"]["cycle_per_s"]
        results["cycle_speedup"] = speedup
    return results


def _table(results: dict[str, object]) -> Table:
    table = Table(title="dialer bench leasing")
    table.add_column("measure")
    paths = [p for p in PATHS if isinstance(results.get(p), dict)]
    for name in paths:
        table.add_column(name, justify="right")
    first = results[paths[0]]
    assert isinstance(first, dict)
    for key in first:
        cells = []
        for name in paths:
            value = results[name][key]  # type: ignore[index]
            cells.append(f"{value:,.1f}" if isinstance(value, float) else f"{value:,}")
        table.add_row(key, *cells)
    if "cycle_speedup" in results:
        table.caption = f"batched cycle {results['cycle_speedup']:.1f}x the one-by-one path"
    return table


def _handler(args: argparse.Namespace) -> int:
    paths = PATHS if args.path == "both" else (args.path,)

    async def main() -> dict[str, object]:
        async with open_engine(args, pool_size=4) as engine:
            return await run(engine, args.records, args.batch, args.dial, paths)

    return emit(asyncio.run(main()), args, lambda results: Console().print(_table(results)))


def register_bench(bench_subparsers: Subparsers) -> None:
    """Add ``dialer bench leasing``."""
    parser = bench_subparsers.add_parser("leasing", help="record lease/start/settle throughput")
    parser.add_argument("--records", type=int, default=1_000_000, help="records in the campaign")
    parser.add_argument("--batch", type=int, default=50, help="records per lease call")
    parser.add_argument("--dial", type=int, default=10_000, help="records to lease/start/settle")
    parser.add_argument(
        "--path",
        choices=("both", *PATHS),
        default="both",
        help="one-by-one writes (single), set-based (batched), or both side by side",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=_handler)
