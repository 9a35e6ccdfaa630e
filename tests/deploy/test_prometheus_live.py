"""The alert rules in a real Prometheus: the abandon alert fires when a campaign goes over target.

A small aiohttp app serves a :class:`Metrics` registry through the gateway's own ``/metrics``
route; a real Prometheus (the Debian binary) scrapes it every second and evaluates
``deploy/prometheus/rules/dialer.rules.yml``. Skips when the binary is absent.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from dialer.health import add_health_routes
from gateway.metrics import Metrics
from tests.deploy.conftest import RULES_FILE
from tests.deploy.promserver import PrometheusServer, running_prometheus, write_config

pytestmark = pytest.mark.slow


@pytest.fixture
async def exporter() -> AsyncIterator[tuple[Metrics, str]]:
    """A :class:`Metrics` served on ``/metrics`` of a real HTTP server on a free port."""
    metrics = Metrics(CollectorRegistry())
    app = web.Application()
    add_health_routes(app, metrics.registry, {})
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield metrics, f"{host}:{port}"
    finally:
        await runner.cleanup()


def _matching(alerts: list[dict[str, Any]], name: str, **labels: str) -> list[dict[str, Any]]:
    return [
        a
        for a in alerts
        if a["labels"].get("alertname") == name
        and all(a["labels"].get(k) == v for k, v in labels.items())
    ]


def _timestamp(rfc3339: str) -> datetime:
    """Parse Go's RFC 3339 with up to nanoseconds (Python keeps microseconds)."""
    trimmed = re.sub(r"(\.\d{6})\d+", r"\1", rfc3339.replace("Z", "+00:00"))
    return datetime.fromisoformat(trimmed)


async def _last_evaluation(server: PrometheusServer) -> datetime:
    groups = (await server.api("rules"))["groups"]
    compliance = next(g for g in groups if g["name"] == "dialer-compliance")
    return _timestamp(compliance["lastEvaluation"])


async def test_abandon_alert_fires_over_target(
    prometheus_binary: str, tmp_path: Path, exporter: tuple[Metrics, str]
) -> None:
    metrics, target = exporter
    metrics.campaign_state("c1", "running")
    metrics.abandon_rates("c1", day_ratio=0.01, month_ratio=0.01, target_ratio=0.03)
    config = write_config(tmp_path, [target], [RULES_FILE])

    async with running_prometheus(prometheus_binary, tmp_path, config) as server:

        async def scraped_under_target() -> datetime | None:
            query = 'dialer_abandon_rate_ratio{window="24h"}'
            result = (await server.api("query", query=query))["result"]
            if result and float(result[0]["value"][1]) == pytest.approx(0.01):
                return await _last_evaluation(server)
            return None

        seen_at: datetime = await server.wait_for(scraped_under_target, "the first scrape")

        async def evaluated_since() -> bool:
            return await _last_evaluation(server) > seen_at

        await server.wait_for(evaluated_since, "a rule evaluation after the scrape")
        assert _matching(await server.alerts(), "DialerAbandonRateOverTarget") == []

        metrics.abandon_rates("c1", day_ratio=0.05, month_ratio=0.02, target_ratio=0.03)

        async def firing() -> list[dict[str, Any]]:
            alerts = await server.alerts()
            over = _matching(alerts, "DialerAbandonRateOverTarget", campaign="c1")
            return [a for a in over if a["state"] == "firing"]

        fired = await server.wait_for(firing, "DialerAbandonRateOverTarget firing")
        assert [a["labels"]["window"] for a in fired] == ["24h"]  # 30 d is at 0.02, under 0.03
        assert fired[0]["labels"]["severity"] == "page"
        assert float(fired[0]["value"]) == pytest.approx(0.05)
        near = _matching(await server.alerts(), "DialerAbandonRateNearTarget", campaign="c1")
        assert [(a["labels"]["window"], a["state"]) for a in near] == [("24h", "pending")]
