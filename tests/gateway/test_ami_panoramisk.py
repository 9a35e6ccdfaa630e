"""panoramisk's traps, neutralised: each test runs the link (panoramisk underneath) against the
simulated Asterisk over real TCP and asserts on what the simulator received.

1. no replay: a drop with Originates and an action unanswered sends each Originate once, and the
   action's awaiter gets ``LinkDown`` at once;
2. login: not ready (and no Originate written) before the Login response; a wrong secret is
   ``AuthenticationFailed``;
3. reconnect: only the link's backoff (exponential, jittered, capped) reconnects, never
   panoramisk's own timer;
4. nothing panoramisk would start by itself (its login, pinger, replays) reaches the wire.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from asterisk_sim import CarrierProfile, Dist, SimAsterisk, SimConfig
from asterisk_sim.amiproto import AmiMessage
from gateway.asterisk.ami import events as ev
from gateway.asterisk.ami.adapter import AmiEndpoint, AmiLink, LinkTiming
from gateway.asterisk.ami.linkstate import LinkState, backoff_delay
from gateway.asterisk.calls.runtime import originate_headers
from gateway.asterisk.errors import ActionFailed, LinkDown
from tests.gateway.conftest import FAST, request

RINGING = "+1999"  # rings for a day: its Originate gets no OriginateResponse during a test


def _config() -> SimConfig:
    ringing = CarrierProfile(prefix=RINGING, live=0, machine=0, no_answer=1, busy=0,
                             congestion=0, failure=0, ring_time=Dist.fixed(86_400.0))  # fmt: skip
    return SimConfig(ami_port=0, ari_port=0, time_scale=0.05, carriers=(ringing,))


class Harness:
    """One AmiLink under test, its states with their loop times, and a condition to await."""

    def __init__(self, port: int, secret: str, timing: LinkTiming, **kw: object) -> None:
        self.states: list[tuple[LinkState, float]] = []
        self.changed = asyncio.Event()
        self.link = AmiLink(
            AmiEndpoint("pbx1", "127.0.0.1", port, "dialer", secret),
            on_event=lambda e: self.changed.set(),
            on_state=self._state,
            timing=timing,
            **kw,  # type: ignore[arg-type]
        )
        self.task = asyncio.create_task(self.link.run())

    def _state(self, s: LinkState) -> None:
        self.states.append((s, asyncio.get_running_loop().time()))
        self.changed.set()

    def count(self, state: LinkState) -> int:
        return sum(1 for s, _ in self.states if s is state)

    async def until(self, predicate: Callable[[], bool], within: float = 10.0) -> None:
        async with asyncio.timeout(within):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()

    async def stop(self) -> None:
        await self.link.stop()
        async with asyncio.timeout(5):
            await self.task


@pytest.fixture
async def sim() -> AsyncIterator[SimAsterisk]:
    async with SimAsterisk(_config()) as s:
        yield s


@pytest.fixture
async def make_link(sim: SimAsterisk) -> AsyncIterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(secret: str | None = None, timing: LinkTiming = FAST, **kw: object) -> Harness:
        h = Harness(sim.ami_port, sim.credentials.ami_secret if secret is None else secret,
                    timing, **kw)  # fmt: skip
        made.append(h)
        return h

    yield make
    for h in made:
        await h.stop()


def received(sim: SimAsterisk, action: str | None = None) -> list[tuple[int, AmiMessage]]:
    return [(n, m) for n, m in sim.ami_received if action is None or m.action == action]


def originate(number: str) -> list[tuple[str, str]]:
    return originate_headers(request(number), f"PJSIP/{number}@carrier-a")


# --- 1. no replay ---------------------------------------------------------------------------


async def test_a_drop_never_resends_an_originate_and_fails_the_waiting_action(
    sim: SimAsterisk, make_link: Callable[..., Harness]
) -> None:
    h = make_link()
    await h.until(lambda: h.link.ready)
    sim.faults.delay_responses(30.0)  # from now on no action of this session gets its reply
    calls = [originate(f"{RINGING}{i:07d}") for i in range(3)]
    ids = [dict(c)["ActionID"] for c in calls]
    assert all(h.link.write_originate(c) for c in calls)
    waiting = asyncio.create_task(h.link.action([("Action", "Status")]))
    await sim.wait_received(lambda: bool(received(sim, "Status")))  # the Status reached the sim ...
    assert all(sim.originate_counts.get(i) == 1 for i in ids)  # ... after the Originates
    assert await sim.faults.drop_ami() == 1
    sim.faults.delay_responses(0)  # the next session is answered normally
    with pytest.raises(LinkDown):  # at once, not at its 2 s timeout, and not answered later
        async with asyncio.timeout(1.0):
            await waiting
    await h.until(lambda: h.count(LinkState.READY) == 2)
    await h.link.action([("Action", "Ping")])  # the new session has run past any replay
    assert {i: sim.originate_counts.get(i) for i in ids} == dict.fromkeys(ids, 1)
    assert [m.get("ActionID") for _, m in received(sim, "Originate")] == ids
    assert len(received(sim, "Status")) == 1
    second = max(n for n, _ in received(sim))
    assert {m.action for n, m in received(sim) if n == second} <= {"Login", "Filter", "Ping"}


async def test_an_originate_is_written_as_given(
    sim: SimAsterisk, make_link: Callable[..., Harness]
) -> None:
    h = make_link()
    await h.until(lambda: h.link.ready)
    call = originate(f"{RINGING}0000001")
    assert h.link.write_originate(call)
    await h.link.action([("Action", "Ping")])  # the sim has read everything before it
    [(_, got)] = received(sim, "Originate")
    assert got.headers == tuple(call)  # caller's order, each Variable: on its own line
    assert len(got.get_all("Variable")) == 6  # the ledger's hangup handler and five variables
    # an ordinary action goes through panoramisk's Action: repeated keys stay repeated
    with pytest.raises(ActionFailed):  # the simulator does not know UserEvent; it still read it
        await h.link.action([("Action", "UserEvent"), ("Header", "A: 1"), ("Header", "B: 2")])
    [(_, user)] = received(sim, "UserEvent")
    assert user.get_all("Header") == ["A: 1", "B: 2"]
    assert user.get("ActionID").startswith("gw-")


# --- 2. login --------------------------------------------------------------------------------


async def test_not_ready_and_no_originate_until_the_login_is_answered(
    sim: SimAsterisk, make_link: Callable[..., Harness]
) -> None:
    sim.faults.stall(30.0)  # the sim reads nothing and answers nothing until unstalled
    h = make_link()
    await h.until(lambda: h.count(LinkState.AUTHENTICATING) == 1)  # connect() has returned ...
    call = originate(f"{RINGING}0000002")
    with pytest.raises(TimeoutError):  # ... but without a Login response the link is not ready
        await h.until(lambda: h.link.ready, within=0.5)
    assert h.link.state is LinkState.AUTHENTICATING
    assert not h.link.write_originate(call)
    sim.faults.unstall()
    await h.until(lambda: h.link.ready)
    actions = [m.action for _, m in received(sim)]
    assert actions[0] == "Login"
    assert "Originate" not in actions  # the refused write never reached the socket
    assert h.link.write_originate(call)
    await h.link.action([("Action", "Ping")])
    assert sim.originate_counts.get(dict(call)["ActionID"]) == 1


async def test_a_wrong_secret_is_authentication_failed(
    sim: SimAsterisk, make_link: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="gateway.asterisk.ami")
    h = make_link(secret="wrong")
    await h.until(lambda: h.count(LinkState.BACKOFF) >= 2)
    why = "ami link pbx1: AuthenticationFailed: pbx1: Authentication failed"  # run_link's line
    assert [r.getMessage() for r in caplog.records][:2] == [why, why]
    assert h.count(LinkState.READY) == 0
    assert not h.link.write_originate(originate(f"{RINGING}0000003"))
    assert {m.action for _, m in received(sim)} == {"Login"}


# --- 3. reconnect ------------------------------------------------------------------------------


class HangUpServer:
    """A TCP server that accepts and closes at once, counting the connections."""

    def __init__(self) -> None:
        self.accepted = 0
        self.changed = asyncio.Event()
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> HangUpServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def until(self, predicate: Callable[[], bool], within: float) -> None:
        async with asyncio.timeout(within):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.changed.set()
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def _cycle(values: list[float]) -> Callable[[], float]:
    it: Iterator[float] = iter(values * 10)
    return lambda: next(it)


async def test_reconnects_follow_the_jittered_backoff_and_nothing_else() -> None:
    jitter = [0.0, 1.0, 0.5, 0.0, 1.0, 0.25, 0.75]  # the link's rand(), one per backoff
    async with HangUpServer() as server:
        h = Harness(server.port, "s", FAST, rand=_cycle(jitter))
        await h.until(lambda: h.count(LinkState.CONNECTING) == len(jitter) + 1)
        await h.stop()
        backoffs = [t for s, t in h.states if s is LinkState.BACKOFF]
        retries = [t for s, t in h.states if s is LinkState.CONNECTING][1:]
        waits = [b - a for a, b in zip(backoffs, retries, strict=False)]
        want = [
            backoff_delay(n, base=FAST.backoff_base, cap=FAST.backoff_cap, rand=_cycle([r]))
            for n, r in enumerate(jitter)
        ]
        # base·2ⁿ up to the 0.4 s cap, scaled by 0.5 + 0.5·rand: the cap alone would give 0.4
        # from the fourth wait on; the jitter makes them 0.2, 0.4, 0.25, 0.35
        assert want == pytest.approx([0.025, 0.1, 0.15, 0.2, 0.4, 0.25, 0.35])
        assert len(waits) == len(want)
        for got, expected in zip(waits, want, strict=True):
            assert expected - 0.01 <= got <= expected + 0.3, (waits, want)  # + a loaded machine
        # every connection was the link's own: panoramisk's reconnect timer (1 s) never fired
        connects = h.count(LinkState.CONNECTING)
        assert server.accepted == connects
        with pytest.raises(TimeoutError):
            await server.until(lambda: server.accepted > connects, within=1.5)


# --- 4. nothing of panoramisk's own on the wire ---------------------------------------------


async def test_only_the_links_own_actions_reach_the_wire(
    sim: SimAsterisk, make_link: Callable[..., Harness]
) -> None:
    h = make_link()
    await h.until(lambda: h.link.ready)
    await sim.wait_received(lambda: len(received(sim, "Ping")) >= 4)  # > 1.5 s of our pings
    await sim.faults.drop_ami()
    await h.until(lambda: h.count(LinkState.READY) == 2)
    pings = len(received(sim, "Ping"))
    await sim.wait_received(lambda: len(received(sim, "Ping")) >= pings + 3)
    log = received(sim)
    ids = [m.get("ActionID") for _, m in log]
    assert all(i.startswith("gw-") for i in ids), ids  # panoramisk's would be "action/<uuid>/…"
    assert len(set(ids)) == len(ids)  # nothing sent twice
    for conn in sorted({n for n, _ in log}):
        sent = [m for n, m in log if n == conn]
        assert sent[0].action == "Login"
        assert sum(1 for m in sent if m.action == "Login") == 1
        assert {k for k, _ in sent[0].headers} == {"Action", "ActionID", "Username", "Secret"}
        filters = [m.get("Filter") for m in sent if m.action == "Filter"]
        assert filters == [f"Event: {e}" for e in ev.USED_EVENTS]
        assert {m.action for m in sent} == {"Login", "Filter", "Ping"}


# --- the boundary -----------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
# The simulator's conformance test drives a stock panoramisk Manager on purpose: it is the
# reference client showing that the simulator speaks AMI as panoramisk expects; not gateway code.
REFERENCE_CLIENT = "tests/sim/test_clients_and_faults.py"


def _imports_panoramisk(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import) and any(
            a.name.split(".")[0] == "panoramisk" for a in node.names
        ):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "panoramisk":
            return True
    return False


def test_only_the_adapter_imports_panoramisk() -> None:
    importers = {
        str(p.relative_to(ROOT))
        for top in ("gateway", "pacing", "control_api", "tests")
        for p in (ROOT / top).rglob("*.py")
        if _imports_panoramisk(p)
    }
    assert importers == {"gateway/asterisk/ami/adapter.py", REFERENCE_CLIENT}
