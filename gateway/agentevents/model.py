"""The agent event and its JSON form; the errors of the package. Pure: no I/O.

An event is one :class:`gateway.asterisk.agentfeed.AgentChange` with a number, a wall-clock
time and, for a change that belongs to one of our calls, the record's card
(:class:`gateway.campaigns.cards.RecordCard`). Its JSON (:attr:`AgentEvent.wire`) is written
once, when the event is made, and sent as it is to every subscriber and replayed unchanged.

Event ids are integers, strictly increasing by one within a gateway process, and start at the
process's start time in microseconds since the epoch (about 1.8e15, below 2**53, so exact in
JavaScript): a process started later hands out larger ids than any earlier process did (it would
take more than one event per microsecond for a process to catch up with the next one's start),
so an id from before a restart is always older than the new process's buffer and is answered
with a gap, never mistaken for a recent one. Ids are per process: two gateway instances number
their events independently.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.asterisk.agentfeed import AgentChange, ChangeKind
from gateway.campaigns.cards import RecordCard


class AgentEventsError(Exception):
    """Root of the package's errors.

    AgentEventsError
    └── TooSlow   a subscriber did not keep up; its stream ends (it resumes with ``after``)
    """


class TooSlow(AgentEventsError):
    """The subscriber's queue overflowed; it was dropped and must resume from its last id."""


class EventType(enum.StrEnum):
    RINGING = "agent.ringing"
    CONNECTED = "agent.connected"
    ENDED = "agent.ended"
    WRAPUP = "agent.wrapup"
    STATE = "agent.state"


TYPE_OF = {
    ChangeKind.RINGING: EventType.RINGING,
    ChangeKind.CONNECTED: EventType.CONNECTED,
    ChangeKind.ENDED: EventType.ENDED,
    ChangeKind.WRAPUP: EventType.WRAPUP,
    ChangeKind.STATE: EventType.STATE,
}


def iso(at: datetime) -> str:
    """UTC, ISO 8601 with microseconds and a ``Z``."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def card_document(card: RecordCard) -> dict[str, Any]:
    return {
        "id": card.id,
        "name": card.name,
        "phone": card.phone,
        "skill": card.skill,
        "custom": dict(card.custom),
    }


@dataclass(frozen=True, slots=True)
class AgentEvent:
    """One numbered agent event; ``wire`` is its JSON text, made once."""

    id: int
    type: EventType
    at: datetime
    agent: str
    queue: str
    server: str
    status: str
    campaign_id: int | None
    attempt_id: str | None
    record_id: int | None
    record: RecordCard | None  # None: no call, or the record could not be read in time
    wrapup_s: int = 0
    wire: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "wire", json.dumps(self.document(), separators=(",", ":")))

    def document(self) -> dict[str, Any]:
        record: dict[str, Any] | None = None
        if self.record is not None:
            record = card_document(self.record)
        elif self.record_id is not None:
            record = {"id": self.record_id}
        return {
            "id": self.id,
            "type": str(self.type),
            "at": iso(self.at),
            "agent": self.agent,
            "queue": self.queue,
            "server": self.server,
            "status": self.status,
            "campaign_id": self.campaign_id,
            "attempt_id": self.attempt_id,
            "record": record,
            "wrapup_s": self.wrapup_s,
        }


def event_of(
    change: AgentChange, event_id: int, at: datetime, card: RecordCard | None
) -> AgentEvent:
    call = change.call
    return AgentEvent(
        id=event_id,
        type=TYPE_OF[change.kind],
        at=at,
        agent=change.agent,
        queue=change.queue,
        server=change.server,
        status=str(change.status),
        campaign_id=call.campaign_id if call else None,
        attempt_id=call.attempt_id if call else None,
        record_id=call.record_id if call else None,
        record=card,
        wrapup_s=change.wrapup_s,
    )
