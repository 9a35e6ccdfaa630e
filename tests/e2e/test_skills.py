"""Skills end to end: a skill-tagged record never reaches an agent without the skill.

The simulated Asterisk has the campaign's queue ``sales`` (two agents, no Spanish) and a queue
``sales-es`` (one Spanish-speaking agent). The campaign maps ``spanish`` to ``sales-es``
(``pacing.skill_queues``); its records are Spanish, skill-less, and German (no queue has that
skill). The run must connect Spanish records only to the Spanish agent and the others only to
the ``sales`` agents (the agent each attempt reached is recorded from Asterisk's
``AgentConnect``), dial both groups (pacing counts each group's own agents), and never dial a
German record.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text

from asterisk_sim import AgentConfig, QueueConfig, SimAsterisk, SimConfig
from dialer.demo import daytime_region, demo_numbers
from tests.e2e.conftest import TIME_SCALE, OwnDatabase, Stack, serve, until

pytestmark = [pytest.mark.db, pytest.mark.slow]

SPANISH = "Agent 901"


@pytest.fixture
async def skilled(own_database: OwnDatabase) -> AsyncIterator[Stack]:
    demo = SimConfig.demo(agents=2, seed=9, ami_port=0, ari_port=0, time_scale=TIME_SCALE)
    spanish = QueueConfig(
        name="sales-es",
        agents=(AgentConfig(ext="901"),),
        talk_time=demo.queues[0].talk_time,
        wrapup=10.0,
        strategy="rrmemory",
    )
    config = SimConfig(**{**_fields(demo), "queues": (*demo.queues, spanish)})
    token = secrets.token_urlsafe(16)
    async with SimAsterisk(config) as sim, serve(sim, own_database, token, "e2e-skills") as up:
        yield up


def _fields(config: SimConfig) -> dict[str, Any]:
    return {name: getattr(config, name) for name in config.__dataclass_fields__}


async def _call(http: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> Any:
    async with http.request(method, url, **kw) as resp:
        body = await resp.json(content_type=None)
        assert resp.status < 400, (method, url, resp.status, body)
        return body


async def _campaign(stack: Stack) -> int:
    region = daytime_region(datetime.now(UTC))
    headers = {"Authorization": f"Bearer {stack.token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        campaign = await _call(http, "POST", f"{stack.api}/campaigns", json={
            "name": "skills", "pacing_mode": "progressive", "queue": "sales",
            "default_region": region, "owner": "t", "resume_owner": "t", "max_attempts": 1,
            "pacing": {"caller_id_name": "Skills", "ring_timeout_s": 20,
                       "skill_queues": {"spanish": "sales-es"}},
        })  # fmt: skip
        cid = int(campaign["id"])
        ids = []
        for number in demo_numbers(region, 6, 77):
            spec = {"number": number, "max_concurrent": 50, "max_per_day": 20000}
            ids.append(int((await _call(http, "POST", f"{stack.api}/numbers", json=spec))["id"]))
        await _call(http, "PUT", f"{stack.api}/campaigns/{cid}/numbers", json={"number_ids": ids})
        phones = await asyncio.to_thread(demo_numbers, region, 600, 78)
        skills = ("spanish", "", "german")
        rows = "".join(f"{p},{skills[i % 3]}\n" for i, p in enumerate(phones))
        await _call(http, "POST", f"{stack.api}/campaigns/{cid}/records",
                    data=("phone,skill\n" + rows).encode(),
                    headers={"Content-Type": "text/csv"})  # fmt: skip
        await _call(http, "POST", f"{stack.api}/campaigns/{cid}/start")
    return cid


_REACHED = text(
    "SELECT r.skill, a.agent FROM attempts a JOIN records r ON r.id = a.record_id "
    "WHERE a.campaign_id = :cid"
)


async def _attempts(stack: Stack, cid: int) -> list[tuple[str, str | None]]:
    async with stack.running.engine.connect() as conn:
        return [(str(s), a) for s, a in (await conn.execute(_REACHED, {"cid": cid})).all()]


async def test_a_skill_tagged_record_reaches_only_an_agent_with_the_skill(skilled: Stack) -> None:
    stack = skilled
    cid = await _campaign(stack)

    async def both_groups_connected() -> bool:
        reached = Counter(skill for skill, agent in await _attempts(stack, cid) if agent)
        return reached["spanish"] >= 3 and reached[""] >= 3

    await until(both_groups_connected, 150, "agent connects in both skill groups")
    rows = await _attempts(stack, cid)
    spanish_agents = {agent for skill, agent in rows if skill == "spanish" and agent}
    other_agents = {agent for skill, agent in rows if skill == "" and agent}
    assert spanish_agents == {SPANISH}
    assert SPANISH not in other_agents
    assert other_agents
    assert all(skill != "german" for skill, _ in rows), (
        "a record nobody has the skill for was dialled"
    )
    queues = stack.sim.world.queues.queues  # the calls went into the skill's queue in Asterisk
    assert queues["sales-es"].completed >= 1
    assert {m.name for m in queues["sales-es"].members.values()} == {SPANISH}


async def test_diagnostics_say_why_a_skill_nobody_has_is_not_dialled(skilled: Stack) -> None:
    stack = skilled
    cid = await _campaign(stack)
    async with stack.running.engine.connect() as conn:
        first = text("SELECT id FROM records WHERE campaign_id = :c AND skill = :s LIMIT 1")
        german = (await conn.execute(first, {"c": cid, "s": "german"})).scalar_one()
        spanish = (await conn.execute(first, {"c": cid, "s": "spanish"})).scalar_one()
    headers = {"Authorization": f"Bearer {stack.token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        url = f"{stack.api}/campaigns/{cid}/diagnostics"
        body = await _call(http, "GET", url, params={"record": str(german)})
        other = await _call(http, "GET", url, params={"record": str(spanish)})
    assert body["runtime"]["record"] == {"id": german, "why": "no_queue_for_skill"}
    assert other["runtime"]["record"]["why"] != "no_queue_for_skill"
