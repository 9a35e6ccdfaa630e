"""Queues and agents: members log in and out, pause, ring, talk and wrap up (strategy ringall).

Each member's availability is a small state machine (:class:`AgentState`, ``_TRANSITIONS``,
:meth:`Member.apply`). A caller in ``Queue()`` is a :class:`QueueCall`, which dials every free
member at once and acts as the :class:`~asterisk_sim.legs.Dialer` of those member legs. The event
sequences follow the traces (QueueCallerJoin, AgentCalled, QueueMemberStatus, QueueCallerLeave,
AgentConnect, AgentComplete, QueueCallerAbandon). This module must not parse AMI.
"""

from __future__ import annotations

import asyncio
import enum
import uuid
from typing import TYPE_CHECKING

from asterisk_sim.config import QueueConfig
from asterisk_sim.errors import IllegalTransition
from asterisk_sim.legs import Leg, LocalLeg, SipLeg, SipPlan

if TYPE_CHECKING:
    from asterisk_sim.runner import Exec
    from asterisk_sim.world import World


class AgentState(enum.StrEnum):
    LOGGED_OUT = "logged_out"
    IDLE = "idle"
    RINGING = "ringing"
    TALKING = "talking"
    WRAPUP = "wrapup"


_TRANSITIONS: dict[tuple[AgentState, str], AgentState] = {
    (AgentState.LOGGED_OUT, "login"): AgentState.IDLE,
    (AgentState.IDLE, "ring"): AgentState.RINGING,
    (AgentState.RINGING, "answer"): AgentState.TALKING,
    (AgentState.RINGING, "cancel"): AgentState.IDLE,
    (AgentState.TALKING, "hangup"): AgentState.WRAPUP,
    # a Dial() of the member (asterisk_sim.directdial): its device rings even in wrap-up, and
    # app_queue applies no wrap-up after a call it did not place
    (AgentState.WRAPUP, "ring"): AgentState.RINGING,
    (AgentState.TALKING, "end"): AgentState.IDLE,
    (AgentState.WRAPUP, "ready"): AgentState.IDLE,
    (AgentState.IDLE, "logout"): AgentState.LOGGED_OUT,
    (AgentState.WRAPUP, "logout"): AgentState.LOGGED_OUT,
    (AgentState.RINGING, "logout"): AgentState.LOGGED_OUT,
    (AgentState.TALKING, "logout"): AgentState.LOGGED_OUT,
}


class Member:
    """A queue member (an agent's phone)."""

    def __init__(self, queue: str, interface: str, name: str, dynamic: bool, now: int) -> None:
        self.queue = queue
        self.interface = interface
        self.name = name
        self.state_interface = interface.removesuffix("/n")
        self.membership = "dynamic" if dynamic else "static"
        self.calls_taken = 0
        self.last_call = 0
        self.last_pause = 0
        self.login_time = now
        self.paused = False
        self.paused_reason = ""
        self.penalty = 0
        self.wrapup = 0  # the member's own wrap-up, as its events report it (0: the queue's)
        self.queue_wrapup = 0
        self.state = AgentState.LOGGED_OUT
        self.is_local = interface.startswith("Local/")
        self.direct = False  # ringing/talking through Dial(), not the queue: InCall stays 0

    def apply(self, event: str) -> AgentState:
        try:
            self.state = _TRANSITIONS[(self.state, event)]
        except KeyError:
            raise IllegalTransition(f"member {self.name}", self.state, event) from None
        return self.state

    @property
    def status(self) -> int:
        if self.state is AgentState.LOGGED_OUT:
            return 5
        if self.state is AgentState.RINGING:
            return 2 if self.is_local else 6
        return 2 if self.state is AgentState.TALKING else 1

    @property
    def in_call(self) -> bool:
        """app_queue's ``InCall``: on a call the queue connected (not one Dial() placed)."""
        return self.state is AgentState.TALKING and not self.direct

    @property
    def free(self) -> bool:
        return self.state is AgentState.IDLE and not self.paused

    @property
    def applied_wrapup(self) -> int:
        """What Asterisk applies after a call: the member's own wrap-up, else the queue's."""
        return self.wrapup if self.wrapup > 0 else self.queue_wrapup

    def fields(self) -> str:
        """QueueMemberStatus/Added/Pause/Removed body (MemberName/Interface naming)."""
        return (
            f"Queue: {self.queue}\r\nMemberName: {self.name}\r\nInterface: {self.interface}\r\n"
            f"StateInterface: {self.state_interface}\r\nMembership: {self.membership}\r\n"
            f"Penalty: {self.penalty}\r\nCallsTaken: {self.calls_taken}\r\n"
            f"LastCall: {self.last_call}\r\n"
            f"LastPause: {self.last_pause}\r\nLoginTime: {self.login_time}\r\n"
            f"InCall: {int(self.in_call)}\r\nStatus: {self.status}\r\n"
            f"Paused: {int(self.paused)}\r\nPausedReason: {self.paused_reason}\r\n"
            f"Ringinuse: 0\r\nWrapuptime: {self.wrapup}\r\n"
        )

    def status_item(self) -> list[tuple[str, str]]:
        """QueueStatus ``QueueMember`` item (Name/Location naming)."""
        return [
            ("Queue", self.queue),
            ("Name", self.name),
            ("Location", self.interface),
            ("StateInterface", self.state_interface),
            ("Membership", self.membership),
            ("Penalty", str(self.penalty)),
            ("CallsTaken", str(self.calls_taken)),
            ("LastCall", str(self.last_call)),
            ("LastPause", str(self.last_pause)),
            ("LoginTime", str(self.login_time)),
            ("InCall", str(int(self.in_call))),
            ("Status", str(self.status)),
            ("Paused", str(int(self.paused))),
            ("PausedReason", self.paused_reason),
            ("Wrapuptime", str(self.wrapup)),
        ]


class Queue:
    """One queue: members, waiting callers and statistics."""

    def __init__(self, config: QueueConfig) -> None:
        self.config = config
        self.name = config.name
        self.members: dict[str, Member] = {}
        self.waiting: list[QueueCall] = []
        self.completed = 0
        self.abandoned = 0
        self.holdtime_total = 0.0
        self.talktime_total = 0.0

    def logged_in(self) -> list[Member]:
        return [m for m in self.members.values() if m.state is not AgentState.LOGGED_OUT]


class QueueCall:
    """A caller waiting in (or connected through) a queue; dials members as a Dialer."""

    def __init__(self, world: World, ex: Exec, queue: Queue, timeout: float) -> None:
        self.world = world
        self.ex = ex
        self.caller = ex.chan
        self.queue = queue
        self.joined_at = world.mono()
        self.position = len(queue.waiting) + 1
        self.ringing: dict[Leg, Member] = {}
        self.connected: tuple[Leg, Member] | None = None
        self.connected_at = 0.0
        self.timer: asyncio.TimerHandle | None = world.later(timeout, self.timeout)
        self.ring_started = 0.0

    # -- events ------------------------------------------------------------------------------
    def _caller_event(self, name: str, extra: str) -> None:
        self.world.emit.chan(name, self.caller, f"Queue: {self.queue.name}\r\n{extra}", "agent,all")

    def _agent_event(self, name: str, leg: Leg, member: Member, extra: str = "") -> None:
        emit = self.world.emit
        if emit.ami.wants(name):
            emit.raw(
                name,
                "agent,all",
                f"{self.caller.block()}{leg.chan.block('Dest')}Queue: {self.queue.name}\r\n"
                f"Interface: {member.interface}\r\nMemberName: {member.name}\r\n{extra}",
            )

    def _member_status(self, member: Member) -> None:
        self.world.emit.raw("QueueMemberStatus", "agent,all", member.fields())

    def hold_time(self) -> int:
        return int((self.world.mono() - self.joined_at) / self.world.config.time_scale)

    # -- ringing members ----------------------------------------------------------------------
    def ring(self, member: Member) -> None:
        member.apply("ring")
        leg = self.world.member_leg(self, member, self.caller)
        self.ringing[leg] = member
        self.ring_started = self.world.mono()
        leg.start()
        if not leg.done:
            self._agent_event("AgentCalled", leg, member)
            self._member_status(member)

    def leg_ringing(self, leg: Leg) -> None:
        return None

    def leg_answered(self, leg: Leg) -> None:
        member = self.ringing.pop(leg, None)
        if member is None or self.connected is not None or self.caller.gone:
            leg.near_hangup(26)
            return
        self._stop_ringing(26)
        if self.timer is not None:
            self.timer.cancel()
        self._leave()
        self.connected = (leg, member)
        self.connected_at = self.world.mono()
        # app_queue bridges the caller with the member's channel: CoreShowChannels and Status
        # show both with the bridge's id (what a reconcile names the agent of a call from)
        self.caller.bridge_id = leg.chan.bridge_id = str(uuid.uuid4())
        # as app_queue does on the caller once a member answers (the ledger's `m:` field)
        self.world.emit.varset(self.caller, "MEMBERINTERFACE", member.interface)
        self.world.emit.varset(self.caller, "MEMBERNAME", member.name)
        self.world.agent_connects.add(self.caller.linkedid)
        member.apply("answer")
        hold = self.hold_time()
        ring = int((self.world.mono() - self.ring_started) / self.world.config.time_scale)
        self.queue.holdtime_total += hold
        self.world.agent_connected_at[self.caller.linkedid] = self.world.mono()
        self._agent_event("AgentConnect", leg, member, f"HoldTime: {hold}\r\nRingTime: {ring}\r\n")
        self._member_status(member)
        self.ex.mode = "bridge"

    def leg_failed(self, leg: Leg, dialstatus: str, reason: int) -> None:
        member = self.ringing.pop(leg, None)
        if member is not None and member.state is AgentState.RINGING:
            member.apply("cancel")
            self._member_status(member)
        if not self.ringing and self.connected is None and not self.caller.gone:
            self.world.later(1.0, self.world.queues.distribute, self.queue)

    def leg_far_hangup(self, leg: Leg) -> None:
        """The agent hung up: AgentComplete (agent), the caller continues its dialplan."""
        if self.connected is None:
            return
        self._complete("agent")
        self.caller.variables["__CONNECTED"] = "1"
        self.world.runner.resume(self.ex)

    # -- the caller ---------------------------------------------------------------------------
    def timeout(self) -> None:
        self.timer = None
        if self.connected is not None or self.caller.gone:
            return
        self._stop_ringing(0)
        self._leave()
        self.world.emit.varset(self.caller, "QUEUESTATUS", "TIMEOUT")
        self.world.runner.resume(self.ex)

    def caller_gone(self) -> None:
        """The caller hung up while waiting (abandon) or while talking (AgentComplete caller)."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.connected is not None:
            leg, _ = self.connected
            self._complete("caller")
            leg.near_hangup(16)
            return
        if self not in self.queue.waiting:
            return
        self._stop_ringing(0)
        self.queue.abandoned += 1
        self._caller_event(
            "QueueCallerAbandon",
            f"Position: {self.position}\r\nOriginalPosition: {self.position}\r\n"
            f"HoldTime: {self.hold_time()}\r\n",
        )
        self._leave()

    def _leave(self) -> None:
        if self in self.queue.waiting:
            self.queue.waiting.remove(self)
            self._caller_event(
                "QueueCallerLeave",
                f"Position: {self.position}\r\nCount: {len(self.queue.waiting)}\r\n",
            )

    def _stop_ringing(self, cause: int) -> None:
        for leg, member in list(self.ringing.items()):
            leg.dial_event("DialEnd", "CANCEL")
            leg.cancel(cause)
            if member.state is AgentState.RINGING:
                member.apply("cancel")
                self._member_status(member)
        self.ringing.clear()

    def _complete(self, reason: str) -> None:
        assert self.connected is not None
        leg, member = self.connected
        self.connected = None
        self.caller.bridge_id = leg.chan.bridge_id = ""
        talk = int((self.world.mono() - self.connected_at) / self.world.config.time_scale)
        self.queue.completed += 1
        self.queue.talktime_total += talk
        self._agent_event(
            "AgentComplete",
            leg,
            member,
            f"HoldTime: {self.hold_time() - talk}\r\nTalkTime: {talk}\r\nReason: {reason}\r\n",
        )
        if member.state is AgentState.TALKING:
            member.apply("hangup")
            member.calls_taken += 1
            member.last_call = int(self.world.sim_now())
            self._member_status(member)
            self.world.later(member.applied_wrapup, self.world.queues.wrapped_up, member)


class Queues:
    """All queues of a world, and the agent operations of the public API."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.queues: dict[str, Queue] = {}

    def configure(self, configs: tuple[QueueConfig, ...]) -> None:
        now = int(self.world.sim_now())
        for cfg in configs:
            queue = Queue(cfg)
            self.queues[cfg.name] = queue
            for agent in cfg.agents:
                member = Member(cfg.name, agent.member_interface, agent.member_name, False, now)
                member.wrapup = int(agent.wrapup)
                member.queue_wrapup = int(cfg.wrapup)
                queue.members[member.interface] = member
                if agent.logged_in:
                    member.apply("login")

    # -- callers ------------------------------------------------------------------------------
    def enter(self, ex: Exec, name: str, timeout: float) -> None:
        queue = self.queues.get(name)
        emit = self.world.emit
        if queue is None or not queue.logged_in():
            emit.varset(ex.chan, "QUEUESTATUS", "UNKNOWN" if queue is None else "JOINEMPTY")
            self.world.runner.resume(ex)
            return
        call = QueueCall(self.world, ex, queue, timeout)
        ex.queue_call = call
        queue.waiting.append(call)
        call._caller_event(
            "QueueCallerJoin", f"Position: {call.position}\r\nCount: {len(queue.waiting)}\r\n"
        )
        self.distribute(queue)

    def distribute(self, queue: Queue) -> None:
        """Offer waiting callers to free members, by the queue's strategy."""
        if queue.config.strategy != "ringall":
            self._autofill(queue)
            return
        # ringall: every free member rings for the first waiting caller that rings no one.
        for call in list(queue.waiting):
            if call.ringing or call.connected is not None or call.caller.gone:
                continue
            free = [m for m in queue.members.values() if m.free]
            if not free:
                return
            for member in free:
                call.ring(member)

    @staticmethod
    def _autofill(queue: Queue) -> None:
        """rrmemory + autofill: each waiting caller rings its own free member, all at once."""
        free = sorted((m for m in queue.members.values() if m.free), key=lambda m: m.last_call)
        for call in list(queue.waiting):
            if not free:
                return
            if call.ringing or call.connected is not None or call.caller.gone:
                continue
            call.ring(free.pop(0))

    def wrapped_up(self, member: Member) -> None:
        if member.state is AgentState.WRAPUP:
            member.apply("ready")
            self.world.emit.raw("QueueMemberStatus", "agent,all", member.fields())
            self._redistribute(member.queue)

    def _redistribute(self, name: str) -> None:
        queue = self.queues.get(name)
        if queue is not None:
            self.distribute(queue)

    # -- members (AMI QueueAdd/Remove/Pause and the Python API) -------------------------------
    def add(
        self,
        name: str,
        interface: str,
        member_name: str,
        *,
        state_interface: str = "",
        penalty: int = 0,
        paused: bool = False,
        reason: str = "",
    ) -> Member | None:
        """A dynamic member (AMI ``QueueAdd``): one ``QueueMemberAdded``, already paused if asked.

        As Asterisk: the member's state interface is the one given, else the interface itself;
        the queue's pause device state changes first (``DeviceStateChange``).
        """
        queue = self.queues.get(name)
        if queue is None or interface in queue.members:
            return None
        now = int(self.world.sim_now())
        member = Member(name, interface, member_name or interface, True, now)
        member.state_interface = state_interface or interface
        member.penalty = penalty
        member.queue_wrapup = int(queue.config.wrapup)
        member.apply("login")
        if paused:
            member.paused, member.paused_reason, member.last_pause = True, reason, now
        queue.members[interface] = member
        self._pause_device(member)
        self.world.emit.raw("QueueMemberAdded", "agent,all", member.fields())
        self.distribute(queue)
        return member

    def login(self, name: str, interface: str, member_name: str) -> Member | None:
        queue = self.queues.get(name)
        if queue is None:
            return None
        member = queue.members.get(interface)
        if member is None:
            return self.add(name, interface, member_name)
        if member.state is AgentState.LOGGED_OUT:
            member.apply("login")
            member.login_time = int(self.world.sim_now())
            self.world.emit.raw("QueueMemberAdded", "agent,all", member.fields())
            self.distribute(queue)
        return member

    def remove(self, name: str, interface: str) -> Member | None:
        """Log a member out; ``QueueMemberRemoved`` carries its fields as they were (Status 1)."""
        queue = self.queues.get(name)
        member = queue.members.get(interface) if queue is not None else None
        if queue is None or member is None or member.state is AgentState.LOGGED_OUT:
            return None
        fields = member.fields()
        member.apply("logout")
        if member.membership == "dynamic":
            del queue.members[interface]
        self.world.emit.raw("QueueMemberRemoved", "agent,all", fields)
        return member

    def _pause_device(self, member: Member) -> None:
        """Asterisk's ``Queue:<queue>_pause_<interface>`` device: INUSE while paused."""
        state = "INUSE" if member.paused else "NOT_INUSE"
        device = f"Queue:{member.queue}_pause_{member.interface}"
        self.world.emit.raw(
            "DeviceStateChange", "call,all", f"Device: {device}\r\nState: {state}\r\n"
        )

    def pause(self, name: str, interface: str, paused: bool, reason: str) -> list[Member]:
        targets = [self.queues[name]] if name in self.queues else list(self.queues.values())
        changed = []
        for queue in targets:
            member = queue.members.get(interface)
            if member is None or member.state is AgentState.LOGGED_OUT:
                continue
            member.paused = paused
            member.paused_reason = reason if paused else ""
            member.last_pause = int(self.world.sim_now()) if paused else member.last_pause
            self._pause_device(member)
            self.world.emit.raw("QueueMemberPause", "agent,all", member.fields())
            changed.append(member)
            if not paused:
                self.distribute(queue)
        return changed


def agent_plan(world: World, queue: Queue) -> SipPlan:
    """An agent's phone: rings briefly, answers, talks a log-normal time."""
    cfg = queue.config
    return SipPlan(
        outcome="agent",
        post_dial_delay=0.0,
        ring_time=cfg.ring_time.sample(world.rng),
        hold_time=cfg.talk_time.sample(world.rng),
    )


__all__ = [
    "AgentState",
    "LocalLeg",
    "Member",
    "Queue",
    "QueueCall",
    "Queues",
    "SipLeg",
    "agent_plan",
]
