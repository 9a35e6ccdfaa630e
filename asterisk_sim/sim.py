"""SimAsterisk: wires the world, the AMI server and the ARI server; the public Python API.

``async with SimAsterisk(SimConfig(ami_port=0, ari_port=0, time_scale=0.05)) as sim:`` starts
both listeners on free ports; ``sim.faults`` injects failures, ``sim.world`` offers the agent
API, ``sim.originate_counts`` proves there was no double dial, and ``sim.ami_received`` holds the
last AMI actions received (with the number of the connection that sent each), so a test can assert
on exactly what a client put on the wire. This is the one place that builds and owns everything;
it must not contain protocol or call logic.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from aiohttp import web

from asterisk_sim.ami_actions import ActionContext
from asterisk_sim.ami_server import AmiHub, AmiSession
from asterisk_sim.amiproto import AmiMessage
from asterisk_sim.ari_server import AriHub, build_app
from asterisk_sim.channels import Channel
from asterisk_sim.config import SimConfig
from asterisk_sim.faults import Faults
from asterisk_sim.legs import Leg
from asterisk_sim.originate import OriginateDial, OriginateRequest, SyncReply
from asterisk_sim.runner import Exec
from asterisk_sim.world import World


@dataclasses.dataclass(frozen=True, slots=True)
class SimCredentials:
    """What the simulator accepts (secrets hidden from repr)."""

    ami_user: str
    ami_secret: str = dataclasses.field(repr=False)
    ari_user: str = "dialer"
    ari_password: str = dataclasses.field(default="", repr=False)
    ari_app: str = "dialer"


RECEIVED_KEPT = 10_000  # AMI actions kept in ``SimAsterisk.ami_received``


class SimAsterisk:
    """A simulated Asterisk 22 speaking AMI (TCP) and ARI (HTTP + WebSocket)."""

    def __init__(
        self, config: SimConfig | None = None, *, wall_clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config or SimConfig()
        self._wall_clock = wall_clock
        self.ami_hub = AmiHub()
        self.ari_hub = AriHub(self)
        self.faults = Faults(self)
        self.ami_sessions: set[AmiSession] = set()
        self.ami_connections = 0  # AMI connections accepted so far; numbers them from 1
        #: (connection number, action) for the last RECEIVED_KEPT actions, oldest first
        self.ami_received: collections.deque[tuple[int, AmiMessage]] = collections.deque(
            maxlen=RECEIVED_KEPT
        )
        self._received = asyncio.Event()
        self._world: World | None = None
        self._ami_server: asyncio.Server | None = None
        self._runner: web.AppRunner | None = None
        self.ami_port = 0
        self.ari_port = 0
        self.started_wall = 0.0
        #: ``core restart now`` under way: every AMI action is refused, events still flow
        self.shutting_down = False
        #: after a restart or crash: no process yet (connections refused) …
        self.down = False
        #: … then, until FullyBooted: logins are taken, app_queue is not loaded yet
        self.booting = False

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        cfg = self.config
        self.started_wall = self._wall_clock()
        self._world = World(cfg, loop, self.started_wall, self.ami_hub, self.ari_hub)
        self._world.stasis_hooks = self.ari_hub
        self._ami_server = await loop.create_server(
            lambda: AmiSession(self.ami_hub, lambda s: ActionContext(self, s)),
            cfg.host,
            cfg.ami_port,
        )
        self.ami_port = self._ami_server.sockets[0].getsockname()[1]
        self._runner = web.AppRunner(build_app(self), handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, cfg.host, cfg.ari_port)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server)
        self.ari_port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.faults.close()
        for session in list(self.ami_sessions):
            session.close(abort=True)
        if self._ami_server is not None:
            self._ami_server.close()
            await asyncio.wait_for(self._ami_server.wait_closed(), 5)
            self._ami_server = None
        await self.ari_hub.drop_all()
        if self._runner is not None:
            await asyncio.wait_for(self._runner.cleanup(), 10)
            self._runner = None
        if self._world is not None:
            for chan in list(self._world.channels):
                self._world.runner.abort(chan)
            self._world.channels.reset(0)

    async def __aenter__(self) -> SimAsterisk:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- public API -----------------------------------------------------------------------------
    @property
    def world(self) -> World:
        if self._world is None:
            raise RuntimeError("SimAsterisk.start() has not run")
        return self._world

    @property
    def admin_port(self) -> int:
        """The admin endpoint shares the ARI listener (``/sim/...``)."""
        return self.ari_port

    @property
    def credentials(self) -> SimCredentials:
        cfg = self.config
        return SimCredentials(
            cfg.ami_user, cfg.ami_secret, cfg.ari_user, cfg.ari_password, cfg.ari_app
        )

    @property
    def originate_counts(self) -> Mapping[str, int]:
        """ActionID or ChannelId → how many Originates (AMI or ARI) carried it."""
        return dict(self.world.originate_counts)

    @property
    def agent_connects(self) -> frozenset[str]:
        """Linkedids (the originated channel's id: the attempt id) of calls that reached an
        agent: the witness of which calls were talking to agents."""
        return frozenset(self.world.agent_connects)

    @property
    def agent_connected_at(self) -> Mapping[str, float]:
        """Linkedid (the attempt id) -> the event loop's time just before the simulator wrote
        that call's ``AgentConnect``: what a screen-pop latency is measured from."""
        return dict(self.world.agent_connected_at)

    async def wait_received(self, predicate: Callable[[], bool], within: float = 10.0) -> None:
        """Wait until ``predicate()`` holds; it is checked again after each AMI action received."""
        async with asyncio.timeout(within):
            while not predicate():
                self._received.clear()
                await self._received.wait()

    async def wait_idle(self, within: float = 10.0) -> None:
        """Wait until no channel is left (every call of the world has ended)."""
        await asyncio.wait_for(self.world.channels.idle.wait(), within)

    def stats(self) -> dict[str, Any]:
        world = self.world
        return {
            "originates": world.originates,
            "calls_in_flight": world.calls_in_flight,
            "channels": len(world.channels),
            "events": world.emit.events,
            "ami_bytes": self.ami_hub.bytes_out,
            "ami_sessions": len(self.ami_sessions),
            "ari_sockets": self.ari_hub.socket_count(),
        }

    # -- used by the protocol servers -----------------------------------------------------------
    def note_received(self, connection: int, msg: AmiMessage) -> None:
        """Every AMI action read, before it is carried out."""
        self.ami_received.append((connection, msg))
        self._received.set()

    def place(self, req: OriginateRequest, reply: SyncReply | None = None) -> OriginateDial:
        return self.world.originate(req, reply)

    def hangup_channel(self, chan: Channel, cause: int = 16, soft: int = 16) -> None:
        """AMI Hangup / ARI DELETE on any channel."""
        world = self.world
        owner = chan.owner
        if isinstance(owner, Exec):
            if owner.callee:
                leg: Any = owner.leg
                leg.remote_hangup(cause)
            else:
                world.runner.hangup_caller(chan, cause, soft)
            return
        if isinstance(owner, Leg):
            if owner.answered:
                owner.near_hangup(cause, soft)
                return
            owner.cancel(cause)
            if isinstance(owner.dialer, OriginateDial):
                owner.dialer.cancelled()

    def restart_world(self) -> None:
        self.started_wall = self._wall_clock()
        self.world.restart(self.started_wall)

    def come_up(self) -> None:
        """A new Asterisk process listens (its startup time is now) and is booting."""
        self.started_wall = self._wall_clock()
        self.shutting_down = self.down = False
        self.booting = True

    def hang_up_everything(self) -> None:
        """What ``core restart now`` does first: every channel hung up, no cause."""
        self.world.hang_up_everything(lambda chan: self.hangup_channel(chan, 0, 0))

    def shutdown_event(self, restart: bool) -> None:
        body = f"Shutdown: Cleanly\r\nRestart: {'True' if restart else 'False'}\r\n"
        self.world.emit.raw("Shutdown", "system,all", body)

    def fully_booted(self) -> None:
        """Booting is over: FullyBooted to every session (Uptime 0, as Asterisk sends it)."""
        self.booting = False
        uptime = int(self.world.sim_now() - self.started_wall)
        body = f"Status: Fully Booted\r\nUptime: {uptime}\r\nLastReload: {uptime}\r\n"
        self.world.emit.raw("FullyBooted", "system,all", body)
