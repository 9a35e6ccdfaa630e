"""The replay buffer: the agent events of the last few minutes (at most N of them), so that a
client resumes from an event id without a gap. Pure: no I/O, no clock (an event's own time
says how old the held ones are).

The age bound keeps memory steady: at a few events a second a count bound alone takes hours to
fill, so the process would grow for hours before it levelled off (seen in ``bench soak``).

Ids are consecutive (one process numbers them one by one), so the events after an id are a
slice found by arithmetic. :meth:`ReplayBuffer.since` answers a resume: the events after the
id, or — when the id is older than the oldest event held (evicted, or from before a restart) or
was never handed out — a :class:`Gap` and every event still held, so that the client knows it
missed some rather than missing them silently.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import timedelta

from gateway.agentevents.model import AgentEvent


@dataclass(frozen=True, slots=True)
class Gap:
    """Events after ``after`` are no longer held: the replay starts at ``oldest``."""

    after: int
    oldest: int  # the first id the replay gives (the next id to come if none is held)
    last: int  # the last id handed out so far (``oldest - 1`` if none)

    def document(self) -> dict[str, object]:
        return {
            "type": "gap",
            "after": self.after,
            "oldest_id": self.oldest,
            "last_id": self.last,
            "detail": f"events after {self.after} are no longer held; the replay starts "
            f"at {self.oldest}",
        }


class ReplayBuffer:
    """The last ``size`` events, numbered from ``first_id`` on, none older than ``max_age``
    before the newest (``None``: no age bound)."""

    def __init__(self, size: int, first_id: int, max_age: timedelta | None = None) -> None:
        if size < 1:
            raise ValueError("the replay buffer holds at least one event")
        if max_age is not None and max_age <= timedelta(0):
            raise ValueError("the replay buffer's age bound must be positive")
        self._events: deque[AgentEvent] = deque(maxlen=size)
        self._next = first_id
        self._max_age = max_age

    @property
    def next_id(self) -> int:
        return self._next

    @property
    def last_id(self) -> int:
        return self._next - 1

    @property
    def oldest_id(self) -> int:
        return self._events[0].id if self._events else self._next

    def __len__(self) -> int:
        return len(self._events)

    def append(self, event: AgentEvent) -> None:
        if event.id != self._next:
            raise ValueError(f"event {event.id} out of sequence (expected {self._next})")
        self._events.append(event)
        self._next += 1
        if self._max_age is not None:
            cutoff = event.at - self._max_age
            while self._events[0].at < cutoff:  # the newest is never older than itself
                self._events.popleft()

    def since(self, after: int) -> tuple[Gap | None, list[AgentEvent]]:
        """The events after ``after``; a :class:`Gap` first when some of them are gone."""
        oldest, last = self.oldest_id, self.last_id
        if oldest - 1 <= after <= last:
            start = after - oldest + 1
            return None, [self._events[i] for i in range(start, len(self._events))]
        return Gap(after, oldest, last), list(self._events)
