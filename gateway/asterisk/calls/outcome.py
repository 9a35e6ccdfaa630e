"""Deciding an attempt's outcome from the evidence gathered about it. Pure; no I/O.

:class:`Evidence` is frozen; :func:`gateway.asterisk.calls.machine.step` owns it together with
the leg's state. Sources, strongest first:

0. the gateway gave up on the call (its bounded wait expired, or after a lost link neither the
   server nor the outcome ledger knew it): unknown;
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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything learned about one attempt: what decides its outcome, and what its end waits for.

    Frozen: only :func:`gateway.asterisk.calls.machine.step` makes a new one (and the ledger,
    :func:`gateway.asterisk.calls.ledger.evidence`, for a call that ended unseen).
    """

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
    gave_up: bool = False  # the bounded wait expired, or the ledger had no line: ``unknown``
    agent: str | None = None  # the queue member an AgentConnect named
    amd_status: str | None = None  # the AMD verdict the dialplan reported
    # What the end waits for (the tracker reports its channels' facts with each input).
    needs_response: bool = True  # the AMI driver: the end waits for the OriginateResponse
    response_seen: bool = False
    seen_channel: bool = False  # a channel of the attempt was seen (or created by ARI)
    up: bool = False  # one of the attempt's own channels is alive
    primary_open: bool = False  # the originated channel is known and has not hung up yet
    reconciling: bool = False  # the link was lost: settled from the channel list or ledger
    resumed: bool = False  # found alive after a lost link: what came before may have been missed
    held: bool = False  # ended, waiting a moment for a verdict or a Shutdown that explains it

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


class _Unfrozen:
    """:class:`Evidence`'s slot layout without its frozen ``__setattr__``: :func:`evolve` fills
    one with plain slot stores, then makes it an :class:`Evidence` (a compatible layout lets
    ``__class__`` be set); no code ever sees it unfrozen."""

    __slots__ = Evidence.__slots__


def _generate(name: str, head: str, value: Callable[[str], str]) -> Callable[..., Evidence]:
    """A function ``name`` with parameters ``head`` that fills an :class:`_Unfrozen` with
    straight-line slot stores (``value(slot)`` for each), then makes it an :class:`Evidence`."""
    env: dict[str, object] = {"_new": object.__new__, "_Unfrozen": _Unfrozen,
                              "_Evidence": Evidence, "_KEEP": _KEEP}  # fmt: skip
    lines = [f"def {name}({head}):", "    new = _new(_Unfrozen)"]
    lines += [f"    new.{n} = {value(n)}" for n in Evidence.__slots__]
    lines += ["    new.__class__ = _Evidence", "    return new"]
    exec("\n".join(lines), env)  # noqa: S102 - generated from the class's own slot names
    made: Callable[..., Evidence] = env[name]  # type: ignore[assignment]
    return made


def _make_evolve() -> Callable[..., Evidence]:
    """Build :func:`evolve` for :class:`Evidence`'s slots: one keyword per field, straight-line
    slot stores (no loop, no ``**changes`` dict; an unknown field is a ``TypeError``)."""
    names = Evidence.__slots__
    return _generate("evolve", f"ev, *, {', '.join(f'{n}=_KEEP' for n in names)}",
                     lambda n: f"ev.{n} if {n} is _KEEP else {n}")  # fmt: skip


def setter(*fields: str) -> Callable[..., Evidence]:
    """``setter("up", "reason")(ev, up, reason)``: ``ev`` with those fields, given positionally
    in that order (the other fields copied). For the few changes a step makes per event: no
    keyword matching and no ``_KEEP`` test per slot, about twice as cheap as :func:`evolve`."""
    unknown = set(fields) - set(Evidence.__slots__)
    if unknown or len(set(fields)) != len(fields):
        raise TypeError(f"setter fields must be distinct Evidence fields: {fields}")
    return _generate("set_" + "_".join(fields), ", ".join(("ev", *fields)),
                     lambda n: n if n in fields else f"ev.{n}")  # fmt: skip


_KEEP: Any = object()  # a field :func:`evolve` leaves as it was
evolve: Callable[..., Evidence] = _make_evolve()
"""``evolve(ev, **changes)``: ``ev`` with ``changes``, as :func:`dataclasses.replace` but without
its per-call field scan and frozen ``__init__`` (a call's evidence changes about ten times;
10,000 calls are in flight). Generated from the slots: one keyword per field, plain slot stores
into an unfrozen twin that then becomes an Evidence (several times cheaper than a loop over the
slots); an unknown field is a ``TypeError``. The hot changes use a :func:`setter`."""


def decide(ev: Evidence) -> Outcome:
    """The outcome of an ended attempt: the one place an outcome is derived from the evidence."""
    if ev.gave_up:
        return Outcome.UNKNOWN
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
