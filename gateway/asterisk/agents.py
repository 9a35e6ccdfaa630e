"""Agent state per queue, from AMI queue events and a periodic ``QueueStatus`` resync.

Holds the live board of queue members (logged in, free, ringing, on a call since when, in
wrap-up, paused) and hands out frozen snapshots. Pure bookkeeping: no I/O; the current
monotonic time is passed in. The resync (``QueueStatus`` list items) replaces a queue's members
wholesale, which repairs anything missed while a link was down.

Status precedence for one member: paused, then unavailable (device status 0/4/5), then on a
call (``AgentConnect`` not yet ``AgentComplete``, or device in use), then ringing (device 6/7),
then wrap-up (``wrapuptime`` seconds after ``AgentComplete``), else free.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.asterisk.ami.events import AgentEvent, QueueMemberEvent

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
    __slots__ = ("device", "interface", "name", "on_call_since", "paused", "wrapup_s",
                 "wrapup_until")  # fmt: skip

    def __init__(self, interface: str, name: str) -> None:
        self.interface = interface
        self.name = name
        self.device = 1
        self.paused = False
        self.on_call_since: float | None = None
        self.wrapup_s = 0
        self.wrapup_until: float | None = None

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

    def _member(self, queue: str, interface: str, name: str) -> _Member:
        members = self._queues.setdefault(queue, {})
        member = members.get(interface)
        if member is None:
            member = members[interface] = _Member(interface, name or interface)
        elif name:
            member.name = name
        return member

    def on_member(self, e: QueueMemberEvent, now: float) -> None:
        """QueueMemberStatus / Added / Removed / Pause(d)."""
        if e.name == "QueueMemberRemoved":
            self._queues.get(e.queue, {}).pop(e.interface, None)
            return
        m = self._member(e.queue, e.interface, e.member_name)
        was_busy = m.device in _IN_USE or m.on_call_since is not None
        m.device = e.status
        m.paused = e.paused
        m.wrapup_s = e.wrapup_time
        if was_busy and e.status == 1 and m.on_call_since is not None:
            self._end_call(m, now)  # AgentComplete was missed; the device says it is free

    def on_agent(self, e: AgentEvent, now: float) -> None:
        """AgentCalled / AgentConnect / AgentComplete / AgentRingNoAnswer."""
        m = self._member(e.queue, e.interface, e.member_name)
        if e.name == "AgentConnect":
            m.on_call_since = now
            m.wrapup_until = None
        elif e.name == "AgentComplete":
            self._end_call(m, now)

    @staticmethod
    def _end_call(m: _Member, now: float) -> None:
        m.on_call_since = None
        m.wrapup_until = now + m.wrapup_s if m.wrapup_s > 0 else None

    def resync(self, queue: str, items: Iterable[QueueMemberEvent], now: float) -> None:
        """Replace ``queue``'s members with a ``QueueStatus`` answer (``QueueMember`` items)."""
        old = self._queues.get(queue, {})
        fresh: dict[str, _Member] = {}
        for item in items:
            if item.queue != queue:
                continue
            m = old.get(item.interface) or _Member(item.interface, item.member_name)
            m.device, m.paused, m.wrapup_s = item.status, item.paused, item.wrapup_time
            if item.in_call and m.on_call_since is None:
                m.on_call_since = now
            elif not item.in_call and item.status == 1 and m.on_call_since is not None:
                self._end_call(m, now)
            fresh[item.interface] = m
        self._queues[queue] = fresh

    def queues(self) -> list[str]:
        return sorted(self._queues)

    def snapshot(self, queue: str, now: float) -> QueueSnapshot:
        members = self._queues.get(queue, {})
        views = tuple(
            AgentView(m.interface, m.name, m.status(now), m.on_call_since, m.wrapup_until)
            for m in sorted(members.values(), key=lambda m: m.interface)
        )
        return QueueSnapshot(queue, views, now)
