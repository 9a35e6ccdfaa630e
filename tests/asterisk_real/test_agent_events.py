"""Agent events against both peers: a live call reaching ``Agent 101`` gives ringing, connected
and ended events on the agent's subscription, naming the attempt, with the record's card.

The dialer feeds a real :class:`gateway.agentevents.hub.AgentEventHub` (its agent changes and
its call progress, as ``dialer serve`` wires it); the cards come from a reader holding one
record instead of PostgreSQL (the database side is ``tests/e2e/test_agent_events.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping

import pytest

from gateway.agentevents.hub import AgentEventHub
from gateway.agentevents.model import AgentEvent, EventType
from gateway.asterisk.dialing import Dialer
from gateway.asterisk.pool import Driver
from gateway.campaigns.cards import RecordCard
from tests.asterisk_real.peers import Peer
from tests.gateway.conftest import FAST, Recorder, wait_healthy
from tests.gateway.conftest import request as originate_request

pytestmark = [pytest.mark.slow]

CARD = RecordCard(42, 7, "Ada Lovelace", "+15551000001", "", {"account": "A-1"})


@pytest.mark.parametrize("driver", ["ami", "ari"])
async def test_a_live_call_rings_connects_and_ends_on_the_agents_stream(
    peer: Peer, recorder: Recorder, driver: Driver
) -> None:
    read: list[set[int]] = []

    async def cards(ids: Collection[int]) -> Mapping[int, RecordCard]:
        read.append(set(ids))
        return {i: CARD for i in ids if i == CARD.id}

    hub = AgentEventHub(cards)
    hub_task = asyncio.create_task(hub.run())
    dialer = Dialer([peer.server(driver)], on_result=recorder.result,
                    on_agent_change=lambda _q: recorder.poke(), on_agent_call=hub.submit,
                    on_progress=hub.answered, timing=FAST)  # fmt: skip
    try:
        await dialer.start()
        await wait_healthy(dialer, recorder)
        await recorder.until(lambda: dialer.agents("sales").logged_in == 1, within=10)
        watch = hub.subscribe(agent="Agent 101")
        req = originate_request("+15551000001", ring_timeout_s=15.0)  # record 42, campaign 7
        dialer.originate(req)
        got: list[AgentEvent] = []
        async with asyncio.timeout(40):
            while not got or got[-1].type is not EventType.ENDED:
                event = await watch.next()
                if event.type is not EventType.STATE:
                    got.append(event)
        await recorder.until(lambda: len(recorder.results) == 1, within=30)
        if peer.sim is not None:
            await peer.sim.wait_idle(within=20)
    finally:
        await dialer.stop()
        hub_task.cancel()
        await asyncio.gather(hub_task, return_exceptions=True)
    types = [e.type for e in got]
    assert types == [EventType.RINGING, EventType.CONNECTED, EventType.ENDED]
    assert {e.attempt_id for e in got} == {req.attempt_id}
    assert {(e.campaign_id, e.queue, e.agent) for e in got} == {(7, "sales", "Agent 101")}
    assert [e.record for e in got] == [CARD, CARD, CARD]
    assert [e.id for e in got] == sorted(e.id for e in got)
    assert read == [{42}]  # read once, when the callee answered
    assert recorder.results[0].agent == "Agent 101"
