"""``Dial()`` of one queue member's interface: how an agent-only callback reaches its agent.

The production dialplan (``asterisk_conf/extensions.conf``, ``dialer-outbound`` priority
``agent``) dials ``${DIALER_AGENT_INTERFACE}`` with a timeout and Dial's ``U()`` option, whose
subroutine (``dialer-agent-connect``, :data:`asterisk_sim.dialplan.AGENT_CONNECT`) runs on the
agent's channel once it answers. This follows what Asterisk 22 does on that path:

- app_dial, not app_queue, places the call: ``DialBegin``/``DialEnd`` name the caller, there is
  no ``AgentCalled``/``AgentConnect``/``AgentComplete``; ``DIALSTATUS`` is set on the caller
  (ANSWER, NOANSWER after the timeout, BUSY, CHANUNAVAIL);
- the member's queues see only its device state: a ``QueueMemberStatus`` per queue it is in
  (ringing, in use, free again) with ``InCall: 0`` and ``CallsTaken`` unchanged, and no wrap-up
  afterwards (app_queue applies wrap-up only after its own calls);
- the queue's pause and the member's wrap-up do not stop Dial().

Simplifications: an interface that is no logged-in member of any queue is CHANUNAVAIL (the
simulator has no phones outside its queues), and a member already ringing or talking is BUSY
(its phone has no call waiting). This module must not parse AMI.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

from asterisk_sim.dialplan import AGENT_CONNECT, substitute
from asterisk_sim.queues import AgentState, Member

if TYPE_CHECKING:
    from asterisk_sim.legs import Leg
    from asterisk_sim.runner import Exec
    from asterisk_sim.world import World

_GOSUB = re.compile(r"U\(([^)]*)\)")
_MASTER_SET = re.compile(r"MASTER_CHANNEL\(([A-Za-z0-9_]+)\)=(.*)")


def parse_dial(data: str) -> tuple[str, float, tuple[str, ...]]:
    """``iface,timeout,options`` → the interface, the timeout (s, 0: none) and the ``U()``
    subroutine with its arguments (``context^arg1^…``; empty without one)."""
    interface, _, rest = data.partition(",")
    timeout, _, options = rest.partition(",")
    try:
        seconds = float(timeout) if timeout else 0.0
    except ValueError:
        seconds = 0.0
    gosub = _GOSUB.search(options)
    return interface, seconds, tuple(gosub.group(1).split("^")) if gosub else ()


class DirectDial:
    """A caller in ``Dial()`` of a member interface; the :class:`~asterisk_sim.legs.Dialer` of
    the member's leg."""

    def __init__(self, world: World, ex: Exec, data: str) -> None:
        self.world = world
        self.ex = ex
        self.caller = ex.chan
        self.interface, self.timeout_s, self.gosub = parse_dial(data)
        self.members: list[Member] = []
        self.leg: Leg | None = None
        self.connected = False
        self.timer: asyncio.TimerHandle | None = None

    # -- the dial -----------------------------------------------------------------------------
    def start(self) -> None:
        queues = self.world.queues.queues
        self.members = [
            q.members[self.interface]
            for q in queues.values()
            if self.interface in q.members
            and q.members[self.interface].state is not AgentState.LOGGED_OUT
        ]
        if not self.members:
            self._done("CHANUNAVAIL")
            return
        if any(m.state in (AgentState.RINGING, AgentState.TALKING) for m in self.members):
            self._done("BUSY")
            return
        before = self._statuses()
        for m in self.members:
            m.apply("ring")
            m.direct = True
        leg = self.leg = self.world.member_leg(self, self.members[0], self.caller, "AppDial")
        leg.pre_bridge = self._subroutine
        leg.dialstring = self.interface.partition("/")[2]  # app_dial's DialString: no TECH/
        self.ex.mode = "dial"
        self.ex.queue_call = self
        if self.timeout_s > 0:
            self.timer = self.world.later(self.timeout_s, self._timeout)
        leg.start()  # DialBegin first: the device state follows the new channel
        if not leg.done:
            self._status_changes(before)

    def _statuses(self) -> list[int]:
        return [m.status for m in self.members]

    def _status_changes(self, before: list[int]) -> None:
        """A ``QueueMemberStatus`` per queue whose member's device status changed: app_queue
        sends one on a device state change, not on every step of a call it did not place (a
        Local member is in use from ringing to hang-up: one event, after the answer)."""
        for m, old in zip(self.members, before, strict=True):
            if m.status != old:
                self.world.emit.raw("QueueMemberStatus", "agent,all", m.fields())

    def _members(self, event: str) -> None:
        """Every queue the member is in sees its device change."""
        before = self._statuses()
        for m in self.members:
            if event == "cancel" and m.state is not AgentState.RINGING:
                continue
            if event == "end" and m.state is not AgentState.TALKING:
                continue
            m.apply(event)
            m.direct = event == "answer"
        self._status_changes(before)

    def _done(self, dialstatus: str) -> None:
        """Dial() returns: DIALSTATUS on the caller, which runs on."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.world.emit.varset(self.caller, "DIALSTATUS", dialstatus)
        self.ex.queue_call = None
        self.world.runner.resume(self.ex)

    def _timeout(self) -> None:
        self.timer = None
        if self.connected or self.caller.gone or self.leg is None:
            return
        self.leg.dial_event("DialEnd", "NOANSWER")
        self.leg.cancel(0)
        self._members("cancel")
        self._redistribute()
        self._done("NOANSWER")

    def _redistribute(self) -> None:
        for m in self.members:
            queue = self.world.queues.queues.get(m.queue)
            if queue is not None:
                self.world.queues.distribute(queue)

    # -- the member's leg (legs.Dialer) -------------------------------------------------------
    def leg_ringing(self, leg: Leg) -> None:
        return None

    def leg_answered(self, leg: Leg) -> None:
        if self.connected or self.caller.gone:
            leg.near_hangup(26)
            return
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.connected = True  # the U() subroutine ran already (leg.pre_bridge)
        self.world.emit.varset(self.caller, "DIALSTATUS", "ANSWER")
        self.world.agent_connects.add(self.caller.linkedid)
        self.world.agent_connected_at[self.caller.linkedid] = self.world.mono()
        self._members("answer")
        self.ex.mode = "bridge"

    def _subroutine(self, leg: Leg) -> None:
        """Dial's ``U()``: the subroutine on the agent's channel, its arguments as ARG1…"""
        if not self.gosub or self.gosub[0] != "dialer-agent-connect":
            return
        args = {f"ARG{i}": a for i, a in enumerate(self.gosub[1:], start=1)}
        for step in AGENT_CONNECT:
            data = substitute(step.data, args)
            self.world.emit.newexten(leg.chan, step.app, data)
            if step.app == "UserEvent":
                name, *pairs = data.split(",")
                fields = [(k, v) for k, _, v in (p.partition(": ") for p in pairs)]
                self.world.emit.user_event(leg.chan, name, fields)
            elif step.app == "Set" and (m := _MASTER_SET.fullmatch(data)) is not None:
                self.world.emit.varset(self.caller, m.group(1), m.group(2))

    def leg_failed(self, leg: Leg, dialstatus: str, reason: int) -> None:
        if self.connected:
            return
        self._members("cancel")
        self._redistribute()
        if not self.caller.gone:
            self._done(dialstatus or "CHANUNAVAIL")

    def leg_far_hangup(self, leg: Leg) -> None:
        """The agent hung up: Dial() returns (DIALSTATUS ANSWER), the caller runs on."""
        if not self.connected:
            return
        self._end()
        self.caller.variables["__CONNECTED"] = "1"
        self.ex.queue_call = None
        self.world.runner.resume(self.ex)

    def _end(self) -> None:
        self.connected = False
        self._members("end")
        self._redistribute()

    # -- the caller ---------------------------------------------------------------------------
    def caller_gone(self) -> None:
        """The callee hung up while the agent rang or talked."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        leg = self.leg
        if leg is None:
            return
        if self.connected:
            self._end()
            leg.near_hangup(16)
            return
        leg.dial_event("DialEnd", "CANCEL")
        leg.cancel(0)
        self._members("cancel")
        self._redistribute()
