"""Typed AMI events and responses, parsed from :class:`~gateway.asterisk.ami.parser.Message` at the
edge.

Only the events the gateway uses get a class; :func:`parse_event` returns ``None`` for the rest,
so raw multimaps never travel further than the adapter. Field names follow the gateway, not
Asterisk's inconsistent spellings (``UniqueID`` in Cdr, ``Name``/``Location`` in QueueStatus items
versus ``MemberName``/``Interface`` elsewhere): this module is where those are reconciled.

Malformed numbers (a ``Reason`` that is not an integer) raise :class:`ProtocolError`. The module
is pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gateway.asterisk.ami.parser import Message
from gateway.asterisk.errors import ProtocolError


def _int(msg: Message, key: str, default: int = 0) -> int:
    raw = msg.fields.get(key)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ProtocolError(f"{msg.kind}: {key} is not an integer: {raw!r}") from None


def _float(msg: Message, key: str) -> float:
    raw = msg.fields.get(key)
    if not raw:
        return 0.0
    try:
        return float(raw)
    except ValueError:
        raise ProtocolError(f"{msg.kind}: {key} is not a number: {raw!r}") from None


@dataclass(frozen=True, slots=True)
class Response:
    """The reply to an action: ``Response: Success|Error|Goodbye`` with its ``ActionID``."""

    action_id: str
    success: bool
    message: str
    fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class FullyBooted:
    """Sent at login when Asterisk has booted, and once by a booting Asterisk when it has."""

    status: str
    uptime_s: int | None = None  # seconds since Asterisk started (None: not reported)


@dataclass(frozen=True, slots=True)
class Shutdown:
    """Asterisk is stopping or restarting: sent after it hung up every channel, before it exits."""

    shutdown: str  # "Cleanly" | "Uncleanly" (channels were still up)
    restart: bool


@dataclass(frozen=True, slots=True)
class OriginateResponse:
    action_id: str
    success: bool
    reason: int
    channel: str
    uniqueid: str  # "<unknown>" on failure unless ChannelId was sent


@dataclass(frozen=True, slots=True)
class ChannelEvent:
    """Newchannel, Newstate, HangupRequest: one channel's state."""

    name: str
    channel: str
    uniqueid: str
    linkedid: str
    state: int
    cause: int = 0


@dataclass(frozen=True, slots=True)
class Hangup:
    channel: str
    uniqueid: str
    linkedid: str
    cause: int
    cause_txt: str


@dataclass(frozen=True, slots=True)
class Dial:
    """DialBegin/DialState/DialEnd; for an originate only the Dest* side exists."""

    name: str
    dest_channel: str
    dest_uniqueid: str
    dest_linkedid: str
    status: str  # "" for DialBegin; RINGING, ANSWER, BUSY, CONGESTION, CANCEL, NOANSWER…
    caller_uniqueid: str = ""


@dataclass(frozen=True, slots=True)
class Cdr:
    uniqueid: str
    channel: str
    disposition: str  # ANSWERED, BUSY, NO ANSWER, CONGESTION, FAILED
    duration: int
    billable: int


@dataclass(frozen=True, slots=True)
class UserEvent:
    """A dialplan ``UserEvent``; ``AMDResult``, ``DialerAbandoned`` and ``DialerAgentConnect``
    are the ones we send."""

    user_event: str
    uniqueid: str
    linkedid: str
    attempt_id: str
    amd_status: str = ""
    amd_cause: str = ""
    queue_status: str = ""
    queue: str = ""  # DialerAgentConnect: the attempt's queue and the member dialled
    interface: str = ""


# An agent-only callback is connected by ``Dial()`` of the member, not by ``Queue()``, so
# app_queue sends no ``AgentConnect``; the dialplan's ``dialer-agent-connect`` subroutine (run on
# the agent's channel once it answers, before the bridge) sends this instead.
DIRECT_CONNECT = "DialerAgentConnect"


def direct_connect(e: UserEvent, member_name: str, queue: str | None = None) -> AgentEvent:
    """The ``AgentConnect`` a ``DialerAgentConnect`` stands for: named by the attempt's channel
    (its id is the attempt id, as an ``AgentConnect`` names the caller's), so the tracker, the
    agent board and the agent feed take it as they take app_queue's; in ``queue`` (default the
    event's: the attempt's queue)."""
    return AgentEvent(
        "AgentConnect", e.queue if queue is None else queue, e.attempt_id, e.linkedid,
        e.interface, member_name, direct=True,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class QueueCaller:
    """QueueCallerJoin / QueueCallerLeave / QueueCallerAbandon for the called party."""

    name: str
    queue: str
    uniqueid: str
    linkedid: str
    hold_time: int = 0


@dataclass(frozen=True, slots=True)
class AgentEvent:
    """AgentCalled / AgentConnect / AgentComplete / AgentRingNoAnswer / AgentDump."""

    name: str
    queue: str
    uniqueid: str
    linkedid: str
    interface: str
    member_name: str
    hold_time: int = 0
    talk_time: int = 0
    direct: bool = False  # not app_queue's: an agent-only callback's Dial() (DialerAgentConnect)


@dataclass(frozen=True, slots=True)
class QueueMemberEvent:
    """QueueMemberStatus/Added/Removed/Pause and the QueueStatus ``QueueMember`` list item."""

    name: str
    queue: str
    interface: str
    member_name: str
    status: int  # 1 not in use, 2 in use, 5 unavailable, 6 ringing…
    paused: bool
    in_call: bool
    wrapup_time: int  # the member's own wrap-up: 0 when it is set on the queue (queueconf)
    action_id: str = ""
    penalty: int = 0
    calls_taken: int = 0
    ringinuse: bool | None = None  # events say it; QueueStatus items do not
    paused_reason: str = ""  # ``PausedReason``: the reason given with QueuePause ("" if none)


@dataclass(frozen=True, slots=True)
class ListComplete:
    """The ``…Complete`` event that ends a list (CoreShowChannels, QueueStatus)."""

    name: str
    action_id: str
    items: int


@dataclass(frozen=True, slots=True)
class CoreShowChannel:
    action_id: str
    channel: str
    uniqueid: str
    linkedid: str
    state: int
    application: str
    bridge_id: str = ""  # the bridge the channel is in ("" when none)


@dataclass(frozen=True, slots=True)
class DbEntry:
    """A ``DBGetResponse`` list item: one AstDB value (the outcome ledger's lines)."""

    action_id: str
    family: str
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class Rtcp:
    """RTCPSent / RTCPReceived: the first report block's quality figures."""

    name: str
    channel: str
    uniqueid: str
    linkedid: str
    rtt_s: float
    fraction_lost: float  # 0..1 (the header is in 1/256ths)
    cumulative_lost: int
    jitter_units: int  # RTP timestamp units (8000 Hz for G.711)


AmiEvent = (
    Response
    | FullyBooted
    | Shutdown
    | OriginateResponse
    | ChannelEvent
    | Hangup
    | Dial
    | Cdr
    | UserEvent
    | QueueCaller
    | AgentEvent
    | QueueMemberEvent
    | ListComplete
    | CoreShowChannel
    | DbEntry
    | Rtcp
)


def _response(m: Message) -> Response:
    f = m.fields
    return Response(
        f.get("ActionID", ""), f.get("Response") != "Error", f.get("Message", ""), tuple(f.items())
    )


def _originate(m: Message) -> OriginateResponse:
    f = m.fields
    return OriginateResponse(
        f.get("ActionID", ""),
        f.get("Response") == "Success",
        _int(m, "Reason"),
        f.get("Channel", ""),
        f.get("Uniqueid", ""),
    )


def _channel(m: Message) -> ChannelEvent:
    f = m.fields
    return ChannelEvent(
        f["Event"],
        f.get("Channel", ""),
        f.get("Uniqueid", ""),
        f.get("Linkedid", ""),
        _int(m, "ChannelState"),
        _int(m, "Cause"),
    )


def _hangup(m: Message) -> Hangup:
    f = m.fields
    return Hangup(
        f.get("Channel", ""),
        f.get("Uniqueid", ""),
        f.get("Linkedid", ""),
        _int(m, "Cause"),
        f.get("Cause-txt", ""),
    )


def _dial(m: Message) -> Dial:
    f = m.fields
    return Dial(
        f["Event"],
        f.get("DestChannel", ""),
        f.get("DestUniqueid", ""),
        f.get("DestLinkedid", ""),
        f.get("DialStatus", ""),
        f.get("Uniqueid", ""),
    )


def _cdr(m: Message) -> Cdr:
    f = m.fields
    return Cdr(
        f.get("UniqueID", f.get("Uniqueid", "")),
        f.get("Channel", ""),
        f.get("Disposition", ""),
        _int(m, "Duration"),
        _int(m, "BillableSeconds"),
    )


def _user(m: Message) -> UserEvent:
    f = m.fields
    return UserEvent(
        f.get("UserEvent", ""),
        f.get("Uniqueid", ""),
        f.get("Linkedid", ""),
        f.get("AttemptId", ""),
        f.get("AMDSTATUS", ""),
        f.get("AMDCAUSE", ""),
        f.get("QueueStatus", ""),
        f.get("Queue", ""),
        f.get("Interface", ""),
    )


def _caller(m: Message) -> QueueCaller:
    f = m.fields
    return QueueCaller(
        f["Event"],
        f.get("Queue", ""),
        f.get("Uniqueid", ""),
        f.get("Linkedid", ""),
        _int(m, "HoldTime"),
    )


def _agent(m: Message) -> AgentEvent:
    f = m.fields
    return AgentEvent(
        f["Event"],
        f.get("Queue", ""),
        f.get("Uniqueid", ""),
        f.get("Linkedid", ""),
        f.get("Interface", ""),
        f.get("MemberName", ""),
        _int(m, "HoldTime"),
        _int(m, "TalkTime"),
    )


def _member(m: Message) -> QueueMemberEvent:
    f = m.fields
    interface = f.get("Interface") or f.get("Location", "")
    member_name = f.get("MemberName") or f.get("Name", "")
    return QueueMemberEvent(
        f["Event"],
        f.get("Queue", ""),
        interface,
        member_name,
        _int(m, "Status"),
        f.get("Paused") == "1",
        f.get("InCall") == "1",
        _int(m, "Wrapuptime"),
        f.get("ActionID", ""),
        penalty=_int(m, "Penalty"),
        calls_taken=_int(m, "CallsTaken"),
        ringinuse=None if "Ringinuse" not in f else f["Ringinuse"] == "1",
        paused_reason=f.get("PausedReason", ""),
    )


def _complete(m: Message) -> ListComplete:
    f = m.fields
    return ListComplete(f["Event"], f.get("ActionID", ""), _int(m, "ListItems"))


def _core_channel(m: Message) -> CoreShowChannel:
    f = m.fields
    return CoreShowChannel(
        f.get("ActionID", ""),
        f.get("Channel", ""),
        f.get("Uniqueid", ""),
        f.get("Linkedid", ""),
        _int(m, "ChannelState"),
        f.get("Application", ""),
        f.get("BridgeId", ""),
    )


def _db_entry(m: Message) -> DbEntry:
    f = m.fields
    return DbEntry(f.get("ActionID", ""), f.get("Family", ""), f.get("Key", ""), f.get("Val", ""))


def _rtcp(m: Message) -> Rtcp:
    f = m.fields
    rtt = _float(m, "RTT")
    return Rtcp(
        f["Event"],
        f.get("Channel", ""),
        f.get("Uniqueid", ""),
        f.get("Linkedid", ""),
        rtt,
        _int(m, "Report0FractionLost") / 256.0,
        _int(m, "Report0CumulativeLost"),
        _int(m, "Report0IAJitter"),
    )


_PARSERS: dict[str, Callable[[Message], AmiEvent]] = {
    "OriginateResponse": _originate,
    "FullyBooted": lambda m: FullyBooted(
        m.get("Status"), _int(m, "Uptime") if m.get("Uptime") else None
    ),
    "Shutdown": lambda m: Shutdown(m.get("Shutdown"), m.get("Restart") == "True"),
    "Newchannel": _channel,
    "Newstate": _channel,
    "HangupRequest": _channel,
    "Hangup": _hangup,
    "DialBegin": _dial,
    "DialState": _dial,
    "DialEnd": _dial,
    "Cdr": _cdr,
    "UserEvent": _user,
    "QueueCallerJoin": _caller,
    "QueueCallerLeave": _caller,
    "QueueCallerAbandon": _caller,
    "AgentCalled": _agent,
    "AgentConnect": _agent,
    "AgentComplete": _agent,
    "AgentRingNoAnswer": _agent,
    "AgentDump": _agent,
    "QueueMemberStatus": _member,
    "QueueMemberAdded": _member,
    "QueueMemberRemoved": _member,
    "QueueMemberPause": _member,
    "QueueMemberPaused": _member,
    "QueueMember": _member,
    "QueueStatusComplete": _complete,
    "CoreShowChannel": _core_channel,
    "CoreShowChannelsComplete": _complete,
    "DBGetResponse": _db_entry,
    "DBGetComplete": _complete,
    "RTCPSent": _rtcp,
    "RTCPReceived": _rtcp,
}

#: The events the gateway consumes; the adapter installs one AMI ``Filter`` per entry.
USED_EVENTS: tuple[str, ...] = tuple(
    sorted(
        k
        for k in _PARSERS
        if k
        not in (
            "QueueMember",
            "QueueStatusComplete",
            "CoreShowChannel",
            "CoreShowChannelsComplete",
            "DBGetResponse",
            "DBGetComplete",
        )
    )
)


#: Every event name :func:`parse_event` types (list items included): the parser's ``keep`` set.
TYPED_EVENTS: frozenset[str] = frozenset(_PARSERS)


def parse_event(msg: Message) -> AmiEvent | None:
    """Type one message; ``None`` for events the gateway does not use."""
    event = msg.fields.get("Event")
    if event is None:
        if "Response" in msg.fields:
            return _response(msg)
        raise ProtocolError(f"AMI message with neither Event nor Response: {list(msg.fields)[:3]}")
    parser = _PARSERS.get(event)
    return parser(msg) if parser is not None else None
