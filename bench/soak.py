"""``dialer bench soak``: one gateway process at a steady rate for minutes; its RSS and fds.

A fresh database of the configured PostgreSQL server (created, dropped at the end), the
simulator in a child process (``dialer sim``: short calls, the pipeline bench's world) and one
``dialer serve`` child process. One predictive campaign (``max_attempts`` 1) is set up through
the control API as an operator would, with enough distinct numbers for ``--minutes`` at
``--rate`` and a fifth more (imported ``--batch`` at a time before the start: records cannot
be added while a campaign runs), so that it does not run dry. The server's ``originate_rate``
(``--rate``) caps the pace; a guard's pause is resumed as its owner would, and counted.

Every ``--sample-s`` the gateway process's resident set size and open file descriptors are read
(psutil, the child's own pid) with the calls settled so far (the database). The RSS growth is
the least-squares slope in MB/h over the samples after ``--warmup-min``; the fds' slope
likewise, with their range. A table of the samples (minute, rss_mb, fds, calls), or one JSON
object with ``--json``. The load average at start and end is part of the result: the machine
may be shared. Nothing is asserted here; the numbers are reported. Not imported by the gateway
at run time.

``--tracemalloc FRAMES`` runs the gateway as :mod:`bench.soak_worker` (``dialer serve`` in a
process that traces its allocations from the end of the warm-up) and adds the allocation sites
still holding the most memory at the end (``tracemalloc_growth``): what grows.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import psutil

from bench.faults_campaign import api_call, api_session, resume
from bench.faults_stack import SERVING, Child, Database, World, gateway_toml, sim_child
from bench.pipeline import CALLERS, QUEUES, sim_toml
from dialer.demo import daytime_region, demo_numbers, records_csv

LEFT = ("SELECT count(*) FROM records WHERE campaign_id = $1 "
        "AND status IN ('new', 'retry', 'callback')")  # fmt: skip
SETTLED = "SELECT count(*) FROM attempts WHERE campaign_id = $1 AND status = 'settled'"


def slope_per_h(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of ``(seconds, value)`` points, per hour; None under two points."""
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    if var == 0:
        return None
    cov = sum((t - mx) * (v - my) for t, v in points)
    return cov / var * 3600.0


class Soak:
    """The processes, the database and the campaign of one soak run."""

    def __init__(self, args: argparse.Namespace, run_dir: Path) -> None:
        self.args = args
        self.run_dir = run_dir
        self.world = World(args.agents, 1.0, args.channels, args.rate)
        self.database = Database(args.database_url, prefix="dialer_soak")
        self.secret = secrets.token_hex(8)
        self.token = secrets.token_urlsafe(16)
        self.sim, self.ami_port, self.ari_port = sim_child(
            self.world, run_dir, self.secret, sim_toml
        )
        config = run_dir / "gw.toml"
        config.write_text(gateway_toml(self.world, self.ami_port, self.ari_port, self.secret))
        env = {**os.environ, "DIALER_DATABASE_URL": self.database.direct,
               "DIALER_INSTANCE_ID": "soak-1", "DIALER_HTTP_PORT": "0",
               "DIALER_API_TOKEN": self.token, "DIALER_LOG_LEVEL": "WARNING",
               "DIALER_DATA_DIR": str(run_dir / "gw")}  # fmt: skip
        argv = [sys.executable, "-m", "dialer.cli", "--config", str(config), "serve"]
        if args.probe:
            env["BENCH_SOAK_PROBE_S"] = str(args.probe)
        if args.malloc_trim:
            env["BENCH_SOAK_TRIM_S"] = str(args.malloc_trim)
        if args.tracemalloc or args.probe or args.malloc_trim:
            argv[1:3] = ["-m", "bench.soak_worker", str(run_dir), str(args.tracemalloc), "--"]
        self.gateway = Child("gw", argv, env, run_dir)
        self.snapshots = 0
        self.api = ""
        self.region = daytime_region(datetime.now(UTC))
        self.numbers: list[str] = []
        self.imported = 0
        self.resumes = 0

    async def start(self) -> int:
        """Database, simulator, gateway and a started campaign; the campaign's id."""
        await self.database.create()
        await self.sim.start("ADMIN ")
        line = await self.gateway.start(SERVING)
        self.api = f"http://127.0.0.1:{int(line.rsplit(':', 1)[1])}/v1"
        wanted = int(self.args.rate * self.args.minutes * 60 * 1.2) + 2 * self.args.batch
        self.numbers = await asyncio.to_thread(demo_numbers, self.region, wanted, 5)
        async with api_session(self.token) as http:
            callers = []
            for number in demo_numbers(self.region, CALLERS, 1):
                spec = {"number": number, "max_concurrent": 1000, "max_per_day": 1_000_000}
                callers.append(int((await api_call(http, "POST", f"{self.api}/numbers",
                                                   json=spec))["id"]))  # fmt: skip
            campaign = await api_call(http, "POST", f"{self.api}/campaigns", json={
                "name": f"soak-{secrets.token_hex(3)}", "pacing_mode": "predictive",
                "queue": QUEUES[0], "default_region": self.region, "abandon_target": 0.03,
                "max_attempts": 1, "owner": "bench", "resume_owner": "bench",
                "pacing": {"caller_id_name": "Bench", "ring_timeout_s": 15, "amd": False},
            })  # fmt: skip
            cid = int(campaign["id"])
            await api_call(http, "PUT", f"{self.api}/campaigns/{cid}/numbers",
                           json={"number_ids": callers})  # fmt: skip
        while self.imported < len(self.numbers):
            await self.feed(cid)
        async with api_session(self.token) as http:
            await api_call(http, "POST", f"{self.api}/campaigns/{cid}/start")
        return cid

    async def feed(self, cid: int) -> None:
        """Import the next batch of numbers."""
        batch = self.numbers[self.imported : self.imported + self.args.batch]
        if not batch:
            return
        async with api_session(self.token) as http:
            url = f"{self.api}/campaigns/{cid}/records"
            csv = records_csv(batch)
            await api_call(http, "POST", url, data=csv, headers={"Content-Type": "text/csv"})
        self.imported += len(batch)

    async def stop(self, cid: int | None) -> None:
        if cid is not None and self.gateway.alive:
            with contextlib.suppress(OSError, RuntimeError, TimeoutError):
                async with api_session(self.token) as http:
                    await api_call(http, "POST", f"{self.api}/campaigns/{cid}/stop")
        await self.gateway.terminate()
        await self.sim.terminate()
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            await self.database.drop()

    async def drive(self, cid: int) -> dict[str, Any]:
        args = self.args
        assert self.gateway.proc is not None
        proc = psutil.Process(self.gateway.proc.pid)
        conn = await asyncpg.connect(self.database.direct)
        samples: list[dict[str, Any]] = []
        t0 = time.monotonic()
        end = t0 + args.minutes * 60.0
        next_sample = t0
        error = None
        try:
            while True:
                now = time.monotonic()
                if not self.gateway.alive:
                    error = f"the gateway exited ({self.gateway.proc.returncode})"
                    break
                if args.tracemalloc and not self.snapshots and now >= t0 + args.warmup_min * 60:
                    await self.snapshot()
                if now >= next_sample:
                    rss = proc.memory_info().rss / 2**20
                    samples.append({"minute": round((now - t0) / 60, 2), "rss_mb": round(rss, 2),
                                    "fds": proc.num_fds(),
                                    "calls": int(await conn.fetchval(SETTLED, cid))})  # fmt: skip
                    next_sample += args.sample_s
                if now >= end:
                    break
                state = await conn.fetchval("SELECT state FROM campaigns WHERE id=$1", cid)
                if state == "paused":
                    with contextlib.suppress(RuntimeError, OSError):
                        await resume(self.api, self.token, cid)
                        self.resumes += 1
                await asyncio.sleep(min(2.0, max(0.0, min(next_sample, end) - time.monotonic())))
            left = int(await conn.fetchval(LEFT, cid))
            if args.tracemalloc and self.snapshots == 1 and error is None:
                await self.snapshot()
        finally:
            await conn.close()
        result = self.result(samples, error, left)
        if self.snapshots == 2:
            result["tracemalloc_growth"] = await asyncio.to_thread(self.growth)
        return result

    async def snapshot(self) -> None:
        """Ask the gateway (``bench.soak_worker``) for a tracemalloc snapshot; wait for it."""
        assert self.gateway.proc is not None
        path = self.run_dir / f"snapshot-{self.snapshots}.pickle"
        self.gateway.proc.send_signal(signal.SIGUSR1)
        for _ in range(600):  # a snapshot of a large heap takes a while
            if path.exists():
                break
            await asyncio.sleep(0.5)
        else:
            raise RuntimeError(f"no tracemalloc snapshot at {path}")
        self.snapshots += 1

    def growth(self, top: int = 25) -> list[dict[str, Any]]:
        """What grew between the two snapshots, by allocation site (its traceback): the first is
        taken as tracing starts, so this is what was allocated since and is still alive."""
        first = tracemalloc.Snapshot.load(str(self.run_dir / "snapshot-0.pickle"))
        last = tracemalloc.Snapshot.load(str(self.run_dir / "snapshot-1.pickle"))
        rows = []
        for stat in last.compare_to(first, "traceback")[:top]:
            frames = [f"{f.filename.rsplit('site-packages/', 1)[-1]}:{f.lineno}"
                      for f in stat.traceback][-6:]  # fmt: skip
            rows.append({"kib": round(stat.size_diff / 1024, 1), "count": stat.count_diff,
                         "where": frames})  # fmt: skip
        return rows

    def result(self, samples: list[dict[str, Any]], error: str | None, left: int) -> dict[str, Any]:
        warm = [s for s in samples if s["minute"] >= self.args.warmup_min] or samples
        rss = slope_per_h([(s["minute"] * 60, s["rss_mb"]) for s in warm])
        fds = slope_per_h([(s["minute"] * 60, s["fds"]) for s in warm])
        span = (samples[-1]["minute"] - samples[0]["minute"]) * 60 if len(samples) > 1 else 0
        calls = samples[-1]["calls"] - samples[0]["calls"] if samples else 0
        return {
            "minutes": self.args.minutes, "rate": self.args.rate, "agents": self.args.agents,
            "samples": samples, "warmup_min": self.args.warmup_min,
            "rss_growth_mb_per_h": None if rss is None else round(rss, 2),
            "rss_growth_mb_per_h_all": (None if (v := slope_per_h(
                [(s["minute"] * 60, s["rss_mb"]) for s in samples])) is None else round(v, 2)),
            "fds_growth_per_h": None if fds is None else round(fds, 2),
            "fds_min": min((s["fds"] for s in warm), default=None),
            "fds_max": max((s["fds"] for s in warm), default=None),
            "rss_mb_first": samples[0]["rss_mb"] if samples else None,
            "rss_mb_last": samples[-1]["rss_mb"] if samples else None,
            "calls": calls, "calls_per_s": round(calls / span, 1) if span else None,
            "records_imported": self.imported, "records_left": left,
            "guard_pauses_resumed": self.resumes,
            "error": error,
        }  # fmt: skip


async def run(args: argparse.Namespace) -> dict[str, Any]:
    run_dir = Path(tempfile.mkdtemp(prefix="dialer-soak-"))
    soak = Soak(args, run_dir)
    load_start = [round(x, 2) for x in os.getloadavg()]
    cid = None
    try:
        cid = await soak.start()
        result = await soak.drive(cid)
    finally:
        await soak.stop(cid)
    result["load_average_start"] = load_start
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    result["logs"] = str(run_dir)
    return result


def _print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="dialer bench soak (one gateway process)")
    for column in ("minute", "rss_mb", "fds", "calls"):
        table.add_column(column, justify="right")
    for s in result["samples"]:
        table.add_row(*(str(s[k]) for k in ("minute", "rss_mb", "fds", "calls")))
    summary = Table(title="summary")
    summary.add_column("measure")
    summary.add_column("value", justify="right")
    for key, value in result.items():
        if key not in ("samples", "tracemalloc_growth"):
            summary.add_row(key, str(value))
    Console().print(table)
    Console().print(summary)
    for row in result.get("tracemalloc_growth", []):
        Console().print(f"{row['kib']:>10} KiB {row['count']:>8}  " + " < ".join(row["where"]))


def _handler(args: argparse.Namespace) -> int:
    import json

    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result))
    else:
        _print_table(result)
    return 1 if result["error"] else 0


def register_bench(bench_subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dialer bench soak``."""
    p = bench_subparsers.add_parser("soak", help="one gateway at a steady rate: RSS and fds")
    default_db = os.environ.get(
        "DIALER_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    p.add_argument(
        "--database-url",
        default=default_db,
        help="PostgreSQL server over TCP; a fresh database is created and dropped",
    )
    p.add_argument("--minutes", type=float, default=60.0, help="how long to dial")
    p.add_argument("--rate", type=float, default=50.0, help="the server's originates per second")
    p.add_argument("--agents", type=int, default=120, help="agents in the simulated queue")
    p.add_argument("--channels", type=int, default=1000, help="gateway channels on the server")
    p.add_argument("--batch", type=int, default=10_000, help="records imported at a time")
    p.add_argument("--sample-s", type=float, default=30.0, help="seconds between samples")
    p.add_argument(
        "--warmup-min", type=float, default=5.0, help="minutes left out of the fitted growth"
    )
    p.add_argument(
        "--tracemalloc",
        type=int,
        default=0,
        metavar="FRAMES",
        help="trace the gateway's allocations (FRAMES frames) from the end of the warm-up; "
        "report what is still alive at the end, by site",
    )
    p.add_argument(
        "--probe",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="sample the gateway's heap from inside (bench.soak_probe) into the run's "
        "probe.jsonl: glibc and pymalloc, objects by type, the largest containers",
    )
    p.add_argument(
        "--malloc-trim",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="call glibc's malloc_trim(0) in the gateway this often (a comparison)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=_handler)  # fmt: skip
