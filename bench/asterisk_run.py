"""``dialer bench asterisk``: a predictive campaign against a real Asterisk 22, judged by Asterisk.

One run: a fresh database, the real Asterisk of the tier (:mod:`bench.pbx`, found under
``DIALER_ASTERISK_HOME``) with the bench world (``bench/asterisk_world/``: a random callee mix on
a Local-channel carrier, ten agents that answer at once, 5 s wrap-up), one ``dialer serve`` child
with the chosen driver, and a predictive campaign set up through the control API. After
``--duration`` seconds the campaign is stopped and the calls in flight drain; then Asterisk's own
account (its ``queue_log`` and an AMI listener of its own: :mod:`bench.asterisk_truth`) is set
beside the gateway's records (read from the database directly), measure by measure, and every
attempt whose recorded outcome differs from Asterisk's verdict is counted. Without a build it
says so in one line and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from bench.asterisk_truth import Listener, asterisk_outcome, read_queue_log
from bench.faults_stack import SERVING, Child, Database
from bench.pbx import (
    AMI_SECRET,
    AMI_USER,
    ARI_APP,
    ARI_PASSWORD,
    ARI_USER,
    RealAsterisk,
    find_build,
)
from bench.pbx import skip_reason as no_build
from bench.report import default_database_url, emit
from dialer.demo import daytime_region, demo_numbers, records_csv

WORLD = Path(__file__).resolve().parent / "asterisk_world"
AGENTS = 10
TRUNK = "Local/{digits}@dialer-bench-carrier"


def gateway_toml(pbx: RealAsterisk, driver: str) -> str:
    return (
        "[[servers]]\n"
        f'name = "pbx1"\nami_port = {pbx.ami_port}\nami_username = "{AMI_USER}"\n'
        f'ami_secret = "{AMI_SECRET}"\nari_port = {pbx.ari_port}\nari_username = "{ARI_USER}"\n'
        f'ari_password = "{ARI_PASSWORD}"\nari_app = "{ARI_APP}"\ndriver = "{driver}"\n'
        f'channels = 60\noriginate_rate = 20\ntrunk = "{TRUNK}"\n'
    )


async def _call(http: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> Any:
    async with http.request(method, url, **kw) as resp:
        body = await resp.json(content_type=None)
        if resp.status >= 400:
            raise RuntimeError(f"{method} {url}: {resp.status} {body}")
        return body


async def set_up(api: str, token: str, records: int, abandon_target: float) -> int:
    """A predictive campaign on queue ``sales`` with AMD, filled and started; its id."""
    region = daytime_region(datetime.now(UTC))
    numbers = demo_numbers(region, records + 12, 5)
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        campaign = await _call(http, "POST", f"{api}/campaigns", json={
            "name": f"bench-asterisk-{datetime.now(UTC):%H%M%S}", "pacing_mode": "predictive",
            "queue": "sales", "default_region": region, "abandon_target": abandon_target,
            "max_attempts": 1, "owner": "bench", "resume_owner": "bench",
            "pacing": {"caller_id_name": "Bench", "ring_timeout_s": 20, "amd": True},
        })  # fmt: skip
        cid = int(campaign["id"])
        ids = []
        for number in numbers[:12]:
            spec = {"number": number, "max_concurrent": 1000, "max_per_day": 100_000}
            ids.append(int((await _call(http, "POST", f"{api}/numbers", json=spec))["id"]))
        await _call(http, "PUT", f"{api}/campaigns/{cid}/numbers", json={"number_ids": ids})
        csv_headers = {"Content-Type": "text/csv"}
        url = f"{api}/campaigns/{cid}/records"
        await _call(http, "POST", url, data=records_csv(numbers[12:]), headers=csv_headers)
        await _call(http, "POST", f"{api}/campaigns/{cid}/start")
        return cid


async def stop_campaign(api: str, token: str, cid: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        await _call(http, "POST", f"{api}/campaigns/{cid}/stop")


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 2)
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1], 2)


def compare(
    rows: list[asyncpg.Record], queue_log: Path, listener: Listener, hours: float
) -> dict[str, Any]:
    """Asterisk's account and the gateway's, side by side (pure but for reading queue_log)."""
    queue = read_queue_log(queue_log)
    ours = [r for r in rows if r["status"] == "settled"]
    ids = {str(r["id"]) for r in ours}
    mine = {k: v for k, v in queue.items() if k in ids}
    ast_live = sum(1 for q in mine.values() if q.entered)
    ast_conn = sum(1 for q in mine.values() if q.connected)
    ast_aband = sum(1 for a in ids if asterisk_outcome(a, queue.get(a), listener) == "abandoned")
    gw = {o: sum(1 for r in ours if r["outcome"] == o) for o in ("answered", "abandoned")}
    gw_talk = sum(r["talk_s"] or 0.0 for r in ours if r["outcome"] == "answered")
    ast_talk = sum(q.talk_s for q in mine.values())
    a2a_ast = [listener.connected_at[a] - listener.answered_at[a] for a in ids
               if a in listener.connected_at and a in listener.answered_at]  # fmt: skip
    a2a_gw = [float(r["a2a"]) for r in ours if r["a2a"] is not None]
    differs = [(str(r["id"]), str(r["outcome"]), asterisk_outcome(str(r["id"]),
                queue.get(str(r["id"])), listener)) for r in ours]  # fmt: skip
    differs = [d for d in differs if d[1] != d[2]]
    agent_hours = AGENTS * hours

    def rate(abandoned: int, live: int) -> float | None:
        return None if live == 0 else round(100.0 * abandoned / live, 2)

    ast_live_all = ast_live + sum(
        1 for a in ids if a not in mine and asterisk_outcome(a, None, listener) == "abandoned"
    )
    return {
        "live_answers": (ast_live_all, gw["answered"] + gw["abandoned"]),
        "agent_connects": (ast_conn, gw["answered"]),
        "abandons": (ast_aband, gw["abandoned"]),
        "abandon_rate_pct": (
            rate(ast_aband, ast_live_all),
            rate(gw["abandoned"], gw["answered"] + gw["abandoned"]),
        ),
        "talk_min_per_agent_hour": (
            round(ast_talk / 60 / agent_hours, 2),
            round(gw_talk / 60 / agent_hours, 2),
        ),
        "answer_to_agent_p50_s": (_pct(a2a_ast, 50), _pct(a2a_gw, 50)),
        "answer_to_agent_p99_s": (_pct(a2a_ast, 99), _pct(a2a_gw, 99)),
        "numbers_dialled_twice": (sum(1 for n in listener.dialled.values() if n > 1), None),
        "attempts": (sum(listener.dialled.values()), len(ours)),
        "attempts_outcome_differs": (None, len(differs)),
        "differences": differs[:20],
    }


_ROWS = """
SELECT id, status, outcome,
       extract(epoch FROM hangup_at - agent_connected_at)::float8 AS talk_s,
       extract(epoch FROM agent_connected_at - answered_at)::float8 AS a2a
FROM attempts WHERE campaign_id = $1
"""


async def run(args: argparse.Namespace) -> dict[str, Any]:
    home = find_build()
    assert home is not None
    run_dir = Path(tempfile.mkdtemp(prefix="dialer-bench-asterisk-"))
    database = Database(args.database_url)
    pbx = RealAsterisk(home, WORLD)
    token = "bench-" + os.urandom(8).hex()
    await database.create()
    await pbx.start()
    listener = Listener(pbx.ami_port, AMI_USER, AMI_SECRET)
    gateway: Child | None = None
    try:
        await listener.start()
        config = run_dir / "gateway.toml"
        config.write_text(gateway_toml(pbx, args.driver))
        env = {**os.environ, "DIALER_DATABASE_URL": database.direct, "DIALER_HTTP_PORT": "0",
               "DIALER_INSTANCE_ID": "bench", "DIALER_API_TOKEN": token,
               "DIALER_LOG_LEVEL": "WARNING"}  # fmt: skip
        argv = [sys.executable, "-m", "dialer.cli", "--config", str(config), "serve"]
        gateway = Child("gateway", argv, env, run_dir)
        api = f"http://127.0.0.1:{int((await gateway.start(SERVING)).rsplit(':', 1)[1])}/v1"
        cid = await set_up(api, token, args.records, args.abandon_target)
        started = time.monotonic()
        await asyncio.sleep(args.duration)
        await stop_campaign(api, token, cid)
        conn = await asyncpg.connect(database.direct)
        try:
            async with asyncio.timeout(args.drain_s):
                sql = "SELECT count(*) FROM attempts WHERE campaign_id=$1 AND status='dialing'"
                while await conn.fetchval(sql, cid):  # noqa: ASYNC110 (a database state)
                    await asyncio.sleep(1.0)  # the calls in flight end by themselves
            hours = (time.monotonic() - started) / 3600.0  # the agents' time, drain included
            await asyncio.sleep(2.0)  # Asterisk's last queue_log lines
            rows = list(await conn.fetch(_ROWS, cid))
        finally:
            await conn.close()
        result = compare(rows, pbx.dir / "log" / "queue_log", listener, hours)
    finally:
        if gateway is not None:
            await gateway.terminate()
        await listener.stop()
        await pbx.stop()
        await database.drop()
    return {"driver": args.driver, "duration_s": args.duration, "agents": AGENTS,
            "gateway_log": str(run_dir), **result}  # fmt: skip


def _print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"dialer bench asterisk ({result['driver']}, {result['duration_s']} s, "
                        f"{result['agents']} agents)")  # fmt: skip
    for column in ("measure", "Asterisk (queue_log + AMI listener)", "gateway (database)"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    for key, value in result.items():
        if isinstance(value, tuple):
            table.add_row(key, *("-" if v is None else str(v) for v in value))
    Console().print(table)
    for diff in result["differences"]:
        print(f"  attempt {diff[0]}: gateway {diff[1]}, Asterisk {diff[2]}")


def _handler(args: argparse.Namespace) -> int:
    if find_build() is None:
        print(f"dialer bench asterisk: skipped: {no_build()}")
        return 0
    return emit(asyncio.run(run(args)), args, _print_table)


def register_bench(bench_subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dialer bench asterisk``."""
    p = bench_subparsers.add_parser(
        "asterisk", help="a predictive campaign on a real Asterisk 22, counted by Asterisk"
    )
    default_db = default_database_url()
    p.add_argument(
        "--database-url",
        default=default_db,
        help="PostgreSQL server over TCP; a fresh database is created and dropped",
    )
    p.add_argument("--driver", choices=("ami", "ari"), default="ami")
    p.add_argument("--duration", type=float, default=600.0, help="seconds of dialling (600)")
    p.add_argument("--records", type=int, default=5000)
    p.add_argument("--abandon-target", type=float, default=0.03, help="fraction (0.03 = 3 %%)")
    p.add_argument("--drain-s", type=float, default=120.0, help="wait for calls after stop")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=_handler)  # fmt: skip
