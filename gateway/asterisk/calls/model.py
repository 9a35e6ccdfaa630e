"""Value types of call tracking: the request, the in-flight view, quality and the final result.

Frozen, slotted dataclasses only; no behaviour beyond derived durations. Wall-clock ``datetime``
values are for storage; durations come from the monotonic clock so a clock step cannot make a
call last a negative time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pacing.outcomes import Outcome


@dataclass(frozen=True, slots=True)
class OriginateRequest:
    """One call attempt the campaign runner asks the gateway to place."""

    attempt_id: str  # uuid4().hex
    campaign_id: int
    record_id: int
    number: str  # E.164, e.g. "+15551234567"
    caller_id_number: str  # E.164
    caller_id_name: str
    queue: str
    ring_timeout_s: float  # >= 15
    amd: bool = True


@dataclass(frozen=True, slots=True)
class CallQuality:
    """RTCP figures of one call: worst seen jitter, loss and round-trip time."""

    jitter_ms: float
    fraction_lost: float  # 0..1
    packets_lost: int
    rtt_ms: float
    reports: int


@dataclass(frozen=True, slots=True)
class InFlightCall:
    """A snapshot of one call the gateway is tracking."""

    attempt_id: str
    server: str
    state: str
    number: str
    queue: str
    since_s: float  # monotonic time of originate()
    agent: str | None
    reconciling: bool


@dataclass(frozen=True, slots=True)
class CallProgress:
    """What decides a live attempt's outcome, reported as it happens (None: not yet).

    Each report carries everything known so far, so the latest one of an attempt is enough.
    """

    attempt_id: str
    answered_at: datetime | None
    connected_at: datetime | None
    agent: str | None
    amd_status: str | None


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """Exactly one per attempt: what happened, when, where and with whom."""

    attempt_id: str
    campaign_id: int
    record_id: int
    outcome: Outcome
    cause: int | None  # Q.850 cause of the callee's channel
    server: str
    caller_id: str
    agent: str | None
    originated_at: datetime
    rang_at: datetime | None
    answered_at: datetime | None
    connected_at: datetime | None
    ended_at: datetime
    post_dial_delay_s: float | None  # originate → first ring
    ring_s: float | None  # originate → answer
    hold_s: float | None  # answer → agent connect
    talk_s: float | None  # agent connect → hang-up
    duration_s: float  # originate → end
    amd_status: str | None = None
    dial_status: str | None = None
    quality: CallQuality | None = None
    detail: str = ""  # why, in words, when the outcome is unknown/failed
    sent: bool = True  # False: the Originate was never written (the attempt is withdrawn)
