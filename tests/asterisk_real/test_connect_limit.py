"""The 2 s rule with AMD on, on both peers: answer-to-agent and answer-to-abandon stay within the
connect limit, the time AMD took counted against it (README, "The dialplan contract").

The dialplan bounds AMD() to the limit less 1 s and gives ``Queue()`` what is left of the limit,
rounded to whole seconds as ``FLOOR(left + 0.2)``; so a callee reaches a free agent, or hears the
message, at most :data:`TOLERANCE_S` after the limit: the 0.2 s of the rounding, AMD's own
overrun of its bound (one 100 ms frame wait on a channel that sends no frames), and the event's
way to the test. A callee with no free agent leaves the queue no earlier than the limit less 1 s.
"""

from __future__ import annotations

import pytest

from gateway.asterisk.pool import Driver
from pacing.calls import AttemptResult
from pacing.outcomes import Outcome
from tests.asterisk_real.peers import Peer
from tests.gateway.conftest import DialerFactory, Recorder, wait_healthy
from tests.gateway.conftest import request as originate_request

pytestmark = [pytest.mark.slow]

LIMIT_S = 2.0  # DIALER_CONNECT_TIMEOUT (gateway/asterisk/calls/runtime.py)
AMD_BOUND_S = LIMIT_S - 1.0  # AMD()'s total analysis time in asterisk_conf/extensions.conf
TOLERANCE_S = 0.4


def _user_event_at(peer: Peer, attempt_id: str, name: str) -> float:
    assert peer.dialled is not None
    found = [t for t, e in peer.dialled.user_events
             if e.attempt_id == attempt_id and e.user_event == name]  # fmt: skip
    assert len(found) == 1, (name, peer.dialled.user_events)
    return found[0]


def _answered_at(result: AttemptResult) -> float:
    assert result.answered_at is not None
    return result.answered_at.timestamp()


@pytest.mark.parametrize("driver", ["ami", "ari"])
@pytest.mark.parametrize("number", ["+15551000001", "+15557000001"], ids=["person", "silent"])
async def test_answer_to_agent_with_amd_is_within_the_limit(
    peer: Peer, make_dialer: DialerFactory, recorder: Recorder, driver: Driver, number: str
) -> None:
    dialer = await make_dialer([peer.server(driver)])
    await wait_healthy(dialer, recorder)
    await recorder.until(lambda: dialer.agents("sales").free == 1, within=10)
    req = originate_request(number, ring_timeout_s=15.0, amd=True)
    dialer.originate(req)
    await recorder.until(lambda: len(recorder.results) == 1, within=30)
    result = recorder.results[0]
    assert result.outcome is Outcome.ANSWERED, result
    assert result.amd_status == "NOTSURE"  # no verdict within the bound: on to the queue
    assert result.connected_at is not None
    amd_took = _user_event_at(peer, req.attempt_id, "AMDResult") - _answered_at(result)
    assert AMD_BOUND_S - 0.1 <= amd_took <= AMD_BOUND_S + TOLERANCE_S, amd_took
    to_agent = result.connected_at.timestamp() - _answered_at(result)
    assert amd_took - 0.1 <= to_agent <= LIMIT_S + TOLERANCE_S, (amd_took, to_agent)


@pytest.mark.parametrize("driver", ["ami", "ari"])
@pytest.mark.parametrize("amd", [True, False], ids=["amd", "no-amd"])
async def test_a_callee_no_agent_takes_within_the_limit_is_abandoned_at_the_limit(
    peer: Peer, make_dialer: DialerFactory, recorder: Recorder, driver: Driver, amd: bool
) -> None:
    dialer = await make_dialer([peer.server(driver)])
    await wait_healthy(dialer, recorder)
    await recorder.until(lambda: dialer.agents("sales").free == 1, within=10)
    dialer.originate(originate_request("+15551000001", ring_timeout_s=15.0, amd=False))
    await recorder.until(lambda: dialer.agents("sales").on_call == 1, within=20)
    waiting = originate_request("+15551000002", ring_timeout_s=15.0, amd=amd)
    dialer.originate(waiting)  # the only agent is on the first call
    await recorder.until(lambda: len(recorder.results) == 2, within=40)
    result = recorder.by_id()[waiting.attempt_id]
    assert result.outcome is Outcome.ABANDONED, result
    assert result.agent is None
    assert result.connected_at is None
    assert result.amd_status == ("NOTSURE" if amd else None)
    waited = _user_event_at(peer, waiting.attempt_id, "DialerAbandoned") - _answered_at(result)
    assert LIMIT_S - 1.0 <= waited <= LIMIT_S + TOLERANCE_S, waited
    assert set(peer.dialled_counts().values()) == {1}
