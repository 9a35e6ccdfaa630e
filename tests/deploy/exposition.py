"""Helpers that compare metric names: what :class:`Metrics` exposes and what PromQL uses.

Pure helpers for the tests; no I/O besides rendering a registry.
"""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, generate_latest

from gateway.metrics import Metrics

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", re.MULTILINE)
_DIALER_NAME = re.compile(r"\b(?:dialer|process)_[a-z0-9_]+\b")


def exercise(metrics: Metrics) -> None:
    """Call every public recording method of ``metrics`` once."""
    metrics.call_originated("c1", "ast1")
    metrics.call_finished("c1", "ast1", "answered", 16, 1.2, 6.0, 0.4, 95.0)
    metrics.call_finished("c1", "ast1", "busy", 17, 0.8, 0.0)
    metrics.rtcp("c1", "ast1", jitter_s=0.004, loss_ratio=0.005, rtt_s=0.06)
    metrics.abandon_rates("c1", day_ratio=0.02, month_ratio=0.015, target_ratio=0.03)
    metrics.agents("c1", {"free": 2, "busy": 5, "wrap": 1}, occupancy_ratio=0.8)
    metrics.agents_paused("c1", {"lunch": 1, "": 1})
    metrics.agent_paused("c1", "lunch")
    metrics.pacing("c1", dial_level=1.6, calls_in_flight=4)
    metrics.pacing_tick(1_800_000_000.0, 0.003)
    metrics.campaign_state("c1", "running")
    metrics.caller_ids("c1", {"active": 3, "resting": 1})
    metrics.guard_tripped("abandon_rate")
    metrics.link_state("ast1", "ami", "ready")
    metrics.link_state("ast1", "ari", "backoff")
    metrics.feed_owner("ast1", True)
    metrics.link_reconnected("ast1", "ari")
    metrics.link_rtt("ast1", "ami", 0.002)
    metrics.campaign_info("c1", "Spring renewals")
    metrics.campaigns({"running": 1})
    metrics.disposition("c1", "sale")
    metrics.call_illegal_input("connected", "machine")
    metrics.call_originated("+15551234567", "ast1")  # refused: counted as dropped


def exposed_names() -> set[str]:
    """Sample names (with ``_total``/``_bucket``/``_sum``/``_count``) of an exercised Metrics."""
    metrics = Metrics(CollectorRegistry())
    exercise(metrics)
    text = generate_latest(metrics.registry).decode()
    return set(_SAMPLE.findall(text))


def promql_names(expr: str) -> set[str]:
    """The ``dialer_*`` and ``process_*`` metric names a PromQL expression refers to."""
    return set(_DIALER_NAME.findall(expr))
