"""``dialer bench gateway``: how fast one gateway process places and tracks calls.

The simulated Asterisk runs in a child process (``python -c``, so it does not share the
gateway's core); the gateway runs here with one server over real AMI. Phases:

1. **rate**: originate ``--calls`` calls (instant busy or instant answer, half each) with at most
   ``--window`` in flight; count results per wall second and per second of the gateway's own
   CPU time, AMI events processed, and the delay from ``originate()`` to the Originate being
   handed to the socket (p50/p99/max);
2. **memory**: hold ``--in-flight`` ringing calls and measure the process's RSS growth per
   tracked call, then hold as many more under tracemalloc (Python heap per call); the second
   batch is the one ``in_flight`` reports on top of the first;
3. **replay**: recorded Asterisk bytes (``/work/shared/asterisk-traces``, or a built-in sample)
   pushed through parser, typing and tracker without sockets: events per CPU second, and the
   tracker's own share (the typed events are parsed first, then handed to the tracker).

``--profile`` runs phase 1 under cProfile and prints the top functions to stderr. Results are a
rich table, or one JSON object with ``--json``. This module is never imported by the gateway at
run time; it is wired into the CLI by :func:`register_bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import io
import pstats
import sys
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil

from bench.report import emit
from gateway.asterisk.ami.events import TYPED_EVENTS, parse_event
from gateway.asterisk.ami.parser import AmiParser
from gateway.asterisk.calls.model import OriginateRequest
from gateway.asterisk.calls.tracker import CallTracker
from gateway.asterisk.dialing import Dialer
from gateway.asterisk.errors import NoCapacity
from gateway.asterisk.pool import ServerConfig
from pacing.calls import AttemptResult

TRACES = Path("/work/shared/asterisk-traces")
RINGING_PREFIX = "+1999"


def _sim_config(time_scale: float) -> Any:
    from asterisk_sim import CarrierProfile, Dist, SimConfig, TrunkConfig

    zero = Dist.fixed(0.0)
    fast = CarrierProfile(prefix="", live=0.5, busy=0.5, machine=0, no_answer=0, congestion=0,
                          failure=0, post_dial_delay=zero, ring_time=zero,
                          callee_hangup=zero, amd_time=zero)  # fmt: skip
    ringing = CarrierProfile(prefix=RINGING_PREFIX, live=0, machine=0, no_answer=1, busy=0,
                             congestion=0, failure=0, post_dial_delay=zero,
                             ring_time=Dist.fixed(100_000.0))  # fmt: skip
    trunk = TrunkConfig("carrier-a", channels=1_000_000, cps=1_000_000.0)
    return SimConfig(seed=1, ami_port=0, ari_port=0, time_scale=time_scale, trunks=(trunk,),
                     carriers=(ringing, fast), playback_seconds=0.0)  # fmt: skip


def sim_child(time_scale: float) -> None:
    """Child process body: run the simulator, print ``port user secret``, stop at stdin EOF."""

    async def main() -> None:
        from asterisk_sim import SimAsterisk

        sim = SimAsterisk(_sim_config(time_scale))
        await sim.start()
        creds = sim.credentials
        print(sim.ami_port, creds.ami_user, creds.ami_secret, flush=True)
        await asyncio.to_thread(sys.stdin.read)
        await sim.stop()

    asyncio.run(main())


class _Counter:
    def __init__(self) -> None:
        self.results = 0
        self.changed = asyncio.Event()

    def result(self, _: AttemptResult) -> None:
        self.results += 1
        self.changed.set()


def _request(number: str, ring_timeout_s: float = 15.0) -> OriginateRequest:
    return OriginateRequest(uuid.uuid4().hex, 1, 1, number, "+15550100", "Bench", "sales",
                            ring_timeout_s, amd=False)  # fmt: skip


async def _wait(predicate: Any, counter: _Counter, within: float) -> bool:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(within):
            while not predicate():
                counter.changed.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.05):  # states change without a result too
                        await counter.changed.wait()
            return True
    return False


async def _connect(port: int, user: str, secret: str, counter: _Counter,
                   rate: float = 1_000_000.0) -> Dialer:  # fmt: skip
    server = ServerConfig("bench", ami_port=port, ami_username=user, ami_secret=secret,
                          channels=1_000_000, originate_rate=rate,
                          trunk="PJSIP/{number}@carrier-a")  # fmt: skip
    dialer = Dialer([server], on_result=counter.result)
    await dialer.start()
    if not await _wait(lambda: dialer.capacity().healthy == 1, counter, 10.0):
        raise RuntimeError("the gateway could not log in to the simulator")
    return dialer


async def _rate_phase(dialer: Dialer, counter: _Counter, calls: int, window: int) -> dict[str, Any]:
    link = dialer.runtime("bench").ami
    events0, bytes0, done0 = link.events, link.bytes_in, counter.results
    cpu0, t0 = time.process_time(), time.perf_counter()
    sent = 0
    while sent < calls:
        while sent < calls and sent - (counter.results - done0) < window:
            dialer.originate(_request(f"+1555{sent % 10_000_000:07d}"))
            sent += 1
        counter.changed.clear()
        await counter.changed.wait()
    finished = await _wait(lambda: counter.results - done0 >= calls, counter, 60.0)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    done = counter.results - done0
    delays = sorted(dialer.send_delays())
    events = link.events - events0

    def pct(p: float) -> float:
        return delays[min(len(delays) - 1, int(p * len(delays)))] * 1000 if delays else 0.0

    return {
        "calls": calls, "completed": done, "all_completed": finished,
        "wall_s": round(wall, 3), "gateway_cpu_s": round(cpu, 3),
        "originations_per_s_wall": round(done / wall, 1),
        "originations_per_gateway_cpu_s": round(done / cpu, 1) if cpu else None,
        "ami_events": events, "events_per_call": round(events / max(done, 1), 1),
        "events_per_s_wall": round(events / wall, 1),
        "events_per_gateway_cpu_s": round(events / cpu, 1) if cpu else None,
        "ami_mb_in": round((link.bytes_in - bytes0) / 1e6, 2),
        "send_delay_ms_p50": round(pct(0.50), 3), "send_delay_ms_p99": round(pct(0.99), 3),
        "send_delay_ms_max": round(delays[-1] * 1000, 3) if delays else 0.0,
    }  # fmt: skip


async def _hold(dialer: Dialer, counter: _Counter, first: int, count: int) -> bool:
    """Originate ``count`` calls that ring for 300 s; True once all the tracker's calls ring."""
    tracker = dialer.runtime("bench").tracker
    i = first
    while i < first + count:
        try:
            dialer.originate(_request(f"{RINGING_PREFIX}{i:07d}", 300.0))
            i += 1
        except NoCapacity:  # the send queue holds a second's worth: let it drain
            await asyncio.sleep(0.05)
    return await _wait(
        lambda: sum(1 for c in tracker.in_flight().values() if c.state == "ringing")
        >= first + count,
        counter, 60.0)  # fmt: skip


async def _memory_phase(dialer: Dialer, counter: _Counter, in_flight: int) -> dict[str, Any]:
    """RSS growth for ``in_flight`` ringing calls, then tracemalloc for as many more.

    Two batches, because tracemalloc's own traces (a hash-table entry and a frame per live
    block) cost more RSS than the calls themselves: measured on one batch, RSS per call read
    ~4.5 KB with tracemalloc on and ~1.3 KB without.
    """
    tracker = dialer.runtime("bench").tracker
    gc.collect()
    rss0 = psutil.Process().memory_info().rss
    ringing = await _hold(dialer, counter, 0, in_flight)
    gc.collect()
    rss = psutil.Process().memory_info().rss - rss0
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    ringing = await _hold(dialer, counter, in_flight, in_flight) and ringing
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    return {
        "in_flight": len(tracker),
        "all_ringing": ringing,
        "bytes_per_call_rss": round(rss / max(in_flight, 1)),
        "bytes_per_call_tracemalloc": round(grown / max(in_flight, 1)),
    }


def _replay_blob(copies: int) -> tuple[bytes, list[tuple[str, str]]]:
    """Recorded events of one answered queue call, repeated with fresh ids for each copy."""
    name = "ami-queue-answered"
    raw = (TRACES / f"{name}.txt").read_bytes()
    blocks = [b for b in raw.split(b"\r\n\r\n") if b.startswith(b"Event: ")]
    one = b"".join(b + b"\r\n\r\n" for b in blocks)
    chunks, ids = [], []
    for i in range(copies):
        attempt = f"{i:032x}"
        ids.append((attempt, f"Local/{i}@sim-carrier"))
        chunks.append(one.replace(name.encode(), attempt.encode())
                      .replace(b"1795400370.20", attempt.encode())
                      .replace(b"1795400370.21", f"{attempt}-2".encode()))  # fmt: skip
    return b"".join(chunks), ids


def _replay_phase(copies: int) -> dict[str, Any]:
    if not (TRACES / "ami-queue-answered.txt").exists():
        return {"skipped": "recorded traces not found"}
    blob, ids = _replay_blob(copies)
    results: list[AttemptResult] = []
    tracker = CallTracker("bench", on_result=results.append, clock=time.monotonic)
    for attempt, dial in ids:
        tracker.track(OriginateRequest(attempt, 1, 1, "+15551", "+15550100", "B", "sales", 15.0),
                      dial_string=dial, action_id=attempt)  # fmt: skip
    parser = AmiParser(expect_banner=False, keep=TYPED_EVENTS)
    events = blob.count(b"\r\n\r\n")  # every event read, typed or cheaply skipped
    typed = 0
    tracked: list[object] = []
    cpu0 = time.process_time()
    for start in range(0, len(blob), 1 << 18):
        for msg in parser.feed(blob[start : start + (1 << 18)]):
            event = parse_event(msg)
            typed += 1
            if event is not None:
                tracked.append(event)
    cpu1 = time.process_time()
    handle = tracker.handle
    for typed_event in tracked:  # timed on its own: parsing is most of the phase and hides it
        handle(typed_event)
    cpu2 = time.process_time()
    cpu, track = cpu2 - cpu0, cpu2 - cpu1
    return {"events": events, "events_typed": typed, "cpu_s": round(cpu, 3),
            "events_per_cpu_s": round(events / cpu), "calls_settled": len(results),
            "mb": round(len(blob) / 1e6, 1), "parse_cpu_s": round(cpu1 - cpu0, 3),
            "tracker_cpu_s": round(track, 3),
            "tracker_us_per_call": round(track / max(copies, 1) * 1e6, 1)}  # fmt: skip


@contextlib.asynccontextmanager
async def _sim(time_scale: float) -> AsyncIterator[tuple[int, str, str]]:
    """The simulator in a child process: yields its AMI port, user and secret."""
    code = f"from bench.gateway import sim_child; sim_child({time_scale!r})"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE)  # fmt: skip
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(30):
            line = (await proc.stdout.readline()).decode().split()
        yield int(line[0]), line[1], line[2]
    finally:
        proc.stdin.close()
        try:
            async with asyncio.timeout(15):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def edge_rate(calls: int, window: int, time_scale: float = 0.01) -> dict[str, Any]:
    """The rate phase on its own, as ``dialer bench gateway`` runs it (its own simulator child,
    one gateway :class:`Dialer` in this process): what it measured."""
    async with _sim(time_scale) as (port, user, secret):
        counter = _Counter()
        dialer = await _connect(port, user, secret, counter)
        try:
            return await _rate_phase(dialer, counter, calls, window)
        finally:
            await dialer.stop()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    async with _sim(args.time_scale) as (port, user, secret):
        counter = _Counter()
        dialer = await _connect(port, user, secret, counter)
        try:
            profiler = cProfile.Profile() if args.profile else None
            if profiler is not None:
                profiler.enable()
            rate = await _rate_phase(dialer, counter, args.calls, args.window)
            if profiler is not None:
                profiler.disable()
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
                print(out.getvalue(), file=sys.stderr)
        finally:
            await dialer.stop()
    async with _sim(1.0) as (port, user, secret):  # real time: the calls keep ringing
        counter = _Counter()
        dialer = await _connect(port, user, secret, counter, rate=2_000.0)
        try:
            memory = await _memory_phase(dialer, counter, args.in_flight)
        finally:
            await dialer.stop()
    replay = _replay_phase(args.replay_calls)
    return {
        "rate": rate,
        "memory": memory,
        "replay": replay,
        "note": "simulator in a separate process; one AMI link; Filters installed",
    }


def _print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="dialer bench gateway")
    table.add_column("phase")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for phase in ("rate", "memory", "replay"):
        for key, value in result[phase].items():
            table.add_row(phase, key, str(value))
    Console().print(table)
    Console().print(result["note"])


def _handler(args: argparse.Namespace) -> int:
    return emit(asyncio.run(run(args)), args, _print_table)


def register_bench(bench_subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dialer bench gateway``."""
    parser = bench_subparsers.add_parser("gateway", help="gateway originate/event throughput")
    parser.add_argument("--calls", type=int, default=20_000, help="calls in the rate phase")
    parser.add_argument("--window", type=int, default=2_000, help="calls in flight (rate phase)")
    parser.add_argument("--in-flight", type=int, default=10_000, help="calls held (memory)")
    parser.add_argument("--replay-calls", type=int, default=5_000, help="calls replayed")
    parser.add_argument("--time-scale", type=float, default=0.01, help="simulator time scale")
    parser.add_argument("--profile", action="store_true", help="cProfile the rate phase")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=_handler)
