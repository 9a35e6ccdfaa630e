"""The AMI wire parser: bytes in, (messages, leftover bytes) out. Pure; no sockets, no clock.

AMI frames are header blocks ended by an empty line (``\\r\\n\\r\\n``). The very first line of a
session is a banner (``Asterisk Call Manager/11.0.0\\r\\n``) with no blank line after it. Keys
repeat (``Variable:``, ``Output:``), so a message is a multimap: ``fields`` keeps the first value
of each key (the fast path every event uses) and ``extra`` keeps the repeats in order.

Values keep everything after the first ``": "``; an empty value keeps its key (``AccountCode: ``).
A line without a colon (seen in some CLI output) is kept as a key with an empty value. Bytes are
decoded as UTF-8 with replacement, so a bad byte never stops the stream.

This module must not do I/O or hold global state; :class:`AmiParser` holds only its buffer.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from gateway.asterisk.errors import ProtocolError

BANNER_PREFIX = b"Asterisk Call Manager/"
_END = b"\r\n\r\n"
MAX_MESSAGE = 1 << 20  # a single message larger than this is a protocol error
_SEP, _ONCE = itertools.repeat(": "), itertools.repeat(1)  # str.split's arguments, for map()


@dataclass(frozen=True, slots=True)
class Message:
    """One AMI message as a multimap: first values in ``fields``, repeated keys in ``extra``."""

    fields: dict[str, str]
    extra: tuple[tuple[str, str], ...] = ()

    def get(self, key: str, default: str = "") -> str:
        return self.fields.get(key, default)

    def getall(self, key: str) -> list[str]:
        """Every value of ``key`` in arrival order."""
        first = self.fields.get(key)
        if first is None:
            return []
        return [first, *(v for k, v in self.extra if k == key)]

    @property
    def kind(self) -> str:
        """``Event: X`` → ``X``; a response → ``Response``; anything else → ``""``."""
        event = self.fields.get("Event")
        if event is not None:
            return event
        return "Response" if "Response" in self.fields else ""


def parse_block(block: str) -> Message:
    """Parse one message block (without its terminating blank line)."""
    lines = block.split("\r\n")
    try:  # fast path: every line is "Key: value" and no key repeats (split in C, no frame)
        fields = dict(map(str.split, lines, _SEP, _ONCE))
    except ValueError:
        return _parse_block_slow(lines)
    if len(fields) != len(lines):
        return _parse_block_slow(lines)
    return Message(fields)


def _parse_block_slow(lines: list[str]) -> Message:
    fields: dict[str, str] = {}
    extra: list[tuple[str, str]] = []
    for line in lines:
        key, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if key in fields:
            extra.append((key, value))
        else:
            fields[key] = value
    return Message(fields, tuple(extra))


def split(data: bytes, keep: frozenset[str] | None = None) -> tuple[list[Message], bytes]:
    """Parse every complete message in ``data``; return them and the incomplete tail.

    With ``keep``, events whose name is not in it are dropped before their fields are parsed
    (responses are always kept): the cheap way to ignore events a filter let through.
    """
    end = data.rfind(_END)
    if end < 0:
        return [], data
    body = data[:end].decode("utf-8", "replace")
    messages: list[Message] = []
    for block in body.split("\r\n\r\n"):
        if block.startswith("\r\n"):
            block = block.lstrip("\r\n")
        if not block:
            continue
        if keep is not None and block.startswith("Event: "):  # dropped unparsed if unwanted
            eol = block.find("\r\n", 7)
            if (block[7:eol] if eol >= 0 else block[7:]) not in keep:
                continue
        messages.append(parse_block(block))
    return messages, data[end + 4 :]


class AmiParser:
    """Incremental parser for one AMI session: feed it what the socket read."""

    __slots__ = ("_buffer", "_keep", "banner")

    def __init__(self, *, expect_banner: bool = True, keep: frozenset[str] | None = None) -> None:
        self._buffer = b""
        self._keep = keep
        self.banner: str | None = None if expect_banner else ""

    def feed(self, data: bytes) -> list[Message]:
        """Add bytes; return every message completed by them, in order."""
        buf = self._buffer + data if self._buffer else data
        if self.banner is None:
            nl = buf.find(b"\r\n")
            if nl < 0:
                self._buffer = buf
                if len(buf) > 256:
                    raise ProtocolError("no AMI banner in the first 256 bytes")
                return []
            line = buf[:nl]
            if not line.startswith(BANNER_PREFIX):
                raise ProtocolError(f"not an AMI banner: {line[:60]!r}")
            self.banner = line.decode("ascii", "replace")
            buf = buf[nl + 2 :]
        messages, self._buffer = split(buf, self._keep)
        if len(self._buffer) > MAX_MESSAGE:
            raise ProtocolError("AMI message larger than 1 MiB")
        return messages
