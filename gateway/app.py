"""The one place that builds and wires everything: database, HTTP, background tasks.

``Service.run(stop)`` starts the parts in order and tears them down in reverse when ``stop`` is
set (SIGINT/SIGTERM in ``dialer serve``): HTTP first stops accepting, background tasks are
cancelled and awaited, database connections closed, the embedded PostgreSQL stopped last.
Nothing here is a module-level instance; the Prometheus registry is created per service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.db.embedded import EmbeddedPostgres
from gateway.db.engine import make_engine, ping
from gateway.db.migrate import upgrade
from gateway.health import add_health_routes
from gateway.logs import event
from gateway.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Running:
    """What a started service exposes to its caller (tests, the demo)."""

    http_port: int
    database_url: str
    engine: AsyncEngine
    registry: CollectorRegistry


class Service:
    """The gateway process: owns every long-lived resource and task."""

    def __init__(self, settings: Settings, *, registry: CollectorRegistry | None = None) -> None:
        self.settings = settings
        self.registry = registry if registry is not None else CollectorRegistry()

    async def run(
        self, stop: asyncio.Event, on_ready: Callable[[Running], None] | None = None
    ) -> None:
        """Run until ``stop`` is set; every resource is released on the way out."""
        async with contextlib.AsyncExitStack() as stack:
            url = await self._database_url(stack)
            engine = make_engine(url, pool_size=self.settings.database.pool_size)
            stack.push_async_callback(engine.dispose)
            if self.settings.database.auto_migrate:
                await upgrade(url)
            app = self._web_app(engine)
            port = await self._serve_http(stack, app)
            event(
                log, "service ready", http_port=port, embedded_db=self.settings.database.url is None
            )
            if on_ready is not None:
                on_ready(Running(port, url, engine, self.registry))
            await stop.wait()
            event(log, "service stopping")
        event(log, "service stopped")

    async def _database_url(self, stack: contextlib.AsyncExitStack) -> str:
        if self.settings.database.url is not None:
            return self.settings.database.url.reveal()
        embedded = EmbeddedPostgres(self.settings.pgdata)
        url = await asyncio.to_thread(embedded.start)
        stack.push_async_callback(asyncio.to_thread, embedded.stop)
        return url

    def _web_app(self, engine: AsyncEngine) -> web.Application:
        app = web.Application()

        async def database() -> None:
            await ping(engine)

        add_health_routes(app, self.registry, {"database": database})
        return app

    async def _serve_http(self, stack: contextlib.AsyncExitStack, app: web.Application) -> int:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, self.settings.http.host, self.settings.http.port)
        await site.start()
        server = site._server  # aiohttp keeps the asyncio server here; no public accessor
        assert isinstance(server, asyncio.base_events.Server)
        return int(server.sockets[0].getsockname()[1])
