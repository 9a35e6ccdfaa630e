"""Alert rules and the Prometheus config: valid for promtool, and only names Metrics exposes."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tests.deploy.conftest import PROMETHEUS_DIR, RULES_FILE
from tests.deploy.exposition import exposed_names, promql_names

RULE_TESTS = Path(__file__).parent / "promtool" / "dialer.rules.test.yml"
EXPECTED_ALERTS = {
    "DialerAbandonRateOverTarget",
    "DialerAbandonRateNearTarget",
    "DialerAnswerRateCollapse",
    "DialerRunningCampaignIdle",
    "DialerMosLow",
    "DialerAsteriskLinkDown",
    "DialerPacingLoopStalled",
    "DialerGatewayDown",
    "DialerAgentWebhooksDropped",
    "DialerAgentFeedUnowned",
}


def load_yaml(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path)


def rules() -> list[dict[str, Any]]:
    document = load_yaml(RULES_FILE)
    return [rule for group in document["groups"] for rule in group["rules"]]


def run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed argv, no shell
        argv, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_every_alert_the_noc_needs_is_defined() -> None:
    assert {rule["alert"] for rule in rules()} == EXPECTED_ALERTS


def test_every_rule_uses_only_exposed_metric_names() -> None:
    exposed = exposed_names()
    for rule in rules():
        used = promql_names(rule["expr"])
        assert used or rule["expr"].startswith("up{"), f"{rule['alert']} uses no dialer metric"
        assert used <= exposed, f"{rule['alert']}: unknown metrics {sorted(used - exposed)}"


def test_the_name_check_catches_a_typo() -> None:
    assert promql_names("rate(dialer_calls_originated_totl[5m])") - exposed_names() == {
        "dialer_calls_originated_totl"
    }


def test_every_alert_has_a_severity_and_a_summary() -> None:
    for rule in rules():
        assert rule["labels"]["severity"] in {"page", "warn"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]


def test_promtool_check_rules(promtool: str) -> None:
    result = run(promtool, "check", "rules", str(RULES_FILE), cwd=PROMETHEUS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(EXPECTED_ALERTS)} rules found" in result.stdout


def test_promtool_check_config(promtool: str) -> None:
    result = run(promtool, "check", "config", "prometheus.yml", cwd=PROMETHEUS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout


def test_promtool_rejects_a_broken_rule(promtool: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(RULES_FILE.read_text().replace("dialer_link_up == 0", "dialer_link_up ==="))
    result = run(promtool, "check", "rules", str(broken), cwd=tmp_path)
    assert result.returncode != 0


def test_promtool_rule_unit_tests(promtool: str) -> None:
    result = run(promtool, "test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
