"""Calls that end while the gateway's links are cut get their real outcome from the ledger.

The gateway reaches the peer (the simulator or the real Asterisk 22) through TCP relays
(:class:`bench.witness.Relay`) for both AMI and ARI. Right after the calls are placed both links
are cut for longer than any of the calls lasts, so no event of their end reaches the gateway;
after the links return each attempt must be settled with what Asterisk did — read from the
outcome ledger the project's dialplan writes at hang-up (``asterisk_conf/extensions.conf``,
``[dialer-hangup]``; :mod:`gateway.asterisk.calls.ledger`) — and none as ``unknown``.
"""

from __future__ import annotations

import asyncio

import pytest

from bench.witness import Relay
from gateway.asterisk.pool import Driver
from pacing.outcomes import Outcome
from tests.asterisk_real.peers import Peer
from tests.gateway.conftest import DialerFactory, Recorder, wait_healthy
from tests.gateway.conftest import request as originate_request

pytestmark = [pytest.mark.slow]

# Everything here ends within the cut: the person hangs up after ~7 s, the machine after AMD.
NUMBERS = {
    "+15551000001": Outcome.ANSWERED, "+15552000001": Outcome.MACHINE,
    "+15554000001": Outcome.BUSY, "+15556000001": Outcome.FAILED,
}  # fmt: skip
CUT_S = 11.0
# With ARI an answered channel waits in the Stasis app for the gateway to send it on; with the
# link cut it never reaches the queue: a live answer nobody took, which is an abandon.
ARI_CUT = {Outcome.ANSWERED: Outcome.ABANDONED, Outcome.MACHINE: Outcome.ABANDONED}


@pytest.mark.parametrize("driver", ["ami", "ari"])
async def test_calls_ended_during_a_cut_get_their_outcome_from_the_ledger(
    peer: Peer, make_dialer: DialerFactory, recorder: Recorder, driver: Driver
) -> None:
    ami, ari = Relay(peer.ami_port), Relay(peer.ari_port)
    await ami.start()
    await ari.start()
    try:
        server = peer.server(driver, ami_port=ami.port, ari_port=ari.port)
        dialer = await make_dialer([server])
        await wait_healthy(dialer, recorder)
        await recorder.until(lambda: dialer.agents("sales").logged_in == 1, within=10)
        expected: dict[str, Outcome] = {}
        for number, outcome in NUMBERS.items():
            req = originate_request(number, ring_timeout_s=15.0)
            expected[req.attempt_id] = ARI_CUT.get(outcome, outcome) if driver == "ari" else outcome
            dialer.originate(req)
        await recorder.until(lambda: not dialer.runtime("pbx1").unsent(), within=5)
        await asyncio.sleep(0.2)  # the Originates are on the wire
        ami.cut(CUT_S)
        ari.cut(CUT_S)
        await recorder.until(lambda: len(recorder.results) == len(expected), within=CUT_S + 30)
        got = {r.attempt_id: r.outcome for r in recorder.results}
        assert got == expected, [(r.outcome, r.cause, r.detail) for r in recorder.results]
        results = recorder.by_id()
        if driver == "ami":
            answered = next(r for r in recorder.results if r.outcome is Outcome.ANSWERED)
            assert answered.agent == "Agent 101"
            assert answered.answered_at is not None
            assert answered.connected_at is not None
            assert answered.talk_s is not None
            assert answered.talk_s > 1.0
        else:
            abandoned = [r for r in recorder.results if r.outcome is Outcome.ABANDONED]
            assert all(r.answered_at is not None for r in abandoned)
        recovered = [r for r in results.values() if "ledger" in r.detail]
        assert recovered, "no outcome came from the ledger: the cut did not hide the ends"
        assert set(peer.dialled_counts().values()) == {1}
    finally:
        await ami.stop()
        await ari.stop()
