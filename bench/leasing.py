"""``dialer bench leasing``: the runner's database side — lease, start, settle — measured.

On the configured database (embedded by default): one campaign of ``--records`` records
(1,000,000 by default, inserted with ``generate_series`` as an import would leave them), then the
cycle the campaign runner and the result writer run, one batch at a time: lease ``--batch``
records (``leasing.lease_records``, ``SKIP LOCKED``), start an attempt for each
(``leasing.start_attempt``), settle each (``leasing.settle_attempt``) with a fixed mix of
outcomes (six in ten no answer, three answered, one busy: retries pile up ahead of fresh
records, as they do in a real campaign), until ``--dial`` records went round.
The clock is virtual (a fixed noon in New York plus a quarter second per batch), so the callee
window is open and no retry comes due during the run.

Prints records per second of each step and p50/p99 of one lease call; ``--json`` prints one
object. Numbers are printed, never asserted. Not imported by the gateway at run time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TypeAlias

from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dialer.control_cli import open_engine
from gateway.campaigns import leasing
from pacing.outcomes import Outcome

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
INSTANCE = "bench-leasing"
NOON_NEW_YORK = datetime(2026, 3, 10, 17, 0, tzinfo=UTC)
TICK = timedelta(seconds=0.25)
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


async def _batch(
    engine: AsyncEngine, cid: int, size: int, now: datetime, clock: _Clock, counter: int
) -> int:
    t0 = time.perf_counter()
    leased = await leasing.lease_records(engine, cid, INSTANCE, size, now, 60.0)
    t1 = time.perf_counter()
    clock.lease_calls.append(t1 - t0)
    started = []
    for rec in leased:
        attempt = uuid.uuid4().hex
        start = leasing.AttemptStart(attempt, cid, rec.id, INSTANCE, "pbx1", "+12125550000", now)
        if await leasing.start_attempt(engine, start):
            started.append(attempt)
    t2 = time.perf_counter()
    for i, attempt in enumerate(started):
        outcome = MIX[(counter + i) % len(MIX)]
        await leasing.settle_attempt(engine, leasing.AttemptRow(attempt, outcome, now))
    t3 = time.perf_counter()
    clock.spent["lease"] += t1 - t0
    clock.spent["start"] += t2 - t1
    clock.spent["settle"] += t3 - t2
    return len(leased)


async def run(engine: AsyncEngine, records: int, batch: int, dial: int) -> dict[str, float]:
    """Set up the campaign, then lease/start/settle until ``dial`` records went round."""
    cid = await make_campaign(engine, records)
    clock = _Clock()
    done, now = 0, NOON_NEW_YORK
    started = time.perf_counter()
    while done < dial:
        got = await _batch(engine, cid, min(batch, dial - done), now, clock, done)
        if got == 0:
            break
        done += got
        now += TICK
    elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(clock.lease_calls, n=100) if len(clock.lease_calls) > 1 else [0.0]
    return {
        "records": records,
        "batch": batch,
        "dialled": done,
        "cycle_per_s": done / elapsed,
        "lease_per_s": done / clock.spent["lease"],
        "lease_p50_ms": statistics.median(clock.lease_calls) * 1000,
        "lease_p99_ms": cuts[-1] * 1000,
        "start_per_s": done / clock.spent["start"],
        "settle_per_s": done / clock.spent["settle"],
    }


def _table(results: dict[str, float]) -> Table:
    table = Table(title="dialer bench leasing")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in results.items():
        table.add_row(key, f"{value:,.1f}" if isinstance(value, float) else f"{value:,}")
    return table


def _handler(args: argparse.Namespace) -> int:
    async def main() -> dict[str, float]:
        async with open_engine(args, pool_size=4) as engine:
            return await run(engine, args.records, args.batch, args.dial)

    results = asyncio.run(main())
    if args.json:
        print(json.dumps(results))
    else:
        Console().print(_table(results))
    return 0


def register_bench(bench_subparsers: Subparsers) -> None:
    """Add ``dialer bench leasing``."""
    parser = bench_subparsers.add_parser("leasing", help="record lease/start/settle throughput")
    parser.add_argument("--records", type=int, default=1_000_000, help="records in the campaign")
    parser.add_argument("--batch", type=int, default=50, help="records per lease call")
    parser.add_argument("--dial", type=int, default=10_000, help="records to lease/start/settle")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=_handler)
