"""``build_api(ctx)``: the control API as an aiohttp sub-application (the lead mounts it at
``/v1``). Registers every route of the route tables, the one problem middleware, the OpenAPI
document at ``/openapi.json`` and the webhook sender, which the application owns: it is started
on startup and stopped (cancelled and awaited) on cleanup. The application also owns the token
cache, the shared reads (:class:`control_api.availability.Coalescer`) of tokens and of the hot
status endpoint, and the status endpoint's record counts (:class:`gateway.campaigns.status.
RecordCounts`), whose background refreshes it cancels and awaits on cleanup, and the open
WebSocket streams (:mod:`control_api.streams`), which it closes with 1001 on shutdown.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator

from aiohttp import web

from control_api import (
    routes_admin,
    routes_agent_events,
    routes_agents,
    routes_attempts,
    routes_campaigns,
    streams,
)
from control_api.auth import TokenCache
from control_api.availability import Coalescer
from control_api.console import ME
from control_api.context import ApiContext
from control_api.http import (
    AUTH,
    COUNTS,
    CTX,
    SENDER,
    STATUS,
    TOKENS,
    UPLOADS,
    Route,
    auth_reads,
    problem_middleware,
    wrap,
)
from control_api.openapi import document
from control_api.uploads import UploadSlots
from control_api.webhooks import WebhookSender
from gateway import __version__
from gateway.campaigns import status

ROUTES: tuple[Route, ...] = (
    *routes_campaigns.ROUTES,
    *routes_agents.ROUTES,
    *routes_attempts.ROUTES,
    *routes_admin.ROUTES,
    *routes_agent_events.ROUTES,
    ME,
)


def build_api(ctx: ApiContext, *, send_webhooks: bool = True) -> web.Application:
    """The ``/v1`` application. ``send_webhooks=False`` leaves deliveries queued (tests)."""
    app = web.Application(middlewares=[problem_middleware], client_max_size=ctx.max_upload_bytes)
    app[CTX] = ctx
    app[TOKENS] = TokenCache()
    app[AUTH] = auth_reads(ctx)
    app[UPLOADS] = UploadSlots(ctx.max_concurrent_uploads)
    counts = status.RecordCounts(
        lambda campaign_id: status.read_counts(ctx.engine, campaign_id), clock=ctx.monotonic
    )
    app[COUNTS] = counts
    app[STATUS] = Coalescer(
        lambda campaign_id: routes_campaigns.status_body(ctx.engine, counts, campaign_id)
    )
    spec = document(ROUTES, __version__)

    async def openapi(_: web.Request) -> web.Response:
        return web.json_response(spec)

    app.router.add_get("/openapi.json", openapi)
    for route in ROUTES:
        if not route.socket:
            app.router.add_route(route.method, route.path, wrap(route))
    routes_agent_events.add_streams(app)
    app[streams.SOCKETS] = weakref.WeakSet()
    app.on_shutdown.append(streams.close_sockets)

    async def own_counts(_: web.Application) -> AsyncIterator[None]:
        yield
        await counts.close()

    app.cleanup_ctx.append(own_counts)
    if send_webhooks:
        sender = WebhookSender(ctx.engine, ctx.clock)
        app[SENDER] = sender

        async def run_sender(_: web.Application) -> AsyncIterator[None]:
            await sender.start()
            yield
            await sender.stop()

        app.cleanup_ctx.append(run_sender)
    return app
