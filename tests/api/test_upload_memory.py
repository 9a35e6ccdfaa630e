"""Memory of a real ``dialer serve`` while it refuses four 10 MB uploads of a million columns.

The issue measured 248 → 1,981 MB for four at once; the caps and the streamed reading keep the
growth of the process's peak resident memory under 100 MB. RSS is memory, not time: it does not
depend on how busy the machine is.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest

pytestmark = pytest.mark.db

DIALER = [sys.executable, "-m", "dialer.cli"]
TOKEN = "rss-test-bootstrap-token"
# a header of a million distinct columns (10 MB), then one record
WIDE = b"phone" + b"".join(b",c%08d" % i for i in range(999_999)) + b"\n+12125550100,x\n"


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def _reset_peak(pid: int) -> None:
    """VmHWM := VmRSS (``clear_refs`` 5), so the next VmHWM is the peak from now on."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


async def _port(proc: asyncio.subprocess.Process) -> int:
    assert proc.stdout is not None
    async with asyncio.timeout(60):
        while True:
            line = (await proc.stdout.readline()).decode()
            if not line:
                raise AssertionError("dialer serve exited before serving")
            if line.startswith("dialer: serving on "):
                return int(line.rsplit(":", 1)[1])


async def _drain(proc: asyncio.subprocess.Process, lines: list[str]) -> None:
    assert proc.stdout is not None
    while line := await proc.stdout.readline():
        lines.append(line.decode())


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
async def test_four_million_column_uploads_keep_memory_bounded(
    tmp_path: Path, database_url: str
) -> None:
    env = {
        **os.environ,
        "DIALER_HTTP_PORT": "0",
        "DIALER_DATA_DIR": str(tmp_path / "state"),
        "DIALER_DATABASE_URL": database_url,
        "DIALER_API_TOKEN": TOKEN,
    }
    proc = await asyncio.create_subprocess_exec(
        *DIALER, "serve", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    log: list[str] = []
    try:
        base = f"http://127.0.0.1:{await _port(proc)}/v1"
        drain = asyncio.create_task(_drain(proc, log))
        auth = {"Authorization": f"Bearer {TOKEN}"}
        timeout = aiohttp.ClientTimeout(total=110)
        async with aiohttp.ClientSession(timeout=timeout, headers=auth) as http:
            body = {"name": f"rss-{uuid.uuid4().hex[:8]}", "resume_owner": "x", "owner": "x"}
            async with http.post(f"{base}/campaigns", json=body) as resp:
                assert resp.status == 201, await resp.text()
                cid = (await resp.json())["id"]
            url = f"{base}/campaigns/{cid}/records"

            async def send(data: bytes) -> tuple[int, Any]:
                headers = {"Content-Type": "text/csv"}
                async with http.post(url, data=io.BytesIO(data), headers=headers) as resp:
                    return resp.status, await resp.json()

            assert (await send(b"phone\n+12125550101\n"))[0] == 200  # warm: code paths loaded
            before = _kib(proc.pid, "VmRSS")
            _reset_peak(proc.pid)
            replies = await asyncio.gather(*(send(WIDE) for _ in range(4)))
            peak = _kib(proc.pid, "VmHWM")
        growth_mb = (peak - before) / 1024
        seen = f"RSS before {before / 1024:.0f} MB, peak {peak / 1024:.0f} MB, +{growth_mb:.0f} MB"
        for status, problem in replies:
            assert status == 422, problem
            assert "limited to 256 columns" in problem["detail"]
        assert growth_mb < 100, seen
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
        await drain
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
