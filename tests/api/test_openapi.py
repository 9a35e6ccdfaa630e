"""schemathesis against ``/v1/openapi.json``: every check, every phase, no failure.

The ``st`` CLI runs in a subprocess against the API served on the test's event loop (a real
socket, port 0) with every check (``--checks all``: no server error, status codes, content
types, headers and bodies as documented, schema-invalid data refused, schema-valid data
accepted, missing headers and unsupported methods refused, authentication not ignored, deleted
resources gone, created resources available) and every phase (examples, coverage, fuzzing,
stateful). Few examples per operation and a time budget for the open-ended phases keep it
within the test's timeout.
``schemathesis.toml`` beside this file holds the exceptions (one per operation) with reasons, and
``schemathesis_hooks.py`` what the document says in words but JSON Schema cannot.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import BOOTSTRAP, Api

pytestmark = [pytest.mark.db, pytest.mark.slow, pytest.mark.timeout(450)]
HERE = Path(__file__).parent
ROOT = HERE.parent.parent
#: Two runs: the finite phases to their end, then the open-ended ones within a time budget (so
#: that a slow coverage phase cannot leave fuzzing and stateful testing no time).
RUNS: tuple[tuple[tuple[str, ...], int | None], ...] = (
    (("examples", "coverage"), None),
    (("fuzzing", "stateful"), 25),
)
RUN_TIMEOUT_S = 200  # per run; about 35 s each on a quiet 2-core machine, 100+ under load


def _command(
    url: str, token: str, report: Path, phases: tuple[str, ...], max_time_s: int | None
) -> list[str]:
    budget = ["--max-time", str(max_time_s)] if max_time_s is not None else []
    st = Path(sys.executable).with_name("st")
    return [
        str(st),
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "run",
        f"{url}/openapi.json",
        "--url",
        url,
        "--checks",
        "all",
        "--phases",
        ",".join(phases),
        "--max-examples",
        "3",
        *budget,
        "--seed",
        "1",
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--header",
        f"Authorization: Bearer {token}",
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]


async def run_schemathesis(
    url: str, token: str, report: Path, phases: tuple[str, ...], max_time_s: int | None
) -> tuple[int, str, Any]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks",
    }
    proc = await asyncio.create_subprocess_exec(
        *_command(url, token, report, phases, max_time_s),
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=RUN_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace"), _read_report(report)


def _read_report(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


async def test_schemathesis_all_checks_all_phases_find_nothing(api: Api, tmp_path: Path) -> None:
    doc = await (await api.client.get("/v1/openapi.json")).json()
    assert doc["openapi"] == "3.1.0"
    for _ in range(2):  # campaigns to act on (ids 1.. exist)
        await api.campaign()
    url = str(api.client.make_url("/v1"))
    # Every operation but the WebSocket streams (101; schemathesis.toml says why).
    operations = sum(
        "101" not in op["responses"] for ops in doc["paths"].values() for op in ops.values()
    )
    for index, (phases, max_time_s) in enumerate(RUNS):
        # The bootstrap admin token: fuzzing DELETE /tokens/{id} may revoke any stored one.
        code, out, report = await run_schemathesis(
            url, BOOTSTRAP, tmp_path / f"st-{index}.json", phases, max_time_s
        )
        assert report is not None, out
        assert report["failures"] == [], out
        assert report["errors"] == [], out
        assert code == 0, out
        assert report["operations"]["tested"] == operations, out
        ran = {name: phase["status"] for name, phase in report["phases"].items()}
        assert {name: ran[name] for name in phases} == dict.fromkeys(phases, "success"), out
