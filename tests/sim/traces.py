"""Reading the recorded Asterisk traces and reducing sessions to comparable shapes.

A session (recorded or simulated) becomes, per channel (name without its unique ``-0000000a``
suffix), the ordered list of ``(event, header names, key values)`` for the compared events,
plus the responses in order. Ids and timestamps never enter the comparison.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from asterisk_sim.amiproto import AmiMessage, parse_frames

TRACES = Path("/work/shared/asterisk-traces")
_SUFFIX = re.compile(r"-[0-9a-f]{8}(;[12])")
KEY_VALUES = ("Reason", "Cause", "DialStatus", "Disposition", "Response", "UserEvent", "Variable")


def read_messages(path: Path) -> list[AmiMessage]:
    data = path.read_bytes()
    body = data if path.name.endswith(".sent.txt") else data.split(b"\r\n", 1)[1]
    result = parse_frames(body)
    return [m for m in result.messages if isinstance(m, AmiMessage)]


def sent_times(name: str) -> list[float]:
    """Send times (seconds from connect) of each action, from the timeline."""
    times = []
    for line in (TRACES / f"{name}.timeline.tsv").read_text().splitlines()[1:]:
        stamp, _, text = line.partition("\t")
        if text.startswith("SENT"):
            times.append(float(stamp))
    return times


def norm_channel(name: str) -> str:
    return _SUFFIX.sub(r"\1", name)


def channel_of(msg: AmiMessage) -> str:
    name = msg.get("Channel") or msg.get("DestChannel")
    if msg.get("Event") in ("DialBegin", "DialState", "DialEnd") and msg.has("DestChannel"):
        name = msg.get("DestChannel")
    return norm_channel(name)


@dataclasses.dataclass(frozen=True)
class Shape:
    """One event reduced to what must match."""

    event: str
    headers: tuple[str, ...]
    values: tuple[tuple[str, str], ...]


def shape(msg: AmiMessage, variables: frozenset[str]) -> Shape:
    values = tuple((k, msg.get(k)) for k in KEY_VALUES if msg.has(k))
    if msg.get("Event") == "VarSet":
        values = (("Variable", msg.get("Variable")), ("Value", msg.get("Value")))
    return Shape(msg.get("Event"), tuple(k for k, _ in msg.headers), values)


def per_channel(
    messages: list[AmiMessage], compared: frozenset[str], variables: frozenset[str]
) -> dict[str, list[Shape]]:
    out: dict[str, list[Shape]] = {}
    for msg in messages:
        event = msg.get("Event")
        if event not in compared:
            continue
        if event == "VarSet" and msg.get("Variable") not in variables:
            continue
        key = "<originate>" if event == "OriginateResponse" else channel_of(msg)
        out.setdefault(key, []).append(shape(msg, variables))
    return out


def responses(messages: list[AmiMessage]) -> list[tuple[str, str, str]]:
    """(ActionID, Response, Message) of every response, in order."""
    return [
        (m.get("ActionID"), m.get("Response"), m.get("Message"))
        for m in messages
        if m.has("Response") and not m.has("Event")
    ]
