"""Agent state webhooks with several gateway instances, and across an AMI link cut.

Two real services share one database and one simulated Asterisk: both see every queue member
event, both serve it on their streams, and exactly one of them (the server's feed owner, a lease
in ``agent_feed_owners``) queues the ``agent.state`` webhook. When the owner stops, the other one
takes the server over and the next change is queued once. A member paused while the AMI link is
cut (a relay between the gateway and the simulator) is said once, as one ``state``, when the
link is back and the board resyncs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Sequence
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from asterisk_sim import SimAsterisk, SimConfig
from bench.witness import Relay
from dialer.app import Running
from gateway.agentevents.hub import Subscription
from gateway.agentevents.model import AgentEvent
from gateway.campaigns.feedowners import feed_owner
from tests.e2e.conftest import TIME_SCALE, until
from tests.service import running_service, sim_settings, with_server

pytestmark = [pytest.mark.db, pytest.mark.slow, pytest.mark.timeout(180)]

AGENT = "Agent 101"
_STATES = text(
    "SELECT payload FROM webhook_deliveries WHERE webhook_id = :wid AND event = 'agent.state' "
    "AND payload->>'agent' = :agent ORDER BY id"
)


async def _subscribe_state_hook(running: Running, token: str) -> int:
    api = f"http://127.0.0.1:{running.http_port}/v1"
    auth = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=auth) as http:
        # nobody listens on port 9: the rows stay in the outbox, retried, which is all we count
        body = {"url": "http://127.0.0.1:9/hook", "events": ["agent.state"]}
        made = await http.post(f"{api}/webhooks", json=body)
        assert made.status == 201, await made.text()
        return int((await made.json())["id"])


async def _states(engine: AsyncEngine, webhook_id: int) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(_STATES, {"wid": webhook_id, "agent": AGENT})).all()
    return [r[0] if isinstance(r[0], dict) else json.loads(r[0]) for r in rows]


async def _next_state(sub: Subscription, status: str, within_s: float = 10.0) -> AgentEvent:
    async with asyncio.timeout(within_s):
        while True:
            got = await sub.next()
            if str(got.type) == "agent.state" and got.status == status:
                return got


async def _settled_count(engine: AsyncEngine, webhook_id: int, want: int) -> list[str]:
    """The statuses queued once ``want`` rows are there and a second passed with no more."""

    async def there() -> bool:
        return len(await _states(engine, webhook_id)) >= want

    await until(there, 10, f"{want} agent.state rows")
    await asyncio.sleep(1.0)  # a second instance's write would be in by now
    return [p["status"] for p in await _states(engine, webhook_id)]


async def _ready_members(runnings: Sequence[Running]) -> None:
    async def known() -> bool:
        return all(r.dialer.agents("sales").logged_in > 0 for r in runnings)

    await until(known, 20, "every instance to know the members")


async def test_two_instances_queue_each_agent_state_once_and_hand_over_when_one_stops(
    database_url: str,
) -> None:
    token = secrets.token_urlsafe(16)
    config = SimConfig.demo(agents=3, seed=7, ami_port=0, ari_port=0, time_scale=TIME_SCALE)
    tag = secrets.token_hex(3)
    async with SimAsterisk(config) as sim, contextlib.AsyncExitStack() as outer:
        services: dict[str, contextlib.AsyncExitStack] = {}
        running: dict[str, Running] = {}
        for name in (f"gw-a-{tag}", f"gw-b-{tag}"):
            stack = contextlib.AsyncExitStack()
            outer.push_async_callback(stack.aclose)
            running[name] = await stack.enter_async_context(
                running_service(sim_settings(sim, database_url, token, name))
            )
            services[name] = stack
        first = next(iter(running.values()))
        engine = first.engine
        hook = await _subscribe_state_hook(first, token)
        await _ready_members(list(running.values()))

        async def owned() -> bool:
            return await feed_owner(engine, "sim") in running

        await until(owned, 10, "a feed owner among the two")
        owner = await feed_owner(engine, "sim")
        assert owner is not None
        subs = {name: r.agent_events.subscribe(agent=AGENT) for name, r in running.items()}

        assert sim.world.pause_agent("sales", "101", True, "lunch")
        for sub in subs.values():  # both instances serve the change on their streams
            await _next_state(sub, "paused")
        assert await _settled_count(engine, hook, 1) == ["paused"]

        await services[owner].aclose()  # the owner stops; the other one takes the server over
        (other,) = (name for name in running if name != owner)

        async def taken() -> bool:
            return await feed_owner(engine, "sim") == other

        await until(taken, 10, "the other instance to own the server")
        assert sim.world.pause_agent("sales", "101", False)
        await _next_state(subs[other], "free")
        assert await _settled_count(engine, hook, 2) == ["paused", "free"]


async def test_a_member_paused_while_the_link_was_cut_is_said_once_when_it_is_back(
    database_url: str,
) -> None:
    token = secrets.token_urlsafe(16)
    config = SimConfig.demo(agents=3, seed=8, ami_port=0, ari_port=0, time_scale=TIME_SCALE)
    name = f"gw-cut-{secrets.token_hex(3)}"
    async with SimAsterisk(config) as sim:
        relay = await Relay(sim.ami_port).start()
        try:
            settings = with_server(
                sim_settings(sim, database_url, token, name), ami_port=relay.port
            )
            async with running_service(settings) as running:
                engine = running.engine
                hook = await _subscribe_state_hook(running, token)
                await _ready_members([running])

                async def owned() -> bool:
                    return await feed_owner(engine, "sim") == name

                await until(owned, 10, "the instance to own the server")
                sub = running.agent_events.subscribe(agent=AGENT)
                relay.cut(2.0)

                async def down() -> bool:
                    return running.dialer.capacity().healthy == 0

                await until(down, 5, "the link to drop")
                assert sim.world.pause_agent("sales", "101", True, "lunch")  # unheard

                async def back() -> bool:
                    return running.dialer.capacity().healthy == 1

                await until(back, 20, "the link to come back")
                said = await _next_state(sub, "paused")
                assert said.agent == AGENT
                assert sub.pending == 0  # nothing else was said of the member
                assert await _settled_count(engine, hook, 1) == ["paused"]
        finally:
            await relay.stop()
