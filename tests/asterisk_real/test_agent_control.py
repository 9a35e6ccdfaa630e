"""Agent control and agent-only callbacks against both peers (the simulator, the real Asterisk 22).

- Logging an agent in (``QueueAdd``), pausing with a reason, unpausing and logging out
  (``QueueRemove``) through the gateway's queue control change what pacing sees
  (:meth:`DialerSwitch.agents`, built from the agent board that the queue events feed).
- An agent-only callback (``OriginateRequest.agent_interface``) reaches that agent and no other
  while all three agents of ``sales3`` are free, every time: the dialplan dials the member
  (``Dial()`` with the ``dialer-agent-connect`` subroutine), not the queue, and the gateway records
  the connect with the agent's name as for a queue call.

Interfaces: the real test world's members are ``Local/<n>@dialer-test-agents/n`` (answer at once,
stay until the callee hangs up); the simulator's are its own phones ``PJSIP/agent-<n>``.
"""

from __future__ import annotations

import time

import pytest

from gateway.asterisk import validate
from gateway.asterisk.agents import AgentStatus
from gateway.asterisk.dialing import Dialer
from gateway.asterisk.pool import Driver
from gateway.asterisk.queuecontrol import QueueControl
from gateway.asterisk.switch import DialerSwitch
from pacing.outcomes import Outcome
from pacing.snapshot import AgentState
from tests.asterisk_real.peers import Peer
from tests.gateway.conftest import FAST, Recorder, wait_healthy
from tests.gateway.conftest import request as originate_request

pytestmark = [pytest.mark.slow]

REPEATS = 6  # a random pick among 3 free agents hits the right one 6 times in a row in 0.14 %


def _interface(peer: Peer, ext: str) -> str:
    return f"Local/{ext}@dialer-test-agents/n" if peer.real else f"PJSIP/agent-{ext}"


def _pacing_sees(switch: DialerSwitch, queue: str, interface: str) -> AgentState | None:
    found = [a for a in switch.agents(queue, time.monotonic()) if a.agent_id == interface]
    return found[0].state if found else None


async def test_login_pause_unpause_logout_change_what_pacing_sees(
    peer: Peer, recorder: Recorder
) -> None:
    dialer = Dialer([peer.server()], on_result=recorder.result,
                    on_agent_change=lambda _q: recorder.poke(), timing=FAST)  # fmt: skip
    switch = DialerSwitch(dialer)
    control = QueueControl(dialer.runtimes)
    iface = _interface(peer, "150")
    try:
        await dialer.start()
        await wait_healthy(dialer, recorder)
        await switch.watch("sales")
        await recorder.until(lambda: dialer.agents("sales").logged_in == 1, within=10)
        assert _pacing_sees(switch, "sales", iface) is None

        change = await control.login("sales", iface, "Agent150")
        assert change.servers == ("pbx1",)
        await recorder.until(lambda: _pacing_sees(switch, "sales", iface) is AgentState.FREE)

        await control.pause("sales", "Agent150", "lunch")
        await recorder.until(lambda: _pacing_sees(switch, "sales", iface) is AgentState.PAUSED)
        view = dialer.runtime("pbx1").queue_member("sales", "Agent150")
        assert view is not None
        assert (view.status, view.paused_reason) == (AgentStatus.PAUSED, "lunch")

        await control.unpause("sales", iface)  # by interface as well as by name
        await recorder.until(lambda: _pacing_sees(switch, "sales", iface) is AgentState.FREE)

        await control.logout("sales", "Agent150")
        await recorder.until(lambda: _pacing_sees(switch, "sales", iface) is None)
        assert dialer.agents("sales").logged_in == 1  # Agent 101 (static) stays
    finally:
        await dialer.stop()


@pytest.mark.parametrize("driver", ["ami", "ari"])
async def test_an_agent_only_callback_reaches_that_agent_every_time(
    peer: Peer, recorder: Recorder, driver: Driver
) -> None:
    dialer = Dialer([peer.server(driver)], on_result=recorder.result,
                    on_agent_change=lambda _q: recorder.poke(), timing=FAST)  # fmt: skip
    try:
        await dialer.start()
        await wait_healthy(dialer, recorder)
        dialer.runtime("pbx1").watch_queue("sales3")
        await dialer.runtime("pbx1").resync_queues()

        def free(names: set[str]) -> bool:
            agents = dialer.agents("sales3").agents
            return {a.name for a in agents if a.status is AgentStatus.FREE} >= names

        everyone = {"Agent 301", "Agent 302", "Agent 303"}
        await recorder.until(lambda: free(everyone), within=10)
        target = dialer.member_interface("sales3", "Agent 302")
        assert target == _interface(peer, "302")
        for _ in range(REPEATS):
            await recorder.until(lambda: free(everyone), within=10)  # all three could take it
            req = originate_request("+15551000001", queue="sales3", ring_timeout_s=15.0,
                                    agent_interface=target)  # fmt: skip

            def connected(attempt: str = req.attempt_id) -> bool:
                call = dialer.in_flight().get(attempt)
                return (call is not None and call.agent is not None) or attempt in recorder.by_id()

            def settled(attempt: str = req.attempt_id) -> bool:
                return attempt in recorder.by_id()

            dialer.originate(req)
            await recorder.until(connected, within=20)
            call = dialer.in_flight().get(req.attempt_id)
            assert call is not None
            assert call.agent == "Agent 302"
            status = {a.name: a.status for a in dialer.agents("sales3").agents}
            assert status["Agent 302"] is AgentStatus.ON_CALL
            assert status["Agent 301"] is status["Agent 303"] is AgentStatus.FREE
            await dialer.hangup(req.attempt_id)
            await recorder.until(settled, within=20)
            result = recorder.by_id()[req.attempt_id]
            assert (result.agent, result.outcome) == ("Agent 302", Outcome.ANSWERED)
    finally:
        await dialer.stop()


async def test_an_agent_only_callback_whose_agent_cannot_be_reached_is_abandoned(
    peer: Peer, recorder: Recorder
) -> None:
    """The dialplan's other branch on both peers: Dial() of an interface that leads nowhere
    (a Local extension the test world lacks; the simulator: no such member) is CHANUNAVAIL, and
    the callee hears the identification message as on a queue timeout: ``abandoned``, no agent.
    Sent through the server's runtime: the dialer itself dials only interfaces on its board."""
    dialer = Dialer([peer.server()], on_result=recorder.result, on_link_state=recorder.state,
                    timing=FAST)  # fmt: skip
    try:
        await dialer.start()
        await wait_healthy(dialer, recorder)
        nowhere = "Local/99@dialer-test-agents/n" if peer.real else "PJSIP/agent-99"
        req = originate_request("+15551000001", queue="sales3", ring_timeout_s=15.0,
                                agent_interface=nowhere, amd=False)  # fmt: skip
        runtime = dialer.runtime("pbx1")
        runtime.submit(req, validate.dial_string(runtime.config.trunk, req.number))
        await recorder.until(lambda: req.attempt_id in recorder.by_id(), within=30)
        result = recorder.by_id()[req.attempt_id]
        assert (result.outcome, result.agent) == (Outcome.ABANDONED, None)
    finally:
        await dialer.stop()


async def test_an_agent_only_callback_to_an_agent_of_another_queue(
    peer: Peer, recorder: Recorder
) -> None:
    """The attempt's queue (``sales``) is not the agent's (``sales3``, a skill queue): the call
    still reaches the agent, whose connect is recorded in its own queue; ``sales`` gets no
    made-up member."""
    dialer = Dialer([peer.server()], on_result=recorder.result,
                    on_agent_change=lambda _q: recorder.poke(), timing=FAST)  # fmt: skip
    try:
        await dialer.start()
        await wait_healthy(dialer, recorder)
        for queue in ("sales", "sales3"):
            dialer.runtime("pbx1").watch_queue(queue)
        await dialer.runtime("pbx1").resync_queues()
        await recorder.until(lambda: dialer.agents("sales3").free == 3, within=10)
        target = dialer.member_interface("sales", "Agent 303")  # found in its other queue
        assert target == _interface(peer, "303")
        req = originate_request("+15551000001", queue="sales", ring_timeout_s=15.0,
                                agent_interface=target, amd=False)  # fmt: skip
        dialer.originate(req)

        def on_call() -> bool:
            return any(a.name == "Agent 303" and a.status is AgentStatus.ON_CALL
                       for a in dialer.agents("sales3").agents)  # fmt: skip

        await recorder.until(on_call, within=20)
        assert {a.name for a in dialer.agents("sales").agents} == {"Agent 101"}
        await recorder.until(lambda: req.attempt_id in recorder.by_id(), within=30)
        assert recorder.by_id()[req.attempt_id].agent == "Agent 303"
    finally:
        await dialer.stop()
