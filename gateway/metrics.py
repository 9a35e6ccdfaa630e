"""Prometheus metrics of the gateway: one :class:`Metrics` per service, on a registry passed in.

This module holds the metric definitions and the small typed methods the rest of the gateway calls
(``metrics.call_originated(campaign, server)``…). It creates no global registry and no
module-level metric objects, reads no clock (timestamps are passed in) and does no I/O; the
``/metrics`` route in :mod:`dialer.health` renders the registry.

Labels are bounded by design. An instance exports only the campaigns it paces: the supervisor
calls :meth:`Metrics.forget_campaign` when a runner leaves (pause, stop, completion, a lost
lease), so a campaign's series live on one instance at a time and a paused campaign shows no
frozen gauge. Every label value goes through :class:`gateway.metric_labels.LabelGuard`; a value
it refuses (a phone number, a name, a free label past ``max_label_values`` distinct values) is
not recorded and is counted in ``dialer_metrics_dropped_total``: no recording method raises.

=========================================== ========= ======================== ===================
metric                                      type      labels                   set by
=========================================== ========= ======================== ===================
dialer_calls_originated_total               counter   campaign, server         call_originated
dialer_calls_finished_total                 counter   campaign, server,        call_finished
                                                      outcome
dialer_call_seizures_total                  counter   campaign, server         call_finished (the
                                                                               call reached the
                                                                               network: not dnc)
dialer_call_answers_total                   counter   campaign, server         call_finished
                                                                               (human or machine)
dialer_call_hangups_total                   counter   campaign, server, class  call_finished (Q.850
                                                                               cause class)
dialer_call_illegal_inputs_total            counter   state, input (the call   call_illegal_input
                                                      leg's: bounded enums)    (an input the leg's
                                                                               table does not allow;
                                                                               logged at WARNING)
dialer_call_post_dial_delay_seconds         histogram campaign, server         call_finished
dialer_call_ring_seconds                    histogram campaign, server         call_finished
dialer_call_agent_connect_seconds           histogram campaign, server         call_finished
dialer_call_talk_seconds                    histogram campaign, server         call_finished
dialer_call_duration_seconds                histogram campaign, server         call_finished
                                                                               (answer → hang-up)
dialer_abandon_rate_ratio                   gauge     campaign, window         abandon_rates
                                                      (24h, 30d)
dialer_abandon_rate_target_ratio            gauge     campaign                 abandon_rates
dialer_agents                               gauge     campaign, state          agents
dialer_agent_occupancy_ratio                gauge     campaign                 agents
dialer_agents_paused                        gauge     campaign, reason         agents_paused (the
                                                                               queue's paused
                                                                               members by reason)
dialer_agent_pauses_total                   counter   campaign, reason         agent_paused (a
                                                                               pause through the
                                                                               API or the CLI)
dialer_pacing_dial_level                    gauge     campaign                 pacing
dialer_calls_in_flight                      gauge     campaign                 pacing
dialer_pacing_last_tick_timestamp_seconds   gauge     —                        pacing_tick
dialer_pacing_tick_seconds                  histogram —                        pacing_tick
dialer_campaign_state                       gauge     campaign, state (1 for   campaign_state
                                                      the current state)
dialer_caller_ids                           gauge     campaign, state          caller_ids
dialer_guard_trips_total                    counter   reason (not by campaign: guard_tripped
                                                      a paused campaign is
                                                      no longer exported)
dialer_link_state                           gauge     server, link, state      link_state
                                                      (1 for the current)
dialer_link_up                              gauge     server, link             link_state
dialer_link_reconnects_total                counter   server, link             link_reconnected
dialer_link_rtt_seconds                     histogram server, link             link_rtt
dialer_agent_feed_owner                     gauge     server (1 while this     feed_owner
                                                      instance writes its
                                                      call-less agent
                                                      webhooks)
dialer_campaign_info                        gauge     campaign, name (1)       campaign_info
dialer_campaigns                            gauge     state (campaigns in the  campaigns
                                                      database, every one)
dialer_metrics_dropped_total                counter   label, reason (malformed, any method, when
                                                      phone_number,            a label value is
                                                      vocabulary, bound)       refused
dialer_agent_webhooks_dropped_total         counter   —                        agent_webhooks_
                                                                               dropped (the agent
                                                                               event hub's webhook
                                                                               backlog was full)
dialer_dispositions_total                   counter   campaign, code (a free,  disposition
                                                      bounded label: the
                                                      campaign's codes)
dialer_rtcp_jitter_seconds                  histogram campaign, server         rtcp
dialer_rtcp_packet_loss_ratio               histogram campaign, server         rtcp
dialer_rtcp_rtt_seconds                     histogram campaign, server         rtcp
dialer_call_mos                             histogram campaign, server         rtcp (estimated MOS,
                                                                               1..4.5)
=========================================== ========= ======================== ===================

The process collector (``process_*``: CPU, resident memory, open file descriptors) is registered
on the same registry.

Derived in Grafana / the alert rules: answer-seizure ratio = answers / seizures; average call
duration = duration ``_sum`` / ``_count``; mean MOS = ``dialer_call_mos`` ``_sum`` / ``_count``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

from gateway.asterisk.quality import G711_PLC, Codec, estimate_mos
from gateway.metric_labels import (
    AGENT_STATES,
    CALL_STATES,
    CALLER_ID_STATES,
    CAMPAIGN_STATES,
    CAUSE_CLASSES,
    LINK_STATES,
    OUTCOMES,
    WINDOWS,
    LabelGuard,
    UnboundedLabel,
    cause_class,
    display_name,
    pause_reason_label,
)
from pacing.outcomes import Outcome

__all__ = ["Metrics", "UnboundedLabel", "cause_class"]

_PDD_BUCKETS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0)
_RING_BUCKETS = (1.0, 2.0, 4.0, 6.0, 8.0, 10.0, 15.0, 20.0, 25.0, 30.0, 45.0, 60.0)
_CONNECT_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)
_TALK_BUCKETS = (5.0, 15.0, 30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)
_JITTER_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2)
_LOSS_BUCKETS = (0.0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
_RTT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0)
_MOS_BUCKETS = (1.0, 1.5, 2.0, 2.5, 3.0, 3.25, 3.5, 3.75, 4.0, 4.25, 4.5)
_TICK_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)

# Label sets (names only; the values are checked by LabelGuard).
_C = ("campaign",)
_CS = ("campaign", "server")
_CSO = ("campaign", "server", "outcome")
_CSK = ("campaign", "server", "class")
_CW = ("campaign", "window")
_CST = ("campaign", "state")
_CR = ("campaign", "reason")
_SL = ("server", "link")
_SLS = ("server", "link", "state")


class Metrics:
    """Every gateway metric, registered on ``registry``; see the module docstring's table."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        max_label_values: int = 500,
        codec: Codec = G711_PLC,
        process: bool = True,
    ) -> None:
        self.registry = registry
        self._labels = LabelGuard(max_label_values)
        self._names: dict[str, str] = {}  # campaign -> the name its info series carries
        self._paused_reasons: dict[str, set[str]] = {}  # campaign -> reasons with a series
        self._codec = codec
        self._build_call_metrics(registry)
        self._build_campaign_metrics(registry)
        self._build_link_metrics(registry)
        self._dropped = Counter(
            "dialer_metrics_dropped_total", "Refused label values.", ("label", "reason"),
            registry=registry,
        )  # fmt: skip
        if process:
            ProcessCollector(registry=registry)

    @contextlib.contextmanager
    def _or_drop(self) -> Iterator[None]:
        """Run one recording; a refused label value drops it and is counted, never raised."""
        try:
            yield
        except UnboundedLabel as refused:
            self._dropped.labels(refused.label, refused.kind).inc()

    def dropped(self) -> float:
        """How many recordings were dropped for a refused label value (all labels, reasons)."""
        return sum(
            sample.value
            for metric in self._dropped.collect()
            for sample in metric.samples
            if sample.name.endswith("_total")
        )

    def _build_call_metrics(self, r: CollectorRegistry) -> None:
        self._originated = Counter(
            "dialer_calls_originated_total", "Calls originated.", _CS, registry=r
        )
        self._finished = Counter(
            "dialer_calls_finished_total", "Calls by outcome.", _CSO, registry=r
        )
        self._seizures = Counter("dialer_call_seizures_total", "Calls placed.", _CS, registry=r)
        self._answers = Counter("dialer_call_answers_total", "Calls answered.", _CS, registry=r)
        self._hangups = Counter("dialer_call_hangups_total", "By cause class.", _CSK, registry=r)
        self._illegal = Counter(
            "dialer_call_illegal_inputs_total", "Call-leg inputs the table refused.",
            ("state", "input"), registry=r,
        )  # fmt: skip
        self._pdd = _histogram(r, "dialer_call_post_dial_delay_seconds", _PDD_BUCKETS)
        self._ring = _histogram(r, "dialer_call_ring_seconds", _RING_BUCKETS)
        self._connect = _histogram(r, "dialer_call_agent_connect_seconds", _CONNECT_BUCKETS)
        self._talk = _histogram(r, "dialer_call_talk_seconds", _TALK_BUCKETS)
        self._duration = _histogram(r, "dialer_call_duration_seconds", _TALK_BUCKETS)
        self._jitter = _histogram(r, "dialer_rtcp_jitter_seconds", _JITTER_BUCKETS)
        self._loss = _histogram(r, "dialer_rtcp_packet_loss_ratio", _LOSS_BUCKETS)
        self._rtcp_rtt = _histogram(r, "dialer_rtcp_rtt_seconds", _RTT_BUCKETS)
        self._mos = _histogram(r, "dialer_call_mos", _MOS_BUCKETS)

    def _build_campaign_metrics(self, r: CollectorRegistry) -> None:
        self._abandon = Gauge("dialer_abandon_rate_ratio", "Abandon rate.", _CW, registry=r)
        self._abandon_target = Gauge("dialer_abandon_rate_target_ratio", "Target.", _C, registry=r)
        self._agents = Gauge("dialer_agents", "Agents by state.", _CST, registry=r)
        self._occupancy = Gauge("dialer_agent_occupancy_ratio", "Occupancy.", _C, registry=r)
        self._paused = Gauge(
            "dialer_agents_paused", "Paused queue members by reason.", _CR, registry=r
        )
        self._pauses = Counter(
            "dialer_agent_pauses_total", "Agent pauses made through the API.", _CR, registry=r
        )
        self._dial_level = Gauge("dialer_pacing_dial_level", "Lines per agent.", _C, registry=r)
        self._in_flight = Gauge("dialer_calls_in_flight", "Calls in flight.", _C, registry=r)
        self._last_tick = Gauge(
            "dialer_pacing_last_tick_timestamp_seconds", "Last pacing tick.", registry=r
        )
        self._tick = _histogram(r, "dialer_pacing_tick_seconds", _TICK_BUCKETS, ())
        self._campaign_state = Gauge("dialer_campaign_state", "Campaign state.", _CST, registry=r)
        self._caller_ids = Gauge("dialer_caller_ids", "Caller IDs by state.", _CST, registry=r)
        self._guard_trips = Counter("dialer_guard_trips_total", "Trips.", ("reason",), registry=r)
        self._hooks_dropped = Counter(
            "dialer_agent_webhooks_dropped_total", "Agent events never queued for webhooks.",
            registry=r,
        )  # fmt: skip
        self._info = Gauge(
            "dialer_campaign_info", "Campaign name.", ("campaign", "name"), registry=r
        )
        self._campaigns = Gauge("dialer_campaigns", "Campaigns by state.", ("state",), registry=r)
        self._dispositions = Counter(
            "dialer_dispositions_total", "Wrap-up dispositions set.", ("campaign", "code"),
            registry=r,
        )  # fmt: skip

    def _build_link_metrics(self, r: CollectorRegistry) -> None:
        self._link_state = Gauge("dialer_link_state", "Link state.", _SLS, registry=r)
        self._link_up = Gauge("dialer_link_up", "1 when the link is ready.", _SL, registry=r)
        self._reconnects = Counter("dialer_link_reconnects_total", "Reconnects.", _SL, registry=r)
        self._feed_owner = Gauge(
            "dialer_agent_feed_owner",
            "1 while this instance writes the server's call-less agent webhooks.", ("server",),
            registry=r,
        )  # fmt: skip
        self._link_rtt = _histogram(r, "dialer_link_rtt_seconds", _RTT_BUCKETS, _SL)

    # --- calls ---------------------------------------------------------------------------------

    def _cs(self, campaign: str, server: str) -> tuple[str, str]:
        return self._labels.check("campaign", campaign), self._labels.check("server", server)

    def call_originated(self, campaign: str, server: str) -> None:
        """One Originate sent (AMI) or channel created (ARI)."""
        with self._or_drop():
            self._originated.labels(*self._cs(campaign, server)).inc()

    def call_finished(
        self,
        campaign: str,
        server: str,
        outcome: Outcome | str,
        cause: int | None = None,
        pdd_s: float | None = None,
        ring_s: float | None = None,
        connect_s: float | None = None,
        talk_s: float | None = None,
        duration_s: float | None = None,
    ) -> None:
        """One attempt settled. Timings are seconds; ``None`` when the call never got there.

        ``duration_s`` is answer to hang-up; when omitted for an answered call it is taken as
        ``connect_s + talk_s``.
        """
        with self._or_drop():
            labels = self._cs(campaign, server)
            result = Outcome(self._labels.check("outcome", str(outcome)))
            self._finished.labels(*labels, result.value).inc()
            if result.reached_network:
                self._seizures.labels(*labels).inc()
                self._hangups.labels(*labels, cause_class(cause)).inc()
            answered = result.is_live_answer or result is Outcome.MACHINE
            if answered:
                self._answers.labels(*labels).inc()
            for histogram, value in (
                (self._pdd, pdd_s),
                (self._ring, ring_s),
                (self._connect, connect_s),
                (self._talk, talk_s),
            ):
                if value is not None:
                    histogram.labels(*labels).observe(max(value, 0.0))
            if duration_s is None and answered and (connect_s is not None or talk_s is not None):
                duration_s = (connect_s or 0.0) + (talk_s or 0.0)
            if duration_s is not None:
                self._duration.labels(*labels).observe(max(duration_s, 0.0))

    def call_illegal_input(self, state: str, input_kind: str) -> None:
        """A call leg got an input its transition table does not allow in ``state``."""
        with self._or_drop():
            self._illegal.labels(
                self._labels.check("state", state, CALL_STATES),
                self._labels.check("input", input_kind),
            ).inc()

    def rtcp(
        self, campaign: str, server: str, jitter_s: float, loss_ratio: float, rtt_s: float
    ) -> float:
        """One RTCP report of an answered call; returns the estimated MOS it recorded."""
        mos = estimate_mos(jitter_s, loss_ratio, rtt_s, self._codec)
        with self._or_drop():
            labels = self._cs(campaign, server)
            self._jitter.labels(*labels).observe(max(jitter_s, 0.0))
            self._loss.labels(*labels).observe(min(max(loss_ratio, 0.0), 1.0))
            self._rtcp_rtt.labels(*labels).observe(max(rtt_s, 0.0))
            self._mos.labels(*labels).observe(mos)
        return mos

    # --- campaigns and pacing ------------------------------------------------------------------

    def abandon_rates(
        self, campaign: str, day_ratio: float, month_ratio: float, target_ratio: float
    ) -> None:
        """The rolling 24 h and 30 d abandon rates and the campaign's target (ratios 0..1)."""
        with self._or_drop():
            c = self._labels.check("campaign", campaign)
            self._abandon.labels(c, "24h").set(day_ratio)
            self._abandon.labels(c, "30d").set(month_ratio)
            self._abandon_target.labels(c).set(target_ratio)

    def agents(self, campaign: str, counts: Mapping[str, int], occupancy_ratio: float) -> None:
        """Logged-in agents by state (absent states are 0) and the campaign's occupancy."""
        with self._or_drop():
            c = self._labels.check("campaign", campaign)
            for state in counts:
                self._labels.check("state", str(state), AGENT_STATES)
            _one_of(self._agents, c, AGENT_STATES, {str(k): float(v) for k, v in counts.items()})
            self._occupancy.labels(c).set(occupancy_ratio)

    def agents_paused(self, campaign: str, reasons: Mapping[str, int]) -> None:
        """The campaign queue's paused members per pause reason (a reason gone is set to 0).

        A reason is a label as it is when it is a short slug (``lunch``, ``break``), ``none``
        when the pause carried none and ``other`` otherwise (a free text typed at a phone).
        """
        with self._or_drop():
            c = self._labels.check("campaign", campaign)
            counts: dict[str, float] = {}
            for reason, n in reasons.items():
                label = self._labels.check("reason", pause_reason_label(reason))
                counts[label] = counts.get(label, 0.0) + n
            for key in self._paused_reasons.get(c, set()) - set(counts):
                self._paused.labels(c, key).set(0.0)
            for key, value in counts.items():
                self._paused.labels(c, key).set(value)
            self._paused_reasons.setdefault(c, set()).update(counts)

    def agent_paused(self, campaign: str, reason: str) -> None:
        """One agent paused through the API or the CLI with ``reason`` (a reason code)."""
        with self._or_drop():
            c = self._labels.check("campaign", campaign)
            label = self._labels.check("reason", pause_reason_label(reason))
            self._pauses.labels(c, label).inc()
            self._paused_reasons.setdefault(c, set()).add(label)

    def pacing(self, campaign: str, dial_level: float, calls_in_flight: int) -> None:
        """The pacing decision's dial level and the calls currently in flight."""
        with self._or_drop():
            c = self._labels.check("campaign", campaign)
            self._dial_level.labels(c).set(dial_level)
            self._in_flight.labels(c).set(calls_in_flight)

    def pacing_tick(self, now_unix_s: float, duration_s: float) -> None:
        """The pacing loop ran one tick at wall time ``now_unix_s`` and took ``duration_s``."""
        self._last_tick.set(now_unix_s)
        self._tick.observe(max(duration_s, 0.0))

    def campaign_state(self, campaign: str, state: str) -> None:
        """Set the campaign's state (one-hot over the five states)."""
        with self._or_drop():
            c = self._labels.check("campaign", campaign)
            current = self._labels.check("state", str(state), CAMPAIGN_STATES)
            _one_of(self._campaign_state, c, CAMPAIGN_STATES, {current: 1.0})

    def caller_ids(self, campaign: str, counts: Mapping[str, int]) -> None:
        """The campaign's caller-ID numbers by state (absent states are 0)."""
        with self._or_drop():
            c = self._labels.check("campaign", campaign)
            for state in counts:
                self._labels.check("state", str(state), CALLER_ID_STATES)
            _one_of(
                self._caller_ids, c, CALLER_ID_STATES, {str(k): float(v) for k, v in counts.items()}
            )

    def guard_tripped(self, reason: str) -> None:
        """A guard paused a campaign; ``reason`` is the guard's short code."""
        with self._or_drop():
            self._guard_trips.labels(self._labels.check("reason", reason)).inc()

    def agent_webhooks_dropped(self, count: int) -> None:
        """``count`` agent events were dropped from a full webhook backlog (never queued)."""
        self._hooks_dropped.inc(count)

    def disposition(self, campaign: str, code: str) -> None:
        """A wrap-up disposition ``code`` was set on a call of ``campaign``."""
        with self._or_drop():
            c = self._labels.check("campaign", campaign)
            self._dispositions.labels(c, self._labels.check("code", code)).inc()

    def campaign_info(self, campaign: str, name: str) -> None:
        """``dialer_campaign_info{campaign, name} 1``: the name dashboards show for an id."""
        with self._or_drop():
            c = self._labels.check("campaign", campaign)
            shown = display_name(name)
            previous = self._names.get(c)
            if previous == shown:
                return
            if previous is not None:
                self._info.remove(c, previous)
            self._names[c] = shown
            self._info.labels(c, shown).set(1.0)

    def campaigns(self, counts: Mapping[str, int]) -> None:
        """How many campaigns the database holds in each state (absent states are 0)."""
        with self._or_drop():
            for state in counts:
                self._labels.check("state", str(state), CAMPAIGN_STATES)
            for state in CAMPAIGN_STATES:
                self._campaigns.labels(state).set(float(counts.get(state, 0)))

    def exported_campaigns(self) -> list[str]:
        """The campaign label values that currently have series, sorted."""
        return self._labels.values("campaign")

    def forget_campaign(self, campaign: str) -> None:
        """Remove every series of a campaign (it left this instance) and free its label slot."""
        for metric, fixed in self._campaign_series(campaign):
            for labels in fixed:
                with contextlib.suppress(KeyError):
                    metric.remove(*labels)
        name = self._names.pop(campaign, None)
        if name is not None:
            with contextlib.suppress(KeyError):
                self._info.remove(campaign, name)
        self._labels.release("campaign", campaign)

    def _campaign_series(
        self, campaign: str
    ) -> Iterable[tuple[Counter | Gauge | Histogram, list[tuple[str, ...]]]]:
        servers = self._labels.values("server")
        per_server: list[tuple[str, ...]] = [(campaign, s) for s in servers]
        yield self._originated, per_server
        yield self._seizures, per_server
        yield self._answers, per_server
        yield self._finished, [(campaign, s, o) for s in servers for o in OUTCOMES]
        yield self._hangups, [(campaign, s, k) for s in servers for k in CAUSE_CLASSES]
        for h in (
            self._pdd,
            self._ring,
            self._connect,
            self._talk,
            self._duration,
            self._jitter,
            self._loss,
            self._rtcp_rtt,
            self._mos,
        ):
            yield h, per_server
        yield self._abandon, [(campaign, w) for w in WINDOWS]
        for g in (self._abandon_target, self._occupancy, self._dial_level, self._in_flight):
            yield g, [(campaign,)]
        yield self._agents, [(campaign, s) for s in AGENT_STATES]
        yield self._campaign_state, [(campaign, s) for s in CAMPAIGN_STATES]
        reasons: list[tuple[str, ...]] = [
            (campaign, r) for r in sorted(self._paused_reasons.pop(campaign, set()))
        ]
        yield self._paused, reasons
        yield self._pauses, reasons
        yield self._caller_ids, [(campaign, s) for s in CALLER_ID_STATES]
        yield self._dispositions, [(campaign, c) for c in self._labels.values("code")]

    # --- Asterisk links ------------------------------------------------------------------------

    def link_state(self, server: str, link: str, state: str) -> None:
        """The AMI or ARI link of ``server`` entered ``state`` (one-hot, and ``dialer_link_up``)."""
        with self._or_drop():
            s = self._labels.check("server", server)
            lk = self._labels.check("link", link)
            current = self._labels.check("state", str(state), LINK_STATES)
            for candidate in LINK_STATES:
                self._link_state.labels(s, lk, candidate).set(1.0 if candidate == current else 0.0)
            self._link_up.labels(s, lk).set(1.0 if current == "ready" else 0.0)

    def feed_owner(self, server: str, owned: bool) -> None:
        """Whether this instance holds ``server``'s agent feed lease (``dialer.feedowner``)."""
        with self._or_drop():
            self._feed_owner.labels(self._labels.check("server", server)).set(1.0 if owned else 0.0)

    def link_reconnected(self, server: str, link: str) -> None:
        """The link was re-established after a loss."""
        with self._or_drop():
            self._reconnects.labels(
                self._labels.check("server", server), self._labels.check("link", link)
            ).inc()

    def link_rtt(self, server: str, link: str, rtt_s: float) -> None:
        """A health probe's round trip (AMI ``Ping``, ARI ``GET /asterisk/info``)."""
        with self._or_drop():
            self._link_rtt.labels(
                self._labels.check("server", server), self._labels.check("link", link)
            ).observe(max(rtt_s, 0.0))


def _histogram(
    registry: CollectorRegistry,
    name: str,
    buckets: tuple[float, ...],
    labels: tuple[str, ...] = _CS,
) -> Histogram:
    """A histogram; its help text points at the module docstring's table."""
    return Histogram(name, "See gateway.metrics.", labels, registry=registry, buckets=buckets)


def _one_of(
    gauge: Gauge, campaign: str, states: frozenset[str], values: Mapping[str, float]
) -> None:
    """Set ``gauge{campaign, state}`` for every state, 0 for those not in ``values``."""
    for state in states:
        gauge.labels(campaign, state).set(values.get(state, 0.0))
