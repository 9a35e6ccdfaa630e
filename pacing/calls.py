"""One call as both the pacing core and the gateway speak of it: where it is, and its result.

:class:`CallPhase` is the one vocabulary for where a call is. The gateway follows each call leg in
more detail (``gateway.asterisk.calls.state.CallState``: queued, dialing, ringing, answered, …) and
maps those states to a phase at exactly one boundary, ``gateway.asterisk.calls.state.phase_of``;
the pacing snapshot (:class:`pacing.snapshot.CallInFlight`) and the switch port
(:meth:`pacing.ports.Switch.phase`) speak only phases.

:class:`AttemptResult` is the one definition of a settled attempt. The gateway's call tracker
(``gateway.asterisk.calls.tracker``) builds it, exactly once per attempt; the result writer
persists it (``gateway.campaigns.store``) and the campaign runner learns from it
(:meth:`pacing.runner.CampaignRunner.settled`). It lives here, in the pure core, because pacing
may import no other package while the gateway may import pacing.

Frozen, slotted values only; no behaviour, no I/O. Wall-clock ``datetime`` values are for storage;
durations come from the monotonic clock so that a clock step cannot make a call last a negative
time.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from pacing.outcomes import Outcome, PbxFault


class CallPhase(enum.StrEnum):
    """Where a call is, as much as pacing needs to know."""

    RINGING = "ringing"  # dialled, not answered yet (queued, dialling or ringing at the gateway)
    WAITING = "waiting"  # answered live, not yet with an agent (AMD, then the queue: at most 2 s)
    CONNECTED = "connected"  # talking to an agent: pacing counts the busy agent instead
    ENDED = "ended"  # over, or its outcome known: needs no pacing room, only its settlement

    @property
    def in_flight(self) -> bool:
        """Still needs pacing room: a :class:`~pacing.snapshot.CallInFlight` of the snapshot."""
        return self in (CallPhase.RINGING, CallPhase.WAITING)


@dataclass(frozen=True, slots=True)
class CallQuality:
    """RTCP figures of one call: worst seen jitter, loss and round-trip time."""

    jitter_ms: float
    fraction_lost: float  # 0..1
    packets_lost: int
    rtt_ms: float
    reports: int


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
    fault: PbxFault | None = None  # failed because Asterisk restarted or was lost under the call
