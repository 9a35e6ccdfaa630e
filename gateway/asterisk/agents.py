"""Agent state per queue, from AMI queue events and a periodic ``QueueStatus`` resync.

Holds the live board of queue members (logged in, free, ringing, on a call since when, in
wrap-up, paused) and hands out frozen snapshots. Pure bookkeeping: no I/O; the current
monotonic time is passed in. The resync (``QueueStatus`` list items) replaces a queue's members
wholesale, which repairs anything missed while a link was down.

Status precedence for one member: paused, then unavailable (device status 0/4/5), then on a
call (``AgentConnect`` not yet ``AgentComplete``, or device in use), then ringing (device 6/7),
then wrap-up, else free.

Wrap-up follows Asterisk, not the events' ``Wrapuptime`` alone: that header is the member's own
value, 0 when the wrap-up is set on the queue. The queue-level rules come from ``queues.conf``
(:mod:`gateway.asterisk.queueconf`, read by the runtime with ``GetConfig``) and a call's end
(``AgentComplete``, or a ``QueueMemberStatus``/``QueueMember`` whose ``CallsTaken`` went up)
starts ``wrapup_for(member, queue)`` seconds of wrap-up; with ``shared_lastcall`` it holds in
every queue the member is in. ``ringinuse`` and ``penalty`` are kept as the events say (an agent
whose device is in use is busy for pacing whatever ``ringinuse`` allows Asterisk to try).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.asterisk.ami.events import AgentEvent, QueueMemberEvent
from gateway.asterisk.queueconf import QueueConfigView, wrapup_for

_UNAVAILABLE = frozenset({0, 4, 5})
_IN_USE = frozenset({2, 3})
_RINGING = frozenset({6, 7})


class AgentStatus(enum.StrEnum):
    FREE = "free"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAPUP = "wrapup"
    PAUSED = "paused"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class AgentView:
    interface: str
    name: str
    status: AgentStatus
    since: float | None  # monotonic time the current call started (on_call only)
    wrapup_until: float | None
    penalty: int = 0
    wrapup_s: int = 0  # the wrap-up Asterisk applies to this member in this queue
    paused_reason: str = ""  # the reason of the current pause ("" when not paused or none given)


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    queue: str
    agents: tuple[AgentView, ...]
    taken_at: float

    def count(self, status: AgentStatus) -> int:
        return sum(1 for a in self.agents if a.status is status)

    @property
    def logged_in(self) -> int:
        return len(self.agents)

    @property
    def free(self) -> int:
        return self.count(AgentStatus.FREE)

    @property
    def on_call(self) -> int:
        return self.count(AgentStatus.ON_CALL)


class _Member:
    __slots__ = ("calls_taken", "device", "direct", "interface", "name", "on_call_since", "paused",
                 "paused_reason", "penalty", "ringinuse", "wrapup_s", "wrapup_until")  # fmt: skip

    def __init__(self, interface: str, name: str) -> None:
        self.interface = interface
        self.name = name
        self.device = 1
        self.paused = False
        self.paused_reason = ""
        self.on_call_since: float | None = None
        self.wrapup_s = 0  # the member's own wrap-up (0: the queue's applies)
        self.wrapup_until: float | None = None
        self.penalty = 0
        self.calls_taken = 0
        self.ringinuse: bool | None = None
        self.direct = False  # the current call was Dial()led to it (an agent-only callback)

    def update(self, e: QueueMemberEvent) -> bool:
        """Take a member event's fields; True if ``CallsTaken`` went up (a call has ended)."""
        ended = e.calls_taken > self.calls_taken and self.calls_taken >= 0
        self.device, self.paused, self.wrapup_s = e.status, e.paused, e.wrapup_time
        self.paused_reason = e.paused_reason if e.paused else ""
        self.penalty, self.calls_taken = e.penalty, e.calls_taken
        if e.ringinuse is not None:
            self.ringinuse = e.ringinuse
        return ended

    def status(self, now: float) -> AgentStatus:
        if self.paused:
            return AgentStatus.PAUSED
        if self.device in _UNAVAILABLE:
            return AgentStatus.UNAVAILABLE
        if self.on_call_since is not None:
            return AgentStatus.ON_CALL
        if self.device in _RINGING:
            return AgentStatus.RINGING
        if self.wrapup_until is not None and now < self.wrapup_until:
            return AgentStatus.WRAPUP
        if self.device in _IN_USE:
            return AgentStatus.ON_CALL
        return AgentStatus.FREE


class AgentBoard:
    """Queue members of every queue on one or more servers."""

    def __init__(self) -> None:
        self._queues: dict[str, dict[str, _Member]] = {}
        self._config = QueueConfigView()

    def configure(self, config: QueueConfigView) -> None:
        """The queue-level rules of ``queues.conf`` (``GetConfig``); used from the next call on."""
        self._config = config

    @property
    def config(self) -> QueueConfigView:
        return self._config

    def wrapup_s(self, queue: str, member_wrapup_s: int) -> int:
        return wrapup_for(member_wrapup_s, self._config.rules(queue))

    def _member(self, queue: str, interface: str, name: str) -> _Member:
        members = self._queues.setdefault(queue, {})
        member = members.get(interface)
        if member is None:
            member = members[interface] = _Member(interface, name or interface)
        elif name:
            member.name = name
        return member

    def on_member(self, e: QueueMemberEvent, now: float) -> bool:
        """QueueMemberStatus / Added / Removed / Pause(d). True when this ended a call that
        ``Dial()`` connected (an agent-only callback): no ``AgentComplete`` comes for it, its
        end is the member's device going free again."""
        if e.name == "QueueMemberRemoved":
            self._queues.get(e.queue, {}).pop(e.interface, None)
            return False
        known = e.interface in self._queues.get(e.queue, {})
        m = self._member(e.queue, e.interface, e.member_name)
        was_busy = m.device in _IN_USE or m.on_call_since is not None
        ended = m.update(e) and known
        direct = m.direct and m.on_call_since is not None
        if (was_busy and e.status == 1 and m.on_call_since is not None) or (
            ended and not e.in_call
        ):
            self._end_call(e.queue, m, now)  # AgentComplete missed, or the count says so
            return direct
        return False

    def on_agent(self, e: AgentEvent, now: float) -> None:
        """AgentCalled / AgentConnect / AgentComplete / AgentRingNoAnswer."""
        m = self._member(e.queue, e.interface, e.member_name)
        if e.name == "AgentConnect":
            m.on_call_since = now
            m.wrapup_until = None
            m.direct = e.direct
        elif e.name == "AgentComplete":
            self._end_call(e.queue, m, now)

    def _end_call(self, queue: str, m: _Member, now: float) -> None:
        m.on_call_since = None
        if m.direct:  # app_queue applies wrap-up only after the calls it placed itself
            m.direct = False
            return
        self._start_wrapup(queue, m, now)
        if not self._config.shared_lastcall:
            return
        for other, members in self._queues.items():  # the last call counts in every queue
            twin = members.get(m.interface)
            if other != queue and twin is not None and twin.on_call_since is None:
                self._start_wrapup(other, twin, now)

    def _start_wrapup(self, queue: str, m: _Member, now: float) -> None:
        wrap = self.wrapup_s(queue, m.wrapup_s)
        if wrap <= 0:
            m.wrapup_until = None
            return
        m.wrapup_until = max(m.wrapup_until or 0.0, now + wrap)

    def hold(self, queue: str, interface: str, reason: str) -> bool:
        """Count a member as paused (with ``reason``) now, ahead of the ``QueueMemberPause`` that
        a pause sent for it will bring (the gateway-held wrap-up): pacing must not offer it a
        call meanwhile. The member's next event or resync says what Asterisk holds. False: no
        such member."""
        member = self._queues.get(queue, {}).get(interface)
        if member is None:
            return False
        member.paused, member.paused_reason = True, reason
        return True

    def resync(self, queue: str, items: Iterable[QueueMemberEvent], now: float) -> None:
        """Replace ``queue``'s members with a ``QueueStatus`` answer (``QueueMember`` items)."""
        old = self._queues.get(queue, {})
        fresh: dict[str, _Member] = {}
        for item in items:
            if item.queue != queue:
                continue
            known = item.interface in old
            m = old.get(item.interface) or _Member(item.interface, item.member_name)
            ended = m.update(item) and known
            if item.in_call and m.on_call_since is None:
                m.on_call_since = now
            elif not item.in_call and ((item.status == 1 and m.on_call_since is not None) or ended):
                self._end_call(queue, m, now)
            fresh[item.interface] = m
        self._queues[queue] = fresh

    def member(self, queue: str, agent: str, now: float) -> AgentView | None:
        """One member of ``queue`` by interface or member name (None: not logged in there)."""
        members = self._queues.get(queue, {})
        found = members.get(agent)
        if found is None:
            found = next((m for m in members.values() if m.name == agent), None)
        # One member's view, not the whole queue's: the agent feed asks for every agent event.
        return None if found is None else self._view(queue, found, now)

    def has_interface(self, interface: str) -> bool:
        """Whether ``interface`` is a member of any queue on this board."""
        return any(interface in members for members in self._queues.values())

    def queues(self) -> list[str]:
        return sorted(self._queues)

    def member_named(self, device: str) -> str | None:
        """The name of the member whose interface is ``device`` (a Local member's ``/n`` left
        out), in any queue; ``None`` when it is no member."""
        for members in self._queues.values():
            for interface, m in members.items():
                if interface.removesuffix("/n") == device:
                    return m.name
        return None

    def snapshot(self, queue: str, now: float) -> QueueSnapshot:
        members = self._queues.get(queue, {})
        views = tuple(
            self._view(queue, m, now) for m in sorted(members.values(), key=lambda m: m.interface)
        )
        return QueueSnapshot(queue, views, now)

    def _view(self, queue: str, m: _Member, now: float) -> AgentView:
        return AgentView(
            m.interface,
            m.name,
            m.status(now),
            m.on_call_since,
            m.wrapup_until,
            m.penalty,
            self.wrapup_s(queue, m.wrapup_s),
            m.paused_reason,
        )
