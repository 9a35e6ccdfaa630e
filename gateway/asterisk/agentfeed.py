"""What an agent's phone is doing with the gateway's calls, as typed changes (the screen pop feed).

The agent board (:mod:`gateway.asterisk.agents`) says how many agents are free; this module says
*which* call reached *which* agent: an ``AgentCalled`` for one of our attempts is ``ringing``,
``AgentConnect`` is ``connected`` (the moment a desktop pops the record), ``AgentComplete`` is
``ended`` and, when Asterisk applies a wrap-up, ``wrapup``; any other change of a member's status
(free, paused, unavailable) is ``state``. Attribution uses the caller's ``Uniqueid`` through the
call tracker, and the attempt a member is connected to is remembered, so that an
``AgentComplete`` that arrives after the caller's channel was forgotten still names its call.

Pure bookkeeping, no I/O; the runtime calls :meth:`AgentFeed.on_agent` / :meth:`on_member` after
the board took the event, and hands each change to its owner's callback (which only enqueues).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from gateway.asterisk.agents import AgentBoard, AgentStatus
from gateway.asterisk.ami.events import AgentEvent, QueueMemberEvent
from gateway.asterisk.calls.model import OriginateRequest


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
        self._status[key] = status
        if kind is None or call is None:
            return []
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
        key = (e.queue, e.interface)
        view = self._view(board, e.queue, e.interface, now)
        if view is None:  # removed (logged out)
            before = self._status.pop(key, None)
            self._talking.pop(key, None)
            if before is None:
                return []
            status = AgentStatus.UNAVAILABLE
        else:
            status = view[0]
            if self._status.get(key) is status:
                return []
            self._status[key] = status
        agent = e.member_name or e.interface
        return [
            AgentChange(
                ChangeKind.STATE,
                self.server,
                e.queue,
                e.interface,
                agent,
                status,
                self._talking.get(key),
                now,
            )
        ]

    @staticmethod
    def _view(
        board: AgentBoard, queue: str, interface: str, now: float
    ) -> tuple[AgentStatus, int] | None:
        view = board.member(queue, interface, now)
        return None if view is None else (view.status, view.wrapup_s)
