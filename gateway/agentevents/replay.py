"""The replay buffer: the last N agent events, so that a client resumes from an event id
without a gap. Pure: no I/O, no clock.

Ids are consecutive (one process numbers them one by one), so the events after an id are a
slice found by arithmetic. :meth:`ReplayBuffer.since` answers a resume: the events after the
id, or — when the id is older than the oldest event held (evicted, or from before a restart) or
was never handed out — a :class:`Gap` and every event still held, so that the client knows it
missed some rather than missing them silently.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

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
    """The last ``size`` events, numbered from ``first_id`` on."""

    def __init__(self, size: int, first_id: int) -> None:
        if size < 1:
            raise ValueError("the replay buffer holds at least one event")
        self._events: deque[AgentEvent] = deque(maxlen=size)
        self._next = first_id

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

    def since(self, after: int) -> tuple[Gap | None, list[AgentEvent]]:
        """The events after ``after``; a :class:`Gap` first when some of them are gone."""
        oldest, last = self.oldest_id, self.last_id
        if oldest - 1 <= after <= last:
            start = after - oldest + 1
            return None, [self._events[i] for i in range(start, len(self._events))]
        return Gap(after, oldest, last), list(self._events)
