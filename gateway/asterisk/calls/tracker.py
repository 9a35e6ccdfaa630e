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

An attempt ends when none of its channels is alive and (for the AMI driver) its
``OriginateResponse`` has arrived, in whichever order they came. Evidence is gathered in an
:class:`~gateway.asterisk.calls.outcome.Evidence` and the outcome is decided once, at the end.
After a
lost link, live attempts are marked ``reconciling`` with a deadline; the owner reconciles them
against the channel list (:meth:`CallTracker.reconcile`) and :meth:`CallTracker.sweep` settles
whatever is still unresolved as ``unknown``.

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

from gateway.asterisk.ami import events as ev
from gateway.asterisk.calls import ledger
from gateway.asterisk.calls.leg import Leg as _Leg
from gateway.asterisk.calls.model import CallProgress, InFlightCall, OriginateRequest
from gateway.asterisk.calls.outcome import Evidence, before_answer, decide
from gateway.asterisk.calls.quality import QualityAccumulator
from gateway.asterisk.calls.state import CallInput, CallState, apply
from gateway.asterisk.errors import IllegalTransition
from pacing.calls import AttemptResult
from pacing.outcomes import Outcome, PbxFault

log = logging.getLogger("gateway.asterisk.calls")

UNKNOWN_UID = "<unknown>"
_ANSWERED_STATE = 6
_RINGING_STATE = 5
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
_FAULT_DETAIL = {
    PbxFault.PBX_RESTART: "Asterisk hung the call up to restart or stop (Shutdown)",
    PbxFault.PBX_LOST: "Asterisk was lost (crash, kill) and came back without the call",
}


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
    ) -> None:
        self.server = server
        self._on_result = on_result
        self._on_progress = on_progress
        self._clock = clock
        self._wall = wall
        self.reconcile_wait_s = reconcile_wait_s
        self.max_call_s = max_call_s
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
        leg = _Leg(req, self.server, dial_string, self._clock(), self._wall(), needs_response)
        self._legs[req.attempt_id] = leg
        leg.action_id = action_id or req.attempt_id
        self._by_action[leg.action_id] = leg
        if channel_ids:
            self._claim_primary(leg, req.attempt_id)
            leg.partner = f"{req.attempt_id}-2"
            self._by_uid[leg.partner] = leg
        else:
            self._unclaimed.setdefault(dial_string, deque()).append(leg)

    def adopt(self, attempt_id: str, *, now_wall: datetime | None = None) -> None:
        """Track an attempt known only by id (a gateway restart): it is reconciled, never sent."""
        if attempt_id in self._legs:
            return
        req = OriginateRequest(attempt_id, 0, 0, "", "", "", "", 15.0)
        leg = _Leg(req, self.server, "", self._clock(), now_wall or self._wall(), True)
        leg.state = CallState.DIALING
        leg.adopted = True
        self._legs[attempt_id] = leg
        self._by_action[attempt_id] = leg
        self._claim_primary(leg, attempt_id)
        leg.partner = f"{attempt_id}-2"
        self._by_uid[leg.partner] = leg
        self._mark_reconciling(leg)

    def sent(self, attempt_id: str) -> None:
        """The Originate bytes (or the ARI request) have been written."""
        leg = self._legs.get(attempt_id)
        if leg is not None and leg.state is CallState.QUEUED:
            self._advance(leg, CallInput.SENT)

    def accepted(self, attempt_id: str, channel_id: str | None = None) -> None:
        """ARI created the channel (the REST call returned 200)."""
        leg = self._legs.get(attempt_id)
        if leg is None:
            return
        if channel_id and leg.primary is None:
            self._claim_primary(leg, channel_id)
        if channel_id:
            leg.live.add(channel_id)
            leg.seen_channel = True

    def rejected(self, attempt_id: str, detail: str) -> None:
        """Asterisk refused the Originate outright (``Response: Error`` or an ARI error)."""
        leg = self._legs.get(attempt_id)
        if leg is None:
            return
        leg.ev.rejected = True
        leg.detail = detail
        leg.response_seen = True
        leg.live.clear()
        self._finish(leg, CallInput.HANGUP)

    def cancel(self, attempt_id: str) -> bool:
        """Record that the gateway is ending this call; ``False`` if it is not tracked."""
        leg = self._legs.get(attempt_id)
        if leg is None:
            return False
        leg.ev.cancelled = True
        if leg.state is CallState.QUEUED:
            self._finish(leg, CallInput.GIVE_UP)
        return True

    def uncertain(self, attempt_id: str) -> None:
        """The request may or may not have reached Asterisk: settle it from events or reconcile."""
        leg = self._legs.get(attempt_id)
        if leg is not None:
            self._mark_reconciling(leg)

    def channel_of(self, attempt_id: str) -> str | None:
        """The name of the attempt's originated channel, once an event has named it."""
        leg = self._legs.get(attempt_id)
        return None if leg is None else leg.channel

    def request_of(self, uniqueid: str) -> OriginateRequest | None:
        """The request of the attempt a channel belongs to (agent events name the caller's)."""
        leg = self._by_uid.get(uniqueid)
        return None if leg is None else leg.req

    def reconciling(self) -> int:
        return sum(1 for leg in self._legs.values() if leg.reconciling)

    # --- events --------------------------------------------------------------------------

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
            self._record_cause(leg, e.uniqueid, e.cause)
            return
        leg.live.add(e.uniqueid)
        leg.seen_channel = True
        if leg.channel is None and e.uniqueid == leg.primary and e.channel:
            leg.channel = e.channel
        if leg.base is None and e.uniqueid == leg.primary and e.channel.endswith(";1"):
            leg.base = e.channel[:-2]  # lets an unannounced ;2 half find its attempt
            self._by_base[leg.base] = leg
        if e.state == _RINGING_STATE:
            self._ring(leg)
        elif e.state == _ANSWERED_STATE:
            self._answer(leg)

    def _on_hangup(self, e: ev.Hangup) -> None:
        leg = self._by_uid.get(e.uniqueid)
        if leg is None:
            return
        self._record_cause(leg, e.uniqueid, e.cause)
        leg.live.discard(e.uniqueid)
        leg.hung.add(e.uniqueid)
        leg.seen_channel = True
        self._maybe_finish(leg)

    def _on_dial(self, e: ev.Dial) -> None:
        if e.caller_uniqueid:
            return  # a queue ringing its members: not the attempt's own dial
        leg = self._by_uid.get(e.dest_uniqueid)
        if leg is None:
            return
        if e.status == "RINGING":
            self._ring(leg)
        elif e.name == "DialEnd":
            leg.ev.dial_status = e.status
            if e.status == "ANSWER":
                self._answer(leg)

    def _on_originate_response(self, e: ev.OriginateResponse) -> None:
        leg = self._by_action.get(e.action_id)
        if leg is None:
            return
        leg.response_seen = True
        leg.ev.reason = e.reason
        if e.uniqueid and e.uniqueid != UNKNOWN_UID and leg.primary is None:
            self._claim_primary(leg, e.uniqueid)
        if e.success and e.reason == 4:
            if leg.primary is not None and not leg.seen_channel:
                leg.live.add(leg.primary)  # answered: its channel is up even if unseen
                leg.seen_channel = True
            self._answer(leg)
        else:
            self._advance(leg, CallInput.REJECT)
        self._maybe_finish(leg)

    def _on_cdr(self, e: ev.Cdr) -> None:
        leg = self._by_uid.get(e.uniqueid)
        if leg is not None and (not leg.ev.disposition or e.uniqueid == leg.primary):
            leg.ev.disposition = e.disposition

    def _on_user_event(self, e: ev.UserEvent) -> None:
        leg = self._legs.get(e.attempt_id) or self._by_uid.get(e.uniqueid)
        if leg is None:
            return
        if e.user_event == "AMDResult":
            leg.amd_status = e.amd_status
            self._progress(leg)
            if e.amd_status == "MACHINE":
                leg.ev.machine = True
                self._advance(leg, CallInput.MACHINE)
                self._release(leg)
        elif e.user_event == "DialerAbandoned":
            leg.ev.abandoned = True
            self._advance(leg, CallInput.ABANDON)
            self._release(leg)

    def _on_queue_caller(self, e: ev.QueueCaller) -> None:
        leg = self._by_uid.get(e.uniqueid)
        if leg is None:
            return
        if e.name == "QueueCallerJoin":
            self._advance(leg, CallInput.JOIN_QUEUE)
        elif e.name == "QueueCallerAbandon" and not leg.ev.connected:
            leg.ev.abandoned = True
            self._advance(leg, CallInput.ABANDON)
            self._release(leg)

    def _on_agent(self, e: ev.AgentEvent) -> None:
        if e.name != "AgentConnect":
            return
        leg = self._by_uid.get(e.uniqueid)
        if leg is None or leg.ev.connected:
            return
        self._connected(leg, e.member_name or e.interface)

    def _connected(self, leg: _Leg, agent: str) -> None:
        leg.ev.connected = True
        leg.agent = agent
        leg.t_connect = self._clock()
        self._answer(leg)
        self._advance(leg, CallInput.CONNECT)
        self._progress(leg)
        self._release(leg)

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
        ids = []
        for leg in self._legs.values():
            if leg.state is not CallState.QUEUED:
                self._mark_reconciling(leg)
                ids.append(leg.attempt_id)
        return ids

    def shutdown(self) -> None:
        """Asterisk said it is restarting or stopping (``Shutdown``): it ended every call."""
        for leg in list(self._legs.values()):
            leg.ev.fault = leg.ev.fault or PbxFault.PBX_RESTART
            if leg.held:
                self._finish(leg, CallInput.HANGUP)

    def server_restarted(self) -> None:
        """Asterisk started again since the last session: what it had is gone."""
        for leg in self._legs.values():
            if leg.state is not CallState.QUEUED:
                leg.ev.fault = leg.ev.fault or PbxFault.PBX_LOST

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
        queries: list[LedgerQuery] = []
        now_wall = self._wall()
        for leg in [lg for lg in self._legs.values() if lg.reconciling]:
            own = {uid for uid in (leg.primary, leg.partner) if uid is not None} - leg.hung
            if own & live:
                leg.reconciling = False
                leg.needs_response = False  # an OriginateResponse goes to the old session only
                leg.live = own & live
                leg.deadline = self._clock() + self.max_call_s
                agent = next((agents[uid] for uid in own if uid in agents), None)
                if agent is not None and not leg.ev.connected:
                    self._connected(leg, agent)
            elif self._settles_without_channel(leg):
                self._finish(leg, CallInput.HANGUP)
            else:
                since = leg.wall0 - ADOPTED_LOOKBACK if leg.adopted else leg.wall0
                queries.append(LedgerQuery(leg.attempt_id, ledger.families(since, now_wall)))
        return queries

    def recovered(self, attempt_id: str, value: str | None, *, last: bool = True) -> bool:
        """Settle a call that ended unseen from its ledger line (``value``), if it has one.

        Without a line the call stays reconciling unless this was the ``last`` reading, when
        it ends ``unknown``. Returns whether the attempt was settled.
        """
        leg = self._legs.get(attempt_id)
        if leg is None or not leg.reconciling:
            return False
        line = None if value is None else ledger.parse(value)
        if line is None:
            if not last:
                return False
            leg.detail = "call not found on the server after the link came back, nor in the ledger"
            self._finish(leg, CallInput.GIVE_UP, Outcome.UNKNOWN)
            return True
        ledger.evidence(line, leg.ev)
        wall0 = leg.wall0.timestamp()
        if line.answered_epoch is not None and leg.t_answer is None:
            leg.t_answer = leg.t0 + max(0.0, line.answered_epoch - wall0)
        if line.member:
            leg.agent = leg.agent or line.member
            if leg.t_connect is None:
                leg.t_connect = leg.t_answer
        if line.amd_status and leg.amd_status is None:
            leg.amd_status = line.amd_status
        if line.ended_epoch is not None:
            leg.t_end = leg.t0 + max(0.0, line.ended_epoch - wall0)
        leg.detail = "outcome read from the ledger after the link came back"
        leg.live.clear()
        self._finish(leg, CallInput.HANGUP)
        return True

    def settle_held(self) -> int:
        """Settle now, with what they have, the ended calls still waiting for a verdict or a
        ``Shutdown`` (the gateway is stopping: no event will come). Returns how many."""
        held = [leg for leg in self._legs.values() if leg.held and not leg.live]
        for leg in held:
            self._finish(leg, CallInput.HANGUP)
        return len(held)

    @staticmethod
    def _settles_without_channel(leg: _Leg) -> bool:
        """Gone from the server, yet its outcome is known (or Asterisk's restart explains it)."""
        ev_ = leg.ev
        return leg.held or ev_.fault is not None or ev_.connected or ev_.machine or ev_.abandoned

    def sweep(self) -> int:
        """Settle attempts whose bounded wait expired; return how many were settled."""
        now = self._clock()
        expired = [leg for leg in self._legs.values() if leg.deadline <= now]
        for leg in expired:
            if leg.held or (leg.response_seen and not leg.reconciling):
                self._finish(leg, CallInput.HANGUP)  # the hang-up event never came
            else:
                leg.detail = leg.detail or "no outcome from Asterisk within the bounded wait"
                self._finish(leg, CallInput.GIVE_UP, Outcome.UNKNOWN)
        return len(expired)

    def _mark_reconciling(self, leg: _Leg) -> None:
        leg.reconciling = True
        leg.deadline = min(leg.deadline, self._clock() + self.reconcile_wait_s)

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

    def _record_cause(self, leg: _Leg, uid: str, cause: int) -> None:
        if cause == 0:
            return
        if uid == leg.partner or (uid == leg.primary and leg.partner is None):
            leg.ev.callee_cause = cause
        if uid == leg.primary:
            leg.ev.leg_cause = cause

    def _ring(self, leg: _Leg) -> None:
        if leg.t_ring is None:
            leg.t_ring = self._clock()
        self._advance(leg, CallInput.RING)

    def _answer(self, leg: _Leg) -> None:
        if leg.t_answer is None:
            leg.t_answer = self._clock()
            leg.deadline = leg.t_answer + self.max_call_s
            if not leg.ev.connected:  # a connect reports itself, with the agent
                self._progress(leg)
        leg.ev.live_answer = True
        self._advance(leg, CallInput.ANSWER)

    def _at(self, leg: _Leg, t: float | None) -> datetime | None:
        return None if t is None else leg.wall0 + timedelta(seconds=t - leg.t0)

    def _progress(self, leg: _Leg) -> None:
        """Report what decides the outcome so far (answered, agent, AMD) to be stored now."""
        if self._on_progress is not None:
            self._on_progress(CallProgress(leg.attempt_id, self._at(leg, leg.t_answer),
                                           self._at(leg, leg.t_connect), leg.agent,
                                           leg.amd_status, leg.req.record_id))  # fmt: skip

    def _advance(self, leg: _Leg, event: CallInput) -> None:
        if leg.state is CallState.QUEUED and event is not CallInput.SENT:
            leg.state = CallState.DIALING  # events may beat the write notification
        try:
            leg.state = apply(leg.attempt_id, leg.state, event)
        except IllegalTransition:
            log.debug("call=%s ignored %s in %s", leg.attempt_id, event, leg.state)

    def _maybe_finish(self, leg: _Leg) -> None:
        if leg.live or (not leg.seen_channel and not leg.response_seen):
            return
        if leg.needs_response and not leg.response_seen and not leg.reconciling:
            return
        if self._hangup_pending(leg):
            leg.deadline = min(leg.deadline, self._clock() + HANGUP_GRACE_S)
            return  # the sweep settles it with what it has if the Hangup never comes
        if leg.held:
            return
        if not leg.needs_response and self._verdict_pending(leg.ev):
            leg.held = True  # the ARI driver: the AMI stream may still bring the verdict
            leg.deadline = min(leg.deadline, self._clock() + VERDICT_GRACE_S)
            return
        if leg.ev.silent and leg.ev.fault is None and before_answer(leg.ev) is not Outcome.FAILED:
            leg.held = True  # a Shutdown may follow and say why; else the sweep settles it
            leg.deadline = min(leg.deadline, self._clock() + SHUTDOWN_GRACE_S)
            return
        self._finish(leg, CallInput.HANGUP)

    @staticmethod
    def _verdict_pending(ev_: Evidence) -> bool:
        """Answered, ended, and nothing yet says machine, agent or abandoned."""
        answered = ev_.live_answer or ev_.reason == 4 or ev_.dial_status == "ANSWER"
        return answered and not (ev_.connected or ev_.machine or ev_.abandoned or ev_.cancelled)

    def _release(self, leg: _Leg) -> None:
        """A held leg got its verdict: it ends now if its channels are gone."""
        if leg.held and not leg.live and leg.attempt_id in self._legs:
            self._finish(leg, CallInput.HANGUP)

    @staticmethod
    def _hangup_pending(leg: _Leg) -> bool:
        """A failed Originate answered before its own channel's Hangup arrived."""
        return (
            leg.response_seen
            and leg.ev.reason != 4
            and not leg.reconciling
            and leg.primary is not None
            and leg.primary not in leg.hung
            and not leg.ev.rejected
        )

    def _finish(self, leg: _Leg, final: CallInput, outcome: Outcome | None = None) -> None:
        if self._legs.pop(leg.attempt_id, None) is None:
            return
        self._forget(leg)
        sent = leg.state is not CallState.QUEUED
        self._advance(leg, final)
        self._on_result(self._result(leg, outcome or decide(leg.ev), sent=sent))

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

        def at(t: float | None) -> datetime | None:
            return None if t is None else leg.wall0 + timedelta(seconds=t - leg.t0)

        def span(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else max(0.0, b - a)

        cause = leg.ev.callee_cause or leg.ev.leg_cause or None
        fault = leg.ev.fault if outcome is Outcome.FAILED else None
        detail = leg.detail if fault is None else f"{fault}: {_FAULT_DETAIL[fault]}"
        return AttemptResult(
            attempt_id=leg.attempt_id,
            campaign_id=req.campaign_id,
            record_id=req.record_id,
            outcome=outcome,
            cause=cause,
            server=leg.server,
            caller_id=req.caller_id_number,
            agent=leg.agent,
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
            amd_status=leg.amd_status,
            dial_status=leg.ev.dial_status or None,
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
                leg.agent,
                leg.reconciling,
            )
            for a, leg in self._legs.items()
        }

    def answered_count(self) -> int:
        """Attempts currently answered or talking (they hold a channel)."""
        return sum(1 for leg in self._legs.values() if leg.t_answer is not None)
