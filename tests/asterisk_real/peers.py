"""The two peers a conformance test runs against: the simulator and the real Asterisk 22.

Both hold the same world: callee numbers by prefix (``+1555100…`` a person, ``200`` a machine,
``300`` no answer, ``400`` busy, ``500`` congestion, ``600`` an unallocated number, ``700`` a
line that answers and says nothing), queue
``sales`` with one agent (``Agent 101``) and ``sales3`` with three (``Agent 301``–``303``),
agents that answer at once, and a queue-level wrap-up of 5 s (``asterisk_conf/queues.conf``).
A test body takes a :class:`Peer` and never asks which one it has, except through
:attr:`Peer.real` for what only one of them can do.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import re
import time
from collections.abc import Callable
from typing import Any

from asterisk_sim import AgentConfig, CarrierProfile, Dist, QueueConfig, SimAsterisk, SimConfig
from gateway.asterisk.ami.adapter import AmiEndpoint, AmiLink
from gateway.asterisk.ami.events import AmiEvent, UserEvent
from gateway.asterisk.pool import Driver, ServerConfig
from tests.asterisk_real.pbx import (
    AMI_SECRET,
    AMI_USER,
    ARI_APP,
    ARI_PASSWORD,
    ARI_USER,
    TRUNK,
    RealAsterisk,
)
from tests.gateway.conftest import FAST

WRAPUP_S = 5.0  # [dialer-queue] wrapuptime in asterisk_conf/queues.conf
_KINDS = {"+1555100": "live", "+1555200": "machine", "+1555300": "no_answer",
          "+1555400": "busy", "+1555500": "congestion", "+1555600": "failure",
          "+1555700": "silent"}  # fmt: skip
# AMD's verdict time per callee. The real Asterisk's Local callees send no frames after their
# sound, so a person (and a silent line) is NOTSURE once AMD's bound (1 s) has passed: the
# simulator's 1.5 s is past it too. The machine's greeting passes amd.conf's 0.6 s of voice at
# about 0.85 s (MACHINE, LONGGREETING).
_AMD_S = {"machine": 0.85}
_DIALLED = re.compile(r"^(?:Local/(\d+)@dialer-test-carrier|PJSIP/\+?(\d+)@carrier-a)-")


def _carrier(prefix: str, kind: str) -> CarrierProfile:
    w = {"live" if kind == "silent" else kind: 1.0}
    return CarrierProfile(
        prefix=prefix, ring_time=Dist.fixed(0.3), callee_hangup=Dist.fixed(6.0),
        amd_time=Dist.fixed(_AMD_S.get(kind, 1.5)), post_dial_delay=Dist.fixed(0.1),
        live=w.get("live", 0.0),
        machine=w.get("machine", 0.0), no_answer=w.get("no_answer", 0.0),
        busy=w.get("busy", 0.0), congestion=w.get("congestion", 0.0),
        failure=w.get("failure", 0.0),
    )  # fmt: skip


def _agent(ext: str, wrapup: float = 0.0) -> AgentConfig:
    # PJSIP/agent-<ext>: the simulator's own phones; ``wrapup``: the member's own, as the member
    # line's sixth field (tests/asterisk_real/world/queues.conf: Agent 101 has one, 301-303 not)
    return AgentConfig(ext, f"Agent {ext}", wrapup=wrapup)


def sim_world() -> SimConfig:
    def queue(name: str, exts: tuple[str, ...], own_wrapup: float = 0.0) -> QueueConfig:
        return QueueConfig(name, agents=tuple(_agent(e, own_wrapup) for e in exts),
                           ring_time=Dist.fixed(0.05), talk_time=Dist.fixed(300.0),
                           wrapup=WRAPUP_S, strategy="rrmemory")  # fmt: skip

    carriers = (*(_carrier(p, k) for p, k in _KINDS.items()), _carrier("", "live"))
    return SimConfig(
        seed=1, ami_port=0, ari_port=0, time_scale=1.0, carriers=carriers,
        queues=(queue("sales", ("101",), WRAPUP_S), queue("sales3", ("301", "302", "303"))),
        rtcp_interval=1.0, ami_secret=AMI_SECRET, ari_password=ARI_PASSWORD,
    )  # fmt: skip


class Dialled:
    """An AMI session of its own that counts the callee channels Asterisk created per number
    (``Newchannel`` of each trunk channel), so a test sees "dialled twice" on either peer, and
    keeps the dialplan's ``UserEvent`` s with the wall-clock time they arrived (``user_events``).
    """

    def __init__(self, port: int) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.events: list[AmiEvent] = []
        self.user_events: list[tuple[float, UserEvent]] = []
        self.link = AmiLink(
            AmiEndpoint("watch", "127.0.0.1", port, AMI_USER, AMI_SECRET),
            on_event=self._on_event, on_state=lambda s: self._state.set(),
            filters=("Newchannel", "UserEvent"), timing=FAST,
        )  # fmt: skip
        self._task: asyncio.Task[None] | None = None
        self._state = asyncio.Event()

    def _on_event(self, event: AmiEvent) -> None:
        if isinstance(event, UserEvent):
            self.user_events.append((time.time(), event))
            return
        channel = getattr(event, "channel", "")
        if getattr(event, "name", "") != "Newchannel" or channel.endswith(";2"):
            return
        m = _DIALLED.match(channel)
        if m:
            self.counts["+" + (m.group(1) or m.group(2))] += 1

    async def start(self) -> None:
        self._task = asyncio.create_task(self.link.run())
        async with asyncio.timeout(20):
            while not self.link.ready:
                self._state.clear()
                await self._state.wait()

    async def stop(self) -> None:
        await self.link.stop()
        if self._task is not None:
            await self._task


@dataclasses.dataclass
class Peer:
    """What a test needs of either peer."""

    name: str  # "sim" or "asterisk"
    sim: SimAsterisk | None = None
    pbx: RealAsterisk | None = None
    dialled: Dialled | None = None

    @property
    def real(self) -> bool:
        return self.pbx is not None

    @property
    def ami_port(self) -> int:
        return self.pbx.ami_port if self.pbx else self._sim.ami_port

    @property
    def ari_port(self) -> int:
        return self.pbx.ari_port if self.pbx else self._sim.ari_port

    @property
    def _sim(self) -> SimAsterisk:
        assert self.sim is not None
        return self.sim

    @property
    def trunk(self) -> str:
        return TRUNK if self.pbx else "PJSIP/{number}@carrier-a"

    def server(self, driver: Driver = "ami", **kw: Any) -> ServerConfig:
        creds = (AMI_USER, AMI_SECRET, ARI_USER, ARI_PASSWORD, ARI_APP)  # the same on both
        fields: dict[str, Any] = dict(
            name="pbx1", ami_port=self.ami_port, ami_username=creds[0], ami_secret=creds[1],
            ari_port=self.ari_port, ari_username=creds[2], ari_password=creds[3],
            ari_app=creds[4], driver=driver, channels=200, originate_rate=200.0,
            trunk=self.trunk,
        )  # fmt: skip
        fields.update(kw)
        return ServerConfig(**fields)

    def dialled_counts(self) -> dict[str, int]:
        """Calls placed, per number (real Asterisk: callee channels) or per attempt (simulator)."""
        if self.sim is not None:  # the simulator names trunk channels by endpoint: count by attempt
            return dict(self.sim.originate_counts)
        assert self.dialled is not None
        return dict(self.dialled.counts)

    async def restart(self) -> None:
        """``core restart now`` (the simulator: its restart fault)."""
        if self.pbx:
            await self.pbx.restart_now()
            await self.pbx.fully_booted()
        else:
            await self._sim.faults.restart()

    async def crash(self) -> None:
        """kill -9 of Asterisk and a start on the same ports (the simulator: its crash fault)."""
        if self.pbx is None:
            await self._sim.faults.crash()
            return
        await self.crash_and_start()

    async def crash_and_start(self) -> None:
        """kill -9 of Asterisk, then start it again on the same ports."""
        assert self.pbx is not None
        if self.dialled is not None:
            await self.dialled.stop()
        await self.pbx.kill()
        await self.pbx.start()
        self.dialled = Dialled(self.pbx.ami_port)
        await self.dialled.start()

    async def stop(self) -> None:
        if self.dialled is not None:
            await self.dialled.stop()
        if self.pbx is not None:
            await self.pbx.stop()
        if self.sim is not None:
            await self.sim.stop()


async def eventually(predicate: Callable[[], bool], within: float = 20.0) -> None:
    """Await a condition no event announces (a peer's counters, a call's state), polling."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 (nothing to await: the state is only read)
            await asyncio.sleep(0.05)


async def start_peer(name: str) -> Peer:
    if name == "sim":
        sim = SimAsterisk(sim_world())
        await sim.start()
        peer = Peer("sim", sim=sim)
    else:
        from tests.asterisk_real.pbx import find_build

        home = find_build()
        assert home is not None
        pbx = RealAsterisk(home)
        await pbx.start()
        peer = Peer("asterisk", pbx=pbx)
    peer.dialled = Dialled(peer.ami_port)
    await peer.dialled.start()
    return peer
