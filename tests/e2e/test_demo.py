"""``dialer demo`` as a newcomer runs it: a real process on the embedded PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import psutil
import pytest

pytestmark = [pytest.mark.db, pytest.mark.slow]


async def test_demo_runs_a_campaign_shows_the_view_and_stops_cleanly(scratch_dir: Path) -> None:
    env = {**os.environ, "DIALER_DATA_DIR": str(scratch_dir / "state"), "DIALER_HTTP_PORT": "0"}
    env.pop("DIALER_DATABASE_URL", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dialer.cli", "demo", "--duration", "20", "--agents", "5",
        "--records", "200", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    text = out.decode()
    assert proc.returncode == 0, text[-3000:]
    for expected in ("simulated Asterisk", "control API: http://", "curl -s -X POST",
                     "/diagnostics", "dialer demo", "calls placed", "abandon rate"):  # fmt: skip
        assert expected in text, expected
    pgdata = str((scratch_dir / "state" / "pgdata").resolve())
    leftovers = [
        p for p in psutil.process_iter(["cmdline"]) if pgdata in " ".join(p.info["cmdline"] or [])
    ]
    assert leftovers == []
