"""Value types of call tracking: the request and the in-flight view.

The settled result (:class:`pacing.calls.AttemptResult`, with its
:class:`~pacing.calls.CallQuality`) is defined once, in the pacing core, because it crosses the
pacing/gateway boundary. Frozen, slotted dataclasses only; no behaviour, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.asterisk.calls.state import CallState


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
    # An agent-only callback: the member interface (``PJSIP/agent-101``) the callee is connected
    # to by ``Dial()`` instead of the queue (``DIALER_AGENT_INTERFACE``); "" for anyone.
    agent_interface: str = ""


@dataclass(frozen=True, slots=True)
class InFlightCall:
    """A snapshot of one call the gateway is tracking."""

    attempt_id: str
    server: str
    state: CallState  # the leg's detailed state; ``phase_of`` gives pacing's CallPhase
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
    record_id: int | None = None  # the attempt's record (the agent event hub reads it ahead)
