"""Two gateway instances on one database: one is killed mid-campaign, the other takes over.

Instance A is a real ``dialer serve`` process and paces the campaign; it is SIGKILLed while
calls are in flight. Instance B (in this process) must take the campaign's pacer lease over,
adopt A's calls in flight once A's heartbeat is stale, settle every attempt, keep dialling, and
never send an attempt twice.

What the design promises, and so what is asserted: an attempt is written before it is sent
(write-before-send), so a kill can leave an attempt that was written and never sent; it is
sent zero times, which is allowed, and must not be counted as "originated twice". No attempt
is sent more than once (the simulator counts Originates per attempt id, as a witness), none of
A's attempts is left ``dialing``, and B places new attempts of its own. Every wait polls a
condition under a deadline; nothing depends on how the kill falls between two sends.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from asterisk_sim import SimAsterisk, SimConfig
from dialer.app import Running
from dialer.demo import set_up_campaign
from tests.e2e.conftest import TIME_SCALE, OwnDatabase, until
from tests.service import running_service, sim_settings

pytestmark = [pytest.mark.db, pytest.mark.slow]

_BY_INSTANCE = text(
    "SELECT instance_id, status, count(*) FROM attempts WHERE campaign_id = :cid "
    "GROUP BY instance_id, status"
)
_IDS = text("SELECT id FROM attempts WHERE campaign_id = :cid")


def _config(path: Path, sim: SimAsterisk) -> Path:
    creds = sim.credentials
    path.write_text(
        "[[servers]]\n"
        f'name = "sim"\nami_port = {sim.ami_port}\nami_username = "{creds.ami_user}"\n'
        f'ami_secret = "{creds.ami_secret}"\nari_port = {sim.ari_port}\n'
        f'ari_username = "{creds.ari_user}"\nari_password = "{creds.ari_password}"\n'
        'channels = 400\noriginate_rate = 100\ntrunk = "PJSIP/{number}@carrier-a"\n'
    )
    return path


async def _serve_a(config: Path, url: str, token: str) -> tuple[asyncio.subprocess.Process, int]:
    env = {
        **os.environ,
        "DIALER_DATABASE_URL": url,
        "DIALER_INSTANCE_ID": "instance-a",
        "DIALER_HTTP_PORT": "0",
        "DIALER_API_TOKEN": token,
        "DIALER_TICK_INTERVAL": "0.1",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dialer.cli", "--config", str(config), "serve", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)  # fmt: skip
    assert proc.stdout is not None
    async with asyncio.timeout(60):
        while True:
            line = (await proc.stdout.readline()).decode()
            assert line, "instance A exited before serving"
            if line.startswith("dialer: serving on "):
                return proc, int(line.rsplit(":", 1)[1])


async def _ids(running: Running, cid: int) -> set[str]:
    async with running.engine.connect() as conn:
        return {str(i) for i in (await conn.execute(_IDS, {"cid": cid})).scalars()}


async def _counts(running: Running, cid: int) -> dict[tuple[str, str], int]:
    async with running.engine.connect() as conn:
        rows = (await conn.execute(_BY_INSTANCE, {"cid": cid})).all()
    return {(str(i), str(s)): int(n) for i, s, n in rows}


async def test_a_killed_instance_is_taken_over_without_losing_or_repeating_a_call(
    own_database: OwnDatabase, scratch_dir: Path
) -> None:
    token = secrets.token_urlsafe(16)
    config = SimConfig.demo(agents=10, seed=5, ami_port=0, ari_port=0, time_scale=TIME_SCALE)
    async with SimAsterisk(config) as sim:
        proc, port = await _serve_a(_config(scratch_dir / "a.toml", sim), own_database.url, token)
        try:
            campaign = await set_up_campaign(f"http://127.0.0.1:{port}/v1", token, 400, seed=21)
            cid = campaign.campaign_id
            settings = sim_settings(sim, own_database.url, token, "instance-b")
            async with running_service(settings, takeover_after_s=6.0) as running:

                async def a_is_dialling() -> bool:
                    counts = await _counts(running, cid)
                    return counts.get(("instance-a", "dialing"), 0) >= 3 and counts.get(
                        ("instance-a", "settled"), 0) >= 5  # fmt: skip

                await until(a_is_dialling, 120, "instance A to have calls settled and in flight")
                assert not any(i == "instance-b" for i, _ in await _counts(running, cid))
                proc.send_signal(signal.SIGKILL)
                await proc.wait()
                before_kill = await _ids(running, cid)

                async def taken_over() -> bool:
                    counts = await _counts(running, cid)
                    placed_by_b = len(await _ids(running, cid) - before_kill)
                    return counts.get(("instance-a", "dialing"), 0) == 0 and placed_by_b >= 5

                await until(taken_over, 120, "instance B to adopt A's calls and place new ones")
                counts_after = await _counts(running, cid)
                assert ("instance-b", "dialing") in counts_after or (
                    "instance-b", "settled") in counts_after  # fmt: skip
                assert all(status == "settled" for i, status in counts_after if i == "instance-a")
                ids = await _ids(running, cid)
                sent = sim.originate_counts
                twice = sorted(i for i in ids if sent.get(i, 0) > 1)
                assert twice == [], f"attempts sent more than once: {twice}"
                assert set(sent) <= ids, "an Originate for an attempt the database does not know"
                assert cid in running.supervisor.runners  # B paces the campaign now
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
