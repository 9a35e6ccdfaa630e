"""The call-leg state machine: states, inputs and the one transition table.

Design. A call attempt moves ``queued → dialing → ringing → answered → in_queue → connected``
and ends in ``ended``; ``settled`` means the outcome is known (a machine, an abandon) and only the
hang-up is still awaited. Asterisk does not order events across types (an ``OriginateResponse``
can follow the hang-up; ``DialEnd ANSWER`` can follow ``OriginateResponse``), so stale progress
inputs in a later state are self-loops in the table rather than errors: the table says which
late arrivals are harmless. Inputs that only add evidence or bookkeeping (a cause, a CDR, a
channel hanging up, a lost link) are self-loops in every live state; whether the attempt then
ends is decided by :func:`gateway.asterisk.calls.machine.step`, which owns the state and the
evidence together and is the only user of :data:`TRANSITIONS` at run time. A pair the table
does not hold is illegal: :func:`apply` raises :class:`IllegalTransition` and the state stays;
``step`` keeps the state and returns an ``Illegal`` command (counted and logged at WARNING).

:func:`phase_of` is the one place a leg state becomes the pacing core's
:class:`pacing.calls.CallPhase`. This module is pure apart from :func:`apply`'s DEBUG line.
"""

from __future__ import annotations

import enum
import logging

from gateway.asterisk.errors import IllegalTransition
from pacing.calls import CallPhase

log = logging.getLogger("gateway.asterisk.calls")


class CallState(enum.StrEnum):
    QUEUED = "queued"  # accepted by originate(), not yet written to Asterisk
    DIALING = "dialing"  # Originate written / ARI channel created
    RINGING = "ringing"
    ANSWERED = "answered"  # the callee is up (AMD may be running)
    IN_QUEUE = "in_queue"  # waiting for an agent
    CONNECTED = "connected"  # talking to an agent
    SETTLED = "settled"  # outcome known (machine, abandoned, failure); waiting for the hang-up
    ENDED = "ended"


class CallInput(enum.StrEnum):
    SENT = "sent"
    RING = "ring"
    ANSWER = "answer"
    JOIN_QUEUE = "join_queue"
    CONNECT = "connect"
    MACHINE = "machine"
    ABANDON = "abandon"
    REJECT = "reject"  # the network refused the call (busy, no answer, congestion, failure)
    HANGUP = "hangup"  # every channel of the attempt is gone: the attempt ends
    GIVE_UP = "give_up"  # bounded wait expired (outcome unknown) or the gateway cancelled
    # Inputs that move no state by themselves; :func:`gateway.asterisk.calls.machine.step` may
    # end the attempt after them (with ``hangup`` or ``give_up``).
    ADOPT = "adopt"  # a gateway restart: tracked again by id, never sent
    CHANNEL = "channel"  # one of the attempt's channels appeared, changed, or ARI created it
    NOTE = "note"  # evidence only: a cause, a Dial status, a CDR, an AMD verdict not MACHINE
    GONE = "gone"  # one of the attempt's channels hung up
    REFUSED = "refused"  # Asterisk refused the Originate (Response: Error, an ARI error)
    CANCEL = "cancel"  # the gateway ends the call
    UNCERTAIN = "uncertain"  # the request may or may not have reached Asterisk
    LINK_LOST = "link_lost"  # the event stream broke
    SHUTDOWN = "shutdown"  # Asterisk said it restarts or stops: it ended every call
    RESTARTED = "restarted"  # Asterisk started again since the last session
    FOUND = "found"  # reconcile: the call still has a channel on the server
    MISSING = "missing"  # reconcile: it has none
    LEDGER = "ledger"  # reconcile: the outcome ledger's reading (a line, or none)
    SETTLE = "settle"  # the gateway stops: an ended call waiting for a verdict settles now
    EXPIRE = "expire"  # the bounded wait expired


S, In = CallState, CallInput
_LIVE = (S.QUEUED, S.DIALING, S.RINGING, S.ANSWERED, S.IN_QUEUE, S.CONNECTED, S.SETTLED)
_SENT = _LIVE[1:]
# Inputs that leave the state as it is wherever the call lives: facts and bookkeeping.
_EVERYWHERE = (
    In.CHANNEL, In.NOTE, In.GONE, In.REFUSED, In.CANCEL, In.UNCERTAIN, In.LINK_LOST,
    In.SHUTDOWN, In.RESTARTED, In.FOUND, In.MISSING, In.LEDGER, In.SETTLE, In.EXPIRE,
)  # fmt: skip

TRANSITIONS: dict[tuple[CallState, CallInput], CallState] = {
    (S.QUEUED, In.SENT): S.DIALING,
    (S.QUEUED, In.ADOPT): S.DIALING,
    # events may beat the write notification
    (S.QUEUED, In.RING): S.RINGING,
    (S.QUEUED, In.ANSWER): S.ANSWERED,
    (S.DIALING, In.RING): S.RINGING,
    (S.DIALING, In.ANSWER): S.ANSWERED,
    (S.RINGING, In.RING): S.RINGING,
    (S.RINGING, In.ANSWER): S.ANSWERED,
    (S.ANSWERED, In.JOIN_QUEUE): S.IN_QUEUE,
    (S.ANSWERED, In.CONNECT): S.CONNECTED,
    (S.IN_QUEUE, In.CONNECT): S.CONNECTED,
    (S.ANSWERED, In.MACHINE): S.SETTLED,
    (S.ANSWERED, In.ABANDON): S.SETTLED,
    (S.IN_QUEUE, In.ABANDON): S.SETTLED,
    (S.QUEUED, In.REJECT): S.SETTLED,
    (S.DIALING, In.REJECT): S.SETTLED,
    (S.RINGING, In.REJECT): S.SETTLED,
    # the ARI driver: the verdict on the AMI stream can beat the answer on the ARI WebSocket
    **{(s, i): S.SETTLED for s in _LIVE[:3] for i in (In.MACHINE, In.ABANDON)},
    # late, harmless arrivals (event reordering seen in the traces)
    **{
        (s, i): s
        for s in (S.ANSWERED, S.IN_QUEUE, S.CONNECTED, S.SETTLED)
        for i in (In.RING, In.ANSWER)
    },
    (S.IN_QUEUE, In.JOIN_QUEUE): S.IN_QUEUE,
    (S.CONNECTED, In.JOIN_QUEUE): S.CONNECTED,
    (S.SETTLED, In.JOIN_QUEUE): S.SETTLED,
    (S.SETTLED, In.REJECT): S.SETTLED,
    (S.SETTLED, In.ABANDON): S.SETTLED,
    (S.CONNECTED, In.CONNECT): S.CONNECTED,
    **{(s, In.SENT): s for s in _SENT},  # the write notification after the first events
    **{(s, i): s for s in _LIVE for i in _EVERYWHERE},
    # the end: from any live state
    **{(s, In.HANGUP): S.ENDED for s in _LIVE},
    **{(s, In.GIVE_UP): S.ENDED for s in _LIVE},
}


# The one boundary between the leg's detailed states and the pacing core's vocabulary: pacing
# only needs to know whether a call still rings, waits for an agent after a live answer, talks
# to an agent (a busy agent, not a call in flight), or is over.
PHASES: dict[CallState, CallPhase] = {
    S.QUEUED: CallPhase.RINGING,
    S.DIALING: CallPhase.RINGING,
    S.RINGING: CallPhase.RINGING,
    S.ANSWERED: CallPhase.WAITING,
    S.IN_QUEUE: CallPhase.WAITING,
    S.CONNECTED: CallPhase.CONNECTED,
    S.SETTLED: CallPhase.ENDED,
    S.ENDED: CallPhase.ENDED,
}


def phase_of(state: CallState) -> CallPhase:
    """Where a leg in ``state`` is, in the pacing core's words (:class:`pacing.calls.CallPhase`)."""
    return PHASES[state]


def apply(call_id: str, state: CallState, event: CallInput) -> CallState:
    """Return the next state, logging the transition; raise :class:`IllegalTransition`."""
    nxt = TRANSITIONS.get((state, event))
    if nxt is None:
        raise IllegalTransition(f"call={call_id}", state, event)
    if nxt is not state and log.isEnabledFor(logging.DEBUG):
        log.debug("call=%s %s -[%s]-> %s", call_id, state, event, nxt)
    return nxt
