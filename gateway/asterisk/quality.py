"""Call quality from RTCP: jitter and loss in base units, and an estimated MOS (simplified E-model).

Pure functions only: no I/O, no clock, no metrics. The AMI adapter parses ``RTCPSent`` /
``RTCPReceived`` into numbers; this module turns those numbers into seconds, ratios and a MOS, and
:class:`gateway.metrics.Metrics` records them.

Units, per the Asterisk AMI event reference for RTCPReceived/RTCPSent:

- ``ReportXFractionLost`` is the fraction of packets lost since the previous report, in 1/256ths
  (an 8-bit fixed-point number, RFC 3550 §6.4.1), so 0..255 maps to 0 ≤ loss < 1.
- ``ReportXIAJitter`` is the interarrival jitter in RTP timestamp units, i.e. samples of the
  payload's RTP clock: 1/8000 s for G.711 (and for G.722, whose RTP clock is 8000 Hz by RFC 3551).
- ``RTT`` is the round-trip time in seconds (a decimal number).

The estimate is the ITU-T G.107 E-model reduced to what RTCP tells us, as commonly done for
monitoring (Cole & Rosenbluth, "Voice over IP performance monitoring", 2001):

    R = 93.2 − Id − Ie_eff
    Id = 0.024·d + 0.11·(d − 177.3)·H(d − 177.3)          d: one-way delay in ms
    d  = RTT/2 + jitter buffer (``jitter_buffer_factor`` × jitter) + packetisation delay
    Ie_eff = Ie + (95 − Ie) · Ppl / (Ppl + Bpl)           Ppl: loss in percent, random loss
    MOS = 1                                               R < 0
        = 1 + 0.035·R + R·(R − 60)·(100 − R)·7·10⁻⁶      0 ≤ R ≤ 100 (never under 1)
        = 4.5                                             R > 100

Ie and Bpl per codec come from ITU-T G.113 Appendix I (G.711 with packet loss concealment:
Ie 0, Bpl 25.1; without: Bpl 4.3; G.729A: Ie 11, Bpl 19.0). The result is an estimate for
dashboards and alerts, not a listening test: echo, noise and burst loss are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

R_DEFAULT = 93.2  # G.107 default R with no impairments (Ro − Is with default parameters)
DELAY_KNEE_MS = 177.3
G711_CLOCK_HZ = 8000


@dataclass(frozen=True, slots=True)
class Codec:
    """The E-model figures of one codec: equipment impairment and packet-loss robustness."""

    name: str
    ie: float  # equipment impairment factor
    bpl: float  # packet-loss robustness factor
    packet_s: float = 0.020  # packetisation delay (one frame of audio per packet)
    clock_hz: int = G711_CLOCK_HZ  # RTP timestamp clock


G711_PLC = Codec("g711-plc", ie=0.0, bpl=25.1)
G711_NO_PLC = Codec("g711", ie=0.0, bpl=4.3)
G729A = Codec("g729a", ie=11.0, bpl=19.0)


@dataclass(frozen=True, slots=True)
class Quality:
    """One RTCP report block in base units, with its R factor and estimated MOS."""

    jitter_s: float
    loss_ratio: float
    rtt_s: float
    r_factor: float
    mos: float


def loss_ratio(fraction_lost_256: int) -> float:
    """``ReportXFractionLost`` (0..255, in 1/256ths) as a ratio; out-of-range values are clamped."""
    return min(max(fraction_lost_256, 0), 255) / 256.0


def jitter_seconds(iajitter_units: int, clock_hz: int = G711_CLOCK_HZ) -> float:
    """``ReportXIAJitter`` (RTP timestamp units) in seconds, for an RTP clock of ``clock_hz``."""
    if clock_hz <= 0:
        raise ValueError(f"clock_hz must be positive, got {clock_hz}")
    return max(iajitter_units, 0) / clock_hz


def one_way_delay_s(
    rtt_s: float, jitter_s: float, codec: Codec = G711_PLC, jitter_buffer_factor: float = 2.0
) -> float:
    """Mouth-to-ear delay: half the round trip, the jitter buffer and the packetisation delay."""
    return max(rtt_s, 0.0) / 2.0 + jitter_buffer_factor * max(jitter_s, 0.0) + codec.packet_s


def delay_impairment(one_way_s: float) -> float:
    """Id of the simplified E-model for a one-way delay in seconds."""
    d_ms = max(one_way_s, 0.0) * 1000.0
    excess = max(d_ms - DELAY_KNEE_MS, 0.0)
    return 0.024 * d_ms + 0.11 * excess


def loss_impairment(loss: float, codec: Codec = G711_PLC) -> float:
    """Ie_eff for a random packet loss ratio (0..1)."""
    ppl = min(max(loss, 0.0), 1.0) * 100.0
    return codec.ie + (95.0 - codec.ie) * ppl / (ppl + codec.bpl)


def mos_from_r(r: float) -> float:
    """The G.107 mapping from the transmission rating R to an estimated MOS (1..4.5)."""
    if r < 0.0:
        return 1.0
    if r > 100.0:
        return 4.5
    # The cubic dips just under 1 for R below about 6.5; a MOS is never under 1.
    return max(1.0, 1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6)


def r_factor(
    jitter_s: float,
    loss: float,
    rtt_s: float,
    codec: Codec = G711_PLC,
    jitter_buffer_factor: float = 2.0,
) -> float:
    """R = 93.2 − Id − Ie_eff from jitter (s), loss ratio and round-trip time (s)."""
    delay = one_way_delay_s(rtt_s, jitter_s, codec, jitter_buffer_factor)
    return R_DEFAULT - delay_impairment(delay) - loss_impairment(loss, codec)


def estimate_mos(
    jitter_s: float,
    loss: float,
    rtt_s: float,
    codec: Codec = G711_PLC,
    jitter_buffer_factor: float = 2.0,
) -> float:
    """Estimated MOS (1..4.5) from jitter (s), loss ratio (0..1) and round-trip time (s)."""
    return mos_from_r(r_factor(jitter_s, loss, rtt_s, codec, jitter_buffer_factor))


def from_report(
    fraction_lost_256: int, iajitter_units: int, rtt_s: float, codec: Codec = G711_PLC
) -> Quality:
    """Convert one RTCP report block's raw fields (AMI units) into :class:`Quality`."""
    jitter = jitter_seconds(iajitter_units, codec.clock_hz)
    loss = loss_ratio(fraction_lost_256)
    rtt = max(rtt_s, 0.0)
    r = r_factor(jitter, loss, rtt, codec)
    return Quality(jitter_s=jitter, loss_ratio=loss, rtt_s=rtt, r_factor=r, mos=mos_from_r(r))
