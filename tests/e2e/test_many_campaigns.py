"""Metrics cannot stop the service: 10,000 campaigns, more paced campaigns than the label bound.

The gateway once died at its 501st campaign (a label value past the bound raised on the path
that settles calls). Here the database holds 10,000 campaigns besides four running ones, the
label bound is two, and the service must keep dialling every running campaign while ``/metrics``
answers, exports only campaigns this instance paces, counts what it dropped, and forgets a
campaign's series once it is stopped.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from asterisk_sim import SimAsterisk, SimConfig
from dialer.app import Running, Service
from dialer.demo import set_up_campaign, wait_ready, with_simulated_servers
from gateway.settings import DatabaseSettings, HttpSettings, Secret, Settings
from tests.e2e.conftest import TIME_SCALE, OwnDatabase, Stack, until

pytestmark = [pytest.mark.db, pytest.mark.slow]

BOUND = 2
BULK = 10_000

_BULK_INSERT = text(
    "INSERT INTO campaigns (name, state, queue) "
    "SELECT 'bulk-' || g, (ARRAY['ready', 'stopped', 'completed', 'paused'])[1 + g % 4], 'sales' "
    "FROM generate_series(1, :n) AS g"
)


@pytest.fixture
async def bounded_stack(own_database: OwnDatabase) -> AsyncIterator[Stack]:
    """The whole service with a campaign label bound of two."""
    config = SimConfig.demo(agents=10, seed=4, ami_port=0, ari_port=0, time_scale=TIME_SCALE)
    token = secrets.token_urlsafe(16)
    async with SimAsterisk(config) as sim:
        settings = with_simulated_servers(
            Settings(
                http=HttpSettings(port=0),
                database=DatabaseSettings(url=Secret(own_database.url)),
                api_token=Secret(token),
                instance_id="bounded-1",
                tick_interval_s=0.1,
            ),
            sim,
            token,
        )
        stop = asyncio.Event()
        ready: asyncio.Future[Running] = asyncio.get_running_loop().create_future()
        service = Service(settings, metrics_label_bound=BOUND)
        task = asyncio.create_task(service.run(stop, on_ready=ready.set_result))
        try:
            running = await asyncio.wait_for(wait_ready(ready, task), 60)
            api = f"http://127.0.0.1:{running.http_port}/v1"
            yield Stack(running, sim, own_database, api, token)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)


async def _scrape(stack: Stack) -> list[tuple[str, dict[str, str], float]]:
    url = f"http://127.0.0.1:{stack.running.http_port}/metrics"
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as http, http.get(url) as resp:
        assert resp.status == 200
        body = await resp.text()
    return [
        (s.name, dict(s.labels), s.value)
        for family in text_string_to_metric_families(body)
        for s in family.samples
    ]


async def _settled_per_campaign(stack: Stack, ids: list[int]) -> dict[int, int]:
    query = text(
        "SELECT campaign_id, count(*) FROM attempts WHERE campaign_id = ANY(:ids) "
        "AND status = 'settled' GROUP BY campaign_id"
    )
    async with stack.running.engine.connect() as conn:
        rows = (await conn.execute(query, {"ids": ids})).all()
    found = {int(c): int(n) for c, n in rows}
    return {cid: found.get(cid, 0) for cid in ids}


async def test_ten_thousand_campaigns_and_a_full_label_bound_do_not_stop_dialling(
    bounded_stack: Stack,
) -> None:
    stack = bounded_stack
    async with stack.running.engine.begin() as conn:
        await conn.execute(_BULK_INSERT, {"n": BULK})
    ids = [
        (
            await set_up_campaign(stack.api, stack.token, 200, seed=20 + i, name=f"busy-{i}")
        ).campaign_id
        for i in range(4)
    ]
    before = await _settled_per_campaign(stack, ids)

    async def every_campaign_dials_on() -> bool:
        now = await _settled_per_campaign(stack, ids)
        return all(now[c] >= before[c] + 5 for c in ids)

    await until(every_campaign_dials_on, 120, "every running campaign to settle 5 more calls")
    await asyncio.sleep(1.5)  # one observer round
    samples = await _scrape(stack)
    exported = {labels["campaign"] for _, labels, _ in samples if "campaign" in labels}
    assert exported
    assert exported <= {str(c) for c in ids}  # none of the 10,000 others
    assert len(exported) <= BOUND
    dropped = sum(
        v
        for name, labels, v in samples
        if name == "dialer_metrics_dropped_total"
        and labels == {"label": "campaign", "reason": "bound"}
    )
    assert dropped > 0
    by_state = {labels["state"]: v for name, labels, v in samples if name == "dialer_campaigns"}
    assert sum(by_state.values()) == BULK + 4
    assert by_state["running"] == 4
    infos = {
        labels["campaign"]: labels["name"]
        for name, labels, _ in samples
        if name == "dialer_campaign_info"
    }
    assert infos == {str(c): f"busy-{ids.index(c)}" for c in ids if str(c) in exported}

    # A stopped campaign leaves the supervisor and its series go; another one takes the slot.
    shown = int(sorted(exported)[0])
    headers = {"Authorization": f"Bearer {stack.token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.post(f"{stack.api}/campaigns/{shown}/stop") as resp,
    ):
        assert resp.status == 200, await resp.text()

    async def forgotten() -> bool:
        found = await _scrape(stack)
        labelled = {labels.get("campaign") for _, labels, _ in found}
        newcomer = any(str(c) in labelled for c in ids if str(c) not in exported)
        gone = shown not in stack.running.supervisor.runners and str(shown) not in labelled
        return gone and newcomer

    await until(forgotten, 30, "the stopped campaign forgotten and its slot taken by another")
    ages = [
        time.time() - v
        for name, _, v in await _scrape(stack)
        if name == "dialer_pacing_last_tick_timestamp_seconds"
    ]
    assert ages
    assert ages[0] < 10
