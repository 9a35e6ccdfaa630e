"""Agent pause metrics: paused members by reason, pauses counted, labels bounded, forgotten."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from gateway.metric_labels import pause_reason_label
from gateway.metrics import Metrics


def _value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


@pytest.mark.parametrize(
    ("reason", "label"),
    [
        ("lunch", "lunch"),
        ("", "none"),
        ("Lunch break", "other"),  # free text typed at a phone
        ("+15551234567", "other"),  # a number never becomes a label
        ("a" * 40, "other"),
        ("team.meeting-2", "team.meeting-2"),
    ],
)
def test_pause_reason_label(reason: str, label: str) -> None:
    assert pause_reason_label(reason) == label


def test_paused_by_reason_sets_gone_reasons_to_zero() -> None:
    metrics = Metrics(CollectorRegistry(), process=False)
    metrics.agents_paused("7", {"lunch": 2, "": 1, "Out to lunch": 1})
    assert _value(metrics, "dialer_agents_paused", campaign="7", reason="lunch") == 2
    assert _value(metrics, "dialer_agents_paused", campaign="7", reason="none") == 1
    assert _value(metrics, "dialer_agents_paused", campaign="7", reason="other") == 1
    metrics.agents_paused("7", {"break": 1})
    assert _value(metrics, "dialer_agents_paused", campaign="7", reason="lunch") == 0
    assert _value(metrics, "dialer_agents_paused", campaign="7", reason="break") == 1


def test_pauses_counted_and_forgotten_with_the_campaign() -> None:
    metrics = Metrics(CollectorRegistry(), process=False)
    metrics.agent_paused("7", "lunch")
    metrics.agent_paused("7", "lunch")
    metrics.agents_paused("7", {"lunch": 1})
    assert _value(metrics, "dialer_agent_pauses_total", campaign="7", reason="lunch") == 2
    metrics.forget_campaign("7")
    assert _value(metrics, "dialer_agent_pauses_total", campaign="7", reason="lunch") is None
    assert _value(metrics, "dialer_agents_paused", campaign="7", reason="lunch") is None


def test_reason_values_are_bounded() -> None:
    metrics = Metrics(CollectorRegistry(), max_label_values=3, process=False)
    for code in ("r1", "r2", "r3", "r4"):
        metrics.agent_paused("7", code)
    assert _value(metrics, "dialer_agent_pauses_total", campaign="7", reason="r4") is None
    assert metrics.dropped() == 1
