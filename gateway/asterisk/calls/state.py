"""The call-leg state machine: states, inputs and the one transition table.

Design. A call attempt moves ``queued → dialing → ringing → answered → in_queue → connected``
and ends in ``ended``; ``settled`` means the outcome is known (a machine, an abandon) and only the
hang-up is still awaited. Asterisk does not order events across types (an ``OriginateResponse``
can follow the hang-up; ``DialEnd ANSWER`` can follow ``OriginateResponse``), so stale progress
inputs in a later state are self-loops in the table rather than errors: the table says which
late arrivals are harmless. Anything else raises :class:`IllegalTransition` and the state stays.

The machine knows nothing about the outcome itself: the tracker decides the outcome from the
evidence it gathered (reason, causes, dispositions, queue and AMD events) when the leg ends.
Every transition is logged from :func:`apply`, as ``call=<id> ringing -[answer]-> answered``.
:func:`phase_of` is the one place a leg state becomes the pacing core's
:class:`pacing.calls.CallPhase`.
This module is pure apart from that log line.
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


S, In = CallState, CallInput
_LIVE = (S.QUEUED, S.DIALING, S.RINGING, S.ANSWERED, S.IN_QUEUE, S.CONNECTED, S.SETTLED)

TRANSITIONS: dict[tuple[CallState, CallInput], CallState] = {
    (S.QUEUED, In.SENT): S.DIALING,
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
