"""The AMI link to one Asterisk server: the only module that owns an AMI socket.

Why not panoramisk (pinned at 1.4 and kept as the project's dependency): its traps, confirmed by
running it, fight this gateway at the two places that matter most. Its protocol replays every
action still waiting for a reply when the socket drops, which turns a lost ``OriginateResponse``
into a second call to the same person; marking ``originate`` forgettable instead leaves its
future unresolved for ever. ``connect()`` returns before login, and an ``Async: true``
Originate's future resolves only at ``OriginateResponse`` (as a list). Working around all of
that would leave little of panoramisk in use, while the gateway needs its own pure parser
anyway (``gateway.ami.parser``) and must read ~40 events per call at thousands of calls per
second. So the client here is written on asyncio streams, and nothing in the gateway imports
panoramisk.

What the link guarantees:

* login is awaited (``Authentication failed`` raises :class:`AuthenticationFailed`); then one
  ``Filter`` per used event is installed so only those events arrive;
* an ``Originate`` is written exactly once, fire-and-forget, with the caller's ``ActionID``: it
  is never queued inside the link and never replayed; its ``Response`` and ``OriginateResponse``
  reach ``on_event`` like any event, and the tracker settles the call from them;
* other actions are awaited with a timeout; when the socket drops their futures fail with
  :class:`LinkDown` and they are not replayed either;
* a ``Ping`` every ``ping_interval`` measures the round trip; a missed Ping or a silent socket
  closes the session, and the link reconnects with exponential backoff and jitter;
* every state change goes through :mod:`gateway.ami.linkstate` and is reported to ``on_state``.

Events are delivered to ``on_event`` in arrival order from the one reader task.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from gateway import validate
from gateway.ami import events as ev
from gateway.ami.linkstate import LinkInput, LinkState, apply
from gateway.ami.parser import AmiParser
from gateway.ami.reconnect import LinkLoop, run_link
from gateway.errors import (
    ActionFailed,
    AuthenticationFailed,
    GatewayError,
    LinkDown,
    ProtocolError,
)

log = logging.getLogger("gateway.ami")

Headers = Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class AmiEndpoint:
    """Where and as whom to log in; the secret never appears in ``repr``."""

    server: str
    host: str
    port: int
    username: str
    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class LinkTiming:
    connect_timeout: float = 5.0
    action_timeout: float = 5.0
    ping_interval: float = 5.0
    ping_timeout: float = 5.0
    idle_timeout: float = 20.0  # no bytes at all for this long: the peer is gone
    backoff_base: float = 0.5
    backoff_cap: float = 10.0
    read_size: int = 1 << 18


@dataclass(frozen=True, slots=True)
class LinkStats:
    """Per-link figures for the metrics layer."""

    server: str
    link: str  # "ami" | "ari"
    state: str
    reconnects: int
    ping_rtt_s: float | None
    events: int
    bytes_in: int
    originates_written: int


def serialize(headers: Headers) -> bytes:
    """One AMI action on the wire; every header is checked for CR/LF/NUL first."""
    validate.header_values(headers)
    return ("".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n").encode()


class AmiLink:
    """One AMI session to one server, reconnected for ever until :meth:`stop`."""

    def __init__(
        self,
        endpoint: AmiEndpoint,
        *,
        on_event: Callable[[ev.AmiEvent], None],
        on_state: Callable[[LinkState], None] | None = None,
        on_ready: Callable[[], Awaitable[None]] | None = None,
        on_lost: Callable[[], None] | None = None,
        filters: Sequence[str] = ev.USED_EVENTS,
        timing: LinkTiming = LinkTiming(),
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.endpoint = endpoint
        self._on_event = on_event
        self._on_state = on_state
        self._on_ready = on_ready
        self._on_lost = on_lost
        self._filters = tuple(filters)
        self.timing = timing
        self._clock = clock
        self._rand = rand
        self._state = LinkState.DISCONNECTED
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[str, asyncio.Future[ev.Response]] = {}
        self._lists: dict[str, tuple[list[ev.AmiEvent], asyncio.Future[None]]] = {}
        self._ids = itertools.count(1)
        self._stopping = asyncio.Event()
        self.reconnects = 0
        self.ping_rtt_s: float | None = None
        self.events = 0
        self.bytes_in = 0
        self.originates_written = 0
        self.malformed = 0
        self.banner: str | None = None

    # --- public --------------------------------------------------------------------------

    @property
    def state(self) -> LinkState:
        return self._state

    @property
    def ready(self) -> bool:
        return self._state is LinkState.READY

    def stats(self) -> LinkStats:
        return LinkStats(
            self.endpoint.server,
            "ami",
            str(self._state),
            self.reconnects,
            self.ping_rtt_s,
            self.events,
            self.bytes_in,
            self.originates_written,
        )

    def write_originate(self, headers: Headers) -> bool:
        """Write an Originate once, now, without waiting; ``False`` if the link is not ready.

        The caller owns the ``ActionID`` and settles the call from events; a ``True`` here means
        the bytes were handed to the transport, never that Asterisk received them.
        """
        data = serialize(headers)
        writer = self._writer
        if self._state is not LinkState.READY or writer is None or writer.is_closing():
            return False
        writer.write(data)
        self.originates_written += 1
        return True

    async def action(self, headers: Headers, *, wait_s: float | None = None) -> ev.Response:
        """Send an action (without ``ActionID``; one is added) and await its response."""
        writer = self._writer
        if writer is None or writer.is_closing():
            raise LinkDown(f"{self.endpoint.server}: AMI link is {self._state}")
        name = headers[0][1] if headers else "?"
        action_id = f"gw-{next(self._ids)}"
        future: asyncio.Future[ev.Response] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = future
        try:
            writer.write(serialize([headers[0], ("ActionID", action_id), *headers[1:]]))
            async with asyncio.timeout(wait_s or self.timing.action_timeout):
                response = await future
        except TimeoutError:
            raise ActionFailed(name, "no response in time") from None
        finally:
            self._pending.pop(action_id, None)
        if not response.success:
            raise ActionFailed(name, response.message)
        return response

    async def list_action(
        self, headers: Headers, *, wait_s: float | None = None
    ) -> list[ev.AmiEvent]:
        """Send a list action (CoreShowChannels, QueueStatus) and collect its typed items."""
        action_id = f"gw-list-{next(self._ids)}"
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        items: list[ev.AmiEvent] = []
        self._lists[action_id] = (items, done)
        try:
            writer = self._writer
            if writer is None or writer.is_closing():
                raise LinkDown(f"{self.endpoint.server}: AMI link is {self._state}")
            writer.write(serialize([headers[0], ("ActionID", action_id), *headers[1:]]))
            async with asyncio.timeout(wait_s or self.timing.action_timeout * 2):
                await done
        except TimeoutError:
            raise ActionFailed(headers[0][1], "list did not complete in time") from None
        finally:
            self._lists.pop(action_id, None)
        return items

    async def run(self) -> None:
        """Connect, log in, serve, reconnect with backoff; return only after :meth:`stop`."""
        await run_link(
            LinkLoop(
                name=f"ami link {self.endpoint.server}",
                log=log,
                session=self._session,
                teardown=self._teardown,
                transition=self._transition,
                is_ready=lambda: self._state is LinkState.READY,
                stopping=self._stopping,
                backoff=(self.timing.backoff_base, self.timing.backoff_cap),
                rand=self._rand,
                errors=(OSError, TimeoutError, GatewayError),
                on_lost=self._on_lost,
                on_retry=self._count_reconnect,
            )
        )

    def _count_reconnect(self) -> None:
        self.reconnects += 1

    async def stop(self) -> None:
        """Ask :meth:`run` to finish; it closes the socket (the run task's owner awaits it)."""
        self._stopping.set()
        writer = self._writer
        if writer is not None:
            writer.close()

    # --- one session ---------------------------------------------------------------------

    async def _session(self) -> bool:
        t = self.timing
        async with asyncio.timeout(t.connect_timeout):
            reader, writer = await asyncio.open_connection(self.endpoint.host, self.endpoint.port)
        self._writer = writer
        self._transition(LinkInput.CONNECTED)
        reader_task = asyncio.create_task(self._read_loop(reader), name="ami-reader")
        tasks: set[asyncio.Task[None]] = {reader_task}
        try:
            ready = asyncio.create_task(self._become_ready(), name="ami-login")
            tasks.add(ready)
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if ready not in done:
                reader_task.result()  # the socket closed during login: raise why
                raise LinkDown("connection closed during login")
            ready.result()
            tasks.discard(ready)
            tasks.add(asyncio.create_task(self._ping_loop(), name="ami-ping"))
            if self._on_ready is not None:
                tasks.add(asyncio.create_task(self._run_on_ready(), name="ami-on-ready"))
            while True:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    tasks.discard(task)
                    task.result()  # raises why the session ended
                if reader_task in done:
                    return True
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _run_on_ready(self) -> None:
        assert self._on_ready is not None
        try:
            await self._on_ready()
        except GatewayError as exc:  # reconciliation is retried by the tracker's deadlines
            log.warning("ami link %s: on_ready failed: %s", self.endpoint.server, exc)

    async def _become_ready(self) -> None:
        ep = self.endpoint
        try:
            await self.action(
                [("Action", "Login"), ("Username", ep.username), ("Secret", ep.secret)]
            )
        except ActionFailed as exc:
            raise AuthenticationFailed(f"{ep.server}: {exc.message}") from exc
        for name in self._filters:
            try:
                await self.action(
                    [("Action", "Filter"), ("Operation", "Add"), ("Filter", f"Event: {name}")]
                )
            except ActionFailed as exc:  # an old Asterisk: run unfiltered rather than not at all
                log.warning("ami link %s: Filter refused (%s); events unfiltered", ep.server, exc)
                break
        self._transition(LinkInput.AUTHENTICATED)

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(self.timing.ping_interval)
            start = self._clock()
            await self.action([("Action", "Ping")], wait_s=self.timing.ping_timeout)
            self.ping_rtt_s = self._clock() - start

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        parser = AmiParser(keep=ev.TYPED_EVENTS)
        while True:
            async with asyncio.timeout(self.timing.idle_timeout):
                data = await reader.read(self.timing.read_size)
            if not data:
                raise LinkDown(f"{self.endpoint.server}: AMI connection closed by the server")
            self.bytes_in += len(data)
            for msg in parser.feed(data):
                try:
                    event = ev.parse_event(msg)
                except ProtocolError as exc:  # one bad message is skipped, not the session
                    self.malformed += 1
                    log.warning(
                        "ami link %s: malformed message skipped: %s", self.endpoint.server, exc
                    )
                    continue
                if event is not None:
                    self._dispatch(event)
            if self.banner is None and parser.banner:
                self.banner = parser.banner

    def _dispatch(self, event: ev.AmiEvent) -> None:
        self.events += 1
        kind = type(event)
        if kind is ev.Response:
            future = self._pending.pop(event.action_id, None)  # type: ignore[union-attr]
            if future is not None:
                if not future.done():
                    future.set_result(event)  # type: ignore[arg-type]
                return
        elif kind is ev.CoreShowChannel or kind is ev.QueueMemberEvent or kind is ev.ListComplete:
            entry = self._lists.get(event.action_id)  # type: ignore[union-attr]
            if entry is not None:
                if kind is ev.ListComplete:
                    if not entry[1].done():
                        entry[1].set_result(None)
                else:
                    entry[0].append(event)
                return
        self._on_event(event)

    async def _teardown(self) -> None:
        writer, self._writer = self._writer, None
        error = LinkDown(f"{self.endpoint.server}: AMI link lost")
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
        self._pending.clear()
        for _, done in self._lists.values():
            if not done.done():
                done.set_exception(error)
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, TimeoutError, ProtocolError):
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()

    def _transition(self, event: LinkInput) -> None:
        old = self._state
        self._state = apply(f"{self.endpoint.server}/ami", old, event)
        if self._state is not old:
            log.info("link=%s/ami %s -[%s]-> %s", self.endpoint.server, old, event, self._state)
            if self._on_state is not None:
                self._on_state(self._state)
