"""``dialer bench faults``: a campaign under faults, judged by an independent witness.

A campaign with ``max_attempts`` 1 and many agents runs against the simulator in a child
process, through :class:`bench.witness.Witness`, on gateway instances that are ``dialer serve``
child processes (:mod:`bench.faults_stack`). While hundreds of calls are in flight the bench
injects, each ``--repeat`` times:

- ``ami_cut``: the witness drops both sockets of every AMI link and refuses new ones for
  ``--ami-cut-s``;
- ``sim_restart``: the simulator is SIGKILLed and started again after ``--sim-down-s``;
- ``kill``: the only gateway instance is SIGKILLed and started again (same instance id) after
  ``--kill-down-s``;
- ``kill_one_of_two``: of two instances, the one pacing the campaign is SIGKILLed; the other must
  take over; the killed one comes back once dialling has resumed;
- ``db_outage``: the relay in front of PostgreSQL drops every connection and refuses new ones
  for ``--db-outage-s`` (two instances);
- ``sigstop``: the pacing instance is SIGSTOPped for ``--sigstop-s``, then SIGCONTed (two
  instances).

Faults that need one instance run first, then a second instance starts for the others. A
fault "ends" when the cut or outage ends, when the restarted process was spawned, at SIGCONT,
or (``kill_one_of_two``) at the kill. Dialling has resumed at the first Originate the witness
sees after that. A campaign paused by the gateway is resumed by the bench (as its owner would)
and the pauses are reported by category.

The report comes from the witness and the database only, never from the gateway's counters:
double dials (numbers, and attempt ids, originated more than once), records closed without a
call (``done`` records whose number the witness never saw), phantom attempts (Originates seen
more than ``PHANTOM_MARGIN_S`` after their attempt was settled), Originates of attempts the
database does not know, ``unknown`` outcomes (% of attempts), attempts left ``dialing``, and
the seconds until dialling resumed after each fault. A rich table, or one JSON object with
``--json``.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import collections
import contextlib
import dataclasses
import json
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from bench.faults_campaign import CampaignSpec, Truth, resume, set_up, stop
from bench.faults_stack import Database, Stack, World
from bench.report import default_database_url, emit

PHANTOM_MARGIN_S = 0.5
SINGLE = ("ami_cut", "sim_restart", "kill")
PAIR = ("kill_one_of_two", "db_outage", "sigstop")
FAULTS = SINGLE + PAIR
A, B = "gw-a", "gw-b"


@dataclasses.dataclass(slots=True)
class FaultRun:
    kind: str
    started: float
    in_flight: int
    target: str = ""
    ended: float = 0.0
    resumed: float | None = None
    unknown: int = 0  # attempts settled `unknown` from this fault's start to the next one's

    def row(self, t0: float) -> dict[str, Any]:
        return {
            "fault": self.kind, "target": self.target, "at_s": round(self.started - t0, 1),
            "length_s": round(self.ended - self.started, 1), "in_flight": self.in_flight,
            "resume_s": None if self.resumed is None else round(self.resumed - self.ended, 2),
            "unknown": self.unknown,
        }  # fmt: skip


class Bench:
    """One fault run: the stack, the campaign, the faults, and the watcher that resumes."""

    def __init__(self, args: argparse.Namespace, stack: Stack) -> None:
        self.args = args
        self.stack = stack
        self.truth = Truth(stack.database.direct)
        self.cid = 0
        self.runs: list[FaultRun] = []
        self.resumes = 0
        self.t0 = time.time()

    # -- the campaign ----------------------------------------------------------------------
    def api(self) -> str:
        live = [i for i in self.stack.running() if not self.stack.gateways[i].stopped]
        return f"http://127.0.0.1:{self.stack.api_ports[live[0]]}/v1"

    async def watch(self) -> None:
        """Resume the campaign whenever the gateway paused it (the run must keep dialling)."""
        while True:
            await asyncio.sleep(1.0)
            with contextlib.suppress(
                OSError,
                RuntimeError,
                IndexError,
                TimeoutError,
                aiohttp.ClientError,
                asyncpg.PostgresError,
                asyncpg.InterfaceError,
            ):
                if await self.truth.state(self.cid) == "paused":
                    await resume(self.api(), self.stack.token, self.cid)
                    self.resumes += 1

    async def in_flight(self) -> int:
        return await self.truth.dialing(self.cid)

    async def pacer(self) -> str:
        running = self.stack.running()
        pacer = await self.truth.pacer(self.cid)
        return pacer if pacer in running else running[0]

    # -- faults ----------------------------------------------------------------------------
    async def inject(self, kind: str) -> FaultRun:
        args, stack = self.args, self.stack
        run = FaultRun(kind, time.time(), await self.in_flight())
        if kind == "ami_cut":
            stack.witness.cut(args.ami_cut_s)
            await asyncio.sleep(args.ami_cut_s)
        elif kind == "sim_restart":
            await stack.restart_sim(args.sim_down_s)
        elif kind == "kill":
            run.target = A
            await stack.gateway(A).kill()
            await asyncio.sleep(args.kill_down_s)
            run.ended = time.time()
            await stack.serve(A)
        elif kind == "kill_one_of_two":
            run.target = await self.pacer()
            await stack.gateway(run.target).kill()
        elif kind == "db_outage":
            stack.database.relay.cut(args.db_outage_s)
            await asyncio.sleep(args.db_outage_s)
        elif kind == "sigstop":
            run.target = await self.pacer()
            stack.gateway(run.target).signal(signal.SIGSTOP)
            await asyncio.sleep(args.sigstop_s)
            stack.gateway(run.target).signal(signal.SIGCONT)
        run.ended = run.ended or time.time()
        return run

    async def await_resume(self, run: FaultRun) -> None:
        deadline = run.ended + self.args.resume_limit_s
        while time.time() < deadline:
            run.resumed = self.stack.witness.first_after(run.ended)
            if run.resumed is not None:
                return
            await asyncio.sleep(0.1)

    async def topology(self, wanted: int) -> None:
        if wanted == 2 and not self.stack.gateway(B).alive:
            await self.stack.serve(B)
        for instance in (A, B)[:wanted]:
            if not self.stack.gateway(instance).alive:
                await self.stack.serve(instance)

    async def faults(self) -> None:
        chosen = [k for k in FAULTS if k in self.args.faults]
        for group, instances in ((SINGLE, 1), (PAIR, 2)):
            kinds = [k for k in chosen if k in group]
            if not kinds:
                continue
            await self.topology(instances)
            for _ in range(self.args.repeat):
                for kind in kinds:
                    await asyncio.sleep(self.args.settle_s)
                    run = await self.inject(kind)
                    self.runs.append(run)
                    await self.await_resume(run)
                    await self.topology(instances)  # a killed instance comes back

    # -- the whole run ---------------------------------------------------------------------
    async def run(self) -> dict[str, Any]:
        await self.stack.serve(A)
        spec = CampaignSpec(self.args.records, self.args.power_ratio, self.args.abandon_target)
        self.cid = await set_up(self.api(), self.stack.token, spec)
        self.t0 = time.time()
        watcher = asyncio.create_task(self.watch())
        try:
            await asyncio.sleep(self.args.warmup_s)
            await self.faults()
            await asyncio.sleep(self.args.settle_s)
            await stop(self.api(), self.stack.token, self.cid)
            drain_until = time.time() + self.args.drain_s
            while time.time() < drain_until:
                if not await self.truth.dialing(self.cid):
                    break
                await asyncio.sleep(0.5)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        return await self.report()

    async def report(self) -> dict[str, Any]:
        witness = self.stack.witness
        attempts = await self.truth.attempts(self.cid)
        done = await self.truth.done_records(self.cid)
        settled = {str(a["id"]): float(a["settled"]) for a in attempts if a["settled"] is not None}
        known = {str(a["id"]) for a in attempts}
        outcomes = collections.Counter(str(a["outcome"]) for a in attempts)
        phantoms = [
            o
            for o in witness.originates
            if o.attempt_id in settled and o.at > settled[o.attempt_id] + PHANTOM_MARGIN_S
        ]
        unseen = [r for r in done if str(r["phone"]) not in witness.by_number]
        total = len(attempts)
        self._attribute_unknown(attempts)
        resumes = [r.resumed - r.ended for r in self.runs if r.resumed is not None]
        return {
            "duration_s": round(time.time() - self.t0, 1),
            "records": self.args.records, "agents": self.args.agents,
            "originates_seen": len(witness.originates),
            "numbers_seen": len(witness.by_number),
            "double_dials": sum(1 for n in witness.by_number.values() if n > 1),
            "attempts_sent_twice": sum(1 for n in witness.by_attempt.values() if n > 1),
            "records_done": len(done),
            "records_closed_without_call": len(unseen),
            "closed_without_call_reasons": dict(
                collections.Counter(str(r["reason"]) for r in unseen).most_common(5)),
            "phantom_attempts": len({o.attempt_id for o in phantoms}),
            "originates_unknown_to_db": len({o.attempt_id for o in witness.originates} - known),
            "attempts": total,
            "unknown": outcomes.get("unknown", 0),
            "unknown_pct": round(100.0 * outcomes.get("unknown", 0) / total, 3) if total else 0.0,
            "unknown_never_sent": sum(1 for a in attempts if a["outcome"] == "unknown"
                                      and str(a["id"]) not in witness.by_attempt),
            "outcomes": dict(outcomes.most_common()),
            "unknown_sample": self._unknown_sample(attempts),
            "left_dialing": sum(1 for a in attempts if a["status"] == "dialing"),
            "max_in_flight_at_fault": max((r.in_flight for r in self.runs), default=0),
            "resume_s_max": round(max(resumes), 2) if resumes else None,
            "not_resumed": sum(1 for r in self.runs if r.resumed is None),
            "pauses": await self.truth.pauses(self.cid), "bench_resumes": self.resumes,
            "ami_connections": witness.connections, "ami_cuts": witness.cuts,
            "faults": [r.row(self.t0) for r in self.runs],
        }  # fmt: skip

    def _unknown_sample(self, attempts: list[Any], most: int = 20) -> list[dict[str, Any]]:
        """A few ``unknown`` attempts, with times (s from the run's start) to tell them apart:
        written, first seen by the witness (None: never sent), settled; and by whom."""
        sent_at: dict[str, float] = {}
        for o in self.stack.witness.originates:
            sent_at.setdefault(o.attempt_id, o.at)
        rows: list[dict[str, Any]] = []
        for a in attempts:
            if a["outcome"] != "unknown":
                continue
            seen = sent_at.get(str(a["id"]))
            rows.append({"id": str(a["id"]), "instance": str(a["instance_id"]),
                         "written_s": round(float(a["originated"]) - self.t0, 2),
                         "sent_s": None if seen is None else round(seen - self.t0, 2),
                         "settled_s": None if a["settled"] is None
                         else round(float(a["settled"]) - self.t0, 2)})  # fmt: skip
        return sorted(rows, key=lambda r: float(r["written_s"]))[:most]

    def _attribute_unknown(self, attempts: list[Any]) -> None:
        """Count each ``unknown`` outcome against the last fault that started before it settled."""
        starts = [r.started for r in self.runs]
        for attempt in attempts:
            if attempt["outcome"] != "unknown" or attempt["settled"] is None:
                continue
            index = bisect.bisect_right(starts, float(attempt["settled"])) - 1
            if index >= 0:
                self.runs[index].unknown += 1


async def run(args: argparse.Namespace) -> dict[str, Any]:
    world = World(args.agents, args.time_scale, args.channels, args.originate_rate)
    run_dir = Path(tempfile.mkdtemp(prefix="dialer-faults-"))
    stack = Stack(world, Database(args.database_url), run_dir)
    try:
        await stack.start()
        bench = Bench(args, stack)
        try:
            result = await bench.run()
        finally:
            await bench.truth.close()
    finally:
        await stack.stop()
    result["logs"] = str(run_dir)
    return result


def _print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    summary = Table(title="dialer bench faults (witness + database)")
    summary.add_column("measure")
    summary.add_column("value", justify="right")
    for key, value in result.items():
        if key != "faults":
            summary.add_row(key, json.dumps(value) if isinstance(value, dict) else str(value))
    faults = Table(title="faults")
    for column in ("fault", "target", "at_s", "length_s", "in_flight", "resume_s", "unknown"):
        faults.add_column(column, justify="left" if column in ("fault", "target") else "right")
    for row in result["faults"]:
        faults.add_row(*(str(v) for v in row.values()))
    Console().print(summary)
    Console().print(faults)


def _faults(value: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in value.split(",") if k.strip())
    unknown = [k for k in kinds if k not in FAULTS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"unknown fault {unknown}; choose from {','.join(FAULTS)}")
    return kinds


def _handler(args: argparse.Namespace) -> int:
    return emit(asyncio.run(run(args)), args, _print_table)


def register_bench(bench_subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dialer bench faults``."""
    p = bench_subparsers.add_parser("faults", help="fault suite judged by an AMI witness")
    default_db = default_database_url()
    p.add_argument(
        "--database-url",
        default=default_db,
        help="PostgreSQL server over TCP; a fresh database is created and dropped",
    )
    p.add_argument("--faults", type=_faults, default=FAULTS, help=",".join(FAULTS))
    p.add_argument("--repeat", type=int, default=2, help="times each fault is injected")
    p.add_argument("--agents", type=int, default=150)
    p.add_argument("--records", type=int, default=20_000, help="distinct numbers")
    p.add_argument("--power-ratio", type=float, default=3.0, help="calls per agent (power)")
    p.add_argument("--abandon-target", type=float, default=0.3)
    p.add_argument("--time-scale", type=float, default=0.5, help="simulated time per wall s")
    p.add_argument("--channels", type=int, default=600, help="gateway channels on the server")
    p.add_argument("--originate-rate", type=float, default=100.0)
    p.add_argument("--warmup-s", type=float, default=20.0)
    p.add_argument("--settle-s", type=float, default=8.0, help="between faults")
    p.add_argument("--ami-cut-s", type=float, default=2.0)
    p.add_argument("--sim-down-s", type=float, default=1.0)
    p.add_argument("--kill-down-s", type=float, default=2.0)
    p.add_argument("--db-outage-s", type=float, default=30.0)
    p.add_argument("--sigstop-s", type=float, default=20.0)
    p.add_argument("--resume-limit-s", type=float, default=60.0)
    p.add_argument("--drain-s", type=float, default=60.0, help="wait for calls after stop")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=_handler)  # fmt: skip
