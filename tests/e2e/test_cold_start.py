"""A predictive campaign of 100 agents starting cold does not burst.

Issue 13: fed only by settled attempts the estimators learnt no live answer in the first seconds
and the policy placed hundreds of calls in two ticks. Against the simulated Asterisk (time
running faster than wall time), a campaign with no history of its own starts from the defaults
and must stay at or under its 3 % abandon target over its first 10 simulated minutes, with no
guard pausing it. (With 100 agents one of them has nearly always just become free when a caller
gives up: only an agent free for the caller's whole wait makes an abandon "agent free" — it was
paused here as agents_not_answering before.)
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlalchemy import text

from asterisk_sim import SimAsterisk, SimConfig
from dialer.app import Running, Service
from dialer.demo import set_up_campaign, wait_ready, with_simulated_servers
from gateway.settings import DatabaseSettings, HttpSettings, Secret, Settings
from tests.e2e.conftest import TIME_SCALE, OwnDatabase, Stack, until

pytestmark = [pytest.mark.db, pytest.mark.slow]

AGENTS = 100
SIMULATED_S = 600.0
_OUTCOMES = text(
    "SELECT outcome, count(*) AS n FROM attempts WHERE campaign_id = :cid GROUP BY outcome"
)
_UNSETTLED = text("SELECT count(*) FROM attempts WHERE campaign_id = :cid AND status <> 'settled'")
_PAUSES = text("SELECT category, text FROM pause_events WHERE campaign_id = :cid")


@pytest.fixture
async def big_stack(own_database: OwnDatabase) -> AsyncIterator[Stack]:
    """Simulated Asterisk with 100 agents in queue ``sales`` + the whole gateway service."""
    config = SimConfig.demo(agents=AGENTS, seed=5, ami_port=0, ari_port=0, time_scale=TIME_SCALE)
    token = secrets.token_urlsafe(16)
    async with SimAsterisk(config) as sim:
        settings = with_simulated_servers(
            Settings(
                http=HttpSettings(port=0),
                database=DatabaseSettings(url=Secret(own_database.url)),
                api_token=Secret(token),
                instance_id="e2e-cold",
                tick_interval_s=0.1,
            ),
            sim,
            token,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[Running] = loop.create_future()
        task = asyncio.create_task(Service(settings).run(stop, on_ready=ready.set_result))
        try:
            running = await asyncio.wait_for(wait_ready(ready, task), 60)
            api = f"http://127.0.0.1:{running.http_port}/v1"
            yield Stack(running, sim, own_database, api, token)
        finally:
            stop.set()
            await asyncio.wait_for(task, 60)


@pytest.mark.timeout(300)  # 60 s of simulated calling, then its calls to their outcomes
async def test_cold_start_of_100_agents_stays_under_target_without_a_guard_trip(
    big_stack: Stack,
) -> None:
    stack = big_stack
    campaign = await set_up_campaign(stack.api, stack.token, 6000, seed=21, name="cold-100")
    cid = campaign.campaign_id
    await asyncio.sleep(SIMULATED_S * TIME_SCALE)
    headers = {"Authorization": f"Bearer {stack.token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.post(f"{stack.api}/campaigns/{cid}/stop") as resp,
    ):
        assert resp.status in (200, 409), await resp.text()  # 409: a guard paused it

    async def settled() -> bool:  # the calls of the first 10 minutes, to their outcomes
        async with stack.running.engine.connect() as conn:
            return int((await conn.execute(_UNSETTLED, {"cid": cid})).scalar_one()) == 0

    await until(settled, 120, "the first 10 minutes' calls to settle")
    async with stack.running.engine.connect() as conn:
        rows = (await conn.execute(_OUTCOMES, {"cid": cid})).all()
        pauses = (await conn.execute(_PAUSES, {"cid": cid})).all()
    outcomes = Counter({str(r.outcome): int(r.n) for r in rows})
    live = outcomes["answered"] + outcomes["abandoned"]
    assert pauses == [], f"a guard paused the campaign: {pauses}"
    assert live >= 300, outcomes  # the 100 agents really were kept busy
    assert outcomes["abandoned"] <= campaign.abandon_target * live, outcomes
