"""Two gateway instances, one campaign, a real Prometheus: a takeover leaves one series.

Both instances share one database and one simulated Asterisk. The campaign's pacer lease is
handed from the instance that paces it to the other one (as when its lease is lost to a peer);
the loser's runner leaves its supervisor and its metrics forget the campaign, so only the new
pacer exports it. A real Prometheus scraping both evaluates the shipped rules: both abandon-rate
alerts stay healthy (no "many-to-many matching") and the campaign has one target series.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import text

from asterisk_sim import SimAsterisk, SimConfig
from dialer.app import Running
from dialer.demo import set_up_campaign
from tests.deploy.promserver import PrometheusServer, running_prometheus, write_config
from tests.e2e.conftest import TIME_SCALE, OwnDatabase, until
from tests.service import running_service, sim_settings

pytestmark = [pytest.mark.db, pytest.mark.slow]

RULES = Path(__file__).resolve().parents[2] / "deploy/prometheus/rules/dialer.rules.yml"
_HOLDER = text("SELECT instance_id FROM campaign_pacers WHERE campaign_id = :cid")
_HAND_OVER = text(
    "UPDATE campaign_pacers SET instance_id = :iid, lease_expires_at = :until "
    "WHERE campaign_id = :cid"
)


@contextlib.asynccontextmanager
async def _instance(
    database: OwnDatabase, sim: SimAsterisk, token: str, name: str
) -> AsyncIterator[Running]:
    async with running_service(sim_settings(sim, database.url, token, name)) as running:
        yield running


async def _exports(running: Running, campaign: str) -> bool:
    url = f"http://127.0.0.1:{running.http_port}/metrics"
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as http, http.get(url) as resp:
        assert resp.status == 200
        return f'campaign="{campaign}"' in await resp.text()


async def _abandon_rules_healthy(prom: PrometheusServer) -> bool:
    groups = (await prom.api("rules"))["groups"]
    compliance = next(g for g in groups if g["name"] == "dialer-compliance")
    for rule in compliance["rules"]:
        assert rule["health"] != "err", f"{rule['name']}: {rule.get('lastError')}"
    return all(rule["health"] == "ok" for rule in compliance["rules"])


async def _series(prom: PrometheusServer, query: str) -> int:
    return len((await prom.api("query", query=query))["result"])


async def test_a_takeover_leaves_one_series_and_the_abandon_rules_evaluate(
    own_database: OwnDatabase, prometheus_path: str, scratch_dir: Path
) -> None:
    token = secrets.token_urlsafe(16)
    config = SimConfig.demo(agents=10, seed=6, ami_port=0, ari_port=0, time_scale=TIME_SCALE)
    async with (
        SimAsterisk(config) as sim,
        _instance(own_database, sim, token, "gw-1") as one,
        _instance(own_database, sim, token, "gw-2") as two,
    ):
        api = f"http://127.0.0.1:{one.http_port}/v1"
        campaign = await set_up_campaign(api, token, 300, seed=31, name="takeover-metrics")
        cid = campaign.campaign_id
        by_name = {"gw-1": one, "gw-2": two}

        async def holder() -> str | None:
            async with one.engine.connect() as conn:
                found = (await conn.execute(_HOLDER, {"cid": cid})).scalar()
            return None if found is None else str(found)

        async def paced_and_exported() -> bool:
            held = await holder()
            return held is not None and await _exports(by_name[held], str(cid))

        await until(paced_and_exported, 60, "one instance to pace and export the campaign")
        old = await holder()
        assert old is not None
        new = "gw-2" if old == "gw-1" else "gw-1"
        targets = [f"127.0.0.1:{r.http_port}" for r in (one, two)]
        prom_config = write_config(scratch_dir, targets, [RULES])
        async with running_prometheus(prometheus_path, scratch_dir, prom_config) as prom:
            query = f'dialer_abandon_rate_target_ratio{{campaign="{cid}"}}'

            async def scraped() -> bool:
                return await _series(prom, query) == 1

            await prom.wait_for(scraped, "the pacer's target series in Prometheus")
            until_at = datetime.now(UTC) + timedelta(minutes=10)
            async with one.engine.begin() as conn:
                await conn.execute(_HAND_OVER, {"cid": cid, "iid": new, "until": until_at})

            async def taken_over() -> bool:
                left = cid not in by_name[old].supervisor.runners
                return left and not await _exports(by_name[old], str(cid))

            await until(taken_over, 30, f"{old} to forget the campaign it lost")

            async def new_pacer_exports() -> bool:
                return await _exports(by_name[new], str(cid))

            await until(new_pacer_exports, 30, f"{new} to export the campaign it took over")

            async def one_series_from_the_new_pacer() -> bool:
                result = (await prom.api("query", query=query))["result"]
                return [r["metric"].get("instance") for r in result] == [
                    f"127.0.0.1:{by_name[new].http_port}"
                ]

            await prom.wait_for(one_series_from_the_new_pacer, "one series, from the new pacer")
            evaluated = 0

            async def healthy_twice() -> bool:
                nonlocal evaluated
                evaluated += int(await _abandon_rules_healthy(prom))
                return evaluated >= 2

            await prom.wait_for(healthy_twice, "two healthy evaluations of the abandon rules")
            assert await _series(prom, f'dialer_calls_in_flight{{campaign="{cid}"}}') == 1
