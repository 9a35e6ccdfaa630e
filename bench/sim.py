"""``dialer bench sim``: how fast the simulator produces calls, measured from outside.

The simulator runs in this process; a minimal raw-socket AMI client runs in another process
(``multiprocessing``, so it does not share the simulator's core). Phase 1 drives Async
Originates of instantly answered Local calls (``Local/8NNNN@sim-carrier`` into ``sim-hangup``,
the recorded rate test) with a bounded number outstanding, and counts OriginateResponses and
bytes. Phase 2 holds ringing calls (``3NNNN``, never answered) until the target number of
channels is live. This module must not be imported by the gateway at run time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import sys
import time
from typing import Any

import psutil

from asterisk_sim.config import SimConfig
from asterisk_sim.sim import SimAsterisk

LOGIN = b"Action: Login\r\nActionID: l\r\nUsername: %s\r\nSecret: %s\r\n\r\n"


@dataclasses.dataclass(frozen=True, slots=True)
class BenchResult:
    """What one bench run measured."""

    duration_s: float
    originates_sent: int
    originate_responses: int
    originates_per_s: float
    events_per_s: float
    bytes_per_s: float
    concurrent_channels: int
    hold_seconds: float
    sim_cpu_pct: float
    sim_peak_rss_mb: float
    client_cpu_s: float


def _originate(i: int, exten: str, timeout_ms: int) -> bytes:
    return (
        f"Action: Originate\r\nActionID: b{i}\r\nChannel: Local/{exten}@sim-carrier\r\n"
        f"Context: sim-hangup\r\nExten: s\r\nPriority: 1\r\nTimeout: {timeout_ms}\r\n"
        f'CallerID: "Bench" <5550100>\r\nAsync: true\r\nVariable: CAMPAIGN=bench\r\n\r\n'
    ).encode()


async def _client(
    port: int, user: str, secret: str, seconds: float, outstanding: int, hold: int
) -> dict[str, Any]:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
    writer.write(LOGIN % (user.encode(), secret.encode()))
    sent = got = nbytes = 0
    tail = b""
    marker = b"Event: OriginateResponse"
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        batch = [
            _originate(sent + k, f"8{(sent + k) % 10000:04d}", 30000)
            for k in range(max(outstanding - (sent - got), 0))
        ]
        if batch:
            writer.write(b"".join(batch))
            sent += len(batch)
        chunk = await asyncio.wait_for(reader.read(1 << 20), 10)
        if not chunk:
            break
        nbytes += len(chunk)
        data = tail + chunk
        got += data.count(marker)
        tail = data[-len(marker) + 1 :]
    elapsed = time.monotonic() - start
    _report({"phase": 1, "sent": sent, "responses": got, "bytes": nbytes, "elapsed": elapsed})
    queued_marker = b"ActionID: b1000"  # the hold originates are numbered from 10,000,000
    queued, tail = 0, b""
    for i in range(hold):  # phase 2: ringing calls that stay up
        writer.write(_originate(10_000_000 + i, f"3{i % 10000:04d}", 600_000))
        if i % 500 == 0:
            await writer.drain()
    deadline = time.monotonic() + 60
    while hold and queued < hold and time.monotonic() < deadline:
        chunk = await asyncio.wait_for(reader.read(1 << 20), 10)
        if not chunk:
            break
        data = tail + chunk
        queued += data.count(queued_marker)
        tail = data[-len(queued_marker) + 1 :]
    _report({"phase": 2, "queued": queued})
    stop = asyncio.ensure_future(asyncio.to_thread(sys.stdin.readline))
    while not stop.done():  # keep reading so the simulator never blocks on us
        with contextlib.suppress(TimeoutError):
            if not await asyncio.wait_for(reader.read(1 << 20), 0.2):
                break
    stop.cancel()
    writer.close()
    return {}


def _report(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


def client_main(argv: list[str]) -> int:
    """Entry of the client subprocess: ``python -m bench.sim PORT USER SECRET S N H``."""
    port, user, secret, seconds, outstanding, hold = argv
    proc = psutil.Process()
    asyncio.run(_client(int(port), user, secret, float(seconds), int(outstanding), int(hold)))
    times = proc.cpu_times()
    _report({"phase": 3, "cpu": times.user + times.system})
    return 0


async def run_bench(seconds: float = 5.0, outstanding: int = 100, hold: int = 5000) -> BenchResult:
    """Run both phases and measure (the simulator in this process, the client in another)."""
    config = SimConfig(ami_port=0, ari_port=0, time_scale=1.0, seed=1, rtcp_interval=0)
    proc = psutil.Process()
    async with SimAsterisk(config) as sim:
        cpu0 = proc.cpu_times()
        client = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.sim",
            str(sim.ami_port),
            config.ami_user,
            config.ami_secret,
            str(seconds),
            str(outstanding),
            str(hold),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert client.stdout is not None
        assert client.stdin is not None
        try:
            phase1 = await _line(client.stdout, seconds + 60)
            cpu1 = proc.cpu_times()
            events = sim.world.emit.events
            peak_rss = proc.memory_info().rss
            await _line(client.stdout, 120)
            peak_channels, held = await _hold(sim, hold)
            peak_rss = max(peak_rss, proc.memory_info().rss)
            client.stdin.write(b"\n")
            await client.stdin.drain()
            client_cpu = (await _line(client.stdout, 30)).get("cpu", 0.0)
        finally:
            if client.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    client.kill()
            await asyncio.wait_for(client.wait(), 10)
    elapsed = phase1["elapsed"]
    cpu = (cpu1.user - cpu0.user + cpu1.system - cpu0.system) / elapsed * 100
    return BenchResult(
        duration_s=round(elapsed, 2),
        originates_sent=phase1["sent"],
        originate_responses=phase1["responses"],
        originates_per_s=round(phase1["responses"] / elapsed, 1),
        events_per_s=round(events / elapsed, 1),
        bytes_per_s=round(phase1["bytes"] / elapsed, 1),
        concurrent_channels=peak_channels,
        hold_seconds=held,
        sim_cpu_pct=round(cpu, 1),
        sim_peak_rss_mb=round(peak_rss / 1e6, 1),
        client_cpu_s=round(client_cpu, 2),
    )


async def _line(stream: asyncio.StreamReader, within: float) -> dict[str, Any]:
    raw = await asyncio.wait_for(stream.readline(), within)
    if not raw:
        raise RuntimeError("bench client ended early")
    data: dict[str, Any] = json.loads(raw)
    return data


async def _hold(sim: SimAsterisk, hold: int) -> tuple[int, float]:
    """Channels held: the minimum live count over 2 s once every ringing call is up."""
    if not hold:
        return len(sim.world.channels), 0.0
    start = time.monotonic()
    lowest = len(sim.world.channels)
    while time.monotonic() - start < 2.0:
        await asyncio.sleep(0.1)
        lowest = min(lowest, len(sim.world.channels))
    return lowest, round(time.monotonic() - start, 2)


def register_bench(bench_subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = bench_subparsers.add_parser("sim", help="measure the simulator's call throughput")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the rate phase")
    parser.add_argument("--outstanding", type=int, default=100, help="originates in flight")
    parser.add_argument(
        "--hold", type=int, default=5000, help="ringing calls to hold (x2 channels)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run_bench_cli)


def run_bench_cli(args: argparse.Namespace) -> int:
    result = asyncio.run(run_bench(args.seconds, args.outstanding, args.hold))
    data = dataclasses.asdict(result)
    if args.json:
        print(json.dumps(data))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="dialer bench sim")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in data.items():
        table.add_row(key, f"{value:,}" if isinstance(value, int | float) else str(value))
    Console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(client_main(sys.argv[1:]))
