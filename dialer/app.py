"""The one place that builds and wires everything: database, dialer, pacing, API, metrics.

``Service.run(stop)`` starts the parts in order and tears them down in reverse when ``stop`` is
set (SIGINT/SIGTERM in ``dialer serve``):

1. the database (embedded PostgreSQL unless a URL is configured), migrated (Alembic runs only
   when the database is behind the scripts: :func:`gateway.db.migrate.upgrade_to_head`);
2. the metrics registry, the result writer, the agent event hub (fed by the dialer's agent
   changes, read by the API's WebSocket streams, writing the agent webhooks), the dialer
   (AMI/ARI links to every server), the campaign supervisor, the control API under ``/v1`` and
   the browser console at ``/console/``, the agent feed leases (one instance per Asterisk
   server writes its call-less agent webhooks: ``dialer.feedowner``);
3. attempts this instance left in flight (a crash, a restart) are handed to the dialer for
   reconciliation — tracked again by id, never originated again;
4. background tasks (result writer, supervisor, observer, agent event hub, feed leases) in one
   task group.

On the way out the supervisor stops placing calls first, the dialer's links close, the results
already received are written (bounded wait), HTTP stops, connections close and the embedded
PostgreSQL stops last. Nothing here is a module-level instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from control_api.app import build_api
from control_api.console import console_app
from control_api.context import ApiContext
from control_api.http import SENDER
from control_api.serving import ApiRunner
from dialer.agentport import LiveAgents
from dialer.errors import listen_error
from dialer.feedowner import FeedOwners
from dialer.health import add_health_routes, link_checks
from dialer.instances import Instances
from dialer.live import LiveRuntime
from dialer.observer import Observer
from dialer.progress import ProgressWriter
from dialer.results import Outage, ResultWriter
from dialer.wrapup import WrapupKeeper
from gateway.agentevents.hub import AgentEventHub
from gateway.agentevents.model import AgentEvent
from gateway.asterisk.agentfeed import AgentChange
from gateway.asterisk.agents import AgentStatus
from gateway.asterisk.calls.model import CallProgress
from gateway.asterisk.dialing import Dialer
from gateway.asterisk.errors import UnknownServer
from gateway.asterisk.pool import ServerConfig
from gateway.asterisk.queuecontrol import QueueControl
from gateway.asterisk.switch import DialerSwitch
from gateway.campaigns import cards, leasing, outbox
from gateway.campaigns.store import PENDING_SERVER, DbPacers, DbStore
from gateway.db.embedded import EmbeddedPostgres
from gateway.db.engine import make_engine, ping
from gateway.db.migrate import upgrade_to_head
from gateway.logs import event
from gateway.metrics import Metrics
from gateway.settings import Settings
from pacing.supervisor import Supervisor

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Running:
    """What a started service exposes to its caller (tests, the demo)."""

    http_port: int
    database_url: str
    engine: AsyncEngine
    registry: CollectorRegistry
    dialer: Dialer
    supervisor: Supervisor
    writer: ResultWriter
    store: DbStore
    instances: Instances
    agent_events: AgentEventHub
    wrapup: WrapupKeeper


def _wall() -> datetime:
    return datetime.now(UTC)


def free_agents(dialer: Dialer, queue: str) -> set[str]:
    """The agents (member names, as attempts record them) free in ``queue`` now."""
    return {a.name for a in dialer.agents(queue).agents if a.status is AgentStatus.FREE}


def _ami_ready(dialer: Dialer, server: str) -> bool:
    """Whether ``server``'s AMI link (the agent feed's) is up in this instance."""
    try:
        return dialer.runtime(server).ami.ready
    except UnknownServer:
        return False


async def _to_console(_: web.Request) -> web.Response:
    raise web.HTTPPermanentRedirect("/console/")


class Service:
    """The gateway process: owns every long-lived resource and task."""

    def __init__(
        self,
        settings: Settings,
        *,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
        takeover_after_s: float | None = None,  # None: the setting (DIALER_TAKEOVER_AFTER)
        metrics_label_bound: int = 500,
    ) -> None:
        self.settings = settings
        self._label_bound = metrics_label_bound
        self._takeover_after_s = (
            takeover_after_s if takeover_after_s is not None else settings.takeover_after_s
        )
        self.registry = registry if registry is not None else CollectorRegistry()
        self._clock = clock

    async def run(
        self, stop: asyncio.Event, on_ready: Callable[[Running], None] | None = None
    ) -> None:
        """Run until ``stop`` is set; every resource is released on the way out."""
        async with contextlib.AsyncExitStack() as stack:
            url = await self._database_url(stack)
            engine = make_engine(url, pool_size=self.settings.database.pool_size)
            stack.push_async_callback(engine.dispose)
            if self.settings.database.auto_migrate:
                await upgrade_to_head(engine, url)
            await self._run_wired(stack, url, engine, stop, on_ready)
        event(log, "service stopped")

    async def _run_wired(
        self,
        stack: contextlib.AsyncExitStack,
        url: str,
        engine: AsyncEngine,
        stop: asyncio.Event,
        on_ready: Callable[[Running], None] | None,
    ) -> None:
        metrics = Metrics(self.registry, max_label_values=self._label_bound)
        store = DbStore(
            engine, self.settings.instance_id, clock=self._clock,
            free_agents=lambda queue: free_agents(dialer, queue),
            wrapup_limit_s=self.settings.wrapup_limit_s,
        )  # fmt: skip
        recoveries: list[Outage] = []
        writer = ResultWriter(
            store.settle, clock=self._clock, on_recovered=recoveries.append, gather_s=0.05
        )
        progress = ProgressWriter(store.save_progress)
        feed_owners = FeedOwners(
            engine, self.settings.instance_id, [s.name for s in self.settings.servers],
            eligible=lambda server: _ami_ready(dialer, server), clock=self._clock,
            on_owner=metrics.feed_owner,
        )  # fmt: skip
        hub = self._agent_events(engine, metrics, feed_owners)

        def progressed(report: CallProgress) -> None:
            progress.submit(report)
            hub.answered(report)  # an answered call's record is read before an agent has it

        def agent_called(change: AgentChange) -> None:
            hub.submit(change)  # the screen pop and agent streams
            wrapup.on_agent_call(change)  # the gateway-held wrap-up

        dialer = Dialer(
            [ServerConfig.from_settings(s) for s in self.settings.servers],
            on_result=writer.submit,
            on_progress=progressed,
            on_link_state=metrics.link_state,
            on_illegal=metrics.call_illegal_input,
            on_agent_call=agent_called,
            clock=self._clock,
            resync_interval_s=5.0,
            send_gate=lambda: not instances.fenced(),
        )
        switch = DialerSwitch(
            dialer,
            on_placed=lambda order, server: metrics.call_originated(str(order.campaign_id), server),
        )
        supervisor = Supervisor(
            store,
            switch,
            DbPacers(engine, self.settings.instance_id, ttl_s=self.settings.pacer_lease_s),
            clock=self._clock,
            hold=lambda: (
                instances.hold()
                or (None if writer.healthy else "attempt results cannot be written")
            ),
            on_leave=lambda campaign_id: metrics.forget_campaign(str(campaign_id)),
            tick_s=self.settings.tick_interval_s,
            link_outage_limit_s=self.settings.link_outage_limit_s,
        )
        instances = Instances(
            engine,
            self.settings.instance_id,
            dialer.reconcile,
            wall=_wall,
            fallback_server=self.settings.servers[0].name if self.settings.servers else None,
            dead_after_s=self._takeover_after_s,
            clock=self._clock,
            queues=dialer,
        )
        observer = Observer(metrics, supervisor, dialer, writer, store, recoveries, engine)
        writer.add_listener(supervisor.settled)
        writer.add_listener(observer.settled)
        wrapup = WrapupKeeper(
            engine, dialer, metrics, wall=_wall, clock=self._clock,
            wrapup_limit_s=self.settings.wrapup_limit_s,
            default_code=self.settings.default_disposition,
            instance_id=self.settings.instance_id,
        )  # fmt: skip
        runtime = LiveRuntime(engine, dialer, supervisor, writer, store.caller_ids, wrapup)
        agent_port = LiveAgents(QueueControl(dialer.runtimes), metrics)
        app = self._web_app(engine, runtime, dialer, agent_port, hub)
        await dialer.start()
        stack.push_async_callback(dialer.stop)
        await self._reconcile(engine, dialer)
        port = await self._serve_http(stack, app)
        running = Running(
            port,
            url,
            engine,
            self.registry,
            dialer,
            supervisor,
            writer,
            store,
            instances,
            hub,
            wrapup,
        )
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(writer.run(), name="result-writer"),
                group.create_task(supervisor.run(), name="supervisor"),
                group.create_task(observer.run(), name="observer"),
                group.create_task(progress.run(), name="progress-writer"),
                group.create_task(instances.run(), name="instances"),
                group.create_task(hub.run(), name="agent-events"),
                group.create_task(feed_owners.run(), name="agent-feed-owners"),
                group.create_task(wrapup.run(), name="wrapup-keeper"),
            ]
            event(log, "service ready", http_port=port, servers=len(self.settings.servers),
                  embedded_db=self.settings.database.url is None)  # fmt: skip
            if on_ready is not None:
                on_ready(running)
            await stop.wait()
            event(log, "service stopping")
            for task in tasks[1:]:
                task.cancel()
            await dialer.stop()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await progress.flush()  # calls left live are reconciled from it later
            tasks[0].cancel()
            await asyncio.wait([tasks[0]])
            await writer.drain(5.0)

    def _agent_events(
        self, engine: AsyncEngine, metrics: Metrics, owners: FeedOwners
    ) -> AgentEventHub:
        async def webhooks(batch: Sequence[AgentEvent]) -> int:
            rows = [(e.campaign_id, str(e.type), e.wire) for e in batch]
            return await outbox.enqueue_agent_events(engine, rows)

        return AgentEventHub(
            functools.partial(cards.read_cards, engine),
            write_webhooks=webhooks,
            on_webhooks_dropped=metrics.agent_webhooks_dropped,
            owns_server=owners.owns,
            wall=_wall,
            clock=self._clock,
            buffer=self.settings.agent_events.buffer,
            buffer_age_s=self.settings.agent_events.replay_s,
            client_queue=self.settings.agent_events.client_queue,
        )

    async def _reconcile(self, engine: AsyncEngine, dialer: Dialer) -> None:
        """Hand attempts this instance left in flight back to the dialer (never re-dialled)."""
        left = await leasing.unsettled_attempts(engine, instance_id=self.settings.instance_id)
        if not left or not self.settings.servers:
            return
        fallback = self.settings.servers[0].name
        pairs = [(a.attempt_id, fallback if a.server == PENDING_SERVER else a.server) for a in left]
        event(log, "reconciling attempts left in flight", count=len(pairs))
        await dialer.reconcile(pairs, restarted=True)

    async def _database_url(self, stack: contextlib.AsyncExitStack) -> str:
        if self.settings.database.url is not None:
            return self.settings.database.url.reveal()
        embedded = EmbeddedPostgres(self.settings.pgdata)
        url = await asyncio.to_thread(embedded.start)
        stack.push_async_callback(asyncio.to_thread, embedded.stop)
        return url

    def _web_app(
        self,
        engine: AsyncEngine,
        runtime: LiveRuntime,
        dialer: Dialer,
        agents: LiveAgents,
        hub: AgentEventHub,
    ) -> web.Application:
        app = web.Application()

        async def database() -> None:
            await ping(engine)

        links = [(s.name, "ami") for s in self.settings.servers]
        links += [(s.name, "ari") for s in self.settings.servers if s.driver == "ari"]
        checks = {"database": database, **link_checks(links, dialer.link_stats)}
        add_health_routes(app, self.registry, checks)
        context = ApiContext(
            engine=engine,
            runtime=runtime,
            clock=_wall,
            bootstrap_token=self.settings.api_token,
            agents=agents,
            agent_events=hub,
        )
        api = build_api(context)
        sender = api.get(SENDER)
        if sender is not None:  # agent webhooks go out at once, not at the sender's next poll
            hub.on_webhooks_queued(sender.wake)
        app.add_subapp("/v1", api)
        app.router.add_get("/console", _to_console)
        app.add_subapp("/console", console_app())
        return app

    async def _serve_http(self, stack: contextlib.AsyncExitStack, app: web.Application) -> int:
        runner = ApiRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        host, port = self.settings.http.host, self.settings.http.port
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise listen_error("the HTTP API (http.port)", host, port, exc) from None
        server = site._server  # aiohttp keeps the asyncio server here; no public accessor
        assert isinstance(server, asyncio.base_events.Server)
        return int(server.sockets[0].getsockname()[1])
