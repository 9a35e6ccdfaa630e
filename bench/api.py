"""``dialer bench api``: import, reset, export and control-API latency, measured and printed.

On the configured database (embedded by default): import 100,000 XLSX rows, reset 1,000,000
records with a filter, export 1,000,000 records as CSV (rows/s and peak RSS growth), and p50/p99
of ``GET /v1/campaigns/{id}/status`` at 200 concurrent requests, for the campaign of 1,000,000
records (``api_status``) and for one of 1,000 (``api_status_1k``), against a real server on an
ephemeral port, sent by a load client in a child process (so client and server do not share one
event loop and one core) after one unmeasured warm-up round that opens the connections.
``--scale`` shrinks every size; ``--only import,status`` runs some parts; ``--json`` prints the
results as one object.
Bulk records come from ``generate_series``; targets are printed next to the numbers, never
asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import multiprocessing
import os
import statistics
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from typing import TypeAlias, cast

import aiohttp
import psutil
from aiohttp import web
from openpyxl import Workbook
from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.report import emit
from control_api import formats
from control_api.app import build_api
from control_api.context import ApiContext
from control_api.serving import ApiRunner
from dialer.control_cli import open_engine
from dialer.heap import freeze_startup_heap
from gateway.campaigns import campaigns, records
from gateway.campaigns.runtime import StaticRuntime
from gateway.campaigns.tokens import create_token
from gateway.db.models import Role
from pacing.lifecycle import Operation

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
ACTOR = "bench"
CONCURRENCY = 200


def _xlsx(rows: int) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(["phone", "name", "priority", "skill", "crm_id"])
    for i in range(rows):
        sheet.append([f"+1212{2000000 + i:07d}", f"Name {i}", 50, "sales", f"C{i}"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def _campaign(engine: AsyncEngine) -> int:
    row = await campaigns.create(
        engine, ACTOR, {"name": f"bench-{uuid.uuid4().hex[:8]}", "time_zone": "America/New_York"}
    )
    return row.id


async def bench_import(engine: AsyncEngine, rows: int) -> dict[str, float]:
    data = await asyncio.to_thread(_xlsx, rows)
    cid = await _campaign(engine)
    started = time.perf_counter()
    report = await records.import_upload(engine, ACTOR, cid, "xlsx", data)
    elapsed = time.perf_counter() - started
    return {"rows": report.added, "seconds": elapsed, "rows_per_s": report.added / elapsed}


async def _bulk(engine: AsyncEngine, cid: int, rows: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO records (campaign_id, phone, name, status, disposition, attempts, "
                "last_attempt_at, priority, skill) "
                "SELECT :cid, '+1' || (2000000000 + g)::text, 'Name ' || g, 'done', "
                "CASE WHEN g % 2 = 0 THEN 'no_answer' ELSE 'answered' END, 1, now(), "
                "1 + g % 99, 'sales' FROM generate_series(1, :n) g"
            ),
            {"cid": cid, "n": rows},
        )
        await conn.execute(text("ANALYZE records"))


async def bench_reset(engine: AsyncEngine, cid: int) -> dict[str, float]:
    await campaigns.transition(engine, ACTOR, cid, Operation.FORCE_COMPLETE)
    async with engine.connect() as conn:
        wal_before = (await conn.execute(text("SELECT pg_current_wal_lsn()"))).scalar_one()
    started = time.perf_counter()
    _, count = await records.reset(engine, ACTOR, cid, {"dispositions": ["no_answer"]})
    elapsed = time.perf_counter() - started
    async with engine.connect() as conn:
        wal = (
            await conn.execute(
                text("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), :lsn)"), {"lsn": wal_before}
            )
        ).scalar_one()
    return {"rows": count, "seconds": elapsed, "wal_mib": float(wal) / 2**20}


class _PeakRss:
    """Samples this process's RSS in a thread (the event loop is busy exporting)."""

    def __init__(self) -> None:
        self._proc = psutil.Process(os.getpid())
        self.base = self._proc.memory_info().rss
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def bench_export(engine: AsyncEngine, cid: int) -> dict[str, float]:
    size = 0

    async def sink(chunk: bytes) -> None:
        nonlocal size
        size += len(chunk)

    with _PeakRss() as rss:
        started = time.perf_counter()
        count = await formats.export(engine, cid, "csv", sink)
        elapsed = time.perf_counter() - started
    return {
        "rows": count,
        "seconds": elapsed,
        "rows_per_s": count / elapsed,
        "mib": size / 2**20,
        "peak_rss_growth_mib": (rss.peak - rss.base) / 2**20,
    }


def _load(url: str, token: str, requests: int, concurrency: int) -> dict[str, object]:
    """The load client; runs in a child process so it does not share the server's CPU.

    ``concurrency`` workers each send their share of the requests one after another, so exactly
    that many are in flight. (Queueing all requests as tasks behind a semaphore instead made the
    first ``concurrency`` requests wait while the client parked the other tasks: tens of
    milliseconds of the client's own work, counted as the server's latency.) A request that
    fails in the client (connection error, 30 s timeout) counts as a failure too.
    """

    async def main() -> dict[str, object]:
        latencies: list[float] = []
        failures: dict[str, int] = {}
        headers = {"Authorization": f"Bearer {token}"}
        connector = aiohttp.TCPConnector(limit=concurrency)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

            async def one() -> None:
                t0 = time.perf_counter()
                try:
                    async with session.get(url, headers=headers) as response:
                        body = await response.read()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    key = f"client {type(exc).__name__}"
                else:
                    if response.status == 200:
                        latencies.append(time.perf_counter() - t0)
                        return
                    key = f"{response.status} {body[:80].decode(errors='replace')}"
                latencies.append(time.perf_counter() - t0)
                failures[key] = failures.get(key, 0) + 1

            async def worker(count: int) -> None:
                for _ in range(count):
                    await one()

            await asyncio.gather(*(one() for _ in range(concurrency)))  # warm-up: connections
            latencies.clear()
            failures.clear()
            shares = [
                requests // concurrency + (i < requests % concurrency) for i in range(concurrency)
            ]
            started = time.perf_counter()
            await asyncio.gather(*(worker(n) for n in shares))
            elapsed = time.perf_counter() - started
        return {"latencies": latencies, "failures": failures, "elapsed": elapsed}

    return asyncio.run(main())


async def bench_api(engine: AsyncEngine, cid: int, requests: int) -> dict[str, float]:
    async with engine.begin() as conn:
        token = await create_token(conn, "bench", Role.VIEWER, ACTOR)
    ctx = ApiContext(engine, StaticRuntime(), lambda: datetime.now(UTC))
    root = web.Application()
    root.add_subapp("/v1", build_api(ctx, send_webhooks=False))
    runner = ApiRunner(root, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    freeze_startup_heap()  # as ``dialer serve`` does once it is ready
    port = runner.addresses[0][1]
    url = f"http://127.0.0.1:{port}/v1/campaigns/{cid}/status"
    spawn = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            loop = asyncio.get_running_loop()
            found = await loop.run_in_executor(pool, _load, url, token, requests, CONCURRENCY)
    finally:
        await runner.cleanup()
    latencies = cast(list[float], found["latencies"])
    failures = cast(dict[str, int], found["failures"])
    cuts = statistics.quantiles(latencies, n=100)
    for reason, n in failures.items():
        Console(stderr=True).print(f"api bench: {n} x {reason}")
    return {
        "requests": requests,
        "failed": sum(failures.values()),
        "rps": requests / cast(float, found["elapsed"]),
        "p50_ms": cuts[49] * 1000,
        "p99_ms": cuts[98] * 1000,
    }


PARTS = ("import", "reset", "export", "status")


async def run_all(
    engine: AsyncEngine, scale: float, only: frozenset[str] = frozenset(PARTS)
) -> dict[str, dict[str, float]]:
    """The parts named in ``only``, in the order of :data:`PARTS`."""
    results = {}
    if "import" in only:
        results["import_xlsx"] = await bench_import(engine, max(100, int(100_000 * scale)))
    if only & {"reset", "export", "status"}:
        big = await _campaign(engine)
        await _bulk(engine, big, max(1000, int(1_000_000 * scale)))
        if "reset" in only:
            results["reset"] = await bench_reset(engine, big)
        if "export" in only:
            await records.force_complete(engine, ACTOR, big)
            results["export_csv"] = await bench_export(engine, big)
    if "status" in only:
        requests = max(1000, int(10_000 * scale))
        results["api_status"] = await bench_api(engine, big, requests)
        small = await _campaign(engine)
        await _bulk(engine, small, 1000)
        results["api_status_1k"] = await bench_api(engine, small, requests)
    return results


STATUS_TARGET = "p99 ≤ 50 ms at 200 concurrent"
TARGETS = {
    "import_xlsx": "≥ 20,000 rows/s",
    "reset": "≤ 5 s",
    "export_csv": "≥ 200,000 rows/s, flat memory",
    "api_status": STATUS_TARGET,
    "api_status_1k": STATUS_TARGET,
}


def _table(results: dict[str, dict[str, float]]) -> Table:
    table = Table(title="dialer bench api")
    for column in ("part", "measured", "target"):
        table.add_column(column)
    for part, numbers in results.items():
        shown = ", ".join(
            f"{k}={v:,.1f}" if isinstance(v, float) else f"{k}={v:,}" for k, v in numbers.items()
        )
        table.add_row(part, shown, TARGETS[part])
    return table


async def _cleanup(engine: AsyncEngine, after_id: int) -> None:
    """Delete the campaigns (and so the records) this run created, so runs do not pile up: the
    next run's import, counts and scans then meet the same table, not millions more rows."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT id FROM campaigns WHERE id > :after AND name LIKE 'bench-%'"),
            {"after": after_id},
        )
        created = [int(r[0]) for r in rows]
    for cid in created:
        await campaigns.delete(engine, ACTOR, cid)


def _handler(args: argparse.Namespace) -> int:
    async def main() -> dict[str, dict[str, float]]:
        async with open_engine(args, pool_size=20) as engine:
            async with engine.connect() as conn:
                before = int(
                    (
                        await conn.execute(text("SELECT coalesce(max(id), 0) FROM campaigns"))
                    ).scalar_one()
                )
            try:
                return await run_all(engine, args.scale, args.only)
            finally:
                await _cleanup(engine, before)

    return emit(asyncio.run(main()), args, lambda results: Console().print(_table(results)))


def register_bench(bench_subparsers: Subparsers) -> None:
    """Add ``dialer bench api``."""
    parser = bench_subparsers.add_parser("api", help="records import/reset/export, API latency")
    parser.add_argument("--scale", type=float, default=1.0, help="size factor, e.g. 0.1")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--only",
        type=_parts,
        default=frozenset(PARTS),
        help=f"comma-separated parts to run, of {','.join(PARTS)} (default: all)",
    )
    parser.set_defaults(handler=_handler)


def _parts(raw: str) -> frozenset[str]:
    parts = frozenset(p.strip() for p in raw.split(",") if p.strip())
    unknown = parts - set(PARTS)
    if unknown or not parts:
        raise argparse.ArgumentTypeError(f"choose from {','.join(PARTS)}")
    return parts
