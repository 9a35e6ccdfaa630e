"""An independent witness of what reaches Asterisk: a loopback TCP relay that counts Originates.

The fault suite must not believe the gateway's own counters, so this relay sits between the
gateway and the AMI port, reads the gateway → Asterisk direction with the simulator's pure
wire-format parser (:mod:`asterisk_sim.amiproto`) and records every ``Action: Originate`` it
hands on: when, on which connection, for which attempt (the ``DIALER_ATTEMPT_ID`` channel
variable, else the ``ActionID``) and which callee (the resource of the ``Channel`` dial string,
``PJSIP/+442079460000@carrier-a`` → ``+442079460000``). The Asterisk → gateway direction is
relayed untouched.

:class:`Relay` is the plain relay with cuts on command (``cut(seconds)`` aborts both sockets of
every relayed connection and resets new ones until the cut ends); the fault bench also puts one
in front of PostgreSQL. :class:`Witness` is a relay with the AMI tap.

This module must not import the gateway: a witness that shared the gateway's parser or its
dial-string code would share its bugs. It owns its pump tasks and its timer; :meth:`Relay.stop`
cancels and awaits them.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import contextlib
import dataclasses
import re
import time
from collections.abc import Callable

from asterisk_sim.amiproto import AmiMessage, parse_frames

_RESOURCE = re.compile(r"^[^/]+/([^@/]+)")
ATTEMPT_VARIABLE = "DIALER_ATTEMPT_ID"


@dataclasses.dataclass(frozen=True, slots=True)
class Originate:
    """One Originate seen on the wire (wall-clock ``at``, epoch seconds)."""

    at: float
    connection: int
    attempt_id: str
    number: str


def originate_of(msg: AmiMessage, at: float, connection: int) -> Originate | None:
    """The Originate in ``msg``, or None when ``msg`` is another action."""
    if msg.action.lower() != "originate":
        return None
    attempt = ""
    for variable in msg.get_all("Variable"):
        for pair in variable.split(","):  # Asterisk also accepts several in one header
            key, _, value = pair.partition("=")
            if key.strip() == ATTEMPT_VARIABLE:
                attempt = value.strip()
    attempt = attempt or msg.get("ActionID")
    match = _RESOURCE.match(msg.get("Channel"))
    return Originate(at, connection, attempt, match.group(1) if match else msg.get("Channel"))


class Relay:
    """127.0.0.1:<port> → <host>:<target>, with cuts on command."""

    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self._host = host
        self._target = target_port
        self._server: asyncio.Server | None = None
        self._links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._down = False
        self._timer: asyncio.TimerHandle | None = None
        self.cuts = 0
        self.refused = 0  # connections reset while cut (or the target was unreachable)
        self.connections = 0

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def down(self) -> bool:
        return self._down

    async def start(self, port: int = 0) -> Relay:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", port)
        return self

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._server is not None:
            self._server.close()
        self._drop_all()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await task
        if self._server is not None:
            await self._server.wait_closed()

    def cut(self, seconds: float) -> None:
        """Drop both sockets of every relayed connection now; refuse new ones for ``seconds``."""
        self.cuts += 1
        self._down = True
        self._drop_all()
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(seconds, self._restore)

    def _restore(self) -> None:
        self._timer = None
        self._down = False

    def _drop_all(self) -> None:
        for client, upstream in list(self._links):
            client.transport.abort()
            upstream.transport.abort()
        self._links.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._down:
            self.refused += 1
            writer.transport.abort()
            return
        try:
            async with asyncio.timeout(5):
                up_reader, up_writer = await asyncio.open_connection(self._host, self._target)
        except (OSError, TimeoutError):
            self.refused += 1
            writer.transport.abort()
            return
        self.connections += 1
        link = (writer, up_writer)
        self._links.add(link)
        tap = self._tap(self.connections)
        for src, dst, seen in ((reader, up_writer, tap), (up_reader, writer, None)):
            task = asyncio.create_task(self._pump(src, dst, link, seen))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _tap(self, connection: int) -> Callable[[bytes], None] | None:
        """What reads the client → target bytes of one connection (None: nothing)."""
        del connection
        return None

    async def _pump(
        self,
        src: asyncio.StreamReader,
        dst: asyncio.StreamWriter,
        link: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
        seen: Callable[[bytes], None] | None,
    ) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                if seen is not None:
                    seen(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            for side in link:  # one side gone: the relayed connection is gone
                side.transport.abort()
            self._links.discard(link)


class Witness(Relay):
    """A relay in front of an AMI port that records every Originate it passes on."""

    def __init__(
        self, target_port: int, host: str = "127.0.0.1", clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(target_port, host)
        self._clock = clock
        self.originates: list[Originate] = []
        self.by_number: collections.Counter[str] = collections.Counter()
        self.by_attempt: collections.Counter[str] = collections.Counter()

    def _tap(self, connection: int) -> Callable[[bytes], None]:
        pending = bytearray()

        def seen(data: bytes) -> None:
            pending.extend(data)
            result = parse_frames(bytes(pending))
            del pending[: len(pending) - len(result.leftover)]
            at = self._clock()
            for msg in result.messages:
                if isinstance(msg, AmiMessage):
                    found = originate_of(msg, at, connection)
                    if found is not None:
                        self._record(found)

        return seen

    def _record(self, originate: Originate) -> None:
        self.originates.append(originate)
        self.by_number[originate.number] += 1
        self.by_attempt[originate.attempt_id] += 1

    def first_after(self, at: float) -> float | None:
        """Time of the first Originate at or after ``at`` (None: none yet)."""
        index = bisect.bisect_left(self.originates, at, key=lambda o: o.at)
        return self.originates[index].at if index < len(self.originates) else None

    def since(self, at: float) -> int:
        """How many Originates were passed on at or after ``at``."""
        return len(self.originates) - bisect.bisect_left(self.originates, at, key=lambda o: o.at)
