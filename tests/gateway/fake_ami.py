"""A small real AMI server for tests: it speaks the wire protocol and replays recorded bytes.

It answers Login (accepting one secret, then ``FullyBooted`` as a booted Asterisk sends it),
Filter, Ping, CoreStatus, CoreShowChannels and QueueStatus (never ``Status``, so a test can hold
an action pending), records
every byte it receives, and on an ``Originate`` replays the events of a recorded trace with the
Originate's ActionID and ids substituted. Tests can drop every connection at will.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from gateway.asterisk.ami.parser import AmiParser, Message
from tests.gateway.traces import TRACES

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def trace_events(name: str) -> bytes:
    """The events of a recorded session after login: every message from the first Newchannel,
    without responses to other actions and without the Logoff reply."""
    data = (TRACES / f"{name}.txt").read_bytes()
    blocks = data.split(b"\r\n\r\n")
    keep = [
        b
        for b in blocks
        if b.startswith(b"Event: ")
        and not b.startswith((b"Event: FullyBooted", b"Event: SuccessfulAuth"))
    ]
    return b"".join(b + b"\r\n\r\n" for b in keep)


def error(action_id: str, message: str) -> bytes:
    return f"Response: Error\r\nActionID: {action_id}\r\nMessage: {message}\r\n\r\n".encode()


class FakeAmi:
    """A TCP AMI peer on port 0."""

    def __init__(self, *, secret: str = "s3cret", accept_filters: bool = True) -> None:
        self.secret = secret
        self.accept_filters = accept_filters
        self.answer_ping = True  # False: Pings go unanswered (a busy or wedged manager)
        self.received = bytearray()
        self.actions: list[Message] = []
        self.logins = 0
        self.on_originate: Callable[[Message], bytes] | None = None
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = 0
        self.changed = asyncio.Condition()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._handlers):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def drop(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def send_event(self, raw: bytes) -> None:
        """Write one event to every connected session."""
        for writer in list(self._writers):
            writer.write(raw)

    def count(self, action: str) -> int:
        return sum(1 for m in self.actions if m.get("Action") == action)

    async def wait_for(self, predicate: Callable[[], bool], within: float = 10.0) -> None:
        async with asyncio.timeout(within), self.changed:
            await self.changed.wait_for(predicate)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        writer.write(BANNER)
        parser = AmiParser(expect_banner=False)
        try:
            while data := await reader.read(65536):
                self.received += data
                for msg in parser.feed(data):
                    self.actions.append(msg)
                    writer.write(self._reply(msg))
                    async with self.changed:
                        self.changed.notify_all()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            self._handlers.discard(task)

    def _reply(self, msg: Message) -> bytes:
        action, aid = msg.get("Action"), msg.get("ActionID")
        head = f"Response: Success\r\nActionID: {aid}\r\n"
        if action == "Login":
            if msg.get("Secret") != self.secret:
                return error(aid, "Authentication failed")
            self.logins += 1
            booted = (
                "Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 5\r\nLastReload: 5\r\n"
                "Status: Fully Booted\r\n\r\n"
            )
            return (head + "Message: Authentication accepted\r\n\r\n" + booted).encode()
        if action == "CoreStatus":
            return (
                head + "CoreStartupDate: 2026-11-23\r\nCoreStartupTime: 02:16:47\r\n"
                "CoreReloadDate: 2026-11-23\r\nCoreReloadTime: 02:16:47\r\n"
                "CoreCurrentCalls: 0\r\n\r\n"
            ).encode()
        if action == "Filter":
            if not self.accept_filters:
                return error(aid, "Invalid/unknown command")
            return (head + "Message: Success\r\n\r\n").encode()
        if action == "Status":
            return b""  # never answered: lets a test hold an action pending
        if action == "Ping":
            if not self.answer_ping:
                return b""
            return (head + "Ping: Pong\r\nTimestamp: 1.0\r\n\r\n").encode()
        if action in ("CoreShowChannels", "QueueStatus"):
            complete = (
                "CoreShowChannelsComplete"
                if action == "CoreShowChannels"
                else "QueueStatusComplete"
            )
            return (
                head + "EventList: start\r\nMessage: will follow\r\n\r\n"
                f"Event: {complete}\r\nActionID: {aid}\r\n"
                "EventList: Complete\r\nListItems: 0\r\n\r\n"
            ).encode()
        if action == "Originate":
            events = self.on_originate(msg) if self.on_originate is not None else b""
            return (head + "Message: Originate successfully queued\r\n\r\n").encode() + events
        return error(aid, "Invalid/unknown command")
