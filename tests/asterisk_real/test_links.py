"""A cut AMI link and a dropped ARI WebSocket under a call, on both peers.

A relay (:class:`bench.witness.Relay`) stands between the gateway and the peer's AMI or ARI
port and cuts it for 0.4 s while a call is talking to an agent: the server takes no new calls
while the link is down, takes them again by itself within 5 s of the link's return (after
reconciling: the call is found on the server and followed, never dialled again), and the call
ends with its true outcome. The board may say the agent is on the call (its Local device in
use) before ``AgentConnect`` arrives; a connect sent while the link is down is learnt from the
channel list (the caller in ``Queue()`` bridged with the member).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bench.witness import Relay
from gateway.asterisk.pool import Driver
from pacing.outcomes import Outcome
from tests.asterisk_real.peers import Peer, eventually
from tests.gateway.conftest import DialerFactory, Recorder, wait_healthy
from tests.gateway.conftest import request as originate_request

pytestmark = [pytest.mark.slow]

CUT_S = 0.4


async def states_while(relay: Relay, state: Callable[[], str], within: float) -> set[str]:
    """The call states seen while the relay holds the link cut, polled."""
    seen = {state()}
    async with asyncio.timeout(within):
        while relay.down:
            seen.add(state())
            await asyncio.sleep(0.02)
    return seen


@pytest.mark.parametrize(("link", "driver"), [("ami", "ami"), ("ami", "ari"), ("ari", "ari")])
async def test_a_short_cut_holds_new_calls_and_dialling_resumes_by_itself(
    peer: Peer, make_dialer: DialerFactory, recorder: Recorder, link: str, driver: Driver
) -> None:
    relay = await Relay(peer.ami_port if link == "ami" else peer.ari_port).start()
    try:
        port = {"ami_port": relay.port} if link == "ami" else {"ari_port": relay.port}
        dialer = await make_dialer([peer.server(driver, **port)])
        await wait_healthy(dialer, recorder)
        await recorder.until(lambda: dialer.agents("sales").logged_in == 1, within=10)
        talking = originate_request("+15551000001", ring_timeout_s=15.0)
        dialer.originate(talking)
        await recorder.until(lambda: dialer.agents("sales").on_call == 1, within=20)

        loop = asyncio.get_running_loop()
        relay.cut(CUT_S)
        await eventually(lambda: dialer.capacity().healthy == 0, within=5)  # holds new calls
        await eventually(lambda: not relay.down, within=5)
        back = loop.time()
        await eventually(lambda: dialer.capacity().healthy == 1, within=5)
        assert loop.time() - back < 5.0  # dialling may continue within 5 s of the return
        assert talking.attempt_id in dialer.in_flight() or talking.attempt_id in recorder.by_id()
        after = originate_request("+15554000009", ring_timeout_s=15.0)
        dialer.originate(after)
        await recorder.until(
            lambda: {talking.attempt_id, after.attempt_id} <= set(recorder.by_id()), within=30
        )
        got = recorder.by_id()
        assert (got[talking.attempt_id].outcome, got[talking.attempt_id].agent) == (
            Outcome.ANSWERED,
            "Agent 101",
        )
        assert got[after.attempt_id].outcome is Outcome.BUSY
        assert set(peer.dialled_counts().values()) == {1}  # nothing dialled twice
        await dialer.stop()
    finally:
        await relay.stop()


async def test_a_connect_made_while_the_link_was_cut_is_read_from_the_bridges(
    peer: Peer, make_dialer: DialerFactory, recorder: Recorder
) -> None:
    """The AMI link is cut before the call is answered and comes back while it talks: its
    answer and ``AgentConnect`` went to no session. The reconcile finds the call bridged with
    the member (``CoreShowChannels`` ``BridgeId``) and follows it as connected to that agent
    before it ends (the simulator reported no bridge until this test)."""
    relay = await Relay(peer.ami_port).start()
    try:
        dialer = await make_dialer([peer.server("ami", ami_port=relay.port)])
        await wait_healthy(dialer, recorder)
        await recorder.until(lambda: dialer.agents("sales").logged_in == 1, within=10)
        talking = originate_request("+15551000001", ring_timeout_s=15.0)  # talks ~6 s
        dialer.originate(talking)

        def state() -> str:
            call = dialer.in_flight().get(talking.attempt_id)
            return "" if call is None else str(call.state)

        # cut once the peer has the call (an Originate still in the relay would be lost with
        # the cut) and before its answer (0.3 s of ringing); AMD and the agent follow within 3 s
        await eventually(lambda: state() == "ringing", within=5)
        relay.cut(3.5)
        seen = await states_while(relay, state, within=5)
        # nothing of the answer came while the link was down (read during the cut: a real
        # Asterisk is reconnected and reconciled within one poll of its return)
        assert seen == {"ringing"}
        await eventually(lambda: state() == "connected", within=2.5)  # before the call ends
        await recorder.until(lambda: talking.attempt_id in recorder.by_id(), within=30)
        got = recorder.by_id()[talking.attempt_id]
        assert (got.outcome, got.agent) == (Outcome.ANSWERED, "Agent 101")
        assert set(peer.dialled_counts().values()) == {1}
        await dialer.stop()
    finally:
        await relay.stop()
