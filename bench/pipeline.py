"""``dialer bench pipeline``: a predictive campaign end to end, and what bounds it.

On a fresh database of the configured PostgreSQL server (created, migrated, dropped at the end)
the simulated Asterisk runs in a child process (``dialer sim``: short calls, many agents, one
queue) and each gateway instance is a child process running the whole service
(:mod:`bench.pipeline_worker`). Each instance runs one predictive campaign of ``--records``
records (``max_attempts`` 1, no AMD), set up through the control API as an operator would; the
bench gives each instance its campaign's pacer lease before the start, so that one instance
paces one campaign. Measured:

- **end to end**: calls settled with the record's next step written (stored by the result
  writer) per second, from the start to the last one; the steady rate between 10 % and 90 %;
  Originates the simulator received (its own count) against attempts settled in the database;
- **result writer backlog**: results received but not yet stored, sampled every 0.25 s;
- **round trips per call**: every statement, ``BEGIN``, ``COMMIT`` and ``ROLLBACK`` of the
  instances' engines (SQLAlchemy events) during the run, over the calls settled; beside it the
  database's own transaction count (``pg_stat_database``, every client of the run's database);
- **decision → wire**: fixed decisions of 1, 100 and 1,000 calls through the gateway's runner
  (:mod:`bench.pipeline_latency`), p50/p99/max from the decision to the Originate handed to
  the socket;
- **the gateway edge**: the rate phase of ``dialer bench gateway`` (:func:`bench.gateway.
  edge_rate`) in the same run, and the end-to-end rate as a fraction of it.

``--instances 2`` runs one instance first, then two on the same database (a campaign each), and
prints their combined rate and its ratio to one. ``--quick`` is a small run for the tests.
Numbers are printed, never asserted. Not imported by the gateway at run time.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import secrets
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from bench.faults_campaign import api_call, api_session, resume
from bench.faults_stack import Database, World, gateway_toml, sim_child
from bench.report import default_database_url, emit
from dialer.demo import daytime_region, demo_numbers, records_csv
from gateway.asterisk.pool import ServerConfig
from gateway.db.engine import make_engine
from gateway.db.migrate import upgrade

QUEUES = ("sales", "sales-b")  # one per instance's campaign; the latency phase uses the first
CALLERS = 24  # caller-ID numbers in every campaign's pool, 1,000 concurrent calls each
LATENCY = {1: 40, 100: 10, 1000: 4}
LATENCY_QUICK = {1: 5, 100: 2, 1000: 1}


def sim_toml(world: World, ami_port: int, ari_port: int, secret: str) -> str:
    """Short calls: a tenth answered live (talk ~2 simulated s), the rest busy, failed or (a
    few) unanswered; a queue of ``agents`` agents per campaign (two campaigns paced over one
    queue would both dial for the same free agents), each caller ringing one agent
    (``rrmemory``: ``ringall`` rings every free agent for every caller, thousands of events)."""
    return (
        f"[sim]\nseed = {world.seed}\nami_port = {ami_port}\nari_port = {ari_port}\n"
        f'time_scale = {world.time_scale}\nami_secret = "{secret}"\n'
        f'ari_password = "{secret}"\nplayback_seconds = 0.0\nvarset_events = false\n\n'
        '[[trunk]]\nname = "carrier-a"\nchannels = 1000000\ncps = 1000000\n\n'
        '[[carrier]]\nprefix = ""\nlive = 0.1\nmachine = 0\nno_answer = 0.05\n'
        "busy = 0.55\ncongestion = 0\nfailure = 0.3\nring_time = [0.5, 2]\n"
        'callee_hangup = {dist = "lognormal", mean = 30, sigma = 0.5}\n\n'
        + "".join(_queue(name, world.agents, i) for i, name in enumerate(QUEUES))
    )


def _queue(name: str, agents: int, index: int) -> str:
    """One queue with agents of its own (extensions distinct across queues)."""
    exts = ", ".join(f'{{ext = "{10_000 * (index + 1) + i}"}}' for i in range(agents))
    return (
        f'[[queue]]\nname = "{name}"\nagents = [{exts}]\n'
        'talk_time = {dist = "lognormal", mean = 2, sigma = 0.5}\nwrapup = 0\n'
        'strategy = "rrmemory"\nring_time = [0.1, 0.4]\n\n'
    )


class Worker:
    """One gateway instance (:mod:`bench.pipeline_worker`), spoken to over stdin/stdout."""

    def __init__(self, name: str, env: dict[str, str], config: Path, log: Path) -> None:
        self.name = name
        self._argv = [sys.executable, "-m", "bench.pipeline_worker", "--config", str(config)]
        self._env = env
        self._log = log
        self.proc: asyncio.subprocess.Process | None = None
        self.http_port = 0

    async def start(self) -> None:
        with self._log.open("wb") as err:
            self.proc = await asyncio.create_subprocess_exec(
                *self._argv, env=self._env, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=err, limit=1 << 24)  # fmt: skip
        ready = await self._line(120.0)
        self.http_port = int(ready["http_port"])

    async def _line(self, within: float) -> dict[str, Any]:
        assert self.proc is not None
        assert self.proc.stdout is not None
        async with asyncio.timeout(within):
            raw = await self.proc.stdout.readline()
        if not raw:
            raise RuntimeError(f"{self.name} ended; see {self._log}")
        data: dict[str, Any] = json.loads(raw)
        return data

    async def ask(self, command: str) -> dict[str, Any]:
        assert self.proc is not None
        assert self.proc.stdin is not None
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()
        return await self._line(60.0)

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        with contextlib.suppress(OSError, RuntimeError, TimeoutError):
            await self.ask("stop")
        try:
            async with asyncio.timeout(30):
                await self.proc.wait()
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/v1"


class Run:
    """The processes and the database of one bench run."""

    def __init__(self, args: argparse.Namespace, run_dir: Path) -> None:
        self.args = args
        self.run_dir = run_dir
        self.world = World(args.agents, args.time_scale, 100_000, args.originate_rate)
        self.database = Database(args.database_url, prefix="dialer_pipeline")
        self.secret = secrets.token_hex(8)
        self.token = secrets.token_urlsafe(16)
        self.sim, self.ami_port, self.ari_port = sim_child(
            self.world, run_dir, self.secret, sim_toml
        )
        self.region = daytime_region(datetime.now(UTC))
        self.callers: list[int] = []
        self.numbers_used = 0

    @property
    def server(self) -> ServerConfig:
        return ServerConfig("sim", ami_port=self.ami_port, ami_username="dialer",
                            ami_secret=self.secret, channels=100_000,
                            originate_rate=self.args.originate_rate,
                            trunk="PJSIP/{number}@carrier-a")  # fmt: skip

    async def start(self) -> None:
        await self.database.create()
        await upgrade(self.database.direct)

    async def stop(self) -> None:
        await self.sim.terminate()
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            await self.database.drop()

    @contextlib.asynccontextmanager
    async def simulator(self) -> AsyncIterator[None]:
        """A fresh simulator for one phase (no call or agent state left by the one before)."""
        await self.sim.start("ADMIN ")
        try:
            yield
        finally:
            await self.sim.terminate()

    def worker(self, instance: str, phase: str) -> Worker:
        config = self.run_dir / f"{instance}.toml"
        config.write_text(gateway_toml(self.world, self.ami_port, self.ari_port, self.secret))
        env = {**os.environ, "DIALER_DATABASE_URL": self.database.direct,
               "DIALER_INSTANCE_ID": instance, "DIALER_HTTP_PORT": "0",
               "DIALER_API_TOKEN": self.token, "DIALER_LOG_LEVEL": "WARNING",
               "DIALER_DATABASE_AUTO_MIGRATE": "false",
               "DIALER_DATA_DIR": str(self.run_dir / instance)}  # fmt: skip
        return Worker(instance, env, config, self.run_dir / f"{instance}-{phase}.log")

    async def campaign(self, api: str, name: str, records: int, queue: str = QUEUES[0]) -> int:
        """A predictive campaign of ``records`` records, ready (not started); its id."""
        async with api_session(self.token) as http:
            if not self.callers:
                for number in demo_numbers(self.region, CALLERS, 1):
                    spec = {"number": number, "max_concurrent": 1000, "max_per_day": 1_000_000}
                    made = await api_call(http, "POST", f"{api}/numbers", json=spec)
                    self.callers.append(int(made["id"]))
            campaign = await api_call(http, "POST", f"{api}/campaigns", json={
                "name": f"{name}-{secrets.token_hex(3)}", "pacing_mode": "predictive",
                "queue": queue, "default_region": self.region, "abandon_target": 0.03,
                "max_attempts": 1, "owner": "bench", "resume_owner": "bench",
                "pacing": {"caller_id_name": "Bench", "ring_timeout_s": 15, "amd": False},
            })  # fmt: skip
            cid = int(campaign["id"])
            await api_call(http, "PUT", f"{api}/campaigns/{cid}/numbers",
                           json={"number_ids": self.callers})  # fmt: skip
            self.numbers_used += 1
            callees = demo_numbers(self.region, records, 100 + self.numbers_used)
            csv = records_csv(callees)
            await api_call(http, "POST", f"{api}/campaigns/{cid}/records", data=csv,
                           headers={"Content-Type": "text/csv"})  # fmt: skip
        return cid

    async def sim_originates(self) -> int:
        auth = base64.b64encode(f"dialer:{self.secret}".encode()).decode()
        url = f"http://127.0.0.1:{self.ari_port}/sim/stats"
        async with (
            aiohttp.ClientSession() as http,
            http.get(url, headers={"Authorization": f"Basic {auth}"}) as resp,
        ):
            return int((await resp.json())["originates"])

    async def sim_received(self) -> set[str]:
        """The attempt ids whose Originate the simulator received and carried out (its
        ``/sim/counts``: every Originate by ``ActionID`` and ``ChannelId``, both the attempt id)."""
        auth = base64.b64encode(f"dialer:{self.secret}".encode()).decode()
        url = f"http://127.0.0.1:{self.ari_port}/sim/counts"
        async with (
            aiohttp.ClientSession() as http,
            http.get(url, headers={"Authorization": f"Basic {auth}"}) as resp,
        ):
            return set((await resp.json()).keys())

    async def unreached(self, cids: list[int], received: set[str]) -> dict[str, Any]:
        """Attempts settled without the simulator having received their Originate, by class.

        ``record_open``: the record is dialable again (``new``, ``retry``, ``callback``) or
        in a call; ``record_closed``: the record is closed (``done``) without any call having
        reached Asterisk, a defect. Withdrawn attempts (never sent) leave no row: the writers
        count them (``withdrawn``). ``received_without_attempt``: Originates the simulator
        received for an attempt that has no row (withdrawn, yet sent: a defect too)."""
        conn = await asyncpg.connect(self.database.direct)
        try:
            rows = await conn.fetch(
                "SELECT a.id, a.outcome, a.fault, r.status AS record_status, r.attempts "
                "FROM attempts a JOIN records r ON r.id = a.record_id "
                "WHERE a.campaign_id = ANY($1) AND a.status = 'settled'", cids)  # fmt: skip
            ids = {str(i) for (i,) in await conn.fetch(
                "SELECT id FROM attempts WHERE campaign_id = ANY($1)", cids)}  # fmt: skip
        finally:
            await conn.close()
        missing = [r for r in rows if str(r["id"]) not in received]
        closed = [r for r in missing if r["record_status"] == "done"]
        by: dict[str, int] = {}
        for r in missing:
            key = f"{r['outcome']}{'/' + r['fault'] if r['fault'] else ''}->{r['record_status']}"
            by[key] = by.get(key, 0) + 1
        return {
            "total": len(missing), "record_open": len(missing) - len(closed),
            "record_closed": len(closed), "by_outcome": dict(sorted(by.items())),
            "received_without_attempt": len({a for a in received if len(a) == 32} - ids),
            "examples": [str(r["id"]) for r in closed[:5]],
        }  # fmt: skip

    async def stall(self, seconds: float) -> None:
        """The simulator stops answering for ``seconds`` (it still takes bytes off the
        socket, unread: what a loaded Asterisk does), so the gateway's AMI Ping goes
        unanswered and the link is dropped with Originates Asterisk never read."""
        auth = base64.b64encode(f"dialer:{self.secret}".encode()).decode()
        url = f"http://127.0.0.1:{self.ari_port}/sim/faults/stall?seconds={seconds}"
        async with (
            aiohttp.ClientSession() as http,
            http.post(url, headers={"Authorization": f"Basic {auth}"}) as resp,
        ):
            resp.raise_for_status()

    async def xacts(self) -> int:
        conn = await asyncpg.connect(self.database.direct)
        try:
            sql = ("SELECT xact_commit + xact_rollback FROM pg_stat_database "
                   "WHERE datname = current_database()")  # fmt: skip
            return int(await conn.fetchval(sql))
        finally:
            await conn.close()

    async def pauses(self, cids: list[int]) -> dict[str, int]:
        """Pauses of the campaigns (a guard's, resumed by the bench) by category."""
        conn = await asyncpg.connect(self.database.direct)
        try:
            sql = ("SELECT category, count(*) FROM pause_events WHERE campaign_id = ANY($1) "
                   "GROUP BY 1")  # fmt: skip
            return {str(c): int(n) for c, n in await conn.fetch(sql, cids)}
        finally:
            await conn.close()

    async def truth(self, cids: list[int]) -> dict[str, int]:
        conn = await asyncpg.connect(self.database.direct)
        try:
            row = await conn.fetchrow(
                "SELECT (SELECT count(*) FROM attempts WHERE campaign_id = ANY($1) "
                "AND status = 'settled') AS settled, (SELECT count(*) FROM attempts "
                "WHERE campaign_id = ANY($1) AND status = 'dialing') AS dialing, "
                "(SELECT count(*) FROM records WHERE campaign_id = ANY($1) "
                "AND status = 'done') AS records_done", cids)  # fmt: skip
            assert row is not None
            return {k: int(v) for k, v in row.items()}
        finally:
            await conn.close()


def _backlog(samples: list[list[float]], every_s: float) -> list[list[float]]:
    """One sample per ``every_s`` (the largest backlog within it)."""
    out: dict[int, float] = {}
    for t, n in samples:
        slot = int(t // every_s)
        out[slot] = max(out.get(slot, 0), n)
    return [[round(k * every_s, 1), v] for k, v in sorted(out.items())]


def _summed(counts: list[dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for one in counts:
        for k, v in one.items():
            out[k] = out.get(k, 0) + int(v)
    return out


def _steady(timeline: list[tuple[float, int]], total: int) -> float | None:
    """Calls per second between 10 % and 90 % of the total."""
    low = next((p for p in timeline if p[1] >= 0.1 * total), None)
    high = next((p for p in timeline if p[1] >= 0.9 * total), None)
    if low is None or high is None or high[0] <= low[0]:
        return None
    return round((high[1] - low[1]) / (high[0] - low[0]), 1)


async def _drive(run: Run, workers: list[Worker], cids: list[int]) -> dict[str, Any]:
    """Start the campaigns at once; poll until every record is settled or progress stops."""
    total = run.args.records * len(cids)
    for worker, cid in zip(workers, cids, strict=True):
        if not (await worker.ask(f"acquire {cid}"))["held"]:
            raise RuntimeError(f"{worker.name} could not take campaign {cid}'s pacer lease")
    for worker in workers:
        await worker.ask("mark")
    xacts0, sim0 = await run.xacts(), await run.sim_originates()
    t0 = time.monotonic()
    async with api_session(run.token) as http:
        for worker, cid in zip(workers, cids, strict=True):
            await api_call(http, "POST", f"{worker.api}/campaigns/{cid}/start")
    timeline: list[tuple[float, int]] = []
    progress: list[list[Any]] = []  # [s, settled, placed, in flight, last decisions]
    last_change, sent, resumes, refused = t0, 0, 0, 0
    stall_at = total // 3 if run.args.sim_stall > 0 else None  # settled calls before a stall
    states = await asyncpg.connect(run.database.direct)
    while sent < total and time.monotonic() - last_change < run.args.stall_s:
        await asyncio.sleep(0.25)
        paused = await states.fetch(
            "SELECT id FROM campaigns WHERE id = ANY($1) AND state = 'paused'", cids
        )
        for (cid,) in paused:  # a guard paused it: resumed as its owner would, and counted
            try:
                await resume(workers[cids.index(cid)].api, run.token, cid)
                resumes += 1
            except RuntimeError:  # the checklist refused (a link down): tried again next poll
                refused += 1
        reads = [await w.ask("read") for w in workers]
        now_sent = sum(int(r["sent"]) for r in reads)
        progress.append([round(time.monotonic() - t0, 2), now_sent,
                         sum(int(r["placed"]) for r in reads),
                         sum(int(r["in_flight"]) for r in reads),
                         [d for r in reads for d in r["decisions"]]])  # fmt: skip
        if now_sent != sent:
            last_change, sent = time.monotonic(), now_sent
            timeline.append((round(last_change - t0, 3), sent))
        if stall_at is not None and sent >= stall_at:
            stall_at = None
            await run.stall(run.args.sim_stall)
            last_change = time.monotonic() + run.args.sim_stall  # a stall is not the end
    await states.close()
    wall = (timeline[-1][0] if timeline else time.monotonic() - t0) or 1e-9
    reads = [await w.ask("read") for w in workers]
    await asyncio.sleep(1.0)  # PostgreSQL's statistics are flushed within a second
    xacts = await run.xacts() - xacts0
    originated = await run.sim_originates() - sim0
    truth = await run.truth(cids)
    unreached = await run.unreached(cids, await run.sim_received())
    trips = sum(int(r["round_trips"]) for r in reads)
    settled = sum(int(r["sent"]) for r in reads)
    kinds: dict[str, int] = {}
    for r in reads:
        for k, v in r["round_trip_kinds"].items():
            kinds[k] = kinds.get(k, 0) + int(v)
    return {
        "instances": len(workers), "records": total, "complete": settled >= total,
        "wall_s": round(wall, 2), "calls_per_s": round(settled / wall, 1),
        "steady_calls_per_s": _steady(timeline, total),
        "originated": originated, "settled": truth["settled"], "stored_by_writers": settled,
        "settled_not_received": unreached,
        "left_dialing": truth["dialing"], "records_done": truth["records_done"],
        "withdrawn": sum(int(r["withdrawn"]) for r in reads),
        "withdrawn_why": _summed([r["withdrawn_why"] for r in reads]),
        "guard_pauses_resumed": resumes,
        "resumes_refused": refused,
        "round_trips": trips, "round_trips_per_call": round(trips / max(settled, 1), 4),
        "round_trip_kinds": kinds, "pg_transactions": xacts,
        "pg_transactions_per_call": round(xacts / max(settled, 1), 4),
        "backlog_peak": max(int(r["backlog_peak"]) for r in reads),
        "backlog": [_backlog(r["backlog"], 1.0) for r in reads],
        "progress": progress[:: max(1, len(progress) // 60)],
        "per_instance": [{"instance": w.name, "campaign": c, "settled": int(r["sent"]),
                          "round_trips": int(r["round_trips"])}
                         for w, c, r in zip(workers, cids, reads, strict=True)],
    }  # fmt: skip


async def _campaign_run(run: Run, instances: int) -> dict[str, Any]:
    workers = [run.worker(f"gw-{chr(97 + i)}", f"x{instances}") for i in range(instances)]
    async with run.simulator():
        try:
            for worker in workers:
                await worker.start()
            cids = [
                await run.campaign(w.api, f"pipeline-{w.name}", run.args.records, queue)
                for w, queue in zip(workers, QUEUES, strict=False)
            ]
            result = await _drive(run, workers, cids)
        finally:
            for worker in workers:
                await worker.stop()
    result["pauses"] = await run.pauses(cids)
    return result


async def _latency(run: Run) -> dict[str, Any]:
    sizes = LATENCY_QUICK if run.args.quick else LATENCY
    worker = run.worker("gw-setup", "latency")
    async with run.simulator():
        try:
            await worker.start()
            records = sum(k * v for k, v in sizes.items()) * 6 // 5
            cid = await run.campaign(worker.api, "latency", records)
        finally:
            await worker.stop()
        from bench.pipeline_latency import measure

        engine = make_engine(run.database.direct, pool_size=4)
        try:
            return await measure(engine, run.server, cid, sizes)
        finally:
            await engine.dispose()


async def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    from bench.gateway import edge_rate

    run_dir = Path(tempfile.mkdtemp(prefix="dialer-pipeline-"))
    run = Run(args, run_dir)
    await run.start()
    try:
        one = await _campaign_run(run, 1)
        (run_dir / "one.json").write_text(json.dumps(one))
        two = await _campaign_run(run, 2) if args.instances == 2 else None
        if two is not None:
            (run_dir / "two.json").write_text(json.dumps(two))
        latency = await _latency(run)
    finally:
        await run.stop()
    edge = await edge_rate(args.edge_calls, args.edge_window)
    edge_rate_s = float(edge["originations_per_s_wall"])
    result: dict[str, Any] = {
        "load_average_start": args.load_start, "records": args.records, "agents": args.agents,
        "originate_rate": args.originate_rate, "one": one, "two": two,
        "decision_to_wire": latency, "edge": edge, "edge_calls_per_s": edge_rate_s,
        "ratio_to_edge": round(one["calls_per_s"] / edge_rate_s, 3) if edge_rate_s else None,
        "ratio_two_to_one": (round(two["calls_per_s"] / one["calls_per_s"], 3)
                             if two and one["calls_per_s"] else None),
        "load_average_end": [round(x, 2) for x in os.getloadavg()], "logs": str(run_dir),
    }  # fmt: skip
    return result


def _rows(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows = []
    for phase in ("one", "two"):
        data = result.get(phase)
        if not data:
            continue
        rows += [(phase, k, v if isinstance(v, str) else json.dumps(v))
                 for k, v in data.items() if k not in ("backlog", "progress")]  # fmt: skip
        rows.append((phase, "backlog (per 1 s, max)", json.dumps(data["backlog"])[:400]))
    rows += [("decision→wire", f"{size} calls", json.dumps(data))
             for size, data in result["decision_to_wire"].items()]  # fmt: skip
    edge = ("originations_per_s_wall", "originations_per_gateway_cpu_s", "completed")
    rows += [("edge", k, str(result["edge"].get(k))) for k in edge]
    keys = ("ratio_to_edge", "ratio_two_to_one", "load_average_start", "load_average_end")
    rows += [("", k, json.dumps(result[k])) for k in keys]
    return rows


def _print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="dialer bench pipeline")
    for column in ("phase", "measure", "value"):
        table.add_column(column, overflow="fold")
    for row in _rows(result):
        table.add_row(*row)
    Console().print(table)


def _handler(args: argparse.Namespace) -> int:
    args.load_start = [round(x, 2) for x in os.getloadavg()]
    if args.quick:
        args.records = min(args.records, 2_000)
        args.edge_calls = min(args.edge_calls, 2_000)
    return emit(asyncio.run(run_bench(args)), args, _print_table)


def register_bench(bench_subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dialer bench pipeline``."""
    p = bench_subparsers.add_parser("pipeline", help="a predictive campaign end to end")
    default_db = default_database_url(own_first=True)
    p.add_argument(
        "--database-url",
        default=default_db,
        help="PostgreSQL server over TCP; a fresh database is created and dropped",
    )
    p.add_argument("--records", type=int, default=100_000, help="records per campaign")
    p.add_argument(
        "--instances",
        type=int,
        choices=(1, 2),
        default=1,
        help="2: one instance, then two on the same database (a campaign each)",
    )
    p.add_argument("--agents", type=int, default=600, help="agents in the simulated queue")
    p.add_argument("--time-scale", type=float, default=1.0, help="simulated time per wall s")
    p.add_argument(
        "--originate-rate",
        type=float,
        default=100_000.0,
        help="the server's originates per second at most",
    )
    p.add_argument("--edge-calls", type=int, default=20_000, help="calls of the edge phase")
    p.add_argument("--edge-window", type=int, default=2_000, help="edge calls in flight")
    p.add_argument(
        "--stall-s",
        type=float,
        default=30.0,
        help="end the campaign phase when nothing settled for this long",
    )
    p.add_argument(
        "--sim-stall",
        type=float,
        default=0.0,
        help="stall the simulator this many s once a third of each phase's calls settled "
        "(over ~10 s: the AMI Ping goes unanswered and the link drops); 0: no stall",
    )
    p.add_argument("--quick", action="store_true", help="a small run (tests)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=_handler)  # fmt: skip
