"""The gateway's agent view on both peers: queue-level wrap-up and the parsed ``QueueStatus``.

``sales3``'s members have no wrap-up of their own: ``wrapuptime = 5`` is set on the queue
(``[dialer-queue]`` of ``asterisk_conf/queues.conf``), and Asterisk reports ``Wrapuptime: 0`` for
each of them in ``QueueStatus`` and the member events while applying 5 s after each call. The
gateway's AMI user may not read queues.conf (``GetConfig`` is refused on both peers), so the
server declares it (``queue_wrapup``); the view must then hold the agent out of the free count
for the wrap-up and give it back after.
"""

from __future__ import annotations

import time

import pytest

from gateway.asterisk.agents import AgentStatus, AgentView
from gateway.asterisk.dialing import Dialer
from gateway.asterisk.pool import Driver
from gateway.asterisk.queuecontrol import QueueControl
from pacing.outcomes import Outcome
from tests.asterisk_real.peers import WRAPUP_S, Peer, eventually
from tests.gateway.conftest import DialerFactory, Recorder, wait_healthy
from tests.gateway.conftest import request as originate_request

pytestmark = [pytest.mark.slow]

DECLARED = (("sales3", int(WRAPUP_S)),)
Row = tuple[str, AgentStatus, int, int, str]


def _rows(dialer: Dialer, queue: str) -> list[Row]:
    """What pacing and the agent board see of each member, interfaces left out (the simulator's
    members are PJSIP phones, the real Asterisk's Local channels)."""
    return sorted(_row(a) for a in dialer.agents(queue).agents)


def _row(a: AgentView) -> Row:
    return (a.name, a.status, a.penalty, a.wrapup_s, a.paused_reason)


def _status(dialer: Dialer, queue: str, name: str) -> AgentStatus:
    return next(a.status for a in dialer.agents(queue).agents if a.name == name)


@pytest.mark.parametrize("driver", ["ami", "ari"])
async def test_queue_level_wrapup_holds_the_agent_out_of_the_free_count(
    peer: Peer, make_dialer: DialerFactory, recorder: Recorder, driver: Driver
) -> None:
    dialer = await make_dialer([peer.server(driver, queue_wrapup=DECLARED)])
    await wait_healthy(dialer, recorder)
    await recorder.until(lambda: dialer.agents("sales3").free == 3, within=10)
    req = originate_request("+15551000001", queue="sales3", ring_timeout_s=15.0, amd=False)
    dialer.originate(req)
    await recorder.until(lambda: len(recorder.results) == 1, within=30)
    result = recorder.results[0]
    assert result.outcome is Outcome.ANSWERED, result
    assert result.agent is not None
    await recorder.until(
        lambda: _status(dialer, "sales3", str(result.agent)) is not AgentStatus.ON_CALL, within=5
    )
    ended = time.monotonic()
    assert _status(dialer, "sales3", result.agent) is AgentStatus.WRAPUP
    assert dialer.agents("sales3").free == 2
    wrapping = next(a for a in dialer.agents("sales3").agents if a.name == result.agent)
    assert wrapping.wrapup_s == int(WRAPUP_S)
    # the wrap-up ends on the clock, with no event to wake a waiter: polled
    await eventually(lambda: dialer.agents("sales3").free == 3, within=WRAPUP_S + 3)
    assert time.monotonic() - ended >= WRAPUP_S - 1.0  # not freed early
    assert _status(dialer, "sales3", result.agent) is AgentStatus.FREE


async def test_queue_status_parses_to_the_same_view_on_both_peers(
    peer: Peer, make_dialer: DialerFactory, recorder: Recorder
) -> None:
    dialer = await make_dialer([peer.server("ami", queue_wrapup=DECLARED)])
    await wait_healthy(dialer, recorder)
    await recorder.until(lambda: dialer.agents("sales3").logged_in == 3, within=10)
    wrap = int(WRAPUP_S)
    free = AgentStatus.FREE
    assert _rows(dialer, "sales") == [("Agent 101", free, 0, wrap, "")]
    assert _rows(dialer, "sales3") == [
        ("Agent 301", free, 0, wrap, ""), ("Agent 302", free, 0, wrap, ""),
        ("Agent 303", free, 0, wrap, ""),
    ]  # fmt: skip
    control = QueueControl(dialer.runtimes)
    agent_302 = next(a.interface for a in dialer.agents("sales3").agents if a.name == "Agent 302")
    await control.pause("sales3", agent_302, "break")
    await recorder.until(
        lambda: _status(dialer, "sales3", "Agent 302") is AgentStatus.PAUSED, within=10
    )
    req = originate_request("+15551000001", queue="sales", ring_timeout_s=15.0, amd=False)
    dialer.originate(req)
    await recorder.until(lambda: dialer.agents("sales").on_call == 1, within=20)
    runtime = dialer.runtimes()[0]
    await runtime.queue_sync.resync()  # the view as QueueStatus alone gives it, on both peers
    assert _rows(dialer, "sales") == [("Agent 101", AgentStatus.ON_CALL, 0, wrap, "")]
    assert _rows(dialer, "sales3") == [
        ("Agent 301", free, 0, wrap, ""), ("Agent 302", AgentStatus.PAUSED, 0, wrap, "break"),
        ("Agent 303", free, 0, wrap, ""),
    ]  # fmt: skip
    await recorder.until(lambda: len(recorder.results) == 1, within=30)
