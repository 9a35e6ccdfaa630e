"""``dialer serve`` against the simulated Asterisk, stopped with SIGTERM, through each driver.

The ARI link reports ``closed`` when it stops; the link-state metric refused that value and the
process exited 1. Both drivers must stop with exit code 0 and no traceback.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from asterisk_sim import SimAsterisk, SimConfig
from tests.dbutil import blank_database

DIALER = [sys.executable, "-m", "dialer.cli"]


def _config(path: Path, sim: SimAsterisk, driver: str) -> Path:
    creds = sim.credentials
    path.write_text(
        "[[servers]]\n"
        'name = "pbx1"\n'
        f"ami_port = {sim.ami_port}\n"
        f'ami_username = "{creds.ami_user}"\n'
        f'ami_secret = "{creds.ami_secret}"\n'
        f"ari_port = {sim.ari_port}\n"
        f'ari_username = "{creds.ari_user}"\n'
        f'ari_password = "{creds.ari_password}"\n'
        f'ari_app = "{creds.ari_app}"\n'
        f'driver = "{driver}"\n'
        'trunk = "PJSIP/{digits}@carrier-a"\n'
    )
    return path


async def _port(proc: asyncio.subprocess.Process, seen: list[str]) -> int:
    assert proc.stdout is not None
    while True:
        line = (await proc.stdout.readline()).decode()
        if not line:
            raise AssertionError("dialer serve exited before serving:\n" + "".join(seen))
        seen.append(line)
        if line.startswith("dialer: serving on "):
            return int(line.rsplit(":", 1)[1])


async def _links_up(port: int, links: set[str]) -> None:
    """Wait until /metrics says every expected link of pbx1 is up."""
    wanted = {f'dialer_link_up{{link="{lk}",server="pbx1"}} 1.0' for lk in links}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        while True:
            async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                body = await resp.text()
            if wanted <= set(body.splitlines()):
                return
            await asyncio.sleep(0.1)  # polling an HTTP endpoint: there is no event to await


@pytest.mark.db
@pytest.mark.parametrize("driver", ["ami", "ari"])
async def test_sigterm_exits_0_with_either_driver(
    tmp_path: Path, database_server_url: str, driver: str
) -> None:
    config = SimConfig.demo(agents=2, seed=5, ami_port=0, ari_port=0)
    # a database of its own: campaigns and attempts other tests left would be picked up
    with blank_database(database_server_url) as database_url:
        code, output = await _serve_and_stop(tmp_path, config, database_url, driver)
    assert code == 0, output
    assert "Traceback" not in output
    assert "UnboundedLabel" not in output


async def _serve_and_stop(
    tmp_path: Path, config: SimConfig, database_url: str, driver: str
) -> tuple[int | None, str]:
    async with SimAsterisk(config) as sim:
        env = {
            **os.environ,
            "DIALER_HTTP_PORT": "0",
            "DIALER_DATA_DIR": str(tmp_path / "state"),
            "DIALER_DATABASE_URL": database_url,
            "DIALER_INSTANCE_ID": f"shutdown-{driver}",
        }
        toml = _config(tmp_path / "dialer.toml", sim, driver)
        proc = await asyncio.create_subprocess_exec(
            *DIALER, "--config", str(toml), "serve", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        seen: list[str] = []
        try:
            async with asyncio.timeout(60):
                port = await _port(proc, seen)
                await _links_up(port, {"ami", "ari"} if driver == "ari" else {"ami"})
            proc.send_signal(signal.SIGTERM)
            assert proc.stdout is not None
            rest, _ = await asyncio.wait_for(proc.communicate(), 20)
            code = proc.returncode
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    return code, "".join(seen) + rest.decode()
