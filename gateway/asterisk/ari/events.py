"""Typed ARI WebSocket events, parsed from the JSON frames at the edge, and their translation
into the tracker's vocabulary (the AMI event types), so one tracker serves both drivers.

Only the events the gateway uses get a class; the rest parse to ``None``. Malformed frames
raise :class:`ProtocolError`. Pure: no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gateway.asterisk.ami import events as ami
from gateway.asterisk.errors import ProtocolError

# ARI channel state names → AMI ChannelState numbers
STATE_NUMBERS = {"Down": 0, "Rsrvd": 1, "OffHook": 2, "Dialing": 3, "Ring": 4, "Ringing": 5,
                 "Up": 6, "Busy": 7, "Dialing Offhook": 8, "Pre-ring": 9}  # fmt: skip


@dataclass(frozen=True, slots=True)
class AriChannel:
    id: str
    name: str
    state: str


@dataclass(frozen=True, slots=True)
class Dial:
    peer: AriChannel
    dialstatus: str  # "" (begin), RINGING, ANSWER, BUSY, CONGESTION, NOANSWER…


@dataclass(frozen=True, slots=True)
class StateChange:
    channel: AriChannel


@dataclass(frozen=True, slots=True)
class StasisStart:
    channel: AriChannel
    args: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StasisEnd:
    channel: AriChannel


@dataclass(frozen=True, slots=True)
class HangupRequest:
    channel: AriChannel
    cause: int
    soft: bool  # a soft hangup's cause is an internal flag, not Q.850


@dataclass(frozen=True, slots=True)
class ChannelDestroyed:
    channel: AriChannel
    cause: int
    cause_txt: str


@dataclass(frozen=True, slots=True)
class ApplicationReplaced:
    application: str


AriEvent = (
    Dial | StateChange | StasisStart | StasisEnd | HangupRequest | ChannelDestroyed
    | ApplicationReplaced
)  # fmt: skip


def channel_of(data: Any) -> AriChannel:
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise ProtocolError("ARI channel object without an id")
    return AriChannel(data["id"], str(data.get("name", "")), str(data.get("state", "")))


def parse_frame(text: str) -> AriEvent | None:
    """One WebSocket text frame → a typed event, or ``None`` for events the gateway ignores."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ProtocolError(f"ARI frame is not JSON: {text[:60]!r}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ProtocolError("ARI frame without a type")
    kind = data["type"]
    try:
        if kind == "Dial":
            return Dial(channel_of(data.get("peer")), str(data.get("dialstatus", "")))
        if kind == "ChannelStateChange":
            return StateChange(channel_of(data.get("channel")))
        if kind == "StasisStart":
            return StasisStart(
                channel_of(data.get("channel")), tuple(str(a) for a in data.get("args", []))
            )
        if kind == "StasisEnd":
            return StasisEnd(channel_of(data.get("channel")))
        if kind == "ChannelHangupRequest":
            return HangupRequest(
                channel_of(data.get("channel")),
                int(data.get("cause", 0)),
                bool(data.get("soft", False)),
            )
        if kind == "ChannelDestroyed":
            return ChannelDestroyed(
                channel_of(data.get("channel")),
                int(data.get("cause", 0)),
                str(data.get("cause_txt", "")),
            )
        if kind == "ApplicationReplaced":
            return ApplicationReplaced(str(data.get("application", "")))
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"malformed ARI {kind}: {exc}") from exc
    return None


def to_tracker(event: AriEvent) -> ami.AmiEvent | None:
    """The same facts in the tracker's (AMI) vocabulary; ``None`` when there is nothing to say."""
    if isinstance(event, Dial):
        status = event.dialstatus
        name = "DialBegin" if not status else "DialState" if status == "RINGING" else "DialEnd"
        return ami.Dial(name, event.peer.name, event.peer.id, "", status)
    if isinstance(event, StateChange | StasisStart):
        ch = event.channel
        state = 6 if isinstance(event, StasisStart) else STATE_NUMBERS.get(ch.state, 0)
        return ami.ChannelEvent("Newstate", ch.name, ch.id, "", state)
    if isinstance(event, HangupRequest):
        if event.soft:
            return None
        return ami.ChannelEvent(
            "HangupRequest",
            event.channel.name,
            event.channel.id,
            "",
            STATE_NUMBERS.get(event.channel.state, 0),
            event.cause,
        )
    if isinstance(event, ChannelDestroyed):
        ch = event.channel
        return ami.Hangup(ch.name, ch.id, "", event.cause, event.cause_txt)
    return None
