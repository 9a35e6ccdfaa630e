"""A restart (``core restart now``) and a crash (kill -9) of Asterisk under calls, on both peers.

Asterisk 22 hangs a ringing call up with nothing that says why when it restarts (``Reason: 0``,
every cause 0, ``DialStatus: NOANSWER``), then sends ``Shutdown``; after kill -9 it sends
nothing and starts again without the call. Either way the call is ``failed`` with the fault
named (``pbx_restart``, ``pbx_lost``; its record is retried, ``pacing.retry``), never
``no_answer`` nor ``unknown``; the link comes back by itself, the agents are read again once
Asterisk has booted, and calls go through again.
"""

from __future__ import annotations

import pytest

from gateway.asterisk.pool import Driver
from pacing.outcomes import Outcome, PbxFault
from tests.asterisk_real.peers import Peer, eventually
from tests.gateway.conftest import DialerFactory, Recorder, wait_healthy
from tests.gateway.conftest import request as originate_request

pytestmark = [pytest.mark.slow]

RINGING = "+15553000001"  # rings until the ring timeout


@pytest.mark.parametrize("driver", ["ami", "ari"])
@pytest.mark.parametrize("fault", ["restart", "crash"])
async def test_calls_killed_by_a_pbx_restart_or_crash_are_failed_with_the_fault(
    peer: Peer, make_dialer: DialerFactory, recorder: Recorder, driver: Driver, fault: str
) -> None:
    dialer = await make_dialer([peer.server(driver)], reconcile_wait_s=20.0)
    await wait_healthy(dialer, recorder)
    await recorder.until(lambda: dialer.agents("sales").logged_in == 1, within=10)
    ringing = [originate_request(RINGING[:-1] + str(i), ring_timeout_s=60.0) for i in (1, 2)]
    for req in ringing:
        dialer.originate(req)
    await eventually(lambda: len(peer.dialled_counts()) == 2, within=10)
    await eventually(
        lambda: all(str(c.state) == "ringing" for c in dialer.in_flight().values()), within=10
    )
    if fault == "restart":
        await peer.restart()
    else:
        await peer.crash()
    await recorder.until(lambda: len(recorder.results) == 2, within=30)
    expected = PbxFault.PBX_RESTART if fault == "restart" else PbxFault.PBX_LOST
    got = [(r.outcome, r.fault, r.cause) for r in recorder.results]
    assert got == [(Outcome.FAILED, expected, None)] * 2, [r.detail for r in recorder.results]
    assert all(r.detail.startswith(str(expected)) for r in recorder.results)
    # back by itself: healthy again, the agents read again, and a call goes through
    await wait_healthy(dialer, recorder)
    await recorder.until(lambda: dialer.agents("sales").logged_in == 1, within=20)
    after = originate_request("+15554000009", ring_timeout_s=15.0)
    dialer.originate(after)
    await recorder.until(lambda: after.attempt_id in recorder.by_id(), within=20)
    assert recorder.by_id()[after.attempt_id].outcome is Outcome.BUSY
    assert set(peer.dialled_counts().values()) == {1}
    await dialer.stop()  # before the peer stops (the fixture's stop is then a no-op)
