"""Metrics: what each method records, the bounded-label guard and the cause classes."""

from __future__ import annotations

import re

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from gateway.metric_labels import LabelGuard, display_name
from gateway.metrics import Metrics, UnboundedLabel, cause_class
from pacing.outcomes import Outcome
from tests.deploy.exposition import exercise, exposed_names


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(CollectorRegistry())


def value(m: Metrics, metric: str, **labels: str) -> float | None:
    return m.registry.get_sample_value(metric, labels)


def test_originated_and_finished_are_counted_by_campaign_server_and_outcome(
    metrics: Metrics,
) -> None:
    metrics.call_originated("c1", "ast1")
    metrics.call_originated("c1", "ast1")
    metrics.call_finished("c1", "ast1", Outcome.ANSWERED, 16, 1.5, 7.0, 0.5, 100.0)
    metrics.call_finished("c1", "ast1", Outcome.BUSY, 17, 0.5, 0.0)
    cs = {"campaign": "c1", "server": "ast1"}
    assert value(metrics, "dialer_calls_originated_total", **cs) == 2
    assert value(metrics, "dialer_calls_finished_total", **cs, outcome="answered") == 1
    assert value(metrics, "dialer_calls_finished_total", **cs, outcome="busy") == 1
    assert value(metrics, "dialer_call_seizures_total", **cs) == 2
    assert value(metrics, "dialer_call_answers_total", **cs) == 1
    assert value(metrics, "dialer_call_hangups_total", **cs, **{"class": "user_busy"}) == 1
    assert value(metrics, "dialer_call_post_dial_delay_seconds_sum", **cs) == 2.0
    assert value(metrics, "dialer_call_ring_seconds_count", **cs) == 2
    assert value(metrics, "dialer_call_agent_connect_seconds_count", **cs) == 1
    assert value(metrics, "dialer_call_talk_seconds_sum", **cs) == 100.0
    # Duration of an answered call defaults to connect + talk.
    assert value(metrics, "dialer_call_duration_seconds_sum", **cs) == 100.5


def test_dnc_is_no_seizure_and_machine_is_an_answer(metrics: Metrics) -> None:
    metrics.call_finished("c1", "ast1", "dnc", None)
    metrics.call_finished("c1", "ast1", "machine", 16, 1.0, 3.0, duration_s=4.0)
    cs = {"campaign": "c1", "server": "ast1"}
    assert value(metrics, "dialer_call_seizures_total", **cs) == 1
    assert value(metrics, "dialer_call_answers_total", **cs) == 1
    assert value(metrics, "dialer_call_duration_seconds_sum", **cs) == 4.0
    assert value(metrics, "dialer_calls_finished_total", **cs, outcome="dnc") == 1


def test_rtcp_records_quality_and_returns_the_mos(metrics: Metrics) -> None:
    good = metrics.rtcp("c1", "ast1", jitter_s=0.002, loss_ratio=0.0, rtt_s=0.04)
    bad = metrics.rtcp("c1", "ast1", jitter_s=0.06, loss_ratio=0.08, rtt_s=0.6)
    assert 4.3 < good <= 4.5
    assert bad < 3.0
    cs = {"campaign": "c1", "server": "ast1"}
    assert value(metrics, "dialer_call_mos_sum", **cs) == pytest.approx(good + bad)
    assert value(metrics, "dialer_rtcp_packet_loss_ratio_sum", **cs) == pytest.approx(0.08)
    assert value(metrics, "dialer_rtcp_jitter_seconds_count", **cs) == 2
    assert value(metrics, "dialer_rtcp_rtt_seconds_sum", **cs) == pytest.approx(0.64)


def test_gauges_are_set_one_hot_and_absent_states_are_zero(metrics: Metrics) -> None:
    metrics.campaign_state("c1", "running")
    metrics.campaign_state("c1", "paused")
    assert value(metrics, "dialer_campaign_state", campaign="c1", state="paused") == 1
    assert value(metrics, "dialer_campaign_state", campaign="c1", state="running") == 0
    metrics.agents("c1", {"free": 2, "busy": 3}, occupancy_ratio=0.6)
    metrics.agents("c1", {"busy": 4}, occupancy_ratio=0.9)
    assert value(metrics, "dialer_agents", campaign="c1", state="free") == 0
    assert value(metrics, "dialer_agents", campaign="c1", state="busy") == 4
    assert value(metrics, "dialer_agent_occupancy_ratio", campaign="c1") == 0.9
    metrics.link_state("ast1", "ami", "ready")
    assert value(metrics, "dialer_link_up", server="ast1", link="ami") == 1
    metrics.link_state("ast1", "ami", "backoff")
    assert value(metrics, "dialer_link_up", server="ast1", link="ami") == 0
    assert value(metrics, "dialer_link_state", server="ast1", link="ami", state="backoff") == 1
    assert value(metrics, "dialer_link_state", server="ast1", link="ami", state="ready") == 0


def test_abandon_rates_pacing_and_tick(metrics: Metrics) -> None:
    metrics.abandon_rates("c1", day_ratio=0.04, month_ratio=0.02, target_ratio=0.03)
    metrics.pacing("c1", dial_level=2.5, calls_in_flight=7)
    metrics.pacing_tick(1_700_000_000.5, 0.004)
    assert value(metrics, "dialer_abandon_rate_ratio", campaign="c1", window="24h") == 0.04
    assert value(metrics, "dialer_abandon_rate_ratio", campaign="c1", window="30d") == 0.02
    assert value(metrics, "dialer_abandon_rate_target_ratio", campaign="c1") == 0.03
    assert value(metrics, "dialer_pacing_dial_level", campaign="c1") == 2.5
    assert value(metrics, "dialer_calls_in_flight", campaign="c1") == 7
    assert value(metrics, "dialer_pacing_last_tick_timestamp_seconds") == 1_700_000_000.5
    assert value(metrics, "dialer_pacing_tick_seconds_count") == 1


@pytest.mark.parametrize(
    ("label", "bad"),
    [
        ("campaign", "+15551234567"),  # E.164 number
        ("campaign", "15551234567"),  # bare number
        ("campaign", "555-123-4567"),  # formatted number
        ("campaign", "John Smith"),  # a person's name
        ("campaign", "jane@example.com"),
        ("campaign", ""),
        ("campaign", "x" * 65),
        ("server", "ast 1"),
        ("campaign", "5551234"),  # seven digits: a local number
        ("server", "555.123.4567"),
    ],
)
def test_unbounded_label_values_are_dropped_and_counted(
    metrics: Metrics, label: str, bad: str
) -> None:
    args = {"campaign": "c1", "server": "ast1", label: bad}
    metrics.call_originated(args["campaign"], args["server"])  # never raises
    assert "dialer_calls_originated_total{" not in generate_latest(metrics.registry).decode()
    dropped = {"label": label, "reason": "malformed" if " " in bad or "@" in bad or "+" in bad
               or len(bad) in (0, 65) else "phone_number"}  # fmt: skip
    assert value(metrics, "dialer_metrics_dropped_total", **dropped) == 1
    assert metrics.dropped() == 1


def test_the_guard_itself_names_the_refused_label() -> None:
    with pytest.raises(UnboundedLabel) as caught:
        LabelGuard().check("campaign", "+15551234567")
    assert (caught.value.label, caught.value.kind) == ("campaign", "malformed")


@pytest.mark.parametrize(
    ("call", "label"),
    [
        (lambda m: m.call_finished("c1", "ast1", "hung_up"), "outcome"),
        (lambda m: m.campaign_state("c1", "sleeping"), "state"),
        (lambda m: m.agents("c1", {"lunch": 1}, 0.0), "state"),
        (lambda m: m.caller_ids("c1", {"blocked": 1}), "state"),
        (lambda m: m.link_state("ast1", "sip", "ready"), "link"),
        (lambda m: m.link_state("ast1", "ami", "up"), "state"),
        (lambda m: m.call_illegal_input("talking", "machine"), "state"),
        (lambda m: m.call_illegal_input("connected", "teleport"), "input"),
    ],
)
def test_fixed_vocabularies_are_enforced(metrics: Metrics, call: object, label: str) -> None:
    assert callable(call)
    call(metrics)
    assert value(metrics, "dialer_metrics_dropped_total", label=label, reason="vocabulary") == 1


def test_illegal_call_inputs_are_counted_by_state_and_input(metrics: Metrics) -> None:
    metrics.call_illegal_input("connected", "machine")
    metrics.call_illegal_input("connected", "machine")
    metrics.call_illegal_input("queued", "join_queue")
    got = value(metrics, "dialer_call_illegal_inputs_total", state="connected", input="machine")
    assert got == 2
    assert value(metrics, "dialer_call_illegal_inputs_total", state="queued", input="join_queue")


def test_free_labels_are_capped_and_forget_frees_a_slot() -> None:
    metrics = Metrics(CollectorRegistry(), max_label_values=2)
    metrics.call_originated("c1", "ast1")
    metrics.campaign_state("c2", "ready")
    metrics.call_originated("c3", "ast1")  # past the bound: dropped and counted
    assert value(metrics, "dialer_calls_originated_total", campaign="c3", server="ast1") is None
    assert value(metrics, "dialer_metrics_dropped_total", label="campaign", reason="bound") == 1
    assert metrics.exported_campaigns() == ["c1", "c2"]
    metrics.forget_campaign("c1")
    assert value(metrics, "dialer_calls_originated_total", campaign="c1", server="ast1") is None
    metrics.call_originated("c3", "ast1")
    assert value(metrics, "dialer_calls_originated_total", campaign="c3", server="ast1") == 1


def test_dispositions_are_counted_by_campaign_and_code(metrics: Metrics) -> None:
    metrics.disposition("c1", "sale")
    metrics.disposition("c1", "sale")
    metrics.disposition("c1", "dnc")
    metrics.disposition("c2", "sale")
    assert value(metrics, "dialer_dispositions_total", campaign="c1", code="sale") == 2
    assert value(metrics, "dialer_dispositions_total", campaign="c1", code="dnc") == 1
    assert value(metrics, "dialer_dispositions_total", campaign="c2", code="sale") == 1
    metrics.disposition("c1", "+15551234567")  # a phone number is never a label value
    assert metrics.dropped() == 1
    metrics.forget_campaign("c1")
    assert value(metrics, "dialer_dispositions_total", campaign="c1", code="sale") is None
    assert value(metrics, "dialer_dispositions_total", campaign="c2", code="sale") == 1


def test_forget_campaign_removes_every_series_of_it(metrics: Metrics) -> None:
    exercise(metrics)
    metrics.call_originated("c2", "ast1")
    metrics.forget_campaign("c1")
    text = generate_latest(metrics.registry).decode()
    assert 'campaign="c1"' not in text
    assert 'campaign="c2"' in text
    assert 'server="ast1"' in text  # link series stay


def test_campaign_info_carries_the_name_and_follows_a_rename(metrics: Metrics) -> None:
    metrics.campaign_info("7", "Spring renewals")
    metrics.campaign_info("7", "Spring renewals, wave 2")
    assert value(metrics, "dialer_campaign_info", campaign="7", name="Spring renewals") is None
    assert value(metrics, "dialer_campaign_info", campaign="7", name="Spring renewals, wave 2") == 1
    metrics.forget_campaign("7")
    assert 'campaign="7"' not in generate_latest(metrics.registry).decode()


@pytest.mark.parametrize(
    ("name", "shown"),
    [("a\nb\tc", "a b c"), ("", "-"), ("x" * 80, "x" * 64), ("  Été  ", "Été")],
)
def test_display_name_is_one_printable_bounded_line(name: str, shown: str) -> None:
    assert display_name(name) == shown


def test_campaigns_by_state_and_the_process_collector(metrics: Metrics) -> None:
    metrics.campaigns({"running": 3, "paused": 1})
    assert value(metrics, "dialer_campaigns", state="running") == 3
    assert value(metrics, "dialer_campaigns", state="stopped") == 0
    assert value(metrics, "process_resident_memory_bytes") is not None
    assert value(metrics, "process_open_fds") is not None


def test_short_numeric_campaign_ids_are_accepted(metrics: Metrics) -> None:
    metrics.call_originated("123456", "192.168.100.200")  # a database id; a server by address
    assert (
        value(metrics, "dialer_calls_originated_total", campaign="123456", server="192.168.100.200")
        == 1
    )


def test_two_instances_do_not_share_state() -> None:
    first, second = Metrics(CollectorRegistry()), Metrics(CollectorRegistry())
    first.call_originated("c1", "ast1")
    assert (
        second.registry.get_sample_value(
            "dialer_calls_originated_total", {"campaign": "c1", "server": "ast1"}
        )
        is None
    )


@pytest.mark.parametrize(
    ("cause", "expected"),
    [
        (None, "unknown"),
        (0, "unknown"),
        (16, "normal_clearing"),
        (17, "user_busy"),
        (18, "no_answer"),
        (19, "no_answer"),
        (21, "rejected"),
        (1, "invalid_number"),
        (28, "invalid_number"),
        (27, "unreachable"),
        (26, "other_normal"),
        (34, "congestion"),
        (38, "congestion"),
        (47, "congestion"),
        (58, "service_unavailable"),
        (79, "service_unavailable"),
        (95, "protocol_error"),
        (111, "protocol_error"),
        (127, "interworking"),
        (128, "unknown"),
        (-3, "unknown"),
    ],
)
def test_cause_class(cause: int | None, expected: str) -> None:
    assert cause_class(cause) == expected


def test_every_exposed_metric_is_documented_in_the_module_table() -> None:
    import gateway.metrics

    doc = gateway.metrics.__doc__ or ""
    documented = set(re.findall(r"^(dialer_[a-z0-9_]+)\s", doc, re.MULTILINE))
    exposed = {
        re.sub(r"_(bucket|sum|count|created)$", "", name)
        for name in exposed_names()
        if name.startswith("dialer_")
    }
    exposed = {n if n in documented else f"{n}_total" for n in exposed}
    assert exposed == documented
