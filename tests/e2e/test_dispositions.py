"""A disposition end to end: a call reaches an agent of the simulated Asterisk, the gateway holds
the agent's wrap-up (``QueuePause`` true), an agent token posts the disposition, the record takes
the code's step and the agent is free again at once (``QueuePause`` false, seen by pacing);
and, with no disposition, the default code at the wrap-up limit.

One agent whose queue applies no wrap-up of its own (the campaign's ``wrapup_limit_s`` makes the
gateway hold it), callees that always answer live and talk a few seconds, progressive pacing.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text

from asterisk_sim import SimAsterisk, SimConfig
from asterisk_sim.config import AgentConfig, CarrierProfile, Dist, QueueConfig, TrunkConfig
from dialer.demo import (
    daytime_region,
    demo_numbers,
    records_csv,
)
from gateway.asterisk.agents import AgentStatus
from tests.e2e.conftest import TIME_SCALE, OwnDatabase, Stack, serve, until

pytestmark = [pytest.mark.db, pytest.mark.slow]

AGENT = "Agent 101"
CODES = [
    {"code": "sale", "step": "done"},
    {"code": "not_interested", "step": "done"},
    {"code": "later", "step": "retry", "delay_s": 3600},
]


def _world(agents: int = 1) -> SimConfig:
    carrier = CarrierProfile(
        live=1.0, machine=0.0, no_answer=0.0, busy=0.0, congestion=0.0, failure=0.0,
        ring_time=Dist.uniform(1.0, 2.0), callee_hangup=Dist.uniform(300.0, 400.0),
    )  # fmt: skip
    sales = QueueConfig(
        name="sales",
        agents=tuple(AgentConfig(ext=str(101 + i)) for i in range(agents)),
        ring_time=Dist.uniform(0.5, 1.0),
        talk_time=Dist.uniform(15.0, 20.0),  # simulated seconds: 1.5-2 s of wall time
        wrapup=0.0,
        strategy="rrmemory",
    )
    return SimConfig(
        seed=5, ami_port=0, ari_port=0, time_scale=TIME_SCALE,
        trunks=(TrunkConfig(name="carrier-a", channels=50, cps=20),),
        carriers=(carrier,), queues=(sales,),
    )  # fmt: skip


@pytest.fixture
async def one_agent(own_database: OwnDatabase) -> AsyncIterator[Stack]:
    async for stack in _stack(own_database, 1):
        yield stack


@pytest.fixture
async def two_agents(own_database: OwnDatabase) -> AsyncIterator[Stack]:
    async for stack in _stack(own_database, 2):
        yield stack


async def _stack(own_database: OwnDatabase, agents: int) -> AsyncIterator[Stack]:
    token = secrets.token_urlsafe(16)
    async with SimAsterisk(_world(agents)) as sim, _service(sim, own_database, token) as stack:
        yield stack


def _service(
    sim: SimAsterisk, own_database: OwnDatabase, token: str
) -> contextlib.AbstractAsyncContextManager[Stack]:
    return serve(sim, own_database, token, "e2e-dispo")


async def _call(http: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> Any:
    async with http.request(method, url, **kw) as response:
        assert response.status < 300, f"{method} {url}: {response.status} {await response.text()}"
        return await response.json()


async def _campaign(stack: Stack, dispositions: dict[str, Any], records: int = 5) -> int:
    region = daytime_region(datetime.now(UTC))
    headers = {"Authorization": f"Bearer {stack.token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        c = await _call(http, "POST", f"{stack.api}/campaigns", json={
            "name": f"dispo-{secrets.token_hex(4)}", "pacing_mode": "progressive",
            "queue": "sales", "default_region": region, "callee_window_start": 0,
            "callee_window_end": 1440, "dispositions": dispositions,
            "pacing": {"ring_timeout_s": 20},
        })  # fmt: skip
        cid = int(c["id"])
        number = await _call(
            http, "POST", f"{stack.api}/numbers",
            json={"number": demo_numbers(region, 1, 99)[0], "max_concurrent": 10,
                  "max_per_day": 1000},
        )  # fmt: skip
        await _call(http, "PUT", f"{stack.api}/campaigns/{cid}/numbers",
                    json={"number_ids": [number["id"]]})  # fmt: skip
        body = records_csv(demo_numbers(region, records, 7))
        await _call(http, "POST", f"{stack.api}/campaigns/{cid}/records", data=body,
                    headers={"Content-Type": "text/csv"})  # fmt: skip
        await _call(http, "POST", f"{stack.api}/campaigns/{cid}/start")
    return cid


async def _rows(stack: Stack, sql: str, **params: Any) -> list[Any]:
    async with stack.running.engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).mappings().all())


async def _first_answered(stack: Stack, cid: int) -> dict[str, Any]:
    found: list[Any] = []

    async def answered() -> bool:
        found[:] = await _rows(
            stack,
            "SELECT id, record_id, agent FROM attempts WHERE campaign_id = :cid "
            "AND status = 'settled' AND outcome = 'answered' ORDER BY settled_at LIMIT 1",
            cid=cid,
        )
        return bool(found)

    await until(answered, 60, "a call settled as answered at the agent")
    return dict(found[0])


def _agent_status(stack: Stack, name: str = AGENT) -> AgentStatus | None:
    agents = stack.running.dialer.agents("sales").agents
    return next((a.status for a in agents if a.name == name), None)


def _member(stack: Stack, name: str = AGENT) -> Any:
    ext = name.removeprefix("Agent ")
    return stack.sim.world.queues.queues["sales"].members[f"PJSIP/agent-{ext}"]


async def _agent_is(stack: Stack, status: AgentStatus, limit_s: float, name: str = AGENT) -> float:
    """Seconds until the gateway's agent board shows the agent in ``status`` (polled fast)."""
    start = time.monotonic()
    async with asyncio.timeout(limit_s):
        while True:
            if _agent_status(stack, name) is status:
                return time.monotonic() - start
            await asyncio.sleep(0.005)  # polling the in-process board, not waiting for time


async def test_disposition_moves_the_record_and_frees_the_agent_at_once(
    one_agent: Stack,
) -> None:
    stack = one_agent
    cid = await _campaign(stack, {"codes": CODES, "wrapup_limit_s": 600})
    attempt = await _first_answered(stack, cid)
    assert attempt["agent"] == AGENT
    # the call ended at the agent: the gateway holds the wrap-up as a pause
    await _agent_is(stack, AgentStatus.PAUSED, 10)
    assert _member(stack).paused
    assert _member(stack).paused_reason == "wrapup"
    placed = len(await _rows(stack, "SELECT id FROM attempts WHERE campaign_id = :c", c=cid))
    admin = {"Authorization": f"Bearer {stack.token}"}
    async with aiohttp.ClientSession() as http:
        desk = {"name": "ann-desk", "role": "agent", "agent_id": AGENT}
        made = await _call(http, "POST", f"{stack.api}/tokens", headers=admin, json=desk)
        mine = {"Authorization": f"Bearer {made['token']}"}
        url = f"{stack.api}/attempts/{attempt['id']}/disposition"
        async with http.post(url, json={"code": "later"}, headers=mine) as response:
            assert response.status == 201, await response.text()
            body = await response.json()
        freed_s = await _agent_is(stack, AgentStatus.FREE, 2.0)
        async with http.post(url, json={"code": "sale"}, headers=mine) as again:
            assert again.status == 409
    assert (body["applied"], body["record_status"]) == (True, "retry")
    assert not _member(stack).paused
    print(f"agent free {freed_s * 1000:.1f} ms after the disposition's reply")  # noqa: T201
    record = (
        await _rows(
            stack,
            "SELECT status, reason, disposition, agent, next_attempt_at FROM records WHERE id = :r",
            r=attempt["record_id"],
        )
    )[0]
    assert (record["status"], record["reason"], record["disposition"], record["agent"]) == (
        "retry", "disposition later", "later", AGENT)  # fmt: skip
    due = datetime.now(UTC) + timedelta(hours=1)
    assert abs((record["next_attempt_at"] - due).total_seconds()) < 60

    async def dialling_again() -> bool:
        rows = await _rows(stack, "SELECT id FROM attempts WHERE campaign_id = :c", c=cid)
        return len(rows) > placed

    await until(dialling_again, 20, "pacing to place the next call for the freed agent")
    metrics = stack.running.registry.get_sample_value(
        "dialer_dispositions_total", {"campaign": str(cid), "code": "later"}
    )
    assert metrics == 1


async def test_the_default_applies_at_the_wrapup_limit(one_agent: Stack) -> None:
    stack = one_agent
    cid = await _campaign(
        stack, {"codes": CODES, "wrapup_limit_s": 1, "default_code": "not_interested"}
    )
    attempt = await _first_answered(stack, cid)
    await _agent_is(stack, AgentStatus.PAUSED, 10)

    async def defaulted() -> bool:
        rows = await _rows(
            stack,
            "SELECT a.disposition, a.disposed_by, r.status, r.disposition AS rd FROM attempts a "
            "JOIN records r ON r.id = a.record_id WHERE a.id = :a",
            a=attempt["id"],
        )
        return bool(rows) and rows[0]["disposition"] == "not_interested"

    await until(defaulted, 10, "the default disposition at the wrap-up limit")
    row = (
        await _rows(
            stack,
            "SELECT a.disposed_by, r.status, r.disposition FROM attempts a "
            "JOIN records r ON r.id = a.record_id WHERE a.id = :a",
            a=attempt["id"],
        )
    )[0]
    assert tuple(row.values()) == ("system", "done", "not_interested")
    await until(lambda: _true(not _member(stack).paused), 5, "the agent unpaused after the default")


async def _true(value: bool) -> bool:
    return value


async def _diagnostics(stack: Stack, cid: int, rid: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {stack.token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        body: dict[str, Any] = await _call(
            http, "GET", f"{stack.api}/campaigns/{cid}/diagnostics", params={"record": str(rid)}
        )
    live: dict[str, Any] = body["runtime"]  # the live runtime's answer
    return live


async def _attempts_of(stack: Stack, rid: int) -> list[dict[str, Any]]:
    rows = await _rows(
        stack,
        "SELECT id, agent, originated_at, status FROM attempts WHERE record_id = :r "
        "ORDER BY originated_at",
        r=rid,
    )
    return [dict(r) for r in rows]


async def _agent_only_callback(stack: Stack, grace_s: int) -> tuple[int, int, str, datetime]:
    """One record's call reaches an agent, who schedules a callback for themselves in 2 s."""
    cid = await _campaign(
        stack, {"codes": [{"code": "callback", "step": "callback"}], "wrapup_limit_s": 600,
                "callback_grace_s": grace_s}, records=1)  # fmt: skip
    attempt = await _first_answered(stack, cid)
    keeper = str(attempt["agent"])
    at = datetime.now(UTC) + timedelta(seconds=2)
    admin = {"Authorization": f"Bearer {stack.token}"}
    async with aiohttp.ClientSession(headers=admin) as http:
        body = {"code": "callback", "callback_at": at.isoformat(), "callback_scope": "agent"}
        done = await _call(
            http, "POST", f"{stack.api}/attempts/{attempt['id']}/disposition", json=body
        )
    assert done["callback_agent"] == keeper
    return cid, int(attempt["record_id"]), keeper, at


async def _dispose_callback(stack: Stack, attempt_id: str) -> str | None:
    """The agent of ``attempt_id`` schedules another callback to themselves, in 1 s."""
    at = datetime.now(UTC) + timedelta(seconds=1)
    admin = {"Authorization": f"Bearer {stack.token}"}
    async with aiohttp.ClientSession(headers=admin) as http:
        body = {"code": "callback", "callback_at": at.isoformat(), "callback_scope": "agent"}
        done = await _call(http, "POST", f"{stack.api}/attempts/{attempt_id}/disposition",
                           json=body)  # fmt: skip
    agent: str | None = done["callback_agent"]
    return agent


CALLBACK_ROUNDS = 6  # a pick by the queue (or at random) of one of two free agents fails 6 in a row


async def test_an_agent_only_callback_reaches_its_agent_while_others_are_free(
    two_agents: Stack,
) -> None:
    """Both agents free: each agent-only callback still reaches its agent, never the other, round
    after round (the queue alone, rrmemory, would give it to the one that took no call yet)."""
    stack = two_agents
    _, rid, keeper, at = await _agent_only_callback(stack, grace_s=600)
    other = next(n for n in ("Agent 101", "Agent 102") if n != keeper)
    for n in range(2, CALLBACK_ROUNDS + 2):
        await _agent_is(stack, AgentStatus.FREE, 10, other)  # the queue could give it the call

        async def reached(count: int = n) -> bool:
            rows = await _attempts_of(stack, rid)
            return len(rows) == count and rows[-1]["agent"] is not None

        await until(reached, 30, f"callback {n - 1} to reach an agent")
        last = (await _attempts_of(stack, rid))[-1]
        assert last["agent"] == keeper, f"callback {n - 1} reached {last['agent']}"
        assert last["originated_at"] >= at
        if n < CALLBACK_ROUNDS + 1:

            async def done(attempt: str = str(last["id"])) -> bool:
                sql = "SELECT 1 FROM attempts WHERE id = :a AND status = 'settled'"
                return bool(await _rows(stack, sql, a=attempt))

            await until(done, 30, f"callback {n - 1} to settle")
            assert await _dispose_callback(stack, str(last["id"])) == keeper
    assert _member(stack, other).calls_taken == 0  # the other agent took none of them
    assert _member(stack, keeper).calls_taken == 1  # the first call: the queue; then Dial()


@pytest.mark.parametrize("away", ["paused", "logged_out"])
async def test_an_agent_only_callback_waits_then_falls_back_to_anyone(
    two_agents: Stack, away: str
) -> None:
    stack = two_agents
    cid, rid, keeper, at = await _agent_only_callback(stack, grace_s=4)
    other = next(n for n in ("Agent 101", "Agent 102") if n != keeper)
    interface = _member(stack, keeper).interface
    if away == "paused":
        stack.sim.world.queues.pause("sales", interface, True, "break")
        await _agent_is(stack, AgentStatus.PAUSED, 5, keeper)
        hold = "callback_agent_busy"
    else:
        assert stack.sim.world.queues.remove("sales", interface) is not None
        await until(lambda: _true(_agent_status(stack, keeper) is None), 5, "the agent logged out")
        hold = "callback_agent_logged_out"

    async def held_for_the_agent() -> bool:
        why = (await _diagnostics(stack, cid, rid))["record"]
        return bool(why["why"] == hold)

    await until(held_for_the_agent, 10, "the diagnostics to say the callback waits for its agent")
    record = (await _diagnostics(stack, cid, rid))["record"]
    assert record["callback"]["agent"] == keeper
    assert record["callback"]["hold"] == hold
    assert datetime.fromisoformat(record["callback"]["until"]) == at + timedelta(seconds=4)
    assert len(await _attempts_of(stack, rid)) == 1  # not dialled while its agent is away

    async def dialled_again() -> bool:
        return len(await _attempts_of(stack, rid)) == 2

    await until(dialled_again, 30, "the callback to fall back to anyone")
    second = (await _attempts_of(stack, rid))[1]
    assert second["originated_at"] >= at + timedelta(seconds=4)  # only after the grace

    async def reached() -> bool:
        return (await _attempts_of(stack, rid))[1]["agent"] is not None

    await until(reached, 30, "the fallback call to reach an agent")
    assert (await _attempts_of(stack, rid))[1]["agent"] == other


async def test_a_held_wrapup_survives_a_gateway_restart(own_database: OwnDatabase) -> None:
    """The gateway stops while it holds an agent in wrap-up; the one started next reads the hold
    back, so the disposition posted to it unpauses the agent."""
    token = secrets.token_urlsafe(16)
    async with SimAsterisk(_world(1)) as sim:
        async with _service(sim, own_database, token) as first:
            cid = await _campaign(first, {"codes": CODES, "wrapup_limit_s": 600}, records=1)
            attempt = await _first_answered(first, cid)
            await _agent_is(first, AgentStatus.PAUSED, 10)
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as h:
                await _call(h, "POST", f"{first.api}/campaigns/{cid}/stop")
        assert _member(first).paused  # the gateway is gone; Asterisk still holds the pause
        async with _service(sim, own_database, token) as second:
            keeper = second.running.wrapup

            async def recovered() -> bool:
                return [h.attempt_id for h in keeper.held] == [attempt["id"]]

            await until(recovered, 10, "the new gateway to read the hold back")
            await _agent_is(second, AgentStatus.PAUSED, 10)
            url = f"{second.api}/attempts/{attempt['id']}/disposition"
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as h:
                await _call(h, "POST", url, json={"code": "sale"})
            await _agent_is(second, AgentStatus.FREE, 5)
            assert not _member(second).paused
