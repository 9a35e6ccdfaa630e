"""The NOC's view of a real run: ``/metrics`` of the gateway during a simulated campaign, and a
real Prometheus evaluating the shipped alert rules against it."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from rich.console import Console
from sqlalchemy import text

from dialer import why
from dialer.demo import set_up_campaign
from tests.deploy.promserver import running_prometheus, write_config
from tests.e2e.conftest import Stack, until

pytestmark = [pytest.mark.db, pytest.mark.slow]

RULES = Path(__file__).resolve().parents[2] / "deploy/prometheus/rules/dialer.rules.yml"


async def _scrape(stack: Stack) -> dict[str, list[Sample]]:
    url = f"http://127.0.0.1:{stack.running.http_port}/metrics"
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        assert resp.status == 200
        body = await resp.text()
    samples: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def _value(samples: dict[str, list[Sample]], name: str, **labels: str) -> float:
    matching = [
        s.value
        for s in samples.get(name, [])
        if all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert matching, f"{name}{labels} not exposed"
    return sum(matching)


async def _settled(stack: Stack, cid: int) -> int:
    async with stack.running.engine.connect() as conn:
        query = text("SELECT count(*) FROM attempts WHERE campaign_id = :c AND status = 'settled'")
        return int((await conn.execute(query, {"c": cid})).scalar() or 0)


async def _wait_settled(stack: Stack, cid: int, count: int) -> None:
    async def enough() -> bool:
        return await _settled(stack, cid) >= count

    await until(enough, 120, f"{count} settled attempts")


async def test_metrics_during_a_campaign_have_sane_values(stack: Stack) -> None:
    campaign = await set_up_campaign(stack.api, stack.token, records=300, seed=5)
    cid = str(campaign.campaign_id)
    await _wait_settled(stack, campaign.campaign_id, 30)
    await asyncio.sleep(1.5)  # one observer round after the last settlement counted above
    m = await _scrape(stack)
    originated = _value(m, "dialer_calls_originated_total", campaign=cid, server="sim")
    finished = _value(m, "dialer_calls_finished_total", campaign=cid, server="sim")
    assert originated >= finished >= 30
    assert _value(m, "dialer_calls_finished_total", campaign=cid, outcome="answered") > 0
    answers = _value(m, "dialer_call_answers_total", campaign=cid)
    seizures = _value(m, "dialer_call_seizures_total", campaign=cid)
    assert 0 < answers <= seizures
    for histogram in ("dialer_call_ring_seconds", "dialer_call_talk_seconds",
                      "dialer_call_post_dial_delay_seconds", "dialer_call_mos",
                      "dialer_call_duration_seconds", "dialer_call_agent_connect_seconds",
                      "dialer_rtcp_jitter_seconds", "dialer_rtcp_packet_loss_ratio",
                      "dialer_rtcp_rtt_seconds"):  # fmt: skip
        assert _value(m, f"{histogram}_count", campaign=cid) > 0, histogram
    acd = _value(m, "dialer_call_duration_seconds_sum", campaign=cid) / _value(
        m, "dialer_call_duration_seconds_count", campaign=cid)  # fmt: skip
    assert 0 < acd < 3600
    assert _value(m, "dialer_pacing_dial_level", campaign=cid) >= 0
    assert _value(m, "dialer_link_rtt_seconds_count", server="sim", link="ami") > 0
    mos_mean = _value(m, "dialer_call_mos_sum", campaign=cid) / _value(
        m, "dialer_call_mos_count", campaign=cid)  # fmt: skip
    assert 1.0 <= mos_mean <= 4.5
    assert _value(m, "dialer_call_hangups_total", campaign=cid) > 0
    for window in ("24h", "30d"):
        rate = _value(m, "dialer_abandon_rate_ratio", campaign=cid, window=window)
        assert 0.0 <= rate <= 1.0
    assert _value(m, "dialer_abandon_rate_target_ratio", campaign=cid) == pytest.approx(0.03)
    agents = sum(_value(m, "dialer_agents", campaign=cid, state=s)
                 for s in ("free", "busy", "wrap", "paused"))  # fmt: skip
    assert agents == 10
    assert 0.0 <= _value(m, "dialer_agent_occupancy_ratio", campaign=cid) <= 1.0
    assert _value(m, "dialer_campaign_state", campaign=cid, state="running") == 1
    assert _value(m, "dialer_caller_ids", campaign=cid, state="active") == 12
    assert _value(m, "dialer_link_up", server="sim", link="ami") == 1
    assert _value(m, "dialer_link_state", server="sim", link="ami", state="ready") == 1
    assert abs(_value(m, "dialer_pacing_last_tick_timestamp_seconds") - time.time()) < 10
    assert _value(m, "dialer_calls_in_flight", campaign=cid) >= 0
    diagnosis = await why.fetch(f"http://127.0.0.1:{stack.running.http_port}", stack.token,
                                campaign.campaign_id, record=None)  # fmt: skip
    assert diagnosis["state"] == "running"
    assert isinstance(diagnosis["findings"], list)
    assert diagnosis["text"]
    console = Console(record=True, width=120)
    why.show(diagnosis, console)
    assert f"campaign {cid} [running]" in console.export_text()
    phone_like = re.compile(r"^\+?\d{6,}$")
    for family in m.values():
        for sample in family:
            for label, value in sample.labels.items():
                assert label == "le" or not phone_like.match(value), f"{label}={value}"


async def test_a_real_prometheus_fires_the_abandon_alert_from_the_gateway(
    stack: Stack, prometheus_path: str, scratch_dir: Path
) -> None:
    # Overdial on purpose: power pacing at 5 lines per free agent answers far more live calls
    # than 10 agents can take within 2 s.
    campaign = await set_up_campaign(stack.api, stack.token, records=300, seed=9)
    headers = {"Authorization": f"Bearer {stack.token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        url = f"{stack.api}/campaigns/{campaign.campaign_id}"
        for step in ("/stop", ""):
            body = {"pacing_mode": "power", "pacing": {"power_ratio": 5, "ring_timeout_s": 20}}
            method = http.post(url + step) if step else http.patch(url, json=body)
            async with method as resp:
                assert resp.status == 200, await resp.text()
        async with http.post(url + "/start") as resp:
            assert resp.status == 200
    config = write_config(scratch_dir, [f"127.0.0.1:{stack.running.http_port}"], [RULES])
    async with running_prometheus(prometheus_path, scratch_dir, config) as prom:

        async def firing() -> bool:
            return any(
                a["labels"].get("alertname") == "DialerAbandonRateOverTarget"
                and a["labels"].get("campaign") == str(campaign.campaign_id)
                and a["state"] == "firing"
                for a in await prom.alerts()
            )

        await prom.wait_for(firing, "the abandon alert to fire", timeout_s=120)

    async def guard_paused() -> bool:
        view = await stack.running.store.campaign(campaign.campaign_id)
        return view is not None and view.state == "paused"

    await until(guard_paused, 120, "the abandon guard to pause the overdialling campaign")
    await asyncio.sleep(1.5)  # one observer round
    m = await _scrape(stack)
    trips = _value(m, "dialer_guard_trips_total", reason="abandon_limit")
    assert trips >= 1
