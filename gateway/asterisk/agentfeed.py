"""What an agent's phone is doing with the gateway's calls, as typed changes (the screen pop feed).

The agent board (:mod:`gateway.asterisk.agents`) says how many agents are free; this module says
*which* call reached *which* agent: an ``AgentCalled`` for one of our attempts is ``ringing``,
``AgentConnect`` is ``connected`` (the moment a desktop pops the record), ``AgentComplete`` is
``ended`` and, when Asterisk applies a wrap-up, ``wrapup``; any other change of a member's status
(free, paused, unavailable) is ``state``. A change is reported once: the status an event carries
is remembered, so the member event that follows with the same status (the ``QueueMemberStatus``
ringing after ``AgentCalled``, in use after ``AgentConnect``) says nothing; a ringall queue rings
every free member for each caller, so that repetition would be a third of the feed.
Attribution uses the caller's ``Uniqueid`` through the call tracker, and the attempt a member
is connected to is remembered, so that an ``AgentComplete`` that arrives after the caller's
channel was forgotten still names its call.

Several gateway instances on one server all see every event. A call of *another* instance
(its caller's ``Uniqueid`` is an attempt id, the Originate's ``ChannelId``, that this instance's
tracker does not know) is reported by that instance, with its call; here its ringing and connect
only set the remembered status, and the member's changes while it talks to it (which the other
instance reports with its call) say nothing, so a ringall queue ringing a member for the other
instance's caller is one ``ringing`` (there), not also a ``state`` (here). The same holds for
another instance's agent-only callback (its ``DialerAgentConnect``, then the member's device
going free, the runtime's ``AgentComplete``). The call-less changes
are the same in every instance; one per server writes them to the webhooks
(:mod:`dialer.feedowner`).

After a link outage the board is resynced from ``QueueStatus``; :meth:`AgentFeed.resynced` then
says one ``state`` per member whose status differs from the one last reported (a pause, a
logout while the link was down). The first resync of a feed only learns the statuses: nothing
was reported before it.

Pure bookkeeping, no I/O; the runtime calls :meth:`AgentFeed.on_agent` / :meth:`on_member` after
the board took the event, and hands each change to its owner's callback (which only enqueues).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from gateway.asterisk.agents import AgentBoard, AgentStatus
from gateway.asterisk.ami.events import AgentEvent, QueueMemberEvent
from gateway.asterisk.calls.model import OriginateRequest
from gateway.asterisk.validate import is_attempt_id


class ChangeKind(enum.StrEnum):
    RINGING = "ringing"
    CONNECTED = "connected"
    ENDED = "ended"
    WRAPUP = "wrapup"
    STATE = "state"


@dataclass(frozen=True, slots=True)
class CallRef:
    """The gateway's attempt an agent event belongs to."""

    attempt_id: str
    campaign_id: int
    record_id: int


@dataclass(frozen=True, slots=True)
class AgentChange:
    """One change of one agent, at monotonic time ``at`` (when the event was read)."""

    kind: ChangeKind
    server: str
    queue: str
    interface: str
    agent: str  # the member name (the id attempts store), else the interface
    status: AgentStatus
    call: CallRef | None
    at: float
    wrapup_s: int = 0


# What a member rung by the queue is before its ringing device state arrives: the board says
# ringing then (device 6 and 7 rank above wrap-up and free), so the ringing event says it at once.
_RUNG = frozenset({AgentStatus.FREE, AgentStatus.WRAPUP})

_KINDS = {
    "AgentCalled": ChangeKind.RINGING,
    "AgentConnect": ChangeKind.CONNECTED,
    "AgentComplete": ChangeKind.ENDED,
}


class AgentFeed:
    """Turns the agent events of one server into :class:`AgentChange` values."""

    def __init__(self, server: str) -> None:
        self.server = server
        self._status: dict[tuple[str, str], AgentStatus] = {}
        self._talking: dict[tuple[str, str], CallRef] = {}
        self._elsewhere: set[tuple[str, str]] = set()  # talking to another instance's call
        self._names: dict[tuple[str, str], str] = {}  # the member names last reported
        self._seeded = False

    def on_agent(
        self, e: AgentEvent, req: OriginateRequest | None, board: AgentBoard, now: float
    ) -> list[AgentChange]:
        """An ``Agent*`` event (``req``: the attempt of its caller channel, if ours)."""
        kind = _KINDS.get(e.name)
        key = (e.queue, e.interface)
        call = CallRef(req.attempt_id, req.campaign_id, req.record_id) if req else None
        if kind is ChangeKind.ENDED:
            call = self._talking.pop(key, None) or call
        elif kind is ChangeKind.CONNECTED and call is not None:
            self._talking[key] = call
        view = self._view(board, e.queue, e.interface, now)
        status = view[0] if view else AgentStatus.ON_CALL
        if kind is ChangeKind.RINGING and status in _RUNG:
            status = AgentStatus.RINGING  # the member's QueueMemberStatus (ringing) comes after
        if (
            kind is not None
            and call is None
            and (
                is_attempt_id(e.uniqueid)  # a caller some gateway instance placed
                or (kind is ChangeKind.ENDED and key in self._elsewhere)  # a direct call's end
            )
        ):
            self._elsewhere_call(kind, key, status)  # the placing instance reports it
            return []
        if kind is None or call is None:
            return []  # nothing said, so nothing remembered: the member events report the state
        self._status[key] = status
        agent = e.member_name or e.interface
        changes = [AgentChange(kind, self.server, e.queue, e.interface, agent, status, call, now)]
        if kind is ChangeKind.ENDED and view is not None and status is AgentStatus.WRAPUP:
            changes.append(
                AgentChange(
                    ChangeKind.WRAPUP,
                    self.server,
                    e.queue,
                    e.interface,
                    agent,
                    status,
                    call,
                    now,
                    view[1],
                )
            )
        return changes

    def on_member(self, e: QueueMemberEvent, board: AgentBoard, now: float) -> list[AgentChange]:
        """A member event: a ``state`` change when the member's status differs from the last."""
        view = self._view(board, e.queue, e.interface, now)
        change = self._changed(e.queue, e.interface, e.member_name, view, now)
        return [] if change is None else [change]

    def resynced(self, board: AgentBoard, now: float) -> list[AgentChange]:
        """After the board was resynced (``QueueStatus``, a link back up): a ``state`` change
        for each member whose status differs from the one last reported, and ``unavailable``
        for each one gone. The first call only remembers the statuses."""
        members = {
            (queue, v.interface): v
            for queue in board.queues()
            for v in board.snapshot(queue, now).agents
        }
        if not self._seeded:
            self._seeded = True
            for key, v in members.items():
                self._status.setdefault(key, v.status)
            return []
        # another instance's call whose end the link missed is over when the member is not on one
        self._elsewhere = {
            key for key in self._elsewhere
            if key in members and members[key].status is AgentStatus.ON_CALL
        }  # fmt: skip
        changes = []
        for key in sorted(set(self._status) - set(members)):
            change = self._changed(key[0], key[1], self._names.get(key, ""), None, now)
            if change is not None:
                changes.append(change)
        for key, v in sorted(members.items()):
            change = self._changed(key[0], key[1], v.name, (v.status, v.wrapup_s), now)
            if change is not None:
                changes.append(change)
        return changes

    def _changed(
        self,
        queue: str,
        interface: str,
        name: str,
        view: tuple[AgentStatus, int] | None,
        now: float,
    ) -> AgentChange | None:
        key = (queue, interface)
        if view is None:  # removed (logged out)
            before = self._status.pop(key, None)
            self._talking.pop(key, None)
            self._names.pop(key, None)
            if key in self._elsewhere:
                self._elsewhere.discard(key)
                return None  # the instance it talked for reports it, with its call
            if before is None:
                return None
            status = AgentStatus.UNAVAILABLE
        else:
            status = view[0]
            if self._status.get(key) is status:
                return None
            self._status[key] = status
            if name:
                self._names[key] = name
            if key in self._elsewhere:
                return None
        agent = name or interface
        call = self._talking.get(key)
        return AgentChange(
            ChangeKind.STATE, self.server, queue, interface, agent, status, call, now
        )

    def _elsewhere_call(self, kind: ChangeKind, key: tuple[str, str], status: AgentStatus) -> None:
        """Another instance's call reached the member: its status is remembered, unsaid."""
        self._status[key] = status
        if kind is ChangeKind.CONNECTED:
            self._elsewhere.add(key)
        elif kind is ChangeKind.ENDED:
            self._elsewhere.discard(key)

    @staticmethod
    def _view(
        board: AgentBoard, queue: str, interface: str, now: float
    ) -> tuple[AgentStatus, int] | None:
        view = board.member(queue, interface, now)
        return None if view is None else (view.status, view.wrapup_s)
