"""Per-call RTCP quality: the worst jitter, loss and round-trip time seen in RTCP reports.

Pure accumulation; no I/O. Jitter arrives in RTP timestamp units; the gateway's trunks use 8 kHz
codecs (G.711), so one unit is 0.125 ms. ``RTT`` arrives in seconds.
"""

from __future__ import annotations

from gateway.asterisk.ami.events import Rtcp
from pacing.calls import CallQuality

RTP_CLOCK_HZ = 8000.0


class QualityAccumulator:
    """Worst-case figures over every report of one call."""

    __slots__ = ("jitter_ms", "loss", "lost", "reports", "rtt_ms")

    def __init__(self) -> None:
        self.jitter_ms = 0.0
        self.loss = 0.0
        self.lost = 0
        self.rtt_ms = 0.0
        self.reports = 0

    def add(self, report: Rtcp) -> None:
        self.reports += 1
        self.jitter_ms = max(self.jitter_ms, report.jitter_units * 1000.0 / RTP_CLOCK_HZ)
        self.loss = max(self.loss, report.fraction_lost)
        self.lost = max(self.lost, report.cumulative_lost)
        self.rtt_ms = max(self.rtt_ms, report.rtt_s * 1000.0)

    def snapshot(self) -> CallQuality:
        return CallQuality(self.jitter_ms, self.loss, self.lost, self.rtt_ms, self.reports)
