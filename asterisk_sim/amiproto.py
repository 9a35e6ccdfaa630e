"""The AMI wire format, pure: bytes in, messages and leftover bytes out; messages out as text.

A message is a multimap (keys repeat: ``Variable:``, ``Output:``), kept as an ordered tuple of
``(key, value)`` pairs. The parser accepts ``\\r\\n`` and bare ``\\n`` line ends, as Asterisk
does, and reports a line without a colon as :class:`FrameError` after consuming the message.
This module must not do I/O or know what an action means.
"""

from __future__ import annotations

import dataclasses
import re

from asterisk_sim.errors import FrameError

_END = re.compile(rb"\r?\n\r?\n")


@dataclasses.dataclass(frozen=True, slots=True)
class AmiMessage:
    """One AMI message as received: ordered headers, keys as sent."""

    headers: tuple[tuple[str, str], ...]

    def get(self, key: str, default: str = "") -> str:
        """The first value of ``key`` (case-insensitive), or ``default``."""
        low = key.lower()
        for k, v in self.headers:
            if k.lower() == low:
                return v
        return default

    def get_all(self, key: str) -> list[str]:
        """Every value of a repeated key, in order."""
        low = key.lower()
        return [v for k, v in self.headers if k.lower() == low]

    def has(self, key: str) -> bool:
        low = key.lower()
        return any(k.lower() == low for k, _ in self.headers)

    @property
    def action(self) -> str:
        return self.get("Action")


@dataclasses.dataclass(frozen=True, slots=True)
class ParseResult:
    """What one feed produced: complete messages, frame errors, and the unconsumed tail."""

    messages: tuple[AmiMessage | FrameError, ...]
    leftover: bytes


def parse_frames(data: bytes) -> ParseResult:
    """Split ``data`` into complete messages; keep the incomplete tail as ``leftover``."""
    out: list[AmiMessage | FrameError] = []
    pos = 0
    while True:
        match = _END.search(data, pos)
        if match is None:
            break
        chunk = data[pos : match.start()]
        pos = match.end()
        if chunk.strip():
            out.append(parse_message(chunk))
    return ParseResult(tuple(out), data[pos:])


def parse_message(chunk: bytes) -> AmiMessage | FrameError:
    """One message body (no terminating blank line) into headers, or a FrameError."""
    headers: list[tuple[str, str]] = []
    for raw in chunk.split(b"\n"):
        line = raw.rstrip(b"\r").decode("utf-8", "replace")
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep:
            return FrameError(f"header line without a colon: {line[:80]!r}")
        headers.append((key.strip(), value[1:] if value.startswith(" ") else value))
    return AmiMessage(tuple(headers))


def format_message(headers: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> str:
    """Headers into one AMI message, terminated by the blank line."""
    return "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"


def response(action_id: str, status: str = "Success", **fields: str) -> str:
    """A ``Response:`` message with ActionID right after the status, as Asterisk orders it."""
    head = [("Response", status)]
    if action_id:
        head.append(("ActionID", action_id))
    return format_message(head + list(fields.items()))


def error(action_id: str, message: str) -> str:
    return response(action_id, "Error", Message=message)
