"""One test, two peers: the same scenario against the simulator and the real Asterisk 22.

Every test body runs once per peer (``peer`` fixture) and, where it matters, once per driver.
Where the two peers disagreed, the simulator was changed to match Asterisk (README, "The
real-Asterisk test tier", lists each disagreement found).
"""

from __future__ import annotations

import pytest

from gateway.asterisk.pool import Driver
from pacing.outcomes import Outcome
from tests.asterisk_real.peers import Peer
from tests.gateway.conftest import DialerFactory, Recorder, wait_healthy
from tests.gateway.conftest import request as originate_request

pytestmark = [pytest.mark.slow]

NUMBERS = {
    "+15551000001": Outcome.ANSWERED, "+15552000001": Outcome.MACHINE,
    "+15553000001": Outcome.NO_ANSWER, "+15554000001": Outcome.BUSY,
    "+15555000001": Outcome.CONGESTION, "+15556000001": Outcome.FAILED,
}  # fmt: skip


@pytest.mark.parametrize("driver", ["ami", "ari"])
async def test_every_outcome(
    peer: Peer,
    make_dialer: DialerFactory,
    recorder: Recorder,
    driver: Driver,
) -> None:
    dialer = await make_dialer([peer.server(driver)])
    await wait_healthy(dialer, recorder)
    await recorder.until(lambda: dialer.agents("sales").logged_in == 1, within=10)
    expected: dict[str, Outcome] = {}
    for number, outcome in NUMBERS.items():
        req = originate_request(number, ring_timeout_s=15.0)
        expected[req.attempt_id] = outcome
        dialer.originate(req)
    await recorder.until(lambda: dialer.agents("sales").on_call == 1, within=20)
    busy_agent = originate_request(
        "+15551000002", ring_timeout_s=15.0
    )  # the only agent is on a call
    dialer.originate(busy_agent)
    expected[busy_agent.attempt_id] = Outcome.ABANDONED
    await recorder.until(lambda: len(recorder.results) == len(expected), within=60)
    got = {r.attempt_id: r.outcome for r in recorder.results}
    assert got == expected, [
        (r.outcome, r.cause, r.dial_status, r.amd_status, r.detail) for r in recorder.results
    ]
    results = recorder.by_id()
    answered = next(r for r in recorder.results if r.outcome is Outcome.ANSWERED)
    assert answered.agent == "Agent 101"
    assert answered.connected_at is not None
    assert answered.answered_at is not None
    causes = {str(o): results[a].cause for a, o in expected.items()}
    assert causes["busy"] == 17
    assert causes["congestion"] == 34
    assert causes["failed"] == 1
    assert causes["abandoned"] == 16
    assert set(peer.dialled_counts().values()) == {1}
    assert len(peer.dialled_counts()) == len(expected)
