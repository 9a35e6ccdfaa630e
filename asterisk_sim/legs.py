"""Call legs: what a dial creates, and the exact event sequences of ringing, answer and hangup.

A *leg* is the far side of one dial: a Local pair (``;1`` faces the dialler, ``;2`` runs the
carrier or member dialplan) or a single PJSIP channel whose behaviour was drawn in advance
(:class:`SipPlan`). The dialler (an originate or a queue) gets callbacks through the
:class:`Dialer` protocol. The hangup sequences reproduce the traces: which half reports which
cause, and in which order the Hangup/HangupRequest/Cdr events come. This module must not pick
outcomes (the world draws plans) nor run dialplan steps (the runner does).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from asterisk_sim.channels import Channel, ChanState

if TYPE_CHECKING:
    from asterisk_sim.world import World


class Dialer(Protocol):
    """Who dialled a leg: an originate or a queue caller."""

    def leg_ringing(self, leg: Leg) -> None: ...

    def leg_answered(self, leg: Leg) -> None: ...

    def leg_failed(self, leg: Leg, dialstatus: str, reason: int) -> None: ...

    def leg_far_hangup(self, leg: Leg) -> None: ...


@dataclasses.dataclass(frozen=True, slots=True)
class SipPlan:
    """What the network will do with one PJSIP dial, drawn once from the seeded world."""

    outcome: str  # live | machine | agent | no_answer | busy | congestion | failure
    post_dial_delay: float
    ring_time: float
    hold_time: float | None  # after answer, when the far end hangs up (None: never)
    amd_time: float = 2.0
    jitter_ms: float = 0.0
    loss_pct: float = 0.0
    rtt_ms: float = 0.0


class Leg:
    """Common state of a leg: the channel facing the dialler, the dial string, the dialler."""

    chan: Channel

    def __init__(self, world: World, dialer: Dialer, dialstring: str, caller: Channel | None):
        self.world = world
        self.dialer = dialer
        self.dialstring = dialstring
        self.caller = caller
        self.answered = False
        self.done = False
        self.outcome = ""
        # Dial's U() subroutine: runs on the answered channel before DialEnd ANSWER and the
        # bridge, as app_dial does (asterisk_sim.directdial)
        self.pre_bridge: Callable[[Leg], None] | None = None

    def dial_event(self, name: str, status: str | None) -> None:
        tail = (
            f"DialString: {self.dialstring}\r\n" if status is None else f"DialStatus: {status}\r\n"
        )
        self.world.emit.dial(name, self.chan, self.caller, tail, status or "", self.dialstring)

    def _release(self, *chans: Channel) -> None:
        for ch in chans:
            self.world.channels.remove(ch)

    # The interface every leg implements.
    def start(self) -> None:
        raise NotImplementedError

    def cancel(self, cause: int) -> None:
        """The dialler gives up before answer (timeout, another member answered)."""
        raise NotImplementedError

    def near_hangup(
        self, cause: int = 16, soft: int = 16, react: Callable[[], None] | None = None
    ) -> None:
        """Our side hangs up an answered leg (dialplan Hangup, AMI Hangup, ARI DELETE)."""
        raise NotImplementedError


class LocalLeg(Leg):
    """A ``Local/<exten>@<context>`` pair: ``one`` (;1) faces the dialler, ``two`` (;2) dials."""

    def __init__(
        self,
        world: World,
        dialer: Dialer,
        exten: str,
        context: str,
        caller: Channel | None,
        variables: tuple[tuple[str, str], ...],
        callerid: tuple[str, str] | None,
        ids: tuple[str | None, str | None] = (None, None),
        dial_app: str = "AppDial2",
        suffix: str = "",
    ) -> None:
        super().__init__(world, dialer, f"{exten}@{context}", caller)
        reg = world.channels
        base = f"Local/{exten}@{context}-{reg.next_suffix()}"
        uid1 = ids[0] or reg.next_uniqueid()
        uid2 = ids[1] or (f"{ids[0]};2" if ids[0] else reg.next_uniqueid())
        now, wall = world.mono(), world.sim_now()
        self.one = Channel(
            f"{base};1", uid1, uid1, ChanState.DOWN, context, exten, "Local", now, wall
        )
        self.two = Channel(
            f"{base};2", uid2, uid1, ChanState.RING, context, exten, "Local", now, wall
        )
        self.one.peer, self.two.peer = self.two, self.one
        self.one.owner = self.two.owner = self
        self.chan = self.one
        self.exten, self.context = exten, context
        self.variables = variables
        self.callerid = callerid
        self.dial_app = dial_app
        self.subscribe_one: str | None = None
        self.dialstring = (
            f"{exten}@{context}{suffix}" if caller is None else f"Local/{exten}@{context}{suffix}"
        )

    def start(self) -> None:
        w, e, one, two = self.world, self.world.emit, self.one, self.two
        w.channels.add(one)
        w.channels.add(two)
        e.newchannel(one)
        e.newchannel(two)
        e.newexten(one, self.dial_app, "(Outgoing Line)")
        for var, value in reversed(self.variables):
            e.assign(one, var, value)
        if self.callerid is not None:
            one.set_callerid(*self.callerid)
            e.newcallerid(one)
            one.set_connected(*self.callerid)
            e.newconnectedline(one)
        if self.subscribe_one is not None:
            one.ari_app = self.subscribe_one
        for var, value in self.variables:
            if not var.endswith(")"):  # a function applies to the originated half only
                e.varset(two, var, value)
        if self.callerid is not None:
            two.set_callerid(*self.callerid)
            two.set_connected(*self.callerid)
            e.newcallerid(two)
            e.newconnectedline(two)
        if w.dialplan.lookup(self.context, self.exten) is None:
            self._no_extension()
            return
        e.local_bridge(one, two)
        self.dial_event("DialBegin", None)
        w.runner.start_callee(self, two, self.context, self.exten)

    def _no_extension(self) -> None:
        e = self.world.emit
        self.done = True
        self.outcome = "failed"
        e.hangup(self.two, 0)
        self.one.disposition = self.two.disposition = "FAILED"
        e.cdr(self.two)
        e.cdr(self.one)
        self._release(self.two)
        self.dialer.leg_failed(self, "", 0)
        e.hangup(self.one, 0)
        self._release(self.one)

    # -- what the callee half (;2) does -----------------------------------------------------
    def remote_ringing(self) -> None:
        if self.one.state is ChanState.DOWN:
            self.one.set_state(ChanState.RINGING)
            self.world.emit.newstate(self.one)
        self.dial_event("DialState", "RINGING")
        self.dialer.leg_ringing(self)

    def remote_answer(self) -> None:
        e, now = self.world.emit, self.world.sim_now()
        if self.two.state is not ChanState.UP:
            self.two.set_state(ChanState.UP)
            self.two.answered_at = now
            e.newstate(self.two)
        if self.answered or self.done:
            return
        self.answered = True
        self.one.set_state(ChanState.UP)
        self.one.answered_at = now
        e.newstate(self.one)
        if self.pre_bridge is not None:
            self.pre_bridge(self)
        self.dial_event("DialEnd", "ANSWER")
        self.dialer.leg_answered(self)

    def remote_busy(self, status: str) -> None:
        """Busy() or Congestion() on ;2 before answer."""
        e, one, two = self.world.emit, self.one, self.two
        cause, reason = (17, 5) if status == "BUSY" else (34, 8)
        self.done = True
        self.outcome = "busy" if status == "BUSY" else "congestion"
        two.set_state(ChanState.BUSY)
        e.newstate(two)
        self.dial_event("DialEnd", status)
        e.hangup_request(two, 0)
        self.dialer.leg_failed(self, status, reason)
        one.disposition = two.disposition = status
        e.cdr(one)
        e.hangup(one, 0)
        e.soft_hangup_request(two, 16)
        e.hangup(two, cause)
        e.cdr(two)
        self._release(one, two)

    def remote_hangup(self, cause: int) -> None:
        """Hangup() on ;2 (or the end of its dialplan)."""
        if self.done:
            return
        if not self.answered:
            self._remote_fail(cause or 16)
            return
        e, one, two = self.world.emit, self.one, self.two
        self.done = True
        e.soft_hangup_request(two, 16)
        e.hangup_request(one, 16)
        e.hangup(two, 16)
        e.cdr(two)
        self._release(two)
        self.dialer.leg_far_hangup(self)
        if not one.gone:
            e.hangup(one, 16)
            e.cdr(one)
            self._release(one)

    def _remote_fail(self, cause: int) -> None:
        e, one, two = self.world.emit, self.one, self.two
        self.done = True
        status = "CONGESTION" if cause == 34 else "BUSY" if cause == 17 else "CHANUNAVAIL"
        self.outcome = "congestion" if cause == 34 else "failed"
        e.soft_hangup_request(two, 16)
        e.hangup_request(one, cause)
        self.dial_event("DialEnd", status)
        self.dialer.leg_failed(self, status, 0)
        one.disposition = two.disposition = "CONGESTION" if cause == 34 else "FAILED"
        e.cdr(one)
        e.cdr(two)
        e.hangup(one, cause)
        e.hangup(two, cause)
        self._release(one, two)

    # -- what the dialler side does ---------------------------------------------------------
    def cancel(self, cause: int) -> None:
        if self.done:
            return
        e, one, two = self.world.emit, self.one, self.two
        self.done = True
        self.world.runner.abort(two)
        e.hangup_request(two, cause)
        one.disposition = two.disposition = "NO ANSWER"
        e.cdr(one)
        e.cdr(two)
        e.hangup(one, cause)
        e.soft_hangup_request(two, 16)
        e.hangup(two, cause)
        self._release(one, two)

    def near_hangup(
        self, cause: int = 16, soft: int = 16, react: Callable[[], None] | None = None
    ) -> None:
        if self.done:
            return
        e, one, two = self.world.emit, self.one, self.two
        self.done = True
        self.world.runner.abort(two)
        e.soft_hangup_request(one, soft)
        if react is not None:
            react()
        e.hangup_request(two, cause)
        e.hangup(one, cause)
        e.soft_hangup_request(two, 16)
        e.hangup(two, cause)
        e.cdr(one)
        e.cdr(two)
        self._release(one, two)


class SipLeg(Leg):
    """One PJSIP channel (a trunk call or an agent's phone) following a drawn :class:`SipPlan`."""

    def __init__(
        self,
        world: World,
        dialer: Dialer,
        endpoint: str,
        resource: str,
        plan: SipPlan,
        caller: Channel | None,
        variables: tuple[tuple[str, str], ...],
        callerid: tuple[str, str] | None,
        uniqueid: str | None = None,
        dial_app: str = "AppDial2",
    ) -> None:
        dialstring = f"{resource}@{endpoint}" if resource else endpoint
        super().__init__(
            world, dialer, dialstring if caller is None else f"PJSIP/{dialstring}", caller
        )
        reg = world.channels
        uid = uniqueid or reg.next_uniqueid()
        name = f"PJSIP/{endpoint}-{reg.next_suffix()}"
        self.chan = Channel(
            name,
            uid,
            uid,
            ChanState.DOWN,
            "default",
            resource or "s",
            "PJSIP",
            world.mono(),
            world.sim_now(),
        )
        self.chan.owner = self
        self.endpoint = endpoint
        self.plan = plan
        self.variables = variables
        self.callerid = callerid
        self.dial_app = dial_app
        self._timer: object | None = None

    def start(self) -> None:
        w, e, ch = self.world, self.world.emit, self.chan
        w.channels.add(ch)
        e.newchannel(ch)
        e.newexten(ch, self.dial_app, "(Outgoing Line)")
        for var, value in reversed(self.variables):
            e.assign(ch, var, value)
        if self.callerid is not None:
            ch.set_callerid(*self.callerid)
            e.newcallerid(ch)
            ch.set_connected(*self.callerid)
            e.newconnectedline(ch)
        self.dial_event("DialBegin", None)
        self._timer = w.later(self.plan.post_dial_delay, self._progress)

    def _progress(self) -> None:
        if self.done:
            return
        outcome = self.plan.outcome
        if outcome in ("busy", "congestion", "failure"):
            self._reject(outcome)
            return
        ch = self.chan
        ch.set_state(ChanState.RINGING)
        self.world.emit.newstate(ch)
        self.dial_event("DialState", "RINGING")
        self.dialer.leg_ringing(self)
        if outcome != "no_answer":
            self._timer = self.world.later(self.plan.ring_time, self._answer)

    def _reject(self, outcome: str) -> None:
        e, ch = self.world.emit, self.chan
        status, reason, cause, dispo = {
            "busy": ("BUSY", 5, 17, "BUSY"),
            "congestion": ("CONGESTION", 8, 34, "CONGESTION"),
            "failure": ("CHANUNAVAIL", 0, 1, "FAILED"),
        }[outcome]
        self.done = True
        self.outcome = "failed" if outcome == "failure" else outcome
        self.dial_event("DialEnd", status)
        e.hangup_request(ch, cause)
        self.dialer.leg_failed(self, status, reason)
        ch.disposition = dispo
        e.hangup(ch, cause)
        e.cdr(ch)
        self._release(ch)

    def _answer(self) -> None:
        if self.done:
            return
        e, ch = self.world.emit, self.chan
        self.answered = True
        ch.set_state(ChanState.UP)
        ch.answered_at = self.world.sim_now()
        e.newstate(ch)
        if self.pre_bridge is not None:
            self.pre_bridge(self)
        self.dial_event("DialEnd", "ANSWER")
        if self.plan.hold_time is not None:
            self._timer = self.world.later(self.plan.hold_time, self.far_hangup)
        if self.caller is None and self.world.config.rtcp_interval > 0:
            self.world.later(self.world.config.rtcp_interval, self._rtcp)
        self.dialer.leg_answered(self)

    def _rtcp(self) -> None:
        if self.done or self.chan.gone:
            return
        self.world.emit_rtcp(self.chan, self.plan)
        self.world.later(self.world.config.rtcp_interval, self._rtcp)

    def far_hangup(self) -> None:
        """The callee (or the agent) hangs up an answered call."""
        if self.done:
            return
        e, ch = self.world.emit, self.chan
        self.done = True
        e.hangup_request(ch, 16)
        self.dialer.leg_far_hangup(self)
        e.hangup(ch, 16)
        e.cdr(ch)
        self._release(ch)

    def cancel(self, cause: int) -> None:
        if self.done:
            return
        e, ch = self.world.emit, self.chan
        self.done = True
        self.outcome = "no_answer"
        e.hangup_request(ch, cause)
        ch.disposition = "NO ANSWER"
        e.hangup(ch, cause)
        e.cdr(ch)
        self._release(ch)

    def near_hangup(
        self, cause: int = 16, soft: int = 16, react: Callable[[], None] | None = None
    ) -> None:
        if self.done:
            return
        e, ch = self.world.emit, self.chan
        self.done = True
        e.soft_hangup_request(ch, soft)
        if react is not None:
            react()
        e.hangup(ch, cause)
        e.cdr(ch)
        self._release(ch)
