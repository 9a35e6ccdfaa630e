"""``dialer bench pipeline --quick``: the JSON's shape and that its numbers agree with each other.

The command is run as a user runs it (a child process, on the test session's PostgreSQL
server: the bench makes and drops its own database), with one and then two gateway instances.
Nothing here is a timing assertion: rates and latencies are only checked to be measured
(positive, ordered), and the counts to agree — every Originate the simulator received is an
attempt settled in the database with its record closed, the round trips were counted.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.db, pytest.mark.slow]

RECORDS = 600


async def _bench(server_url: str) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dialer.cli", "bench", "pipeline", "--quick", "--json",
        "--instances", "2", "--records", str(RECORDS), "--edge-calls", "1000",
        "--database-url", server_url, "--stall-s", "60",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(560):
        out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()[-3000:]
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


def _check_campaign_run(run: dict[str, Any], instances: int) -> None:
    total = RECORDS * instances
    assert run["instances"] == instances
    assert run["records"] == total
    assert run["complete"] is True
    # Every Originate the simulator received is one attempt settled in the database.
    assert run["originated"] == run["settled"] == run["stored_by_writers"] == total
    assert run["records_done"] == total
    assert run["left_dialing"] == 0
    # ... and every attempt settled was received by the simulator (none closed without a call)
    unreached = run["settled_not_received"]
    assert unreached["total"] == unreached["record_open"] + unreached["record_closed"] == 0
    assert unreached["received_without_attempt"] == 0
    assert sum(run["withdrawn_why"].values()) == run["withdrawn"]
    assert run["round_trips"] > 0
    assert run["round_trips"] == sum(run["round_trip_kinds"].values())
    assert run["round_trips_per_call"] == round(run["round_trips"] / total, 4)
    assert run["pg_transactions"] > 0
    assert run["calls_per_s"] > 0
    assert run["calls_per_s"] == pytest.approx(total / run["wall_s"], rel=0.01)
    assert len(run["backlog"]) == instances
    for samples in run["backlog"]:
        assert samples
        assert all(len(s) == 2 and s[1] >= 0 for s in samples)
        assert max(s[1] for s in samples) <= run["backlog_peak"]
    assert [p["instance"] for p in run["per_instance"]] == [f"gw-{c}" for c in "ab"[:instances]]
    assert sum(p["settled"] for p in run["per_instance"]) == total
    assert len({p["campaign"] for p in run["per_instance"]}) == instances


@pytest.mark.timeout(600)  # about 60 s on a quiet machine; 120+ at load 12 (the default 120)
async def test_bench_pipeline_quick_json(database_server_url: str) -> None:
    host = urlsplit(database_server_url).hostname or ""
    if not host or host.startswith("/"):
        pytest.skip("the pipeline bench needs PostgreSQL over TCP (DIALER_TEST_DATABASE_URL)")
    result = await _bench(database_server_url)
    try:
        _check(result)
    except AssertionError as exc:  # say what the bench printed: a flaky run must be readable
        raise AssertionError(f"{exc}\n{json.dumps(result)[:6000]}") from exc


def _check(result: dict[str, Any]) -> None:
    _check_campaign_run(result["one"], 1)
    _check_campaign_run(result["two"], 2)
    ratio = result["two"]["calls_per_s"] / result["one"]["calls_per_s"]
    assert result["ratio_two_to_one"] == round(ratio, 3)
    latency = result["decision_to_wire"]
    assert set(latency) == {"1", "100", "1000"}
    for size, row in latency.items():
        assert row["calls"] + row["not_placed"] == int(size) * row["decisions"]
        assert row["calls"] > 0
        assert 0 < row["p50_ms"] <= row["p99_ms"] <= row["max_ms"]
    edge = result["edge"]
    assert edge["completed"] == edge["calls"] == 1000
    assert result["edge_calls_per_s"] == edge["originations_per_s_wall"] > 0
    assert result["ratio_to_edge"] == round(
        result["one"]["calls_per_s"] / result["edge_calls_per_s"], 3
    )
