"""Prometheus metrics of the gateway: one :class:`Metrics` per service, on a registry passed in.

This module holds the metric definitions and the small typed methods the rest of the gateway calls
(``metrics.call_originated(campaign, server)``…). It creates no global registry and no
module-level metric objects, reads no clock (timestamps are passed in) and does no I/O; the
``/metrics`` route in :mod:`dialer.health` renders the registry.

Labels are bounded. Every label value goes through :class:`LabelGuard`: it must be a short slug
(letters, digits, ``_ . : -``; no spaces, ``+`` or ``@``), must not look like a phone number
(seven or more digits with only ``.``/``-`` between them), must belong to the fixed vocabulary
of its label when there is one (outcome, state, link, window, class), and a free label
(campaign, server, reason) may take at most ``max_values`` distinct values per
:class:`Metrics`. A phone number, a person's name or a record id therefore raises
:class:`UnboundedLabel` instead of exploding the series count. :meth:`Metrics.forget_campaign`
drops a deleted campaign's series and frees its slot.

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
dialer_pacing_dial_level                    gauge     campaign                 pacing
dialer_calls_in_flight                      gauge     campaign                 pacing
dialer_pacing_last_tick_timestamp_seconds   gauge     —                        pacing_tick
dialer_pacing_tick_seconds                  histogram —                        pacing_tick
dialer_campaign_state                       gauge     campaign, state (1 for   campaign_state
                                                      the current state)
dialer_caller_ids                           gauge     campaign, state          caller_ids
dialer_guard_trips_total                    counter   campaign, reason         guard_tripped
dialer_link_state                           gauge     server, link, state      link_state
                                                      (1 for the current)
dialer_link_up                              gauge     server, link             link_state
dialer_link_reconnects_total                counter   server, link             link_reconnected
dialer_link_rtt_seconds                     histogram server, link             link_rtt
dialer_rtcp_jitter_seconds                  histogram campaign, server         rtcp
dialer_rtcp_packet_loss_ratio               histogram campaign, server         rtcp
dialer_rtcp_rtt_seconds                     histogram campaign, server         rtcp
dialer_call_mos                             histogram campaign, server         rtcp (estimated MOS,
                                                                               1..4.5)
=========================================== ========= ======================== ===================

Derived in Grafana / the alert rules: answer-seizure ratio = answers / seizures; average call
duration = duration ``_sum`` / ``_count``; mean MOS = ``dialer_call_mos`` ``_sum`` / ``_count``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from gateway.asterisk.ami.linkstate import LinkState
from gateway.asterisk.errors import GatewayError
from gateway.asterisk.quality import G711_PLC, Codec, estimate_mos
from pacing.outcomes import Outcome
from pacing.snapshot import AgentState

OUTCOMES = frozenset(o.value for o in Outcome)
AGENT_STATES = frozenset(s.value for s in AgentState)
CAMPAIGN_STATES = frozenset({"ready", "running", "paused", "stopped", "completed"})
CALLER_ID_STATES = frozenset({"active", "resting", "retired"})
LINK_STATES = frozenset(s.value for s in LinkState)  # every state a link reports, ``closed`` too
LINKS = frozenset({"ami", "ari"})
WINDOWS = frozenset({"24h", "30d"})

# Q.850 cause → bounded class label. Ranges follow Q.850's own classes; the normal-event class
# (1–31) is split into the causes a dialer acts on.
_CAUSE_CLASSES: dict[int, str] = {
    16: "normal_clearing",
    31: "normal_clearing",
    17: "user_busy",
    18: "no_answer",
    19: "no_answer",
    21: "rejected",
    1: "invalid_number",
    2: "invalid_number",
    3: "invalid_number",
    22: "invalid_number",
    28: "invalid_number",
    20: "unreachable",
    27: "unreachable",
}
CAUSE_CLASSES = frozenset(
    {
        *_CAUSE_CLASSES.values(),
        "other_normal",
        "congestion",
        "service_unavailable",
        "protocol_error",
        "interworking",
        "unknown",
    }
)

_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_PHONE_LIKE = re.compile(r"[\d.-]+")
_IPV4 = re.compile(r"\d{1,3}(\.\d{1,3}){3}")

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


class UnboundedLabel(GatewayError, ValueError):
    """A label value that could explode the series count (a phone number, a name, an id)."""

    def __init__(self, label: str, value: str, reason: str) -> None:
        super().__init__(f"metric label {label}={value!r} refused: {reason}")
        self.label = label
        self.value = value
        self.reason = reason


def _looks_like_phone(value: str) -> bool:
    """Seven or more digits with only ``.``/``-`` between them (an IPv4 address is not one)."""
    digits = sum(c.isdigit() for c in value)
    return digits >= 7 and bool(_PHONE_LIKE.fullmatch(value)) and not _IPV4.fullmatch(value)


def cause_class(cause: int | None) -> str:
    """Map a Q.850 cause code to its bounded class label (``unknown`` for 0, None or junk)."""
    if cause is None or cause <= 0 or cause > 127:
        return "unknown"
    if cause in _CAUSE_CLASSES:
        return _CAUSE_CLASSES[cause]
    if cause <= 31:
        return "other_normal"
    if cause <= 47:
        return "congestion"  # resource unavailable
    if cause <= 79:
        return "service_unavailable"  # service or option not available / not implemented
    if cause <= 111:
        return "protocol_error"  # invalid message / protocol error
    return "interworking"


class LabelGuard:
    """Validates label values and caps the distinct values of each free label."""

    def __init__(self, max_values: int = 500) -> None:
        self._max_values = max_values
        self._seen: dict[str, set[str]] = {}
        self._vocabularies: dict[str, frozenset[str]] = {
            "outcome": OUTCOMES,
            "link": LINKS,
            "window": WINDOWS,
            "class": CAUSE_CLASSES,
        }

    def check(self, label: str, value: str, vocabulary: frozenset[str] | None = None) -> str:
        """Return ``value`` if it is an acceptable value of ``label``; raise otherwise."""
        if not _SLUG.fullmatch(value):
            raise UnboundedLabel(label, value, "not a short slug ([A-Za-z0-9_.:-], ≤ 64 chars)")
        if _looks_like_phone(value):
            raise UnboundedLabel(label, value, "looks like a phone number")
        allowed = vocabulary if vocabulary is not None else self._vocabularies.get(label)
        if allowed is not None:
            if value not in allowed:
                raise UnboundedLabel(label, value, f"not one of {', '.join(sorted(allowed))}")
            return value
        seen = self._seen.setdefault(label, set())
        if value not in seen:
            if len(seen) >= self._max_values:
                raise UnboundedLabel(label, value, f"more than {self._max_values} values")
            seen.add(value)
        return value

    def values(self, label: str) -> list[str]:
        """The values of a free label seen so far, sorted."""
        return sorted(self._seen.get(label, set()))

    def release(self, label: str, value: str) -> None:
        """Free a value's slot (its series were removed)."""
        self._seen.get(label, set()).discard(value)


class Metrics:
    """Every gateway metric, registered on ``registry``; see the module docstring's table."""

    def __init__(
        self, registry: CollectorRegistry, *, max_label_values: int = 500, codec: Codec = G711_PLC
    ) -> None:
        self.registry = registry
        self._labels = LabelGuard(max_label_values)
        self._codec = codec
        self._build_call_metrics(registry)
        self._build_campaign_metrics(registry)
        self._build_link_metrics(registry)

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
        self._dial_level = Gauge("dialer_pacing_dial_level", "Lines per agent.", _C, registry=r)
        self._in_flight = Gauge("dialer_calls_in_flight", "Calls in flight.", _C, registry=r)
        self._last_tick = Gauge(
            "dialer_pacing_last_tick_timestamp_seconds", "Last pacing tick.", registry=r
        )
        self._tick = _histogram(r, "dialer_pacing_tick_seconds", _TICK_BUCKETS, ())
        self._campaign_state = Gauge("dialer_campaign_state", "Campaign state.", _CST, registry=r)
        self._caller_ids = Gauge("dialer_caller_ids", "Caller IDs by state.", _CST, registry=r)
        self._guard_trips = Counter("dialer_guard_trips_total", "Guard trips.", _CR, registry=r)

    def _build_link_metrics(self, r: CollectorRegistry) -> None:
        self._link_state = Gauge("dialer_link_state", "Link state.", _SLS, registry=r)
        self._link_up = Gauge("dialer_link_up", "1 when the link is ready.", _SL, registry=r)
        self._reconnects = Counter("dialer_link_reconnects_total", "Reconnects.", _SL, registry=r)
        self._link_rtt = _histogram(r, "dialer_link_rtt_seconds", _RTT_BUCKETS, _SL)

    # --- calls ---------------------------------------------------------------------------------

    def _cs(self, campaign: str, server: str) -> tuple[str, str]:
        return self._labels.check("campaign", campaign), self._labels.check("server", server)

    def call_originated(self, campaign: str, server: str) -> None:
        """One Originate sent (AMI) or channel created (ARI)."""
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

    def rtcp(
        self, campaign: str, server: str, jitter_s: float, loss_ratio: float, rtt_s: float
    ) -> float:
        """One RTCP report of an answered call; returns the estimated MOS it recorded."""
        labels = self._cs(campaign, server)
        mos = estimate_mos(jitter_s, loss_ratio, rtt_s, self._codec)
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
        c = self._labels.check("campaign", campaign)
        self._abandon.labels(c, "24h").set(day_ratio)
        self._abandon.labels(c, "30d").set(month_ratio)
        self._abandon_target.labels(c).set(target_ratio)

    def agents(self, campaign: str, counts: Mapping[str, int], occupancy_ratio: float) -> None:
        """Logged-in agents by state (absent states are 0) and the campaign's occupancy."""
        c = self._labels.check("campaign", campaign)
        for state in counts:
            self._labels.check("state", str(state), AGENT_STATES)
        _one_of(self._agents, c, AGENT_STATES, {str(k): float(v) for k, v in counts.items()})
        self._occupancy.labels(c).set(occupancy_ratio)

    def pacing(self, campaign: str, dial_level: float, calls_in_flight: int) -> None:
        """The pacing decision's dial level and the calls currently in flight."""
        c = self._labels.check("campaign", campaign)
        self._dial_level.labels(c).set(dial_level)
        self._in_flight.labels(c).set(calls_in_flight)

    def pacing_tick(self, now_unix_s: float, duration_s: float) -> None:
        """The pacing loop ran one tick at wall time ``now_unix_s`` and took ``duration_s``."""
        self._last_tick.set(now_unix_s)
        self._tick.observe(max(duration_s, 0.0))

    def campaign_state(self, campaign: str, state: str) -> None:
        """Set the campaign's state (one-hot over the five states)."""
        c = self._labels.check("campaign", campaign)
        current = self._labels.check("state", str(state), CAMPAIGN_STATES)
        _one_of(self._campaign_state, c, CAMPAIGN_STATES, {current: 1.0})

    def caller_ids(self, campaign: str, counts: Mapping[str, int]) -> None:
        """The campaign's caller-ID numbers by state (absent states are 0)."""
        c = self._labels.check("campaign", campaign)
        for state in counts:
            self._labels.check("state", str(state), CALLER_ID_STATES)
        _one_of(
            self._caller_ids, c, CALLER_ID_STATES, {str(k): float(v) for k, v in counts.items()}
        )

    def guard_tripped(self, campaign: str, reason: str) -> None:
        """A guard paused the campaign; ``reason`` is the guard's short code."""
        c = self._labels.check("campaign", campaign)
        self._guard_trips.labels(c, self._labels.check("reason", reason)).inc()

    def forget_campaign(self, campaign: str) -> None:
        """Remove every series of a deleted campaign and free its label slot."""
        for metric, fixed in self._campaign_series(campaign):
            for labels in fixed:
                try:
                    metric.remove(*labels)
                except KeyError:
                    continue
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
        yield self._caller_ids, [(campaign, s) for s in CALLER_ID_STATES]
        reasons = self._labels.values("reason")
        yield self._guard_trips, [(campaign, r) for r in reasons]

    # --- Asterisk links ------------------------------------------------------------------------

    def link_state(self, server: str, link: str, state: str) -> None:
        """The AMI or ARI link of ``server`` entered ``state`` (one-hot, and ``dialer_link_up``)."""
        s = self._labels.check("server", server)
        lk = self._labels.check("link", link)
        current = self._labels.check("state", str(state), LINK_STATES)
        for candidate in LINK_STATES:
            self._link_state.labels(s, lk, candidate).set(1.0 if candidate == current else 0.0)
        self._link_up.labels(s, lk).set(1.0 if current == "ready" else 0.0)

    def link_reconnected(self, server: str, link: str) -> None:
        """The link was re-established after a loss."""
        self._reconnects.labels(
            self._labels.check("server", server), self._labels.check("link", link)
        ).inc()

    def link_rtt(self, server: str, link: str, rtt_s: float) -> None:
        """A health probe's round trip (AMI ``Ping``, ARI ``GET /asterisk/info``)."""
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
