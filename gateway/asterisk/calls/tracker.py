"""The call tracker: typed Asterisk events in, exactly one :class:`AttemptResult` per attempt out.

Design. The tracker keeps one :class:`_Leg` per attempt and four indexes that attribute events:
by ``ActionID`` (``OriginateResponse``), by attempt id (``UserEvent`` headers), by channel
``Uniqueid`` (every channel event) and, for Local channels, by channel base name (pairs ``;2``
with ``;1``). With the dialplan contract the ids are known before any event: ``ChannelId`` is the
attempt id and ``OtherChannelId`` is ``<attempt id>-2``. Without them (the recorded traces) the
first ``;1`` ``Newchannel`` whose name starts with the dial string is claimed by the oldest
unclaimed attempt that dialled it, and ``OriginateResponse``'s ``Uniqueid`` links the rest.

Queue members' channels share the caller's ``Linkedid``, so attribution never uses ``Linkedid``:
only channels that are the attempt's own count for causes and hang-ups.

The tracker decides nothing about a call. It turns each attributed event into an input of
:mod:`gateway.asterisk.calls.machine`, whose pure :func:`~gateway.asterisk.calls.machine.step`
owns the leg's state and its :class:`~gateway.asterisk.calls.outcome.Evidence` (which also says
when the attempt ends: none of its channels alive and, for the AMI driver, its
``OriginateResponse`` arrived, in whichever order they came), and runs the commands it returns:
stamp a time, report progress, move a deadline, read the ledger, finish with the outcome. An
input the transition table does not allow is counted (``on_illegal``, the
``dialer_call_illegal_inputs_total`` metric) and logged at WARNING with the call id.
After a lost link, live attempts are marked ``reconciling`` with a deadline; the owner reconciles
them against the channel list (:meth:`CallTracker.reconcile`) and :meth:`CallTracker.sweep`
settles whatever is still unresolved as ``unknown``.

Restarts and crashes of Asterisk. ``core restart now`` hangs up every channel, then (about a
second later) sends ``Shutdown`` and closes the sessions; a ringing call ends with nothing that
says why (``Reason: 0``, every cause 0: :attr:`Evidence.silent`). Such an end is held up to
:data:`SHUTDOWN_GRACE_S`; a ``Shutdown`` (:meth:`CallTracker.shutdown`) names the fault
``pbx_restart`` on every attempt. After a kill -9 nothing is sent at all: the owner sees at the
next login that Asterisk started again (:meth:`CallTracker.server_restarted`), and the calls it
no longer has are ``pbx_lost``. Either way a call not answered is ``failed`` with its fault
(retried, :mod:`pacing.retry`), never a no-answer nor ``unknown``.

Nothing here does I/O; time is read from the injected monotonic clock, and wall-clock times are
derived from one anchor per call.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from gateway.asterisk.ami import events as ev
from gateway.asterisk.calls import ledger
from gateway.asterisk.calls import machine as m
from gateway.asterisk.calls.leg import Leg as _Leg
from gateway.asterisk.calls.machine import HANGUP_GRACE_S, SHUTDOWN_GRACE_S, VERDICT_GRACE_S
from gateway.asterisk.calls.model import CallProgress, InFlightCall, OriginateRequest
from gateway.asterisk.calls.outcome import Evidence
from gateway.asterisk.calls.quality import QualityAccumulator
from gateway.asterisk.calls.state import CallInput, CallState
from pacing.calls import AttemptResult
from pacing.outcomes import Outcome, PbxFault

__all__ = [
    "HANGUP_GRACE_S", "SHUTDOWN_GRACE_S", "VERDICT_GRACE_S", "CallTracker", "LedgerQuery",
]  # fmt: skip

log = logging.getLogger("gateway.asterisk.calls")

UNKNOWN_UID = "<unknown>"
_ANSWERED_STATE = 6
_RINGING_STATE = 5
_FAULT_DETAIL = {
    PbxFault.PBX_RESTART: "Asterisk hung the call up to restart or stop (Shutdown)",
    PbxFault.PBX_LOST: "Asterisk was lost (crash, kill) and came back without the call",
}
_CHANNEL_KIND = {_RINGING_STATE: CallInput.RING, _ANSWERED_STATE: CallInput.ANSWER}
_CHANNEL, _GONE = CallInput.CHANNEL, CallInput.GONE  # globals: an Enum class attribute is slow


# An adopted call (a restart) was placed before the adopter knew of it: how far back its
# ledger line may lie.
ADOPTED_LOOKBACK = timedelta(hours=2)


@dataclass(frozen=True, slots=True)
class LedgerQuery:
    """The ledger families to read (newest first) for one call that ended unseen."""

    attempt_id: str
    families: list[str]


def _wall_now() -> datetime:
    return datetime.now(UTC)


_DIALER_ABANDONED, _QUEUE_ABANDONED = m.Abandon(queue=False), m.Abandon(queue=True)
# The inputs are frozen values: those an event gives most (a channel event without a cause, a
# dial status, a CDR disposition) are made once and shared, not allocated per event.
_CHANNEL_INPUT = {
    (kind, up, primary_open): m.Channel(kind, up, primary_open)
    for kind in (CallInput.CHANNEL, CallInput.RING, CallInput.ANSWER, CallInput.GONE)
    for up in (False, True)
    for primary_open in (False, True)
}
_SHARED_MAX = 64  # per kind: causes, statuses, reasons and agents are few; a stray is not kept
_CAUSE_INPUT: dict[tuple[int, int], m.Cause] = {}
_GONE_INPUT: dict[tuple[CallInput, bool, bool, int, int], m.Channel] = {}
_RESPONSE_INPUT: dict[tuple[int | None, bool, bool, bool, bool], m.Response] = {}
_DIAL_INPUT: dict[tuple[str, bool], m.Dial] = {}
_DISPOSITION_INPUT: dict[tuple[str, bool], m.Disposition] = {}
_CONNECT_INPUT: dict[tuple[str], m.Connect] = {}
_AMD_INPUT: dict[tuple[str], m.Amd] = {}


_K = TypeVar("_K", bound=tuple[Any, ...])
_V = TypeVar("_V")


def _shared(cache: dict[_K, _V], make: Callable[..., _V], key: _K) -> _V:
    """The shared input ``make(*key)``: made once and kept (up to :data:`_SHARED_MAX` per kind)
    instead of a frozen dataclass's ``__init__`` per event (about 1 us each)."""
    inp = cache.get(key)
    if inp is None:
        inp = make(*key)
        if len(cache) < _SHARED_MAX:
            cache[key] = inp
    return inp


class CallTracker:
    """Tracks the attempts placed on one Asterisk server."""

    def __init__(
        self,
        server: str,
        *,
        on_result: Callable[[AttemptResult], None],
        clock: Callable[[], float],
        wall: Callable[[], datetime] = _wall_now,
        reconcile_wait_s: float = 30.0,
        max_call_s: float = 4 * 3600.0,
        on_progress: Callable[[CallProgress], None] | None = None,
        on_illegal: Callable[[str, str], None] | None = None,
        on_ask_ledger: Callable[[], None] | None = None,
    ) -> None:
        self.server = server
        # a call found alive after a lost link ended undecided: its ledger line is to be read
        # (:meth:`take_ledger_queries`); told outside :meth:`reconcile`, which returns them
        self._on_ask_ledger = on_ask_ledger
        self._asks: list[LedgerQuery] = []
        self._in_reconcile = False
        self._on_result = on_result
        self._on_progress = on_progress
        self._on_illegal = on_illegal  # (state, input): an input the table does not allow
        self._clock = clock
        self._wall = wall
        self.reconcile_wait_s = reconcile_wait_s
        self.max_call_s = max_call_s
        self.illegal_inputs = 0
        self._legs: dict[str, _Leg] = {}
        self._by_action: dict[str, _Leg] = {}
        self._by_uid: dict[str, _Leg] = {}
        self._by_base: dict[str, _Leg] = {}
        self._unclaimed: dict[str, deque[_Leg]] = {}
        self._handlers: dict[type, Callable[[object], None]] = {
            ev.ChannelEvent: self._on_channel,  # type: ignore[dict-item]
            ev.Hangup: self._on_hangup,  # type: ignore[dict-item]
            ev.Dial: self._on_dial,  # type: ignore[dict-item]
            ev.OriginateResponse: self._on_originate_response,  # type: ignore[dict-item]
            ev.Cdr: self._on_cdr,  # type: ignore[dict-item]
            ev.UserEvent: self._on_user_event,  # type: ignore[dict-item]
            ev.QueueCaller: self._on_queue_caller,  # type: ignore[dict-item]
            ev.AgentEvent: self._on_agent,  # type: ignore[dict-item]
            ev.Rtcp: self._on_rtcp,  # type: ignore[dict-item]
            ev.Shutdown: lambda _: self.shutdown(),
        }
        self._commands = self._command_runners()

    # --- registration --------------------------------------------------------------------

    def track(
        self,
        req: OriginateRequest,
        *,
        dial_string: str,
        action_id: str | None = None,
        channel_ids: bool = True,
        needs_response: bool = True,
    ) -> None:
        """Start tracking an attempt (before its Originate is written)."""
        ev0 = Evidence(needs_response=needs_response, primary_open=channel_ids)
        leg = _Leg(req, self.server, dial_string, self._clock(), self._wall(), ev0)
        self._legs[req.attempt_id] = leg
        leg.action_id = action_id or req.attempt_id
        self._by_action[leg.action_id] = leg
        if channel_ids:
            self._claim_primary(leg, req.attempt_id)
            leg.partner = f"{req.attempt_id}-2"
            self._by_uid[leg.partner] = leg
        else:
            self._unclaimed.setdefault(dial_string, deque()).append(leg)

    def adopt(
        self, attempt_id: str, *, now_wall: datetime | None = None, restarted: bool = False
    ) -> None:
        """Track an attempt known only by id (a gateway restart): it is reconciled, never sent.

        ``restarted``: left by this instance's own previous process, which is gone (a crash), so
        nothing can still send it; another instance's attempt may still be queued in a frozen
        sender that wakes up and sends it.
        """
        if attempt_id in self._legs:
            return
        req = OriginateRequest(attempt_id, 0, 0, "", "", "", "", 15.0)
        ev0 = Evidence(primary_open=True)
        leg = _Leg(req, self.server, "", self._clock(), now_wall or self._wall(), ev0)
        leg.adopted = True
        leg.restarted = restarted
        self._legs[attempt_id] = leg
        self._by_action[attempt_id] = leg
        self._claim_primary(leg, attempt_id)
        leg.partner = f"{attempt_id}-2"
        self._by_uid[leg.partner] = leg
        self._step(leg, m.ADOPT)

    def sent(self, attempt_id: str) -> None:
        """The Originate bytes (or the ARI request) have been written."""
        leg = self._legs.get(attempt_id)
        if leg is not None:
            self._step(leg, m.SENT)

    def accepted(self, attempt_id: str, channel_id: str | None = None) -> None:
        """ARI created the channel (the REST call returned 200)."""
        leg = self._legs.get(attempt_id)
        if leg is None or not channel_id:
            return
        if leg.primary is None:
            self._claim_primary(leg, channel_id)
        leg.live.add(channel_id)
        self._step(leg, m.Channel(CallInput.CHANNEL, True, self._primary_open(leg)))

    def rejected(self, attempt_id: str, detail: str) -> None:
        """Asterisk refused the Originate outright (``Response: Error`` or an ARI error)."""
        leg = self._legs.get(attempt_id)
        if leg is None:
            return
        leg.detail = detail
        leg.live.clear()
        self._step(leg, m.REFUSED)

    def cancel(self, attempt_id: str) -> bool:
        """Record that the gateway is ending this call; ``False`` if it is not tracked."""
        leg = self._legs.get(attempt_id)
        if leg is None:
            return False
        self._step(leg, m.CANCEL)
        return True

    def uncertain(self, attempt_id: str) -> None:
        """The request may or may not have reached Asterisk: settle it from events or reconcile."""
        leg = self._legs.get(attempt_id)
        if leg is not None:
            self._step(leg, m.UNCERTAIN)

    def channel_of(self, attempt_id: str) -> str | None:
        """The name of the attempt's originated channel, once an event has named it."""
        leg = self._legs.get(attempt_id)
        return None if leg is None else leg.channel

    def request_of(self, uniqueid: str) -> OriginateRequest | None:
        """The request of the attempt a channel belongs to (agent events name the caller's)."""
        leg = self._by_uid.get(uniqueid)
        return None if leg is None else leg.req

    def reconciling(self) -> int:
        return sum(1 for leg in self._legs.values() if leg.ev.reconciling)

    # --- events: attribute, translate to an input, step ----------------------------------

    def handle(self, event: object) -> None:
        """Apply one typed event (AMI, or ARI translated to the same types)."""
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def _on_channel(self, e: ev.ChannelEvent) -> None:
        leg = self._by_uid.get(e.uniqueid)
        if leg is None:
            if e.name != "Newchannel" or (not self._unclaimed and not self._by_base):
                return
            leg = self._claim_by_name(e.channel, e.uniqueid)
            if leg is None:
                return
        if e.name == "HangupRequest":
            if e.cause:
                causes = self._causes(leg, e.uniqueid, e.cause)
                self._step(leg, _shared(_CAUSE_INPUT, m.Cause, causes))
            return
        leg.live.add(e.uniqueid)
        if leg.channel is None and e.uniqueid == leg.primary and e.channel:
            leg.channel = e.channel
        if leg.base is None and e.uniqueid == leg.primary and e.channel.endswith(";1"):
            leg.base = e.channel[:-2]  # lets an unannounced ;2 half find its attempt
            self._by_base[leg.base] = leg
        kind = _CHANNEL_KIND.get(e.state, _CHANNEL)
        primary = leg.primary
        self._step(leg, _CHANNEL_INPUT[kind, True, primary is not None and primary not in leg.hung])

    def _on_hangup(self, e: ev.Hangup) -> None:
        leg = self._by_uid.get(e.uniqueid)
        if leg is None:
            return
        callee, own = self._causes(leg, e.uniqueid, e.cause)
        leg.live.discard(e.uniqueid)
        leg.hung.add(e.uniqueid)
        up, primary_open = bool(leg.live), self._primary_open(leg)
        if callee or own:
            self._step(leg, _shared(_GONE_INPUT, m.Channel, (_GONE, up, primary_open, callee, own)))
        else:
            self._step(leg, _CHANNEL_INPUT[_GONE, up, primary_open])

    def _on_dial(self, e: ev.Dial) -> None:
        if e.caller_uniqueid:
            return  # a queue ringing its members: not the attempt's own dial
        leg = self._by_uid.get(e.dest_uniqueid)
        if leg is not None and (e.status == "RINGING" or e.name == "DialEnd"):
            self._step(leg, _shared(_DIAL_INPUT, m.Dial, (e.status, e.name == "DialEnd")))

    def _on_originate_response(self, e: ev.OriginateResponse) -> None:
        leg = self._by_action.get(e.action_id)
        if leg is None:
            return
        if e.uniqueid and e.uniqueid != UNKNOWN_UID and leg.primary is None:
            self._claim_primary(leg, e.uniqueid)
        answered = e.success and e.reason == 4
        seen = False
        if answered and leg.primary is not None and not leg.ev.seen_channel:
            leg.live.add(leg.primary)  # answered: its channel is up even if unseen
            seen = True
        up, primary_open = bool(leg.live), self._primary_open(leg)
        key = (e.reason, answered, up, primary_open, seen)
        self._step(leg, _shared(_RESPONSE_INPUT, m.Response, key))

    def _on_cdr(self, e: ev.Cdr) -> None:
        leg = self._by_uid.get(e.uniqueid)
        if leg is not None:
            key = (e.disposition, e.uniqueid == leg.primary)
            self._step(leg, _shared(_DISPOSITION_INPUT, m.Disposition, key))

    def _on_user_event(self, e: ev.UserEvent) -> None:
        leg = self._legs.get(e.attempt_id) or self._by_uid.get(e.uniqueid)
        if leg is None:
            return
        if e.user_event == "AMDResult":
            self._step(leg, _shared(_AMD_INPUT, m.Amd, (e.amd_status,)))
        elif e.user_event == "DialerAbandoned":
            self._step(leg, _DIALER_ABANDONED)

    def _on_queue_caller(self, e: ev.QueueCaller) -> None:
        leg = self._by_uid.get(e.uniqueid)
        if leg is None:
            return
        if e.name == "QueueCallerJoin":
            self._step(leg, m.JOIN_QUEUE)
        elif e.name == "QueueCallerAbandon":
            self._step(leg, _QUEUE_ABANDONED)

    def _on_agent(self, e: ev.AgentEvent) -> None:
        if e.name != "AgentConnect":
            return
        leg = self._by_uid.get(e.uniqueid)
        if leg is not None:
            self._step(leg, _shared(_CONNECT_INPUT, m.Connect, (e.member_name or e.interface,)))

    def _on_rtcp(self, e: ev.Rtcp) -> None:
        leg = self._by_uid.get(e.uniqueid)
        if leg is None:
            return
        if leg.quality is None:
            leg.quality = QualityAccumulator()
        leg.quality.add(e)

    # --- link loss, reconciliation, deadlines --------------------------------------------

    def link_lost(self) -> list[str]:
        """The event stream broke: every written attempt must be reconciled. Returns their ids."""
        return [
            leg.attempt_id
            for leg in list(self._legs.values())
            if m.RECONCILE in self._step(leg, m.LINK_LOST)
        ]

    def shutdown(self) -> None:
        """Asterisk said it is restarting or stopping (``Shutdown``): it ended every call."""
        for leg in list(self._legs.values()):
            self._step(leg, m.SHUTDOWN)

    def server_restarted(self) -> None:
        """Asterisk started again since the last session: what it had is gone."""
        for leg in list(self._legs.values()):
            self._step(leg, m.RESTARTED)

    def reconcile(
        self, live_channel_ids: Iterable[str], agents: Mapping[str, str] | None = None
    ) -> list[LedgerQuery]:
        """After a reconnect: attempts with a live channel resume; the others have ended.

        Those already known connected, a machine or abandoned end now; for the rest the events
        of their end were missed, and the returned queries name the outcome-ledger lines to read
        (:mod:`gateway.asterisk.calls.ledger`); :meth:`recovered` settles each with its line.
        ``agents``: the attempts' channels that Asterisk shows bridged to a queue member, with
        the member's name: an ``AgentConnect`` sent while the link was down is not lost.
        """
        live = set(live_channel_ids)
        agents = agents or {}
        self._in_reconcile = True
        try:
            for leg in [lg for lg in self._legs.values() if lg.ev.reconciling]:
                own = {uid for uid in (leg.primary, leg.partner) if uid is not None} - leg.hung
                if own & live:
                    leg.live = own & live
                    agent = next((agents[uid] for uid in own if uid in agents), None)
                    self._step(leg, m.Found(agent))
                else:
                    self._step(leg, m.MISSING)
        finally:
            self._in_reconcile = False
        return self.take_ledger_queries()

    def take_ledger_queries(self) -> list[LedgerQuery]:
        """The ledger lines asked for since the last call (each to settle with
        :meth:`recovered`)."""
        asks, self._asks = self._asks, []
        return asks

    def _ask_ledger(self, leg: _Leg, _: m.AskLedger | None = None) -> None:
        since = leg.wall0 - ADOPTED_LOOKBACK if leg.adopted else leg.wall0
        self._asks.append(LedgerQuery(leg.attempt_id, ledger.families(since, self._wall())))
        if not self._in_reconcile and self._on_ask_ledger is not None:
            self._on_ask_ledger()

    def recovered(
        self, attempt_id: str, value: str | None, *, last: bool = True, ledger_kept: bool = False
    ) -> bool:
        """Settle a call that ended unseen from its ledger line (``value``), if it has one.

        Without a line the call stays reconciling unless this was the ``last`` reading, when
        it ends ``unknown`` — except an attempt of this instance's own crashed process
        (:meth:`adopt` ``restarted``) of which nothing was ever seen, on a server known to keep
        its ledger (``ledger_kept``: lines were read from it): Asterisk never had that call, so
        it is withdrawn (not sent: the record is dialable again). Returns whether the attempt
        was settled.
        """
        leg = self._legs.get(attempt_id)
        if leg is None or not leg.ev.reconciling:
            return False
        line = None if value is None else ledger.parse(value)
        if line is None:
            if not last:
                return False
            unsent_possible = leg.restarted and ledger_kept
            leg.detail = (
                "left by the crashed process, neither on the server nor in its ledger: never sent"
                if unsent_possible
                else "call not found on the server after the link came back, nor in the ledger"
            )
            self._step(leg, m.Ledger(None, last=True, unsent_possible=unsent_possible))
            return True
        wall0 = leg.wall0.timestamp()
        if line.answered_epoch is not None and leg.t_answer is None:
            leg.t_answer = leg.t0 + max(0.0, line.answered_epoch - wall0)
        if line.member and leg.t_connect is None:
            leg.t_connect = leg.t_answer
        if line.ended_epoch is not None:
            leg.t_end = leg.t0 + max(0.0, line.ended_epoch - wall0)
        leg.detail = "outcome read from the ledger after the link came back"
        leg.live.clear()
        self._step(leg, m.Ledger(line, last=last))
        return True

    def settle_held(self) -> int:
        """Settle now, with what they have, the ended calls still waiting for a verdict or a
        ``Shutdown`` (the gateway is stopping: no event will come). Returns how many."""
        held = [leg for leg in self._legs.values() if leg.ev.held and not leg.live]
        for leg in held:
            self._step(leg, m.SETTLE)
        return len(held)

    def sweep(self) -> int:
        """Settle attempts whose bounded wait expired; return how many were settled."""
        now = self._clock()
        expired = [leg for leg in self._legs.values() if leg.deadline <= now]
        for leg in expired:
            self._step(leg, m.EXPIRE, gave_up="no outcome from Asterisk within the bounded wait")
        return len(expired)

    # --- running the machine -------------------------------------------------------------

    def _step(self, leg: _Leg, inp: m.Input, *, gave_up: str = "") -> tuple[m.Command, ...]:
        """One input through :func:`~gateway.asterisk.calls.machine.step`; run its commands."""
        state, evidence, commands = m.step(leg.state, leg.ev, inp, leg.attempt_id)
        leg.state, leg.ev = state, evidence
        if gave_up and evidence.gave_up and not leg.detail:
            leg.detail = gave_up
        if commands:
            run = self._commands
            for cmd in commands:
                run[type(cmd)](leg, cmd)
        return commands

    def _command_runners(self) -> dict[type, Callable[[_Leg, Any], None]]:
        """How each command runs, by its (final) class: one dict lookup per command."""
        return {
            m.Stamp: self._stamp,
            m.Progress: self._progress,
            m.Finish: self._finish,
            m.Wait: self._wait,
            m.Reconcile: self._reconcile_wait,
            m.Resume: self._resume,
            m.Illegal: self._illegal,
            m.AskLedger: self._ask_ledger,
        }

    def _wait(self, leg: _Leg, cmd: m.Wait) -> None:
        leg.deadline = min(leg.deadline, self._clock() + cmd.grace_s)

    def _reconcile_wait(self, leg: _Leg, _: m.Reconcile) -> None:
        leg.deadline = min(leg.deadline, self._clock() + self.reconcile_wait_s)

    def _resume(self, leg: _Leg, _: m.Resume) -> None:
        leg.deadline = self._clock() + self.max_call_s

    def _stamp(self, leg: _Leg, cmd: m.Stamp) -> None:
        what = cmd.what
        if what == "ring":
            if leg.t_ring is None:
                leg.t_ring = self._clock()
        elif what == "answer":
            if leg.t_answer is None:
                leg.t_answer = self._clock()
                leg.deadline = leg.t_answer + self.max_call_s
        else:
            leg.t_connect = self._clock()

    def _illegal(self, leg: _Leg, cmd: m.Illegal) -> None:
        self.illegal_inputs += 1
        log.warning("call=%s illegal input %s in state %s (counted; the state stays)",
                    leg.attempt_id, cmd.input, cmd.state)  # fmt: skip
        if self._on_illegal is not None:
            self._on_illegal(str(cmd.state), str(cmd.input))

    # --- helpers -------------------------------------------------------------------------

    def _claim_primary(self, leg: _Leg, uid: str) -> None:
        leg.primary = uid
        self._by_uid[uid] = leg

    def _claim_by_name(self, channel: str, uid: str) -> _Leg | None:
        base, _, half = channel.rpartition(";")
        if half == "2":
            leg = self._by_base.get(base)
            if leg is not None and (leg.partner is None or leg.partner not in self._by_uid):
                leg.partner = uid
                self._by_uid[uid] = leg
            return leg
        dial = base.rpartition("-")[0]
        queue = self._unclaimed.get(dial)
        if not queue:
            return None
        leg = queue.popleft()
        if not queue:
            del self._unclaimed[dial]
        leg.base = base
        self._by_base[base] = leg
        self._claim_primary(leg, uid)
        return leg

    @staticmethod
    def _primary_open(leg: _Leg) -> bool:
        return leg.primary is not None and leg.primary not in leg.hung

    @staticmethod
    def _causes(leg: _Leg, uid: str, cause: int) -> tuple[int, int]:
        """A channel's Q.850 cause as (callee half, originated half); 0 where it says nothing."""
        if cause == 0:
            return 0, 0
        callee = cause if uid == leg.partner or (uid == leg.primary and leg.partner is None) else 0
        return callee, cause if uid == leg.primary else 0

    def _at(self, leg: _Leg, t: float | None) -> datetime | None:
        return None if t is None else leg.wall0 + timedelta(seconds=t - leg.t0)

    def _progress(self, leg: _Leg, _: m.Progress | None = None) -> None:
        """Report what decides the outcome so far (answered, agent, AMD) to be stored now."""
        if self._on_progress is not None:
            self._on_progress(CallProgress(leg.attempt_id, self._at(leg, leg.t_answer),
                                           self._at(leg, leg.t_connect), leg.ev.agent,
                                           leg.ev.amd_status, leg.req.record_id))  # fmt: skip

    def _finish(self, leg: _Leg, cmd: m.Finish) -> None:
        if self._legs.pop(leg.attempt_id, None) is None:
            return
        self._forget(leg)
        self._on_result(self._result(leg, cmd.outcome, sent=cmd.sent))

    def _forget(self, leg: _Leg) -> None:
        if self._by_action.get(leg.action_id) is leg:
            del self._by_action[leg.action_id]
        for key in (leg.primary, leg.partner):
            if key is not None and self._by_uid.get(key) is leg:
                del self._by_uid[key]
        if leg.base is not None:
            self._by_base.pop(leg.base, None)
        queue = self._unclaimed.get(leg.dial_string)
        if queue is not None and leg in queue:
            queue.remove(leg)

    def _result(self, leg: _Leg, outcome: Outcome, *, sent: bool) -> AttemptResult:
        end = self._clock() if leg.t_end is None else leg.t_end
        req = leg.req
        evidence = leg.ev

        def at(t: float | None) -> datetime | None:
            return None if t is None else leg.wall0 + timedelta(seconds=t - leg.t0)

        def span(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else max(0.0, b - a)

        cause = evidence.callee_cause or evidence.leg_cause or None
        fault = evidence.fault if outcome is Outcome.FAILED else None
        detail = leg.detail if fault is None else f"{fault}: {_FAULT_DETAIL[fault]}"
        return AttemptResult(
            attempt_id=leg.attempt_id,
            campaign_id=req.campaign_id,
            record_id=req.record_id,
            outcome=outcome,
            cause=cause,
            server=leg.server,
            caller_id=req.caller_id_number,
            agent=evidence.agent,
            originated_at=leg.wall0,
            rang_at=at(leg.t_ring),
            answered_at=at(leg.t_answer),
            connected_at=at(leg.t_connect),
            ended_at=leg.wall0 + timedelta(seconds=end - leg.t0),
            post_dial_delay_s=span(leg.t0, leg.t_ring),
            ring_s=span(leg.t0, leg.t_answer),
            hold_s=span(leg.t_answer, leg.t_connect),
            talk_s=span(leg.t_connect, end),
            duration_s=end - leg.t0,
            amd_status=evidence.amd_status,
            dial_status=evidence.dial_status or None,
            quality=leg.quality.snapshot() if leg.quality is not None else None,
            detail=detail,
            sent=sent,
            fault=fault,
        )

    # --- views ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._legs)

    def __contains__(self, attempt_id: object) -> bool:
        return attempt_id in self._legs

    def state_of(self, attempt_id: str) -> CallState | None:
        leg = self._legs.get(attempt_id)
        return None if leg is None else leg.state

    def in_flight(self) -> Mapping[str, InFlightCall]:
        return {
            a: InFlightCall(
                a,
                leg.server,
                leg.state,
                leg.req.number,
                leg.req.queue,
                leg.t0,
                leg.ev.agent,
                leg.ev.reconciling,
            )
            for a, leg in self._legs.items()
        }

    def answered_count(self) -> int:
        """Attempts currently answered or talking (they hold a channel)."""
        return sum(1 for leg in self._legs.values() if leg.t_answer is not None)
