"""Health, readiness and metrics endpoints (no auth: probes and Prometheus scrape them).

``/healthz`` says the process serves HTTP; ``/readyz`` says it can do its job: the database
answers and every configured Asterisk link (AMI of each server, and ARI where it originates) is
logged in and ready, each reported by name (``asterisk pbx1 ami: failed: backoff``), so a server
whose secret is wrong keeps the instance not ready; ``/metrics`` is the Prometheus text
exposition of the registry passed in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from gateway.asterisk.ami.linkconfig import LinkStats

ReadinessCheck = Callable[[], Awaitable[None]]


class LinkNotReady(Exception):
    """A configured Asterisk link is not logged in (its state says how far it got)."""


def link_checks(
    links: Sequence[tuple[str, str]], stats: Callable[[], Iterable[LinkStats]]
) -> dict[str, ReadinessCheck]:
    """One readiness check per configured ``(server, link)``: ready only in state ``ready``."""

    def check(server: str, link: str) -> ReadinessCheck:
        async def ready() -> None:
            state = next((s.state for s in stats() if (s.server, s.link) == (server, link)), None)
            if state != "ready":
                raise LinkNotReady(state or "not started")

        return ready

    return {f"asterisk {server} {link}": check(server, link) for server, link in links}


def add_health_routes(
    app: web.Application, registry: CollectorRegistry, checks: dict[str, ReadinessCheck]
) -> None:
    """Register ``/healthz``, ``/readyz`` and ``/metrics`` on ``app``."""

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        results: dict[str, str] = {}
        ready = True
        for name, check in checks.items():
            try:
                await check()
                results[name] = "ok"
            except Exception as exc:
                ready = False
                results[name] = f"failed: {exc}"
        body = {"status": "ready" if ready else "not ready", "checks": results}
        return web.json_response(body, status=200 if ready else 503)

    async def metrics(_: web.Request) -> web.Response:
        payload = generate_latest(registry)
        return web.Response(body=payload, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
