"""The call leg as one pure function: ``step(state, evidence, input)`` returns the next state,
the next evidence and the commands to run.

Design. One attempt is two values: where it is (a :class:`~gateway.asterisk.calls.state.CallState`)
and what is known about it (a frozen :class:`~gateway.asterisk.calls.outcome.Evidence`). Both
change only here. The tracker (:mod:`gateway.asterisk.calls.tracker`) attributes each Asterisk
event to its attempt, turns it into one of the frozen inputs below, calls :func:`step` and runs
the commands it returns; it decides nothing about the call itself.

Every input has a kind (a :class:`~gateway.asterisk.calls.state.CallInput`), and the kind's move
is looked up in :data:`~gateway.asterisk.calls.state.TRANSITIONS`: the table is the truth. Late,
harmless arrivals (a ``DialState RINGING`` after the answer, a ``Cdr`` before the
``Newchannel``, a ``Hangup`` after the outcome is known) are self-loops in the table, so they are
not errors. A kind the table does not allow in the state
is *illegal*: the state stays, a :class:`Illegal` command is returned (the tracker counts it in
``dialer_call_illegal_inputs_total`` and logs it at WARNING) and the facts the input carries are
still recorded in the evidence: a fact Asterisk reported is never dropped, and the outcome rules
(:func:`~gateway.asterisk.calls.outcome.decide`) rank the facts, not their order.

After the move, :func:`step` decides whether the attempt ends: when none of its channels is
alive and (for the AMI driver) its ``OriginateResponse`` has arrived, in whichever order they
came; a failed response waits :data:`HANGUP_GRACE_S` for its channel's ``Hangup`` (the cause);
an answered call ended with no verdict waits :data:`VERDICT_GRACE_S` (ARI driver) and a silent
end waits :data:`SHUTDOWN_GRACE_S` for a ``Shutdown`` (both ``held``). An ending is the table's
``hangup`` or ``give_up`` (to ``ended``) and one :class:`Finish` command whose outcome is
:func:`~gateway.asterisk.calls.outcome.decide` of the final evidence: the one place an outcome
is derived.

Pure: no clock, no I/O, no logging apart from one DEBUG line per transition
(``call=<id> ringing -[answer]-> answered``). Commands carry no time: the tracker stamps and
sets deadlines with its own clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

from gateway.asterisk.calls import ledger
from gateway.asterisk.calls.outcome import Evidence, before_answer, decide, evolve, setter
from gateway.asterisk.calls.state import TRANSITIONS, CallInput, CallState
from pacing.outcomes import Outcome, PbxFault

log = logging.getLogger("gateway.asterisk.calls")
_DEBUG = logging.DEBUG

# The members as attributes of plain classes: reading a member off an Enum class goes through
# EnumType and costs about ten times a plain class attribute, and a step reads several (the
# replay bench's hot path). Typed as the enums; the values are the same members.
S = cast(type[CallState], type("S", (), dict(CallState.__members__)))
In = cast(type[CallInput], type("In", (), dict(CallInput.__members__)))

# Asterisk writes a failed OriginateResponse from the originating thread, while the channel
# events (Newchannel … Hangup with the Q.850 cause) reach AMI through the Stasis bus: on a fast
# failure the response often comes first (seen on Asterisk 22.10.1, tests/asterisk_real). The
# attempt then waits this long for its channel's Hangup, which carries the cause.
HANGUP_GRACE_S = 2.0
# ``core restart now`` sends ``Shutdown`` about a second after the last channel is gone (it sleeps
# 1 s, then publishes it): a silent end waits this long for it (tests/asterisk_real/traces).
SHUTDOWN_GRACE_S = 3.0
# With the ARI driver a call's end comes on the ARI WebSocket (ChannelDestroyed) while what the
# dialplan said before it (UserEvent AMDResult MACHINE, AgentConnect) comes on the AMI stream:
# under load the AMI stream lags, and a machine hung up after AMD was recorded ``abandoned``
# (tests/asterisk_real, test_every_outcome[asterisk-ari]). An answered call that ended with no
# verdict waits this long for one.
VERDICT_GRACE_S = 2.0

_BEFORE_ANSWER = frozenset({S.QUEUED, S.DIALING, S.RINGING})
_RANG = frozenset({S.DIALING, S.RINGING})  # sent, not yet seen answered


# --- inputs --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Signal:
    """An input that carries nothing but its kind (the module's constants below)."""

    kind: CallInput


SENT = Signal(In.SENT)
ADOPT = Signal(In.ADOPT)
REFUSED = Signal(In.REFUSED)
CANCEL = Signal(In.CANCEL)
UNCERTAIN = Signal(In.UNCERTAIN)
LINK_LOST = Signal(In.LINK_LOST)
SHUTDOWN = Signal(In.SHUTDOWN)
RESTARTED = Signal(In.RESTARTED)
MISSING = Signal(In.MISSING)
SETTLE = Signal(In.SETTLE)
EXPIRE = Signal(In.EXPIRE)


@dataclass(frozen=True, slots=True)
class Join(Signal):
    """``QueueCallerJoin``: the callee entered the queue (so it was answered)."""


JOIN_QUEUE = Join(In.JOIN_QUEUE)


@dataclass(frozen=True, slots=True)
class Channel:
    """One of the attempt's channels appeared, changed state or hung up (kind ``channel``,
    ``ring``, ``answer`` or ``gone``), with the attempt's channel facts after it."""

    kind: CallInput
    up: bool  # one of the attempt's own channels is alive
    primary_open: bool  # the originated channel is known and has not hung up
    callee_cause: int = 0  # a Q.850 cause for the callee half (0: none)
    leg_cause: int = 0  # … for the originated half


@dataclass(frozen=True, slots=True)
class Cause:
    """A ``HangupRequest``'s Q.850 causes (0: none), by half."""

    callee_cause: int
    leg_cause: int


@dataclass(frozen=True, slots=True)
class Dial:
    """``DialState`` / ``DialEnd`` of the attempt's own dial (not a queue ringing members)."""

    status: str
    end: bool  # DialEnd: the status is the dial's result


@dataclass(frozen=True, slots=True)
class Response:
    """The ``OriginateResponse``, with the channel facts after it."""

    reason: int | None
    answered: bool  # Success with Reason 4
    up: bool
    primary_open: bool
    seen: bool  # the answered channel counts as seen (its events may not have come)


@dataclass(frozen=True, slots=True)
class Disposition:
    """A ``Cdr``'s disposition; ``primary``: the CDR of the originated channel (it wins)."""

    disposition: str
    primary: bool


@dataclass(frozen=True, slots=True)
class Amd:
    """The dialplan's ``UserEvent AMDResult``."""

    status: str


@dataclass(frozen=True, slots=True)
class Abandon:
    """``UserEvent DialerAbandoned`` or (``queue``) ``QueueCallerAbandon``."""

    queue: bool


@dataclass(frozen=True, slots=True)
class Connect:
    """``AgentConnect``: a queue member took the call."""

    agent: str


@dataclass(frozen=True, slots=True)
class Found:
    """Reconcile after a lost link: the call still has a channel on the server (``agent``: the
    member Asterisk shows bridged to it)."""

    agent: str | None


@dataclass(frozen=True, slots=True)
class Ledger:
    """Reconcile: the outcome ledger's line for a call that ended unseen (``None``: no line;
    ``last``: no other reading will come). ``unsent_possible``: the attempt was left by this
    instance's own dead process and the server keeps a ledger (lines were read from it), so no
    channel and no line means Asterisk never had the call: its Originate was still queued in
    the process that died."""

    line: ledger.LedgerLine | None
    last: bool
    unsent_possible: bool = False


Input = (
    Signal | Channel | Cause | Dial | Response | Disposition | Amd | Abandon | Connect | Found
    | Ledger
)  # fmt: skip


# --- commands ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stamp:
    """Record the time of the call's first ring, answer or connect (the tracker's clock)."""

    what: str  # "ring", "answer" (the call may now last max_call_s), "connect"


@dataclass(frozen=True, slots=True)
class Progress:
    """Report what decides the outcome so far (answered, agent, AMD) to be stored now."""


@dataclass(frozen=True, slots=True)
class Wait:
    """End the call at the latest ``grace_s`` from now (the sweep settles it with what it has)."""

    grace_s: float


@dataclass(frozen=True, slots=True)
class Reconcile:
    """The call is reconciling: settle it against the channel list within the reconcile wait."""


@dataclass(frozen=True, slots=True)
class Resume:
    """Reconciled and alive: watch it again for as long as a call may last."""


@dataclass(frozen=True, slots=True)
class AskLedger:
    """Reconcile: read the call's outcome-ledger line (:mod:`gateway.asterisk.calls.ledger`)."""


@dataclass(frozen=True, slots=True)
class Finish:
    """The attempt ended: release its channels' indexes and report its one result."""

    outcome: Outcome
    sent: bool  # it reached Asterisk (it left ``queued``)


@dataclass(frozen=True, slots=True)
class Illegal:
    """An input the table does not allow in the state: count it and warn (the state stayed)."""

    state: CallState
    input: CallInput


Command = Stamp | Progress | Wait | Reconcile | Resume | AskLedger | Finish | Illegal

STAMP_RING, STAMP_ANSWER, STAMP_CONNECT = Stamp("ring"), Stamp("answer"), Stamp("connect")
PROGRESS, RECONCILE, RESUME, ASK_LEDGER = Progress(), Reconcile(), Resume(), AskLedger()
_WAIT_HANGUP = Wait(HANGUP_GRACE_S)
_WAIT_VERDICT = Wait(VERDICT_GRACE_S)
_WAIT_SHUTDOWN = Wait(SHUTDOWN_GRACE_S)
_FINISH = {(o, sent): Finish(o, sent) for o in Outcome for sent in (False, True)}  # shared


class Step(NamedTuple):
    """What :func:`step` returns: the next state and evidence, and the commands to run."""

    state: CallState
    evidence: Evidence
    commands: tuple[Command, ...]


# --- the function --------------------------------------------------------------------------

_step = tuple.__new__  # Step(...) without the NamedTuple's __new__ frame: _step(Step, (s, e, c))
_NO_COMMANDS: tuple[Command, ...] = ()

# How a step may end: not at all, if every channel is gone (the end rules), if a held call got
# its verdict and its channels are gone, or now (with hangup / give_up).
_NO, _CHECK, _RELEASE = 0, 1, 2
_WITHDRAW = 3  # ends now (give_up), reported not sent: no call happened, the record is dialable


def step(state: CallState, ev: Evidence, inp: Input, call_id: str = "") -> Step:
    """Apply one input: the table's move, the evidence it adds, the commands to run.

    ``call_id`` only names the call in the transition's DEBUG log line.
    """
    if state is S.ENDED:
        return Step(state, ev, (Illegal(state, kind_of(inp, ev)),))
    cmds: list[Command] = []
    before = state
    state, ev, end = _HANDLERS[type(inp)](state, ev, inp, cmds)
    if end:  # most inputs end nothing (_NO is 0; hangup and give_up are non-empty strings)
        if end == _CHECK:
            ev, end = _end_rules(ev, cmds)
        elif end == _RELEASE:
            end = In.HANGUP if ev.held and not ev.up else _NO
        if end == _WITHDRAW:
            state = _move(state, In.GIVE_UP, cmds)
            cmds.append(_FINISH[decide(ev), False])
        elif end:  # In.HANGUP or In.GIVE_UP
            sent = state is not S.QUEUED
            state = _move(state, cast(CallInput, end), cmds)
            cmds.append(_FINISH[decide(ev), sent])
    if state is not before and log.isEnabledFor(_DEBUG):
        log.debug("call=%s %s -[%s]-> %s", call_id, before, kind_of(inp, ev), state)
    return _step(Step, (state, ev, tuple(cmds) if cmds else _NO_COMMANDS))


_Out = tuple[CallState, Evidence, "int | CallInput"]

# The evidence changes an event makes most, as positional setters (outcome.setter: about twice
# as cheap as evolve's keywords).
_set_channel = setter("up", "primary_open", "seen_channel", "callee_cause", "leg_cause")
_set_response = setter("response_seen", "reason")
_set_live_answer = setter("live_answer")
_set_dial_status = setter("dial_status")
_set_disposition = setter("disposition")
_set_connected = setter("connected", "agent")
_set_amd_status = setter("amd_status")


def _on_channel(state: CallState, ev: Evidence, inp: Channel, cmds: list[Command]) -> _Out:
    state = _move(state, inp.kind, cmds)
    ev = _channel_facts(ev, inp.up, inp.primary_open, True, inp.callee_cause, inp.leg_cause)
    if inp.kind is In.RING:
        cmds.append(STAMP_RING)
    elif inp.kind is In.ANSWER:
        ev = _answered(ev, cmds)
    return state, ev, _CHECK if inp.kind is In.GONE else _NO


def _on_response(state: CallState, ev: Evidence, inp: Response, cmds: list[Command]) -> _Out:
    state = _move(state, In.ANSWER if inp.answered else In.REJECT, cmds)
    ev = _channel_facts(ev, inp.up, inp.primary_open, inp.seen, 0, 0)
    if not ev.response_seen or ev.reason != inp.reason:
        ev = _set_response(ev, True, inp.reason)
    if inp.answered:
        ev = _answered(ev, cmds)
    return state, ev, _CHECK


def _on_cause(state: CallState, ev: Evidence, inp: Cause, cmds: list[Command]) -> _Out:
    state = _move(state, In.NOTE, cmds)
    ev = _channel_facts(
        ev, ev.up, ev.primary_open, ev.seen_channel, inp.callee_cause, inp.leg_cause
    )
    return state, ev, _NO


def _on_disposition(state: CallState, ev: Evidence, inp: Disposition, cmds: list[Command]) -> _Out:
    state = _move(state, In.NOTE, cmds)
    if inp.disposition != ev.disposition and (not ev.disposition or inp.primary):
        ev = _set_disposition(ev, inp.disposition)
    return state, ev, _NO


def kind_of(inp: Input, ev: Evidence) -> CallInput:
    """The kind an input has (for the table and the illegal-input metric)."""
    if isinstance(inp, Signal | Channel):
        return inp.kind
    if isinstance(inp, Response):
        return In.ANSWER if inp.answered else In.REJECT
    if isinstance(inp, Dial):
        if inp.status == "RINGING":
            return In.RING
        return In.ANSWER if inp.end and inp.status == "ANSWER" else In.NOTE
    if isinstance(inp, Amd):
        return In.MACHINE if inp.status == "MACHINE" else In.NOTE
    if isinstance(inp, Abandon):
        return In.NOTE if inp.queue and ev.connected else In.ABANDON
    if isinstance(inp, Connect):
        return In.NOTE if ev.connected else In.CONNECT
    if isinstance(inp, Found):
        return In.FOUND
    return In.NOTE if isinstance(inp, Cause | Disposition) else In.LEDGER


def _move(state: CallState, kind: CallInput, cmds: list[Command]) -> CallState:
    """The table's next state; an illegal kind keeps the state and adds an :class:`Illegal`."""
    nxt = TRANSITIONS.get((state, kind))
    if nxt is None:
        cmds.append(Illegal(state, kind))
        return state
    return nxt


def _channel_facts(
    ev: Evidence, up: bool, primary_open: bool, seen: bool, callee_cause: int, leg_cause: int
) -> Evidence:
    """``ev`` with the channel facts and causes (a new value only when something changed)."""
    seen = seen or ev.seen_channel
    callee_cause = callee_cause or ev.callee_cause
    leg_cause = leg_cause or ev.leg_cause
    if (
        up == ev.up
        and primary_open == ev.primary_open
        and seen == ev.seen_channel
        and callee_cause == ev.callee_cause
        and leg_cause == ev.leg_cause
    ):
        return ev
    return _set_channel(ev, up, primary_open, seen, callee_cause, leg_cause)


def _answered(ev: Evidence, cmds: list[Command]) -> Evidence:
    """A live answer: the first one is stamped and (unless an agent took it) reported."""
    if ev.live_answer:
        return ev
    cmds.append(STAMP_ANSWER)
    if not ev.connected:  # a connect reports itself, with the agent
        cmds.append(PROGRESS)
    return _set_live_answer(ev, True)


def _on_signal(state: CallState, ev: Evidence, inp: Signal, cmds: list[Command]) -> _Out:
    kind, state_before = inp.kind, state
    state = _move(state, kind, cmds)
    end: int | CallInput = _NO
    if (
        kind is In.ADOPT
        or kind is In.UNCERTAIN
        or (kind is In.LINK_LOST and state_before is not S.QUEUED)
    ):
        ev = ev if ev.reconciling else evolve(ev, reconciling=True)
        cmds.append(RECONCILE)
    elif kind is In.REFUSED:
        ev = evolve(ev, rejected=True, response_seen=True, up=False)
        end = In.HANGUP
    elif kind is In.CANCEL:
        ev = ev if ev.cancelled else evolve(ev, cancelled=True)
        end = In.GIVE_UP if state is S.QUEUED else _NO
    elif kind is In.SHUTDOWN:
        ev = ev if ev.fault is not None else evolve(ev, fault=PbxFault.PBX_RESTART)
        end = In.HANGUP if ev.held else _NO
    elif kind is In.RESTARTED:
        if state is not S.QUEUED and ev.fault is None:
            ev = evolve(ev, fault=PbxFault.PBX_LOST)
    elif kind is In.MISSING:
        gone_known = ev.held or ev.fault is not None or ev.connected or ev.machine or ev.abandoned
        if gone_known:  # gone from the server, yet its outcome is known (or a restart explains it)
            end = In.HANGUP
        else:
            cmds.append(ASK_LEDGER)
    elif kind is In.SETTLE:
        end = In.HANGUP if ev.held and not ev.up else _NO
    elif kind is In.EXPIRE:
        if ev.held or (ev.response_seen and not ev.reconciling):
            end = In.HANGUP  # the hang-up event never came
        else:
            ev = evolve(ev, gave_up=True)
            end = In.GIVE_UP
    return state, ev, end


def _on_join(state: CallState, ev: Evidence, inp: Join, cmds: list[Command]) -> _Out:
    if state in _RANG:
        # only an answered callee joins the queue: its answer was lost (an AMI cut) or came
        # before this process adopted the call (a gateway restart)
        ev = _answered(ev, cmds)
        state = _move(state, In.ANSWER, cmds)
    return _move(state, inp.kind, cmds), ev, _NO


def _on_dial(state: CallState, ev: Evidence, inp: Dial, cmds: list[Command]) -> _Out:
    if inp.status == "RINGING":
        cmds.append(STAMP_RING)
        return _move(state, In.RING, cmds), ev, _NO
    if not inp.end:
        return _move(state, In.NOTE, cmds), ev, _NO
    if ev.dial_status != inp.status:
        ev = _set_dial_status(ev, inp.status)
    if inp.status != "ANSWER":
        return _move(state, In.NOTE, cmds), ev, _NO
    state = _move(state, In.ANSWER, cmds)
    return state, _answered(ev, cmds), _NO


def _on_connect(state: CallState, ev: Evidence, inp: Connect | Found, cmds: list[Command]) -> _Out:
    agent = inp.agent
    if isinstance(inp, Found):
        state = _move(state, In.FOUND, cmds)
        ev = evolve(ev, reconciling=False, needs_response=False, up=True, resumed=True)
        cmds.append(RESUME)  # an OriginateResponse goes to the old session only
    if agent is None or ev.connected:
        if isinstance(inp, Connect):
            state = _move(state, In.NOTE, cmds)  # a second AgentConnect of the same call
        return state, ev, _NO
    ev = _set_connected(ev, True, agent)
    cmds.append(STAMP_CONNECT)
    ev = _answered(ev, cmds)
    if state in _BEFORE_ANSWER:  # an agent talks to it: it was answered
        state = _move(state, In.ANSWER, cmds)
    state = _move(state, In.CONNECT, cmds)
    cmds.append(PROGRESS)
    return state, ev, _RELEASE


def _on_verdict(state: CallState, ev: Evidence, inp: Amd | Abandon, cmds: list[Command]) -> _Out:
    if isinstance(inp, Amd):
        if ev.amd_status != inp.status:
            ev = _set_amd_status(ev, inp.status)
        cmds.append(PROGRESS)
        if inp.status != "MACHINE":
            return _move(state, In.NOTE, cmds), ev, _NO
        ev = ev if ev.machine else evolve(ev, machine=True)
        return _move(state, In.MACHINE, cmds), ev, _RELEASE
    if inp.queue and ev.connected:  # the caller left the queue after an agent took it
        return _move(state, In.NOTE, cmds), ev, _NO
    ev = ev if ev.abandoned else evolve(ev, abandoned=True)
    return _move(state, In.ABANDON, cmds), ev, _RELEASE


def _on_ledger(state: CallState, ev: Evidence, inp: Ledger, cmds: list[Command]) -> _Out:
    state = _move(state, In.LEDGER, cmds)
    line = inp.line
    if line is None:
        if not inp.last:
            return state, ev, _NO
        if inp.unsent_possible and _nothing_seen(ev):
            return state, evolve(ev, gave_up=True), _WITHDRAW
        return state, evolve(ev, gave_up=True), In.GIVE_UP
    ev = ledger.evidence(line, ev)
    ev = evolve(
        ev,
        agent=ev.agent or line.member or None,
        amd_status=ev.amd_status if ev.amd_status is not None else (line.amd_status or None),
        up=False,
    )
    return state, ev, In.HANGUP


def _nothing_seen(ev: Evidence) -> bool:
    """Nothing of the call ever reached this process: no channel, response, dial, CDR, answer,
    verdict or fault."""
    return not (
        ev.seen_channel or ev.response_seen or ev.live_answer or ev.connected or ev.machine
        or ev.abandoned or ev.rejected or ev.dial_status or ev.disposition or ev.callee_cause
        or ev.leg_cause or ev.fault is not None
    )  # fmt: skip


def _end_rules(ev: Evidence, cmds: list[Command]) -> tuple[Evidence, int | CallInput]:
    """Whether an attempt whose channel hung up (or whose response came) ends now."""
    if ev.up or (not ev.seen_channel and not ev.response_seen):
        return ev, _NO
    if ev.needs_response and not ev.response_seen and not ev.reconciling:
        return ev, _NO
    if (
        ev.response_seen
        and ev.reason != 4
        and not ev.reconciling
        and ev.primary_open
        and not ev.rejected
    ):  # a failed Originate answered before its own channel's Hangup arrived
        cmds.append(_WAIT_HANGUP)
        return ev, _NO
    if ev.held:
        return ev, _NO
    if ev.resumed and _undecided(ev):
        # found alive after a lost link, ended with nothing that says how: its answer, agent
        # or verdict may have come while no session listened (a gateway restart), and its
        # hang-up cause says nothing of them. The ledger line its hang-up wrote does; its
        # reading ends the call (or, without a line, gives it up).
        if ev.reconciling:
            return ev, _NO
        cmds.append(ASK_LEDGER)
        cmds.append(RECONCILE)
        return evolve(ev, reconciling=True), _NO
    if not ev.needs_response and _verdict_pending(ev):
        cmds.append(_WAIT_VERDICT)  # the ARI driver: the AMI stream may still bring it
        return evolve(ev, held=True), _NO
    if ev.silent and ev.fault is None and before_answer(ev) is not Outcome.FAILED:
        cmds.append(_WAIT_SHUTDOWN)  # a Shutdown may follow and say why; else the sweep ends it
        return evolve(ev, held=True), _NO
    return ev, In.HANGUP


def _undecided(ev: Evidence) -> bool:
    """Whether a call found alive after a lost link ended with too little to decide on: an
    answer with no agent and no verdict (one may have come unheard) or nothing at all that
    says why it ended. An agent, a verdict, a cancel, a refusal, a fault or a cause that names
    a before-answer outcome (busy, no answer …) decides it."""
    if _verdict(ev) or ev.rejected or ev.fault is not None:
        return False
    return _was_answered(ev) or before_answer(ev) is Outcome.UNKNOWN


def _verdict_pending(ev: Evidence) -> bool:
    """Answered, ended, and nothing yet says machine, agent or abandoned."""
    return _was_answered(ev) and not _verdict(ev)


def _was_answered(ev: Evidence) -> bool:
    return ev.live_answer or ev.reason == 4 or ev.dial_status == "ANSWER"


def _verdict(ev: Evidence) -> bool:
    """An agent, a machine, an abandon or a cancel names the outcome of an answered call."""
    return ev.connected or ev.machine or ev.abandoned or ev.cancelled


_HANDLERS: dict[type, Callable[[CallState, Evidence, Any, list[Command]], _Out]] = {
    Signal: _on_signal,
    Join: _on_join,
    Channel: _on_channel,
    Response: _on_response,
    Cause: _on_cause,
    Disposition: _on_disposition,
    Dial: _on_dial,
    Connect: _on_connect,
    Found: _on_connect,
    Amd: _on_verdict,
    Abandon: _on_verdict,
    Ledger: _on_ledger,
}
