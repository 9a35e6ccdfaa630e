"""``dialer bench soak``: a short run's JSON has its samples and fitted growth, and they agree.

The command runs as a user runs it (a child process, on the test session's PostgreSQL server:
the bench makes and drops its own database). Nothing here is a memory or speed assertion: the
samples are only checked to be measured (the gateway's RSS and fds positive, the calls growing)
and the fitted growth to be the least-squares slope of them.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any
from urllib.parse import urlsplit

import pytest

from bench.soak import slope_per_h


def test_slope_is_least_squares_per_hour() -> None:
    assert slope_per_h([(0.0, 100.0), (1800.0, 101.0), (3600.0, 102.0)]) == pytest.approx(2.0)
    assert slope_per_h([(0.0, 5.0), (60.0, 7.0), (120.0, 5.0)]) == pytest.approx(0.0)
    assert slope_per_h([(0.0, 5.0)]) is None
    assert slope_per_h([(10.0, 5.0), (10.0, 6.0)]) is None


async def _bench(server_url: str) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dialer.cli", "bench", "soak", "--json", "--minutes", "0.75",
        "--sample-s", "5", "--warmup-min", "0", "--rate", "20", "--agents", "20",
        "--batch", "2000", "--database-url", server_url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(400):
        out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()[-3000:]
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


@pytest.mark.db
@pytest.mark.slow
@pytest.mark.timeout(420)
async def test_short_soak_samples_the_gateway_process(database_server_url: str) -> None:
    host = urlsplit(database_server_url).hostname or ""
    if not host or host.startswith("/"):
        pytest.skip("the soak bench needs PostgreSQL over TCP (DIALER_TEST_DATABASE_URL)")
    result = await _bench(database_server_url)
    assert result["error"] is None, result
    samples = result["samples"]
    assert len(samples) >= 8  # 45 s at one sample per 5 s, and the first at 0
    assert [s["minute"] for s in samples] == sorted(s["minute"] for s in samples)
    assert all(s["rss_mb"] > 10 and s["fds"] > 3 for s in samples)
    calls = [s["calls"] for s in samples]
    assert calls == sorted(calls)
    assert calls[-1] > calls[0]  # the campaign dialled throughout
    assert result["calls"] == calls[-1] - calls[0]
    fitted = slope_per_h([(s["minute"] * 60, s["rss_mb"]) for s in samples])
    assert fitted is not None
    assert result["rss_growth_mb_per_h"] == round(fitted, 2)
    assert result["fds_min"] == min(s["fds"] for s in samples)
    assert result["fds_max"] == max(s["fds"] for s in samples)
    assert result["records_imported"] >= 20 * 0.75 * 60
    assert result["records_left"] > 0  # never ran dry
    assert len(result["load_average_start"]) == 3
