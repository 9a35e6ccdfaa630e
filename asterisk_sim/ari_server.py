"""The ARI server (aiohttp): REST resources, the events WebSocket, and the admin endpoint.

Errors carry the recorded statuses and bodies (401 with ``WWW-Authenticate``, 404, 405, 400,
500 ``{"error":"Allocation failed"}``, WebSocket refusals). :class:`AriHub` is the world's ARI
sink and Stasis hook: one WebSocket per application (a second one replaces the first, which
gets ``ApplicationReplaced``), each with a writer task owned by its handler. Channel JSON is
built in :mod:`asterisk_sim.ari_json`. This module must not decide call outcomes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import WSCloseCode, WSMsgType, web

from asterisk_sim.ari_json import ASTERISK_ID, channel_json, info_json, timestamp
from asterisk_sim.ari_routes import add_routes
from asterisk_sim.channels import Channel

if TYPE_CHECKING:
    from asterisk_sim.sim import SimAsterisk

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
HEADERS = {"Server": "Asterisk", "Cache-Control": "no-cache, no-store"}
SEND_TIMEOUT = 10.0


def ari_error(status: int, message: str, key: str = "message", **headers: str) -> web.Response:
    return web.json_response({key: message}, status=status, headers={**HEADERS, **headers})


class _Socket:
    """One events WebSocket and its outgoing queue."""

    def __init__(self, ws: web.WebSocketResponse, app: str) -> None:
        self.ws = ws
        self.app = app
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()

    async def writer(self) -> None:
        while True:
            text = await self.queue.get()
            if text is None:
                return
            await asyncio.wait_for(self.ws.send_str(text), SEND_TIMEOUT)


class AriHub:
    """ARI applications, their sockets, and the Stasis hooks of the world."""

    def __init__(self, sim: SimAsterisk) -> None:
        self.sim = sim
        self.apps: dict[str, _Socket] = {}
        self._sockets: set[_Socket] = set()
        self.running = asyncio.Event()
        self.running.set()
        self.frames = 0

    # -- sink -------------------------------------------------------------------------------------
    def channel_event(self, chan: Channel, kind: str, extra: dict[str, Any]) -> None:
        sock = self.apps.get(chan.ari_app or "")
        if sock is None:
            return
        body: dict[str, Any] = {"type": kind, "timestamp": timestamp(self.sim.world.sim_now())}
        for key, value in extra.items():
            body[key] = channel_json(value) if isinstance(value, Channel) else value
        if kind != "Dial":
            body["channel"] = channel_json(chan)
        self._send(sock, body)

    def _send(self, sock: _Socket, body: dict[str, Any]) -> None:
        body["asterisk_id"] = ASTERISK_ID
        body["application"] = sock.app
        self.frames += 1
        sock.queue.put_nowait(json.dumps(body, separators=(",", ":")))

    def broadcast_raw(self, text: str) -> None:
        for sock in self._sockets:
            sock.queue.put_nowait(text)

    # -- Stasis hooks -----------------------------------------------------------------------------
    def has_app(self, app: str) -> bool:
        return app in self.apps

    def stasis_start(self, chan: Channel, app: str, args: tuple[str, ...]) -> None:
        chan.ari_app = app
        chan.ari_args = args
        self.sim.world.emit.varset(chan, "STASISSTATUS", "")
        self.channel_event(chan, "StasisStart", {"args": list(args)})

    def stasis_end(self, chan: Channel) -> None:
        if chan.ari_app is None:
            return
        self.channel_event(chan, "StasisEnd", {})
        self.sim.world.emit.varset(chan, "STASISSTATUS", "SUCCESS")
        if not chan.ari_sticky:
            chan.ari_app = None

    def playback(self, chan: Channel, playback: dict[str, Any], seconds: float) -> None:
        sock = self.apps.get(chan.ari_app or "")
        if sock is not None:
            self._send(
                sock,
                {
                    "type": "PlaybackStarted",
                    "timestamp": timestamp(self.sim.world.sim_now()),
                    "playback": {**playback, "state": "playing"},
                },
            )
        self.sim.world.later(seconds, self._playback_done, chan, playback)

    def _playback_done(self, chan: Channel, playback: dict[str, Any]) -> None:
        sock = self.apps.get(chan.ari_app or "")
        if sock is not None:
            self._send(
                sock,
                {
                    "type": "PlaybackFinished",
                    "timestamp": timestamp(self.sim.world.sim_now()),
                    "playback": {**playback, "state": "done"},
                },
            )

    # -- faults -----------------------------------------------------------------------------------
    def stall(self) -> None:
        self.running.clear()

    def unstall(self) -> None:
        self.running.set()

    def socket_count(self) -> int:
        return len(self._sockets)

    async def drop_all(self) -> int:
        socks = list(self._sockets)
        for sock in socks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sock.ws.close(code=WSCloseCode.GOING_AWAY), 2)
        return len(socks)

    # -- the events WebSocket ---------------------------------------------------------------------
    async def events(self, request: web.Request) -> web.StreamResponse:
        app = request.query.get("app", "")
        if not app:
            return await self._refuse_missing_app(request)
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        sock = _Socket(ws, app)
        old = self.apps.get(app)
        if old is not None:
            self._send(
                old,
                {"type": "ApplicationReplaced", "timestamp": timestamp(self.sim.world.sim_now())},
            )
        self.apps[app] = sock
        self._sockets.add(sock)
        writer = asyncio.create_task(sock.writer())
        try:
            async for msg in ws:
                if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                    break
        finally:
            if self.apps.get(app) is sock:
                del self.apps[app]
            self._sockets.discard(sock)
            # the sentinel as well as the cancel: Python 3.11's wait_for() can swallow a cancel
            # that lands while send_str() completes, and the writer then waited in get() forever
            # (the server's cleanup timed out after a hang-up burst on a closing socket)
            sock.queue.put_nowait(None)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
        return ws

    async def _refuse_missing_app(self, request: web.Request) -> web.StreamResponse:
        """As recorded: a 400 with an HTML body, then a second bare 400 on the same socket.

        Asterisk answers the upgrade twice (the second time from its WebSocket module, with
        ``Sec-WebSocket-Version``) and then closes; a client must not reuse that connection.
        """
        refusal = web.Response(
            status=400, text=_MISSING_APP_HTML, content_type="text/html", headers=HEADERS
        )
        refusal.force_close()
        await refusal.prepare(request)
        await refusal.write_eof()
        transport = request.transport
        if transport is not None and not transport.is_closing():
            transport.write(_SECOND_400)
        return refusal


_SECOND_400 = (
    b"HTTP/1.1 400 Bad Request\r\nServer: Asterisk\r\nCache-Control: no-cache, no-store\r\n"
    b"Sec-WebSocket-Version: 7, 8, 13\r\nContent-Length: 0\r\n\r\n"
)

_MISSING_APP_HTML = (
    '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\r\n<html><head>\r\n'
    "<title>400 Bad Request</title>\r\n</head><body>\r\n<h1>Bad Request</h1>\r\n"
    "<p>HTTP request is missing param: [app]</p>\r\n<hr />\r\n<address>Asterisk</address>\r\n"
    "</body></html>\r\n"
)


def _authorized(request: web.Request, user: str, password: str) -> bool:
    expected = f"{user}:{password}"
    if request.query.get("api_key") == expected:
        return True
    header = request.headers.get("Authorization", "")
    if header.startswith("Basic "):
        try:
            return base64.b64decode(header[6:]).decode() == expected
        except (ValueError, UnicodeDecodeError):
            return False
    return False


def build_app(sim: SimAsterisk) -> web.Application:
    """The aiohttp application: ARI under ``/ari``, admin under ``/sim``."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        # The admin routes answer even while ARI is stalled or delayed (they end those faults),
        # but like ARI they need the ARI credentials: a fault is one request away from a drop.
        is_admin = request.path.startswith("/sim/")
        if not is_admin and sim.down:  # no Asterisk process behind the port
            return web.Response(status=503, text="Asterisk is not running")
        if not is_admin:
            await asyncio.wait_for(sim.ari_hub.running.wait(), 300)
        cfg = sim.config
        if not _authorized(request, cfg.ari_user, cfg.ari_password):
            return ari_error(
                401,
                "Authentication required",
                **{"WWW-Authenticate": 'Basic realm="Asterisk REST Interface"'},
            )
        if not is_admin and sim.faults.response_delay > 0:
            await asyncio.sleep(sim.faults.response_delay)
        try:
            return await handler(request)
        except web.HTTPMethodNotAllowed as exc:
            allow = ",".join(["OPTIONS", *sorted(exc.allowed_methods)])
            return ari_error(405, "Invalid method", Allow=allow)
        except web.HTTPNotFound:
            return ari_error(404, "Resource not found")

    app = web.Application(middlewares=[middleware])
    add_routes(app, sim)
    app.router.add_get("/ari/events", sim.ari_hub.events)

    async def info(request: web.Request) -> web.Response:
        return web.json_response(
            info_json(sim.started_wall),
            headers=HEADERS,
            dumps=lambda b: json.dumps(b, separators=(",", ":")),
        )

    app.router.add_get("/ari/asterisk/info", info)
    return app
