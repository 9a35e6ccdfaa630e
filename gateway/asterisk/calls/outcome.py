"""Deciding an attempt's outcome from the evidence gathered about it. Pure; no I/O.

Sources, strongest first:

1. what the dialplan told us after answer: ``AgentConnect`` (answered), AMD ``MACHINE``
   (machine), ``DialerAbandoned`` or ``QueueCallerAbandon`` (abandoned);
2. a cancel requested by the gateway before any of those (cancelled);
3. a live answer (``OriginateResponse`` reason 4, the callee channel ``Up``, ``DialEnd ANSWER``,
   ``Cdr ANSWERED``, ARI ``StasisStart``) that was never connected to an agent counts as
   abandoned: the regulatory definition is "a live answer not connected within 2 s", and the
   safe side of that rule is to count it (a restart or crash of Asterisk under it included);
4. a call that Asterisk ended before answer because it restarted or was lost (a
   :class:`~pacing.outcomes.PbxFault`): failed, whatever the channel said (after ``core restart
   now`` a ringing call ends with ``Reason: 0``, every cause 0, ``DialStatus: NOANSWER`` and
   ``Cdr NO ANSWER``, which would read as a no-answer);
5. before answer: ``OriginateResponse`` ``Reason`` (5 busy, 3 no answer, 8 congestion), refined
   for reasons 0 and 1 by the Q.850 cause of the callee half (on Local channels the ``;1`` half
   says 0 and the real cause is on ``;2``), then the ``Dial`` status, then the ``Cdr``
   disposition.
"""

from __future__ import annotations

from dataclasses import dataclass

from pacing.outcomes import Outcome, PbxFault

REASON_OUTCOME = {5: Outcome.BUSY, 3: Outcome.NO_ANSWER, 8: Outcome.CONGESTION}
DIAL_STATUS_OUTCOME = {
    "BUSY": Outcome.BUSY,
    "CONGESTION": Outcome.CONGESTION,
    "NOANSWER": Outcome.NO_ANSWER,
    "CHANUNAVAIL": Outcome.FAILED,
    "INVALIDARGS": Outcome.FAILED,
}
CDR_OUTCOME = {
    "BUSY": Outcome.BUSY,
    "NO ANSWER": Outcome.NO_ANSWER,
    "CONGESTION": Outcome.CONGESTION,
    "FAILED": Outcome.FAILED,
}
_BUSY_CAUSES = frozenset({17})
_NO_ANSWER_CAUSES = frozenset({18, 19, 20})
_CONGESTION_CAUSES = frozenset({34, 38, 41, 42, 44, 47})


def from_cause(cause: int) -> Outcome | None:
    """A Q.850 cause's outcome before answer, or ``None`` when it says nothing (0, 16)."""
    if cause in _BUSY_CAUSES:
        return Outcome.BUSY
    if cause in _NO_ANSWER_CAUSES:
        return Outcome.NO_ANSWER
    if cause in _CONGESTION_CAUSES:
        return Outcome.CONGESTION
    if cause in (0, 16):
        return None
    return Outcome.FAILED


@dataclass(slots=True)
class Evidence:
    """What the tracker learned about one attempt (mutable while the call lives)."""

    reason: int | None = None  # OriginateResponse Reason
    live_answer: bool = False
    connected: bool = False
    machine: bool = False
    abandoned: bool = False
    cancelled: bool = False
    rejected: bool = False  # Response: Error to the Originate / ARI 4xx-5xx
    dial_status: str = ""
    disposition: str = ""
    callee_cause: int = 0  # the ;2 half, or the only channel
    leg_cause: int = 0  # the originated ;1 half
    fault: PbxFault | None = None  # Asterisk restarted (Shutdown) or was lost under the call

    @property
    def silent(self) -> bool:
        """Ended before answer with nothing that says why (Reason 0 or none, every cause 0):
        how a call that ``core restart now`` hung up ends, before Asterisk says it restarts
        (an unknown extension ends so too, but its ``Cdr FAILED`` already says failed)."""
        return (
            self.reason in (None, 0)
            and self.callee_cause == 0
            and self.leg_cause == 0
            and not (self.rejected or self.cancelled or self.machine or self.connected)
            and not (self.abandoned or self.live_answer or self.dial_status == "ANSWER")
        )


def decide(ev: Evidence) -> Outcome:
    """The outcome of an ended attempt."""
    if ev.connected:
        return Outcome.ANSWERED
    if ev.machine:
        return Outcome.MACHINE
    if ev.abandoned:
        return Outcome.ABANDONED
    if ev.cancelled:
        return Outcome.CANCELLED
    if ev.live_answer or ev.reason == 4 or ev.dial_status == "ANSWER":
        return Outcome.ABANDONED
    if ev.fault is not None:
        return Outcome.FAILED
    return before_answer(ev)


def before_answer(ev: Evidence) -> Outcome:
    """The outcome of an attempt that was never answered."""
    if ev.rejected:
        return Outcome.FAILED
    if ev.reason in REASON_OUTCOME:
        return REASON_OUTCOME[ev.reason]
    for cause in (ev.callee_cause, ev.leg_cause):
        by_cause = from_cause(cause)
        if by_cause is not None:
            return by_cause
    if ev.dial_status in DIAL_STATUS_OUTCOME:
        return DIAL_STATUS_OUTCOME[ev.dial_status]
    if ev.disposition in CDR_OUTCOME:
        return CDR_OUTCOME[ev.disposition]
    if ev.reason is not None:
        return Outcome.FAILED if ev.reason == 0 else Outcome.NO_ANSWER
    return Outcome.UNKNOWN
