"""The AMI TCP server: sessions (an ``asyncio.Protocol`` each) and the hub that fans events out.

Output is batched: a session appends message text to a list and flushes it with one
``transport.write`` per loop iteration. The hub answers :meth:`AmiHub.wants` from a per-name
cache, so when every session filters on ``Event: X`` the world skips formatting events nobody
wants. A session can be *held* (synchronous Originate, bad-login delay, stall fault): it then
neither reads the next action nor delivers anything, as the real server does. Actions are
interpreted in :mod:`asterisk_sim.ami_actions`; this module must not know what an action means.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from asterisk_sim.amiproto import AmiMessage, error, parse_frames
from asterisk_sim.errors import FrameError

if TYPE_CHECKING:
    from asterisk_sim.ami_actions import ActionContext

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
_LITERAL = re.compile(r"^Event: ([A-Za-z0-9_]+)$")


@dataclasses.dataclass(frozen=True, slots=True)
class EventFilter:
    """One ``Filter`` (``!`` prefix excludes). A plain ``Event: X`` is matched by name."""

    pattern: re.Pattern[str]
    include: bool
    literal: str | None

    @classmethod
    def parse(cls, text: str) -> EventFilter:
        include = not text.startswith("!")
        body = text if include else text[1:]
        match = _LITERAL.match(body)
        return cls(re.compile(body), include, match.group(1) if match else None)

    def matches(self, name: str, text: str) -> bool:
        if self.literal is not None and name != "UserEvent":
            return name.startswith(self.literal)
        return self.pattern.search(text) is not None

    def may_match(self, name: str) -> bool:
        if self.literal is None or name == "UserEvent":
            return True
        return name.startswith(self.literal)


class AmiHub:
    """Logged-in sessions; the AMI event sink of the world."""

    def __init__(self) -> None:
        self.sessions: set[AmiSession] = set()
        self._wants: dict[str, bool] = {}
        self.stalled = False
        self.bytes_out = 0

    def changed(self) -> None:
        self._wants.clear()

    def add(self, session: AmiSession) -> None:
        self.sessions.add(session)
        self.changed()

    def discard(self, session: AmiSession) -> None:
        self.sessions.discard(session)
        self.changed()

    def wants(self, name: str) -> bool:
        cached = self._wants.get(name)
        if cached is None:
            cached = any(s.may_want(name) for s in self.sessions)
            self._wants[name] = cached
        return cached

    def send(self, name: str, text: str) -> None:
        for session in self.sessions:
            if session.accepts(name, text):
                session.push(text)


class AmiSession(asyncio.Protocol):
    """One AMI connection."""

    def __init__(self, hub: AmiHub, make_context: Callable[[AmiSession], ActionContext]) -> None:
        self.hub = hub
        self.ctx = make_context(self)
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()
        self.logged_in = False
        self.events_on = True
        self.classes: frozenset[str] | None = None
        self.filters: list[EventFilter] = []
        self._includes: list[EventFilter] = []
        self._excludes: list[EventFilter] = []
        self._buffer = b""
        self._inbox: collections.deque[AmiMessage | FrameError] = collections.deque()
        self._out: list[str] = []
        self._held: list[str] = []
        self._holds = 0
        self._flush_scheduled = False
        self.closing = False
        self.peer = ("127.0.0.1", 0)
        self.number = 0  # this connection's number (SimAsterisk.ami_connections)

    # -- asyncio.Protocol -----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.peer = transport.get_extra_info("peername") or self.peer
        sim = self.ctx.sim
        if sim.down:  # no Asterisk process behind the port
            transport.abort()
            return
        sim.ami_connections += 1
        self.number = sim.ami_connections
        sim.ami_sessions.add(self)
        transport.write(BANNER)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.hub.discard(self)
        self.ctx.sim.ami_sessions.discard(self)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        result = parse_frames(self._buffer + data)
        self._buffer = result.leftover
        self._inbox.extend(result.messages)
        self._drain_inbox()

    # -- input ----------------------------------------------------------------------------------
    def _drain_inbox(self) -> None:
        while self._inbox and not self._holds and not self.closing and not self.hub.stalled:
            item = self._inbox.popleft()
            if isinstance(item, FrameError):
                self.reply(error("", "Missing action in request"))
                continue
            self.ctx.dispatch(item)

    def resume_input(self) -> None:
        self._drain_inbox()

    # -- holding (synchronous originate, bad login, stall) --------------------------------------
    def hold(self) -> None:
        self._holds += 1

    def release(self, first: str = "") -> None:
        self._holds = max(self._holds - 1, 0)
        if first:
            self._out.append(first)
        if not self._holds:
            self._out.extend(self._held)
            self._held.clear()
            self._schedule()
            self.loop.call_soon(self._drain_inbox)

    # -- output ---------------------------------------------------------------------------------
    def add_filter(self, flt: EventFilter) -> None:
        self.filters.append(flt)
        self._includes = [f for f in self.filters if f.include]
        self._excludes = [f for f in self.filters if not f.include]
        self.hub.changed()

    def may_want(self, name: str) -> bool:
        if not self.events_on:
            return False
        if not self._includes:
            return True
        return any(f.may_match(name) for f in self._includes)

    def accepts(self, name: str, text: str) -> bool:
        if not self.events_on:
            return False
        if self.classes is not None:
            start = text.find("Privilege: ") + 11
            privs = text[start : text.find("\r\n", start)].split(",")
            if not self.classes.intersection(privs):
                return False
        if not self.filters:
            return True
        if self._includes and not any(f.matches(name, text) for f in self._includes):
            return False
        return not any(f.matches(name, text) for f in self._excludes)

    def push(self, text: str) -> None:
        """Queue an event (held while the session is blocked or the server stalled)."""
        if self._holds or self.hub.stalled:
            self._held.append(text)
            return
        self._out.append(text)
        self._schedule()

    def reply(self, text: str) -> None:
        """Queue an action response, possibly delayed by the delay-responses fault."""
        delay = self.ctx.sim.faults.response_delay
        if delay > 0:
            self.loop.call_later(delay, self._late_reply, text)
            return
        self.push(text)

    def _late_reply(self, text: str) -> None:
        if self.transport is not None:
            self.push(text)

    def write_now(self, data: bytes) -> None:
        self._flush()
        if self.transport is not None:
            self.transport.write(data)

    def _schedule(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self.transport is None or not self._out:
            self._out.clear()
            return
        data = "".join(self._out).encode()
        self._out.clear()
        self.hub.bytes_out += len(data)
        self.transport.write(data)

    def unstall(self) -> None:
        if self._held and not self._holds:
            self._out.extend(self._held)
            self._held.clear()
            self._schedule()
        self._drain_inbox()

    def close(self, abort: bool = False) -> None:
        self._flush()
        self.closing = True
        self.hub.discard(self)
        if self.transport is not None:
            if abort:
                self.transport.abort()
            else:
                self.transport.close()
