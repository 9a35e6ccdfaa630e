"""One tracked attempt's mutable record, owned by
:class:`gateway.asterisk.calls.tracker.CallTracker`.

Internal to call tracking: nothing outside ``gateway.asterisk.calls`` holds a ``Leg``; the world
sees frozen :class:`~gateway.asterisk.calls.model.InFlightCall` and
:class:`~pacing.calls.AttemptResult` values instead. It holds the leg's state and evidence
(frozen values that only :func:`gateway.asterisk.calls.machine.step` makes), the tracker's
indexing of its channels, its times and its deadline. Slotted to keep 10,000 calls in flight
small. No behaviour, no I/O.
"""

from __future__ import annotations

from datetime import datetime

from gateway.asterisk.calls.model import OriginateRequest
from gateway.asterisk.calls.outcome import Evidence
from gateway.asterisk.calls.quality import QualityAccumulator
from gateway.asterisk.calls.state import CallState


class Leg:
    """Everything known about one attempt while it lives (internal, mutable)."""

    __slots__ = (
        "action_id",
        "adopted",
        "attempt_id",
        "base",
        "channel",
        "deadline",
        "detail",
        "dial_string",
        "ev",
        "hung",
        "live",
        "partner",
        "primary",
        "quality",
        "req",
        "restarted",
        "server",
        "state",
        "t0",
        "t_answer",
        "t_connect",
        "t_end",
        "t_ring",
        "wall0",
    )

    def __init__(
        self,
        req: OriginateRequest,
        server: str,
        dial_string: str,
        t0: float,
        wall0: datetime,
        ev: Evidence,
    ) -> None:
        self.req = req
        self.attempt_id = req.attempt_id
        self.server = server
        self.dial_string = dial_string
        self.state = CallState.QUEUED
        self.ev = ev  # replaced, never changed: see gateway.asterisk.calls.machine.step
        self.t0 = t0
        self.wall0 = wall0
        self.t_ring: float | None = None
        self.t_answer: float | None = None
        self.t_connect: float | None = None
        self.t_end: float | None = None  # from the outcome ledger; else the settle time
        self.adopted = False  # tracked again after a restart: placed at an unknown time
        self.restarted = False  # adopted from this instance's own previous (dead) process
        self.primary: str | None = None
        self.partner: str | None = None
        self.base: str | None = None
        self.channel: str | None = None
        self.live: set[str] = set()  # the attempt's own channels alive (uniqueids)
        self.hung: set[str] = set()  # … and hung up
        self.quality: QualityAccumulator | None = None
        self.deadline = t0 + req.ring_timeout_s + 120.0
        self.detail = ""
        self.action_id = req.attempt_id
