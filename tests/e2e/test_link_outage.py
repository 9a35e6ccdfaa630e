"""A cut AMI link holds dialling; only an outage longer than the limit pauses the campaign.

The whole service runs against the simulated Asterisk through a TCP relay
(:class:`bench.witness.Relay`, the fault suite's) that resets the gateway's AMI connection and
refuses new ones for a while, as a network cut would.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text

from asterisk_sim import SimAsterisk, SimConfig
from bench.witness import Relay as TcpCut
from dialer.app import Running
from dialer.demo import set_up_campaign
from tests.dbutil import blank_database
from tests.e2e.conftest import TIME_SCALE, until
from tests.service import running_service, sim_settings, with_server

pytestmark = [pytest.mark.db, pytest.mark.slow]


@dataclasses.dataclass(frozen=True, slots=True)
class Rig:
    running: Running
    sim: SimAsterisk
    relay: TcpCut
    api: str
    token: str


RigFactory = Callable[[float], Any]


@pytest.fixture
async def rig(database_server_url: str) -> AsyncIterator[RigFactory]:
    """Start sim + relay + service with a given outage limit; everything stops after the test.

    The service has a database of its own: campaigns other tests left running would be paced.
    """
    with blank_database(database_server_url) as database_url:
        async for factory in _rigs(database_url):
            yield factory


async def _rigs(database_url: str) -> AsyncIterator[RigFactory]:
    async with contextlib.AsyncExitStack() as stack:

        async def make(limit_s: float) -> Rig:
            config = SimConfig.demo(agents=10, seed=4, ami_port=0, ari_port=0,
                                    time_scale=TIME_SCALE)  # fmt: skip
            sim = await stack.enter_async_context(SimAsterisk(config))
            relay = await TcpCut(sim.ami_port).start()
            stack.push_async_callback(relay.stop)
            token = secrets.token_urlsafe(16)
            instance = f"outage-{secrets.token_hex(3)}"
            settings = sim_settings(sim, database_url, token, instance, link_outage_limit_s=limit_s)
            settings = with_server(settings, ami_port=relay.port)
            running = await stack.enter_async_context(running_service(settings))
            return Rig(running, sim, relay, f"http://127.0.0.1:{running.http_port}/v1", token)

        yield make


async def _state(rig: Rig, cid: int) -> str:
    async with rig.running.engine.connect() as conn:
        row = await conn.execute(text("SELECT state FROM campaigns WHERE id = :c"), {"c": cid})
        return str(row.scalar_one())


async def _pauses(rig: Rig, cid: int) -> list[tuple[str, str, str]]:
    sql = text("SELECT paused_by, category, text FROM pause_events WHERE campaign_id = :c")
    async with rig.running.engine.connect() as conn:
        return [(str(a), str(b), str(c)) for a, b, c in (await conn.execute(sql, {"c": cid}))]


async def _resume(rig: Rig, cid: int) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {rig.token}"}
    url = f"{rig.api}/campaigns/{cid}/resume"
    async with aiohttp.ClientSession(headers=headers) as http, http.post(url, json={}) as resp:
        return resp.status, await resp.json(content_type=None)


async def _dialling(rig: Rig, cid: int, at_least: int) -> None:
    async def placed() -> bool:
        return len(rig.sim.originate_counts) >= at_least

    await until(placed, 60, f"{at_least} Originates of campaign {cid}")


async def test_a_half_second_cut_holds_and_dialling_resumes_within_5_s(rig: RigFactory) -> None:
    r: Rig = await rig(60.0)
    cid = (await set_up_campaign(r.api, r.token, 400, seed=21)).campaign_id
    await _dialling(r, cid, 10)
    runner = r.running.supervisor.runners[cid]
    before = r.running.dialer.runtime("sim").ami.reconnects
    r.relay.cut(0.5)
    cut_at = time.monotonic()

    async def held() -> bool:
        return runner.status.held is not None and "holding new calls" in runner.status.held

    await until(held, 5, "the runner to hold new calls while the link is down")
    sent_during_cut = len(r.sim.originate_counts)

    async def relay_back() -> bool:
        return not r.relay.down

    await until(relay_back, 5, "the cut to end")
    back_at = time.monotonic()

    async def dialling_again() -> bool:
        return len(r.sim.originate_counts) > sent_during_cut

    await until(dialling_again, 5, "an Originate within 5 s of the link's return")
    resumed_after = time.monotonic() - back_at
    assert r.running.dialer.runtime("sim").ami.reconnects > before
    assert await _state(r, cid) == "running"
    assert await _pauses(r, cid) == []
    assert resumed_after < 5.0
    assert back_at - cut_at >= 0.5
    assert set(r.sim.originate_counts.values()) == {1}  # nothing dialled twice


async def test_an_outage_over_the_limit_pauses_with_what_to_check(rig: RigFactory) -> None:
    r: Rig = await rig(1.5)
    cid = (await set_up_campaign(r.api, r.token, 400, seed=22)).campaign_id
    await _dialling(r, cid, 5)
    r.relay.cut(8.0)

    async def paused() -> bool:
        return await _state(r, cid) == "paused"

    await until(paused, 10, "the campaign to pause after the 1.5 s outage limit")
    ((by, category, reason),) = await _pauses(r, cid)
    assert (by, category) == ("guard:pacing", "process_failure")
    assert reason.startswith("asterisk_links: the Asterisk server has been unreachable for ")
    assert "(limit 1.5 s)" in reason
    assert "check that Asterisk is running" in reason
    assert r.relay.down  # the link is still cut: a resume is refused, saying why
    status, problem = await _resume(r, cid)
    assert status == 409
    assert problem["checklist"]["asterisk_links"] == {"ok": False, "up": 0, "total": 1}
    assert "no Asterisk link is up" in problem["detail"]
    assert await _state(r, cid) == "paused"

    async def healthy() -> bool:
        return r.running.dialer.capacity().healthy == 1

    await until(healthy, 20, "the link to come back")
    status, _ = await _resume(r, cid)
    assert status == 200
    sent = len(r.sim.originate_counts)
    await _dialling(r, cid, sent + 1)
    assert set(r.sim.originate_counts.values()) == {1}
