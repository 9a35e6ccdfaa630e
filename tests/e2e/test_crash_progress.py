"""A gateway killed while calls talk to agents: those calls still end ``answered``.

A real ``dialer serve`` process paces a campaign on the simulated Asterisk and is SIGKILLed
while several of its calls are connected to agents. What decides those outcomes (answered, the
agent) was saved as it happened, at most a second late (``dialer.progress``), so when the same
instance comes back and reconciles the calls it left in flight — whether a call ended while it
was down (settled ``unknown`` by the edge) or is still talking — the attempt is ``answered``,
with its agent. The simulator is the witness of which calls reached an agent.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
from pathlib import Path

import pytest
from sqlalchemy import text

from asterisk_sim import SimAsterisk, SimConfig
from dialer.demo import set_up_campaign
from tests.e2e.conftest import TIME_SCALE, OwnDatabase, until
from tests.e2e.test_takeover import _config, _serve_a
from tests.service import running_service, sim_settings

pytestmark = [pytest.mark.db, pytest.mark.slow]

PROGRESS_BOUND_S = 1.0  # what decides an outcome is stored at most this late
_ATTEMPTS = text("SELECT id, status, outcome, agent FROM attempts WHERE campaign_id = :cid")


async def _attempts(url: str, cid: int) -> dict[str, tuple[str, str | None, str | None]]:
    from gateway.db.engine import make_engine

    engine = make_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(_ATTEMPTS, {"cid": cid})).all()
    finally:
        await engine.dispose()
    return {str(r[0]): (str(r[1]), r[2], r[3]) for r in rows}


async def test_calls_talking_to_agents_survive_a_kill_as_answered(
    own_database: OwnDatabase, scratch_dir: Path
) -> None:
    token = secrets.token_urlsafe(16)
    config = SimConfig.demo(agents=10, seed=9, ami_port=0, ari_port=0, time_scale=TIME_SCALE)
    async with SimAsterisk(config) as sim:
        conf = _config(scratch_dir / "a.toml", sim)
        proc, port = await _serve_a(conf, own_database.url, token)
        try:
            campaign = await set_up_campaign(f"http://127.0.0.1:{port}/v1", token, 400, seed=23)
            cid = campaign.campaign_id
            talking: set[str] = set()

            async def agents_talking() -> bool:
                nonlocal talking
                rows = await _attempts(own_database.url, cid)
                live = {a for a, (status, _, _) in rows.items() if status == "dialing"}
                talking = set(sim.agent_connects) & live
                return len(talking) >= 3

            await until(agents_talking, 120, "calls of instance A talking to agents")
            reached = set(sim.agent_connects)  # every call that reached an agent by now
            await asyncio.sleep(PROGRESS_BOUND_S)
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        at_kill = await _attempts(own_database.url, cid)
        unsettled = {a for a in reached & at_kill.keys() if at_kill[a][0] == "dialing"}
        assert len(unsettled) >= 3, "the kill must leave calls that reached an agent in flight"

        # the same instance comes back and reconciles its calls
        settings = sim_settings(sim, own_database.url, token, "instance-a")
        async with running_service(settings):

            async def settled() -> bool:
                rows = await _attempts(own_database.url, cid)
                return all(rows[a][0] == "settled" for a in unsettled)

            await until(settled, 120, "the restarted instance to settle the calls it left")
            after = await _attempts(own_database.url, cid)
    outcomes = {a: after[a][1] for a in reached & after.keys()}
    assert {a: o for a, o in outcomes.items() if o != "answered"} == {}
    assert all(after[a][2] for a in unsettled), "the agent of each call is kept"
