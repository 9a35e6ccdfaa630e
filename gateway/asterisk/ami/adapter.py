"""The AMI link to one Asterisk server, carried by panoramisk 1.4; the only module importing it.

What panoramisk does here. A private ``Manager`` subclass opens each session (``connect()`` →
``loop.create_connection`` with the private ``AMIProtocol`` subclass below, whose
``data_received`` gets the socket's bytes). Every action but Originate (Login, Filter, Ping,
Hangup, CoreShowChannels, QueueStatus …) is a ``panoramisk.actions.Action`` sent with
``Manager.send_action``: panoramisk serialises it, registers it by ``ActionID`` in its protocol's
``responses`` map and writes it; the caller awaits the Action's future under a timeout.

Its traps (confirmed by running it), and how each is neutralised:

* **Replay.** ``AMIProtocol.close`` moves unanswered actions to ``Manager.awaiting_actions``, and
  ``send_awaiting_actions`` (run on ``FullyBooted``) sends them again on the next session: a lost
  reply to an Originate becomes a second call. Here ``close``/``connection_lost`` fail every
  pending future at once with :class:`LinkDown` and queue nothing, ``send_awaiting_actions`` only
  empties the queue and is no longer registered, and each session has a fresh ``responses`` map.
* **Originate futures.** An ``Async: true`` Originate's future resolves only at
  ``OriginateResponse`` (as a list); a forgettable one never does. So an Originate is never an
  Action: validated, serialised once in the caller's header order with the caller's ``ActionID``,
  and written to the protocol's transport (batched: one write per event-loop callback, flushed
  before any other action), with no ``responses`` entry and no future: nothing to replay or
  leak, nothing awaited. Its ``Response`` and ``OriginateResponse`` reach ``on_event``
  like any event, and the tracker settles the call from them.
* **Login.** ``connect()`` returns before login, and a Manager given a ``username`` logs in from a
  done-callback. None is given: the link sends ``Login`` itself and awaits it (``Authentication
  failed`` raises :class:`AuthenticationFailed`), then one ``Filter`` per used event; only then is
  it ``ready``.
* **Its reconnect and pinger.** ``Manager.connection_made`` (after a failed connect) and
  ``connection_lost`` schedule ``connect()`` again, and a Ping timer is armed whose answers nobody
  checks. Both are overridden: only :func:`gateway.asterisk.ami.reconnect.run_link` reconnects
  (exponential
  backoff with jitter, through :mod:`gateway.asterisk.ami.linkstate`); the link's ping loop
  measures the
  round trip and ends a session whose Ping is not answered, and a watchdog ends a silent one.
  panoramisk's own delays are set from the link's timing, so a timer armed by mistake would show
  in the tests within seconds.
* **Parsing speed.** ``Message.from_line`` and its fnmatch dispatch read ~70,000 events per CPU
  second on the recorded traces: too few for ~40 events per call at 2,300 calls/s. The protocol
  feeds the pure :class:`~gateway.asterisk.ami.parser.AmiParser` (~330,000) and
  :func:`~gateway.asterisk.ami.events.parse_event` instead: a response to an awaited action is
  matched in
  panoramisk's ``responses`` map by ``ActionID``, list items are collected on their Action up to
  the ``…Complete`` event, and every other event goes to ``on_event`` in arrival order.
* ``panoramisk.testing`` changes a module-level setting (the line end): never imported.

Every ``ActionID`` on the wire is the link's (``gw-<n>``) or the Originate caller's, so anything
panoramisk sent by itself would stand out; the tests assert that nothing does. Every state change
goes through :mod:`gateway.asterisk.ami.linkstate` and is reported to ``on_state``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from panoramisk import Manager
from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol

from gateway.asterisk import validate
from gateway.asterisk.ami import events as ev
from gateway.asterisk.ami.linkconfig import AmiEndpoint, LinkStats, LinkTiming
from gateway.asterisk.ami.linkstate import LinkInput, LinkState, apply
from gateway.asterisk.ami.parser import AmiParser, Message
from gateway.asterisk.ami.reconnect import LinkLoop, run_link
from gateway.asterisk.errors import (
    ActionFailed,
    AuthenticationFailed,
    GatewayError,
    LinkDown,
    ProtocolError,
)

__all__ = ["AmiEndpoint", "AmiLink", "LinkStats", "LinkTiming", "serialize"]

log = logging.getLogger("gateway.asterisk.ami")

Headers = Sequence[tuple[str, str]]
Answer = ev.Response | list[ev.AmiEvent]

# the typed events that can answer an awaited action (they carry its ActionID)
# an outgoing batch of Originates this large is handed to the transport at once (about 100)
FLUSH_BYTES = 64 * 1024

_ANSWERS = frozenset(
    {ev.Response, ev.CoreShowChannel, ev.QueueMemberEvent, ev.DbEntry, ev.ListComplete}
)


def serialize(headers: Headers) -> bytes:
    """One AMI action on the wire; every header is checked for CR/LF/NUL first."""
    validate.header_values(headers)
    return ("\r\n".join(map(": ".join, headers)) + "\r\n\r\n").encode()


def _action(headers: Headers, action_id: str) -> Any:
    """A panoramisk Action: repeated keys become a list (it keeps one value per key)."""
    validate.header_values(headers)
    fields: dict[str, str | list[str]] = {"ActionID": action_id}
    spelled: dict[str, str] = {"actionid": "ActionID"}  # its keys are case-insensitive
    for key, value in headers:
        name = spelled.setdefault(key.lower(), key)
        old = fields.get(name)
        if old is None:
            fields[name] = value
        elif isinstance(old, list):
            old.append(value)
        else:
            fields[name] = [old, value]
    return Action(fields)


class _Protocol(AMIProtocol):  # type: ignore[misc]  # panoramisk is untyped
    """panoramisk's protocol with the gateway's parser on the read path and no replay on close."""

    def __init__(self, link: AmiLink) -> None:
        super().__init__()
        self._link = link
        self._loop = asyncio.get_running_loop()
        self._parser = AmiParser(keep=ev.TYPED_EVENTS)
        self.closed = False
        self.last_rx = self._loop.time()
        #: why the session ended (a result, never an exception: nobody may be left to read it)
        self.lost: asyncio.Future[BaseException] = self._loop.create_future()
        self.gone = asyncio.Event()  # connection_lost has run: the socket is closed
        self._out: list[bytes] = []  # Originates not yet handed to the transport
        self._out_size = 0

    def data_received(self, data: bytes) -> None:
        link = self._link
        link.bytes_in += len(data)
        self.last_rx = self._loop.time()
        try:
            self._deliver(self._parser.feed(data))
        except Exception as exc:  # no banner, a 1 MiB message, a failing consumer: session over
            self._shut(exc, abort=True)
        if link.banner is None:
            link.banner = self._parser.banner

    def _deliver(self, messages: list[Message]) -> None:
        link = self._link
        on_event = link._on_event
        responses = self.responses
        typed = 0
        for msg in messages:
            try:
                event = ev.parse_event(msg)
            except ProtocolError as exc:  # one bad message is skipped, not the session
                link.malformed += 1
                log.warning("ami link %s: malformed message skipped: %s", link.endpoint.server, exc)
                continue
            if event is None:
                continue
            typed += 1
            if type(event) in _ANSWERS:
                action = responses.get(event.action_id)  # type: ignore[union-attr]
                if action is not None and self._answer(action, event):
                    continue
            on_event(event)
        link.events += typed

    def _answer(self, action: Any, event: ev.AmiEvent) -> bool:
        """Give ``event`` to the awaited ``action``; False if it does not answer it."""
        kind = type(event)
        result: Answer
        if action.as_list:
            if kind is ev.Response and event.success:  # type: ignore[union-attr]
                return True  # "… will follow": the items come next
            if kind is not ev.Response and kind is not ev.ListComplete:
                action.responses.append(event)
                return True
            result = event if kind is ev.Response else action.responses  # type: ignore[assignment]
        elif kind is ev.Response:
            result = event  # type: ignore[assignment]
        else:
            return False
        del self.responses[action.id]
        if not action.future.done():
            action.future.set_result(result)
        return True

    def write_unanswered(self, data: bytes) -> bool:
        """Write an action nobody awaits (an Originate): no ``responses`` entry, no future.

        The bytes join the session's outgoing batch, handed to the transport as one write at
        the end of the current event-loop callback (a decision of 1,000 calls is a few socket
        writes, not 1,000), or at once when the batch reaches :data:`FLUSH_BYTES`, and always
        before any other action (:meth:`send`), so the order on the wire is the order of calls.
        """
        if self.closed or self.transport.is_closing():
            return False
        out = self._out
        if not out:
            self._loop.call_soon(self.flush)
        out.append(data)
        self._out_size += len(data)
        if self._out_size >= FLUSH_BYTES:
            self.flush()
        return True

    def flush(self) -> None:
        """Hand the outgoing batch to the transport (nothing when the session is gone)."""
        if not self._out:
            return
        data = b"".join(self._out)
        self._out.clear()
        self._out_size = 0
        if not self.closed and not self.transport.is_closing():
            self.transport.write(data)

    def send(self, data: Any, as_list: bool = False) -> Any:
        """panoramisk's send of an awaited action, after the Originates written before it."""
        self.flush()
        return super().send(data, as_list=as_list)

    def close(self) -> None:
        """Close without replay (panoramisk's ``close`` queues unanswered actions to resend)."""
        self._shut(LinkDown(f"{self._link.endpoint.server}: AMI session closed by the gateway"))

    def connection_lost(self, exc: Exception | None) -> None:
        server = self._link.endpoint.server
        why = "closed by the server" if exc is None else f"lost ({exc})"
        reason = LinkDown(f"{server}: AMI connection {why}")
        reason.__cause__ = exc
        self.closed = True  # the transport is gone already
        self._shut(reason)
        self.gone.set()
        if self.factory is not None:
            self.factory.connection_lost(exc)

    def _shut(self, reason: BaseException, *, abort: bool = False) -> None:
        if not self.lost.done():
            self.lost.set_result(reason)
        pending = list(self.responses.values())
        self.responses.clear()
        server = self._link.endpoint.server
        for action in pending:  # they fail now; they are never resent
            if not action.future.done():
                action.future.set_exception(LinkDown(f"{server}: AMI link lost"))
        if not self.closed:
            if not abort:
                self.flush()  # a clean close still sends what was written before it
            self._out.clear()
            self.closed = True
            if abort:
                self.transport.abort()
            else:
                self.transport.close()


class _Manager(Manager):  # type: ignore[misc]  # panoramisk is untyped
    """panoramisk's Manager opening sessions for one :class:`AmiLink`; its login, pinger,
    reconnect and replay are switched off, because the link does each of them once, itself."""

    protocol: _Protocol | None

    def __init__(self, link: AmiLink) -> None:
        ep, t = link.endpoint, link.timing
        super().__init__(
            host=ep.host,
            port=ep.port,
            ssl=False,
            encoding="utf8",
            protocol_factory=lambda: _Protocol(link),
            log=log,
            forgetable_actions=(),
            ping_delay=max(1, math.ceil(t.ping_interval)),
            ping_interval=max(1, math.ceil(t.ping_interval)),
            reconnect_timeout=max(1, math.ceil(t.backoff_cap)),
        )  # no username: its login would run in a done-callback, unawaited
        self.callbacks.clear()  # drops FullyBooted → send_awaiting_actions
        self.patterns.clear()

    def connection_made(self, f: asyncio.Future[Any]) -> None:
        """Wire the new protocol as panoramisk does, minus login, pinger and reconnect."""
        if f.cancelled() or f.exception() is not None:
            return  # the session awaiting connect() raises; run_link decides what comes next
        _, protocol = f.result()
        if self.protocol is not None and self.protocol is not protocol:
            self.protocol.close()
        self.protocol = protocol
        protocol.factory = self
        protocol.log = self.log
        protocol.config = self.config
        protocol.encoding = self.encoding = self.config["encoding"]
        self.responses = protocol.responses
        self._connected = True

    def connection_lost(self, exc: Exception | None) -> None:
        self._connected = False  # and no call_later(reconnect_timeout, connect)

    def ping(self) -> None:
        """Never armed: the link's own ping loop checks the answers."""

    async def send_awaiting_actions(self, *_: object) -> None:
        self.awaiting_actions.clear()  # never resend anything


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
        timing: LinkTiming | None = None,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.endpoint = endpoint
        self._on_event = on_event
        self._on_state = on_state
        self._on_ready = on_ready
        self._on_lost = on_lost
        self._filters = tuple(filters)
        self.timing = timing or LinkTiming()
        self._clock = clock
        self._rand = rand
        self._state = LinkState.DISCONNECTED
        self._manager = _Manager(self)
        self._protocol: _Protocol | None = None
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
        the bytes joined the session's outgoing batch (handed to the transport at the end of this
        event-loop callback, before any other action), never that Asterisk received them.
        """
        data = serialize(headers)
        protocol = self._protocol
        if self._state is not LinkState.READY or protocol is None:
            return False
        if not protocol.write_unanswered(data):
            return False
        self.originates_written += 1
        return True

    async def action(self, headers: Headers, *, wait_s: float | None = None) -> ev.Response:
        """Send an action (without ``ActionID``; one is added) and await its response."""
        answer = await self._call(headers, wait_s)
        if not answer.success:
            raise ActionFailed(headers[0][1], answer.message)
        return answer

    async def list_action(
        self, headers: Headers, *, wait_s: float | None = None
    ) -> list[ev.AmiEvent]:
        """Send a list action (CoreShowChannels, QueueStatus) and collect its typed items."""
        answer = await self._request(
            headers,
            wait_s or self.timing.action_timeout * 2,
            as_list=True,
            late="list did not complete in time",
        )
        if isinstance(answer, ev.Response):  # refused before any item
            raise ActionFailed(headers[0][1], answer.message)
        return answer

    async def db_get(self, family: str, key: str) -> str | None:
        """One AstDB value (``DBGet``, the ``reporting`` privilege), ``None`` if there is none."""
        headers = [("Action", "DBGet"), ("Family", family), ("Key", key)]
        answer = await self._request(
            headers, self.timing.action_timeout, as_list=True, late="DBGet did not complete in time"
        )
        if isinstance(answer, ev.Response):
            if "not found" in answer.message.lower():
                return None
            raise ActionFailed("DBGet", answer.message)
        for item in answer:
            if isinstance(item, ev.DbEntry):
                return item.value
        return None

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
        self._manager.close()

    # --- one session ---------------------------------------------------------------------

    async def _call(self, headers: Headers, wait_s: float | None = None) -> ev.Response:
        """Send a plain action and return its ``Response``, whether Success or Error."""
        wait = wait_s or self.timing.action_timeout
        answer = await self._request(headers, wait, as_list=False, late="no response in time")
        assert isinstance(answer, ev.Response)  # only a Response answers a plain action
        return answer

    async def _request(
        self, headers: Headers, wait_s: float, *, as_list: bool, late: str
    ) -> Answer:
        """Send ``headers`` as a panoramisk Action and await its future, under ``wait_s``."""
        protocol = self._protocol
        if protocol is None or protocol.closed or protocol.transport.is_closing():
            raise LinkDown(f"{self.endpoint.server}: AMI link is {self._state}")
        action = _action(headers, f"gw-{next(self._ids)}")
        future = self._manager.send_action(action, as_list=as_list)
        try:
            async with asyncio.timeout(wait_s):
                answer: Answer = await future
        except TimeoutError:
            raise ActionFailed(headers[0][1], late) from None
        finally:
            protocol.responses.pop(action.id, None)
        return answer

    async def _open(self) -> _Protocol:
        manager = self._manager
        manager.loop = asyncio.get_running_loop()
        async with asyncio.timeout(self.timing.connect_timeout):
            # connect() is panoramisk's create_connection task; its done-callback (our
            # connection_made) has wired the protocol to the manager before this await returns
            _, protocol = await manager.connect()
        self._protocol = protocol
        return protocol  # type: ignore[no-any-return]

    async def _session(self) -> bool:
        protocol = await self._open()
        if self._stopping.is_set():
            return False
        self._transition(LinkInput.CONNECTED)
        lost = protocol.lost
        tasks: set[asyncio.Task[None]] = set()
        try:
            login = asyncio.create_task(self._become_ready(), name="ami-login")
            tasks.add(login)
            first: list[asyncio.Future[Any]] = [login, lost]
            await asyncio.wait(first, return_when=asyncio.FIRST_COMPLETED)
            if not login.done():
                raise lost.result()  # the socket closed during login: why
            tasks.discard(login)
            login.result()
            tasks.add(asyncio.create_task(self._ping_loop(), name="ami-ping"))
            tasks.add(asyncio.create_task(self._watch_idle(protocol), name="ami-idle"))
            if self._on_ready is not None:
                tasks.add(asyncio.create_task(self._run_on_ready(), name="ami-on-ready"))
            while True:
                waits: list[asyncio.Future[Any]] = [*tasks, lost]
                done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                for task in tasks & done:
                    tasks.discard(task)
                    task.result()  # raises why the session ended
                if lost.done():
                    raise lost.result()
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
        login = [("Action", "Login"), ("Username", ep.username), ("Secret", ep.secret)]
        answer = await self._call(login)  # no answer in time is ActionFailed, not a refusal
        if not answer.success:
            raise AuthenticationFailed(f"{ep.server}: {answer.message}")
        for name in self._filters:
            try:
                await self.action(
                    [("Action", "Filter"), ("Operation", "Add"), ("Filter", f"Event: {name}")]
                )
            except ActionFailed as exc:
                # The shipped manager.conf grants no `system` class, so Filter is refused and the
                # user's static eventfilter lines do the cutting; an old Asterisk without either
                # sends everything, which the parser drops cheaply. Run rather than not at all.
                log.info(
                    "ami link %s: Filter refused (%s); relying on manager.conf eventfilters",
                    ep.server,
                    exc,
                )
                break
        self._transition(LinkInput.AUTHENTICATED)

    async def _ping_loop(self) -> None:
        loop = asyncio.get_running_loop()
        answered = loop.time()
        while True:
            await asyncio.sleep(self.timing.ping_interval)
            start, sent_at = self._clock(), loop.time()
            # Any answer proves the session alive: a shutting-down Asterisk answers every action
            # with an Error ("Asterisk is shutting down") and still sends its events (the
            # hang-ups, then Shutdown); only no answer in time ends the session. A Ping late
            # while bytes kept arriving after it was sent is a busy session (the answer queued
            # behind a burst of events) or a stalled process (ours or the peer's starved of
            # CPU: the answer may even have arrived in the same loop turn as the timeout), not
            # a dead one: dropping it would lose every call's events. That grace is bounded:
            # no Ping answered for ``idle_timeout`` ends the session all the same.
            try:
                await self._call([("Action", "Ping")], wait_s=self.timing.ping_timeout)
            except ActionFailed:
                protocol = self._protocol
                busy = protocol is not None and protocol.last_rx > sent_at
                if not busy or loop.time() - answered >= self.timing.idle_timeout:
                    raise
                log.info("ami link %s: Ping late, bytes still arriving: kept", self.endpoint.server)
                continue
            answered = loop.time()
            self.ping_rtt_s = self._clock() - start

    async def _watch_idle(self, protocol: _Protocol) -> None:
        loop = asyncio.get_running_loop()
        limit = self.timing.idle_timeout
        while True:
            silent = loop.time() - protocol.last_rx
            if silent >= limit:
                raise LinkDown(f"{self.endpoint.server}: no bytes from the server for {limit:g} s")
            await asyncio.sleep(limit - silent)

    async def _teardown(self) -> None:
        protocol, self._protocol = self._protocol, None
        self._manager.close()  # also a protocol that a timed-out connect() left behind
        if protocol is None:
            return
        protocol.close()
        try:
            async with asyncio.timeout(1.0):
                await protocol.gone.wait()
        except TimeoutError:  # the peer does not take our bytes: drop them
            protocol.transport.abort()

    def _transition(self, event: LinkInput) -> None:
        old = self._state
        self._state = apply(f"{self.endpoint.server}/ami", old, event)
        if self._state is not old:
            log.info("link=%s/ami %s -[%s]-> %s", self.endpoint.server, old, event, self._state)
            if self._on_state is not None:
                self._on_state(self._state)
