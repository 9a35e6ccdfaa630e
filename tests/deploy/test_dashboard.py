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


def test_panel_ids_are_unique_and_every_panel_uses_the_datasource_variable() -> None:
    source = load_yaml(PROVISIONING / "datasources" / "prometheus.yml")["datasources"][0]
    board = dashboard()
    all_panels = list(panels(board["panels"]))
    ids = [p["id"] for p in all_panels]
    assert len(ids) == len(set(ids))
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == source["type"] == "prometheus"
    for panel in all_panels:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "${datasource}", panel["title"]
    for item in [*board["templating"]["list"][1:], *board["annotations"]["list"]]:
        assert item["datasource"]["uid"] == "${datasource}", item["name"]
    # No fixed uid anywhere: the dashboard imports into a Grafana whose Prometheus has any uid.
    assert '"uid": "prometheus"' not in DASHBOARD.read_text()
    assert source["url"] == "http://prometheus:9090"


def test_campaigns_show_by_name() -> None:
    board = dashboard()
    campaign = next(v for v in board["templating"]["list"] if v["name"] == "campaign")
    assert "dialer_campaign_info" in campaign["definition"]
    assert "(?<text>" in campaign["regex"]
    assert "(?<value>" in campaign["regex"]
    for panel in panels(board["panels"]):
        for target in panel.get("targets", []):
            legend = target.get("legendFormat", "")
            assert "{{campaign}}" not in legend, panel["title"]
            if "{{name}}" in legend or panel["title"] == "Campaign state":
                assert "group_left (name)" in target["expr"], panel["title"]
                assert "dialer_campaign_info" in target["expr"], panel["title"]


def test_the_provider_loads_the_directory_compose_mounts() -> None:
    provider = load_yaml(PROVISIONING / "dashboards" / "dialer.yml")["providers"][0]
    compose = load_yaml(REPO / "docker-compose.yml")
    volumes = compose["services"]["grafana"]["volumes"]
    assert f"./deploy/grafana/dashboards:{provider['options']['path']}:ro" in volumes
