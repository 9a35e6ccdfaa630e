"""Against the simulated Asterisk over real sockets: outcomes through both drivers, and faults."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest

from asterisk_sim import AgentConfig, CarrierProfile, Dist, QueueConfig, SimAsterisk, SimConfig
from asterisk_sim.faults import BOOT_S, DOWN_S, SHUTDOWN_AFTER_S
from gateway.asterisk.agents import AgentStatus
from gateway.asterisk.ami.adapter import AmiEndpoint, AmiLink
from gateway.asterisk.ami.events import AmiEvent, ChannelEvent
from gateway.asterisk.calls.model import OriginateRequest
from gateway.asterisk.dialing import Dialer
from gateway.asterisk.pool import Driver, ServerConfig
from pacing.outcomes import Outcome, PbxFault
from tests.gateway.conftest import FAST, DialerFactory, Recorder, request, wait_healthy

# gateway/sim registers a plain (non-async) aiohttp handler; aiohttp warns, and warnings are
# errors here. Reported to the simulator's owner; tolerated in these tests only.


SimFactory = Callable[..., Awaitable[SimAsterisk]]

# one prefix per network outcome; the default carrier answers live
PREFIXES = {
    "+1555100": Outcome.ANSWERED, "+1555200": Outcome.MACHINE, "+1555300": Outcome.NO_ANSWER,
    "+1555400": Outcome.BUSY, "+1555500": Outcome.CONGESTION, "+1555600": Outcome.FAILED,
}  # fmt: skip
_WEIGHTS = {"+1555100": "live", "+1555200": "machine", "+1555300": "no_answer",
            "+1555400": "busy", "+1555500": "congestion", "+1555600": "failure"}  # fmt: skip


ONE_SECOND = Dist.fixed(1.0)


def carrier(prefix: str, kind: str, ring: Dist = ONE_SECOND) -> CarrierProfile:
    w = {kind: 1.0}
    return CarrierProfile(
        prefix=prefix, ring_time=ring, callee_hangup=Dist.fixed(6.0), amd_time=Dist.fixed(0.5),
        post_dial_delay=Dist.fixed(0.2), live=w.get("live", 0.0), machine=w.get("machine", 0.0),
        no_answer=w.get("no_answer", 0.0), busy=w.get("busy", 0.0),
        congestion=w.get("congestion", 0.0), failure=w.get("failure", 0.0),
    )  # fmt: skip


def world(agents: int = 1, **kw: object) -> SimConfig:
    queue = QueueConfig(
        "sales",
        agents=tuple(AgentConfig(str(101 + i)) for i in range(agents)),
        ring_time=Dist.fixed(0.3),
        talk_time=Dist.fixed(20.0),
        wrapup=5.0,
    )
    carriers = (*(carrier(p, k) for p, k in _WEIGHTS.items()), carrier("", "live"))
    fields: dict[str, object] = dict(
        seed=1,
        ami_port=0,
        ari_port=0,
        time_scale=0.05,
        carriers=carriers,
        queues=(queue,),
        rtcp_interval=1.0,
    )
    fields.update(kw)
    return SimConfig(**fields)  # type: ignore[arg-type]


@pytest.fixture
async def make_sim() -> AsyncIterator[SimFactory]:
    sims: list[SimAsterisk] = []

    async def make(config: SimConfig | None = None) -> SimAsterisk:
        sim = SimAsterisk(config or world())
        await sim.start()
        sims.append(sim)
        return sim

    yield make
    for sim in sims:
        await sim.stop()


class Watcher:
    """A second AMI session on the simulator that records which channels were created, so a
    test can await "Asterisk has these calls" without polling."""

    def __init__(self, sim: SimAsterisk) -> None:
        creds = sim.credentials
        self.created: set[str] = set()
        self._changed = asyncio.Event()
        self.link = AmiLink(
            AmiEndpoint("watch", "127.0.0.1", sim.ami_port, creds.ami_user, creds.ami_secret),
            on_event=self._on_event, on_state=lambda s: self._changed.set(),
            filters=("Newchannel",), timing=FAST)  # fmt: skip
        self._task: asyncio.Task[None] | None = None

    def _on_event(self, event: AmiEvent) -> None:
        if isinstance(event, ChannelEvent) and event.name == "Newchannel":
            self.created.add(event.uniqueid)
            self._changed.set()

    async def _until(self, predicate: Callable[[], bool], within: float) -> None:
        async with asyncio.timeout(within):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    async def __aenter__(self) -> Watcher:
        self._task = asyncio.create_task(self.link.run())
        await self._until(lambda: self.link.ready, 10.0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.link.stop()
        if self._task is not None:
            await self._task

    async def until_created(self, ids: list[str], within: float = 20.0) -> None:
        await self._until(lambda: self.created.issuperset(ids), within)


def server(sim: SimAsterisk, driver: Driver = "ami", **kw: object) -> ServerConfig:
    creds = sim.credentials
    fields: dict[str, object] = dict(
        name="pbx1", ami_port=sim.ami_port, ami_username=creds.ami_user,
        ami_secret=creds.ami_secret, ari_port=sim.ari_port, ari_username=creds.ari_user,
        ari_password=creds.ari_password, ari_app=creds.ari_app, driver=driver, channels=2000,
        originate_rate=5000.0, trunk="PJSIP/{number}@carrier-a",
    )  # fmt: skip
    fields.update(kw)
    return ServerConfig(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("driver", ["ami", "ari"])
async def test_every_outcome_through_each_driver(
    make_sim: SimFactory, make_dialer: DialerFactory, recorder: Recorder, driver: Driver
) -> None:
    sim = await make_sim()
    dialer = await make_dialer([server(sim, driver)])
    await wait_healthy(dialer, recorder)
    expected: dict[str, Outcome] = {}
    for prefix, outcome in PREFIXES.items():
        req = request(prefix + "0001")
        expected[req.attempt_id] = outcome
        dialer.originate(req)
    busy_agent = request("+15551000002")  # the only agent is taken: a live answer is abandoned
    await recorder.until(lambda: dialer.agents("sales").on_call == 1)
    dialer.originate(busy_agent)
    expected[busy_agent.attempt_id] = Outcome.ABANDONED
    await recorder.until(lambda: len(recorder.results) == len(expected), within=30)
    got = {r.attempt_id: r.outcome for r in recorder.results}
    assert got == expected
    results = recorder.by_id()
    answered = next(r for r in recorder.results if r.outcome is Outcome.ANSWERED)
    assert answered.agent == "Agent 101"
    assert answered.connected_at is not None
    assert answered.rang_at is not None
    assert answered.answered_at is not None
    assert results[busy_agent.attempt_id].cause == 16
    assert {results[a].cause for a, o in expected.items() if o is Outcome.BUSY} == {17}
    assert set(sim.originate_counts.values()) == {1}
    assert set(sim.originate_counts) >= set(expected)


async def test_agents_snapshot_follows_the_queue(
    make_sim: SimFactory, make_dialer: DialerFactory, recorder: Recorder
) -> None:
    sim = await make_sim(world(agents=3))
    dialer = await make_dialer([server(sim)], resync_interval_s=0.2)
    await wait_healthy(dialer, recorder)
    dialer.originate(request("+15551000009"))  # makes the runtime watch "sales"
    await recorder.until(lambda: dialer.agents("sales").on_call == 1)
    snap = dialer.agents("sales")
    assert snap.logged_in == 3
    assert snap.free + snap.on_call + snap.count(AgentStatus.WRAPUP) == 3


async def test_ami_drop_with_500_calls_in_flight(
    make_sim: SimFactory, make_dialer: DialerFactory, recorder: Recorder
) -> None:
    sim = await make_sim(world(agents=5, carriers=(
        carrier("", "live", Dist.uniform(4.0, 30.0)),
        carrier("+1555300", "no_answer", Dist.uniform(4.0, 30.0)),
        carrier("+1555400", "busy"),
    )))  # fmt: skip
    dialer = await make_dialer([server(sim)], reconcile_wait_s=5.0)
    await wait_healthy(dialer, recorder)
    ids = []
    async with Watcher(sim) as watcher:
        for i in range(500):
            req = request(("+1555100", "+1555300", "+1555400")[i % 3] + f"{i:04d}")
            ids.append(req.attempt_id)
            dialer.originate(req)
        await watcher.until_created(ids)  # Asterisk has every call ...
        assert await sim.faults.drop_ami() == 2  # ... when the links are cut
    await recorder.until(
        lambda: (
            recorder.last_state() == "ready"
            and recorder.states.count(("pbx1", "ami", "ready")) == 2
        ),
        within=10,
    )
    await recorder.until(lambda: len(recorder.results) == 500, within=40)
    assert sorted(r.attempt_id for r in recorder.results) == sorted(ids)  # each exactly once
    assert [sim.originate_counts[a] for a in ids] == [1] * 500  # nothing dialled twice
    outcomes = collections.Counter(r.outcome for r in recorder.results)
    assert outcomes[Outcome.BUSY] > 0
    assert outcomes[Outcome.NO_ANSWER] > 0
    assert dialer.in_flight() == {}


async def test_asterisk_restart_settles_calls_and_the_link_returns(
    make_sim: SimFactory, make_dialer: DialerFactory, recorder: Recorder
) -> None:
    sim = await make_sim(world(carriers=(carrier("", "no_answer", Dist.fixed(200.0)),)))
    dialer = await make_dialer([server(sim)], reconcile_wait_s=5.0)
    await wait_healthy(dialer, recorder)
    reqs = [request() for _ in range(50)]
    async with Watcher(sim) as watcher:
        for req in reqs:
            dialer.originate(req)
        await watcher.until_created([r.attempt_id for r in reqs])
    loop = asyncio.get_running_loop()
    start = loop.time()
    await sim.faults.restart()
    await recorder.until(lambda: recorder.states.count(("pbx1", "ami", "ready")) == 2)
    # back within the backoff bound once the restarted simulator has booted
    assert loop.time() - start < SHUTDOWN_AFTER_S + DOWN_S + BOOT_S + FAST.backoff_cap + 2.0
    await recorder.until(lambda: len(recorder.results) == 50, within=15)
    # hung up by the restart: failed with the fault named, not no_answer nor unknown
    assert {(r.outcome, r.fault) for r in recorder.results} == {
        (Outcome.FAILED, PbxFault.PBX_RESTART)
    }
    assert all(r.detail for r in recorder.results)
    assert set(sim.originate_counts.values()) == {1}
    assert dialer.runtime("pbx1").ami.reconnects >= 1  # refused while the simulator is down


async def test_ari_websocket_dropped_and_replaced_reconnects(
    make_sim: SimFactory, make_dialer: DialerFactory, recorder: Recorder
) -> None:
    sim = await make_sim()
    dialer = await make_dialer([server(sim, "ari")])
    await wait_healthy(dialer, recorder)
    stream = dialer.runtime("pbx1").stream
    assert stream is not None
    await sim.faults.drop_ari()
    await recorder.until(lambda: recorder.states.count(("pbx1", "ari", "ready")) == 2)
    creds = sim.credentials
    async with aiohttp.ClientSession() as session:
        url = f"ws://127.0.0.1:{sim.ari_port}/ari/events"
        params = {"app": creds.ari_app, "api_key": f"{creds.ari_user}:{creds.ari_password}"}
        async with session.ws_connect(url, params=params):
            await recorder.until(lambda: stream.replaced == 1)
            await recorder.until(lambda: recorder.states.count(("pbx1", "ari", "ready")) == 3)
    assert stream.reconnects == 2
    await wait_healthy(dialer, recorder)
    req = request("+15554000001")
    dialer.originate(req)  # and calls still work
    await recorder.until(lambda: req.attempt_id in recorder.by_id())
    assert recorder.by_id()[req.attempt_id].outcome is Outcome.BUSY
    await dialer.stop()  # a clean stop with the ARI stream up (the fixture's stop is a no-op)


async def test_restart_of_the_gateway_reconciles_from_the_channel_list(
    make_sim: SimFactory, make_dialer: DialerFactory, recorder: Recorder
) -> None:
    sim = await make_sim(world(carriers=(carrier("", "no_answer", Dist.fixed(400.0)),)))
    first = Recorder()
    old = Dialer([server(sim)], on_result=first.result, on_link_state=first.state, timing=FAST)
    await old.start()
    await wait_healthy(old, first)
    live = request(ring_timeout_s=100.0)  # 5 s here: rings on past the ledger's second reading
    async with Watcher(sim) as watcher:
        old.originate(live)
        await watcher.until_created([live.attempt_id])
    await old.stop()  # the gateway dies with the call ringing
    new = await make_dialer([server(sim)])
    await wait_healthy(new, recorder)
    gone = OriginateRequest("e" * 32, 1, 1, "+15550000000", "+15550100", "D", "sales", 20.0)
    await new.reconcile([(live.attempt_id, "pbx1"), (gone.attempt_id, "pbx1")])
    await recorder.until(lambda: gone.attempt_id in recorder.by_id())
    assert recorder.by_id()[gone.attempt_id].outcome is Outcome.UNKNOWN
    assert live.attempt_id in new.in_flight()  # still ringing: followed, not re-dialled
    await recorder.until(lambda: live.attempt_id in recorder.by_id(), within=10)
    assert recorder.by_id()[live.attempt_id].outcome is Outcome.NO_ANSWER
    assert sim.originate_counts[live.attempt_id] == 1
