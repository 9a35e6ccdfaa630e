"""The Grafana dashboard and its provisioning: panels for every NOC topic, known metric names."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tests.deploy.conftest import DASHBOARDS_DIR, DEPLOY, REPO
from tests.deploy.exposition import exposed_names, promql_names

DASHBOARD = DASHBOARDS_DIR / "dialer.json"
PROVISIONING = DEPLOY / "grafana" / "provisioning"


def load_yaml(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path)


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def exprs() -> Iterator[tuple[str, str]]:
    for panel in panels(dashboard()["panels"]):
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def test_every_panel_uses_only_exposed_metric_names() -> None:
    exposed = exposed_names()
    for title, expr in exprs():
        used = promql_names(expr)
        assert used, f"panel {title!r} uses no dialer metric"
        assert used <= exposed, f"panel {title!r}: unknown metrics {sorted(used - exposed)}"


def test_every_metric_is_on_the_dashboard() -> None:
    shown = {name for _, expr in exprs() for name in promql_names(expr)}
    bases = {
        n.removesuffix("_bucket").removesuffix("_sum").removesuffix("_count")
        for n in exposed_names()
        if n.startswith("dialer_") and not n.endswith("_created")
    }
    shown_bases = {
        n.removesuffix("_bucket").removesuffix("_sum").removesuffix("_count") for n in shown
    }
    assert bases - shown_bases == set()


def test_the_noc_topics_have_panels() -> None:
    titles = " | ".join(p["title"].lower() for p in panels(dashboard()["panels"]))
    for topic in (
        "calls originated",
        "outcomes",
        "answer-seizure ratio",
        "average call duration",
        "post-dial delay",
        "abandon rate",
        "agents by state",
        "occupancy",
        "mos",
        "jitter",
        "packet loss",
        "links up",
    ):
        assert topic in titles, topic


def test_panel_ids_are_unique_and_every_panel_uses_the_provisioned_datasource() -> None:
    source = load_yaml(PROVISIONING / "datasources" / "prometheus.yml")["datasources"][0]
    all_panels = list(panels(dashboard()["panels"]))
    ids = [p["id"] for p in all_panels]
    assert len(ids) == len(set(ids))
    for panel in all_panels:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == source["uid"], panel["title"]
    assert source["url"] == "http://prometheus:9090"


def test_the_provider_loads_the_directory_compose_mounts() -> None:
    provider = load_yaml(PROVISIONING / "dashboards" / "dialer.yml")["providers"][0]
    compose = load_yaml(REPO / "docker-compose.yml")
    volumes = compose["services"]["grafana"]["volumes"]
    assert f"./deploy/grafana/dashboards:{provider['options']['path']}:ro" in volumes
