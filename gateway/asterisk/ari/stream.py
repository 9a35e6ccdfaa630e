"""The ARI events WebSocket for one server: connect, read typed events, reconnect with backoff.

It shares the link state machine of the AMI link (:mod:`gateway.asterisk.ami.linkstate`): the
upgrade
succeeding is the authentication, so ``authenticating`` lasts as long as the handshake.
``ApplicationReplaced`` (another client took the app) and a dropped socket both end the session;
the link reconnects with exponential backoff and jitter, reports every state change, and calls
``on_ready`` after each successful connect so the owner can reconcile calls from the channel
list. Frames are parsed into typed events here; nothing raw leaves this module. The aiohttp
heartbeat detects a silent peer; the handshake has a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable

import aiohttp

from gateway.asterisk.ami.linkstate import LinkInput, LinkState, apply
from gateway.asterisk.ami.reconnect import LinkLoop, run_link
from gateway.asterisk.ari.errors import error_for
from gateway.asterisk.ari.events import ApplicationReplaced, AriEvent, parse_frame
from gateway.asterisk.errors import AriError, GatewayError, LinkDown, ProtocolError

log = logging.getLogger("gateway.asterisk.ari")


class AriEventStream:
    """The ``/ari/events?app=…`` WebSocket of one server, kept open until :meth:`stop`."""

    def __init__(
        self,
        client_session: Callable[[], aiohttp.ClientSession],
        *,
        server: str,
        url: str,
        app: str,
        api_key: str,
        on_event: Callable[[AriEvent], None],
        on_state: Callable[[LinkState], None] | None = None,
        on_ready: Callable[[], Awaitable[None]] | None = None,
        on_lost: Callable[[], None] | None = None,
        connect_timeout: float = 5.0,
        heartbeat: float = 5.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 10.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._session = client_session
        self.server = server
        self._url = url
        self._params = {"app": app, "api_key": api_key}
        self._on_event = on_event
        self._on_state = on_state
        self._on_ready = on_ready
        self._on_lost = on_lost
        self._connect_timeout = connect_timeout
        self._heartbeat = heartbeat
        self._backoff = (backoff_base, backoff_cap)
        self._rand = rand
        self._state = LinkState.DISCONNECTED
        self._stopping = asyncio.Event()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self.reconnects = 0
        self.replaced = 0
        self.events = 0
        self.malformed = 0

    @property
    def state(self) -> LinkState:
        return self._state

    async def run(self) -> None:
        await run_link(
            LinkLoop(
                name=f"ari link {self.server}",
                log=log,
                session=self._session_once,
                teardown=self._close_socket,
                transition=self._transition,
                is_ready=lambda: self._state is LinkState.READY,
                stopping=self._stopping,
                backoff=self._backoff,
                rand=self._rand,
                errors=(aiohttp.ClientError, OSError, TimeoutError, GatewayError),
                on_lost=self._on_lost,
                on_retry=self._count_reconnect,
            )
        )

    def _count_reconnect(self) -> None:
        self.reconnects += 1

    async def _close_socket(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                async with asyncio.timeout(1.0):
                    await ws.close()

    async def stop(self) -> None:
        self._stopping.set()
        ws = self._ws
        if ws is not None:
            await ws.close()

    async def _session_once(self) -> bool:
        self._transition(LinkInput.CONNECTED)
        timeout = aiohttp.ClientWSTimeout(ws_close=2.0)
        try:
            async with asyncio.timeout(self._connect_timeout):
                ws = await self._session().ws_connect(
                    self._url, params=self._params, heartbeat=self._heartbeat, timeout=timeout
                )
        except aiohttp.WSServerHandshakeError as exc:
            raise error_for(exc.status, exc.message, method="GET", path="/events") from exc
        self._ws = ws
        self._transition(LinkInput.AUTHENTICATED)
        ready_task = None
        if self._on_ready is not None:
            ready_task = asyncio.create_task(self._run_on_ready(), name="ari-on-ready")
        try:
            await self._read(ws)
        finally:
            if ready_task is not None:
                ready_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ready_task
        return True

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                try:
                    event = parse_frame(msg.data)
                except ProtocolError as exc:  # one bad frame is skipped, not the session
                    self.malformed += 1
                    log.warning("ari link %s: malformed frame skipped: %s", self.server, exc)
                    continue
                if event is None:
                    continue
                self.events += 1
                if isinstance(event, ApplicationReplaced):
                    self.replaced += 1
                    raise LinkDown(f"{self.server}: ARI application {event.application} replaced")
                self._on_event(event)
            elif msg.type is aiohttp.WSMsgType.ERROR:
                raise LinkDown(f"{self.server}: ARI WebSocket error {ws.exception()!r}")
        if not self._stopping.is_set():
            raise LinkDown(f"{self.server}: ARI WebSocket closed by the server")

    async def _run_on_ready(self) -> None:
        assert self._on_ready is not None
        try:
            await self._on_ready()
        except (AriError, GatewayError) as exc:
            log.warning("ari link %s: on_ready failed: %s", self.server, exc)

    def _transition(self, event: LinkInput) -> None:
        old = self._state
        self._state = apply(f"{self.server}/ari", old, event)
        if self._state is not old:
            log.info("link=%s/ari %s -[%s]-> %s", self.server, old, event, self._state)
            if self._on_state is not None:
                self._on_state(self._state)
