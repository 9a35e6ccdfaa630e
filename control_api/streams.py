"""WebSocket streams of the control API: the upgrade, its authentication, and pumping one
subscription of the agent event hub (:mod:`gateway.agentevents.hub`) to one socket.

Authentication is the same bearer token as every other route, never in the URL, by one of:

1. the ``Authorization: Bearer <token>`` header (clients that can set headers);
2. the subprotocol list (browsers cannot set headers on a WebSocket): offer
   ``dialer.events.v1`` and ``bearer.<token>``; the server answers with ``dialer.events.v1``
   only (the token is never echoed, and a list with the token but without
   ``dialer.events.v1`` is refused before the upgrade, since the answer could not name it);
3. the first message, ``{"type": "auth", "token": "<token>"}``, within 5 s of the upgrade;
   the server answers ``{"type": "ready"}`` once the stream is subscribed.

With 1 and 2, an unknown token is refused before the upgrade (401 problem), a role or guard that
does not allow the stream too (403), and so is a campaign that does not exist (404); with 3,
after it, by closing the socket with 4000 + that status (4401, 4403, 4404) and the reason. A
request that is not a WebSocket upgrade is answered 426.

The stream. Messages are JSON text: when the client resumed from an id the buffer no longer
holds, a ``{"type": "gap", …}`` message first; then the events, oldest first, each with its
``id``. The client sends nothing (other than the auth message); its messages are read and
ignored so that pings and the close handshake work. A client that falls ``client_queue`` events
behind is closed with 1013 (try again later): it reconnects with ``?after=<its last id>``. At
shutdown every socket is closed with 1001.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

from control_api.errors import ApiError, CampaignError, Invalid, UpgradeRequired, status_of
from control_api.http import (
    CTX,
    Call,
    Route,
    authorize,
    parse_query,
    path_ids,
    path_names,
    principal_of,
)
from gateway.agentevents.hub import Subscription
from gateway.agentevents.model import TooSlow
from gateway.logs import event

log = logging.getLogger(__name__)

SUBPROTOCOL = "dialer.events.v1"
BEARER_PREFIX = "bearer."
AUTH_TIMEOUT_S = 5.0
SEND_TIMEOUT_S = 10.0
CLOSE_GOING_AWAY = 1001
CLOSE_TOO_SLOW = 1013
CLOSE_REFUSED = 4000  # + the status the refusal has before the upgrade: 4401, 4403, 4404, 4503
CLOSE_UNAUTHORIZED = CLOSE_REFUSED + 401
_Parts = tuple[dict[str, Any], dict[str, int], dict[str, str]]  # query, ids, names
SOCKETS: web.AppKey[weakref.WeakSet[web.WebSocketResponse]] = web.AppKey(
    "control_api_sockets", weakref.WeakSet
)


def offered_protocols(request: web.Request) -> list[str]:
    raw = ",".join(request.headers.getall("Sec-WebSocket-Protocol", []))
    return [p.strip() for p in raw.split(",") if p.strip()]


def _header(request: web.Request) -> str | None:
    """The credential before the upgrade: the Authorization header, else a bearer subprotocol."""
    header = request.headers.get("Authorization")
    if header is not None:
        return header
    offered = offered_protocols(request)
    tokens = [p[len(BEARER_PREFIX) :] for p in offered if p.lower().startswith(BEARER_PREFIX)]
    if not tokens:
        return None
    if SUBPROTOCOL not in offered:
        raise Invalid("Sec-WebSocket-Protocol", f"offer {SUBPROTOCOL} with the bearer token")
    return f"Bearer {tokens[0]}"


def after_of(request: web.Request, query: dict[str, Any]) -> int | None:
    """The id to resume after: ``?after=``, else a ``Last-Event-ID`` header."""
    after = query.get("after")
    if after is None:
        raw = request.headers.get("Last-Event-ID")
        if raw is not None:
            if not raw.isdigit() or len(raw) > 18:
                raise Invalid("Last-Event-ID", "must be an event id (an integer)")
            after = int(raw)
    return int(after) if after is not None else None


async def _close(ws: web.WebSocketResponse, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await ws.close(code=code, message=reason.encode()[:120])


async def _first_token(ws: web.WebSocketResponse) -> str | None:
    """The token of the first message; None (socket closed with the reason) without one."""
    try:
        async with asyncio.timeout(AUTH_TIMEOUT_S):
            msg = await ws.receive()
    except TimeoutError:
        await _close(ws, CLOSE_UNAUTHORIZED, 'no token: send {"type": "auth", "token": ...}')
        return None
    token: object = None
    if msg.type is WSMsgType.TEXT:
        with contextlib.suppress(ValueError):
            found = json.loads(msg.data)
            if isinstance(found, dict) and found.get("type") == "auth":
                token = found.get("token")
    if not isinstance(token, str) or not token:
        await _close(ws, CLOSE_UNAUTHORIZED, "the first message must be the auth message")
        return None
    return token


Subscribe = Callable[[Call, int | None], Subscription]


def wrap_socket(
    route: Route, subscribe: Subscribe
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler of a WebSocket route: checks, authentication, upgrade, stream.

    ``route.handler`` checks the request once the caller is known (what must exist, the hub
    running) and raises to refuse: before the upgrade as a problem document, after it (first-
    message authentication) as a close code. Then ``subscribe(call, after)`` opens the
    subscription the socket is fed from.
    """

    async def checked(request: web.Request, parts: _Parts, header: str) -> Call:
        principal = await principal_of(request, header)
        call = Call(request, request.app[CTX], principal, {}, *parts)
        authorize(route, call)
        await route.handler(call)
        return call

    async def handle(request: web.Request) -> web.StreamResponse:
        parts: _Parts = (
            parse_query(route.query, request),
            path_ids(route, request),
            path_names(route, request),
        )
        after = after_of(request, parts[0])
        if not web.WebSocketResponse().can_prepare(request).ok:
            raise UpgradeRequired("this is a WebSocket stream: GET with Upgrade: websocket")
        header = _header(request)
        sub = subscribe(await checked(request, parts, header), after) if header else None
        # subscribed before the upgrade: nothing is missed once the client's connect returns
        ws = web.WebSocketResponse(protocols=(SUBPROTOCOL,), heartbeat=20.0, max_msg_size=65536)
        try:
            await ws.prepare(request)
            request.app[SOCKETS].add(ws)
            if sub is None:
                token = await _first_token(ws)
                if token is None:
                    return ws
                try:
                    call = await checked(request, parts, f"Bearer {token}")
                except ApiError as exc:
                    await _close(ws, CLOSE_REFUSED + exc.status, exc.detail)
                    return ws
                except CampaignError as exc:
                    await _close(ws, CLOSE_REFUSED + status_of(exc)[0], exc.detail)
                    return ws
                sub = subscribe(call, after)
                await ws.send_str(json.dumps({"type": "ready"}))
            await pump(ws, sub)
        finally:
            if sub is not None:
                sub.close()
        return ws

    return handle


async def pump(ws: web.WebSocketResponse, sub: Subscription) -> None:
    """Send the subscription's messages until the client leaves or falls behind."""
    sender = asyncio.create_task(_send(ws, sub))
    receiver = asyncio.create_task(_drain(ws))
    dropped = asyncio.create_task(sub.wait_dropped())  # also while a send is stuck
    tasks = (sender, receiver, dropped)
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if sub.dropped or _failed(sender, TooSlow, TimeoutError):
        event(log, "agent event client dropped", logging.WARNING, agent=sub.agent,
              campaign=sub.campaign_id)  # fmt: skip
        await _close(ws, CLOSE_TOO_SLOW, "too slow: reconnect with after=<the last id you got>")
    elif not ws.closed:
        await _close(ws, CLOSE_GOING_AWAY, "stream ended")


def _failed(task: asyncio.Task[None], *kinds: type[BaseException]) -> bool:
    return task.done() and not task.cancelled() and isinstance(task.exception(), kinds)


async def _send(ws: web.WebSocketResponse, sub: Subscription) -> None:
    if sub.gap is not None:
        await ws.send_str(json.dumps(sub.gap.document()))
    while True:
        item = await sub.next()
        async with asyncio.timeout(SEND_TIMEOUT_S):
            await ws.send_str(item.wire)


async def _drain(ws: web.WebSocketResponse) -> None:
    async for msg in ws:  # the client's messages are ignored; this serves pings and close
        if msg.type is WSMsgType.ERROR:
            return


async def close_sockets(app: web.Application) -> None:
    """At shutdown: close every open stream with 1001 (going away)."""
    sockets = app[SOCKETS]
    for ws in tuple(sockets):
        await _close(ws, CLOSE_GOING_AWAY, "server shutting down")
