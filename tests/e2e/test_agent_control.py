"""Agent control end to end: API and CLI → gateway → AMI → the simulated Asterisk → pacing.

One agent is logged in at the start (the simulator's world, campaign ``sales``, progressive
pacing). Through the control API an agent is logged in (``QueueAdd``), paused with a reason
(``QueuePause``), unpaused and logged out (``QueueRemove``); each step is checked where it
matters: in the runner's pacing snapshot (what pacing sees), in the simulated Asterisk's queue
(what Asterisk holds), in the calls placed (a second free agent lets progressive pacing have two
calls in flight; a paused agent is offered none), in the metrics and in the audit log. The CLI's
refusals are one line each; a refusal of the PBX link is a 503 that says why.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text

from asterisk_sim import SimAsterisk, SimConfig
from dialer.cli import main as cli_main
from dialer.demo import set_up_campaign
from pacing.snapshot import AgentState
from tests.e2e.conftest import TIME_SCALE, OwnDatabase, Stack, serve, until

pytestmark = [pytest.mark.db, pytest.mark.slow]

NEW = "PJSIP/agent-201"
NAME = "a201"


@pytest.fixture
async def one_agent(own_database: OwnDatabase) -> AsyncIterator[Stack]:
    """The gateway service over a simulated Asterisk whose queue ``sales`` has one agent."""
    config = SimConfig.demo(agents=1, seed=5, ami_port=0, ari_port=0, time_scale=TIME_SCALE)
    token = secrets.token_urlsafe(16)
    async with SimAsterisk(config) as sim, serve(sim, own_database, token, "e2e-agents") as up:
        yield up


async def _http(stack: Stack, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {stack.token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.request(method, stack.api + path, json=body) as resp,
    ):
        return resp.status, await resp.json(content_type=None)


def _seen(stack: Stack, cid: int) -> dict[str, AgentState]:
    """The agents in the runner's last pacing snapshot, by interface."""
    runner = stack.running.supervisor.runners.get(cid)
    snapshot = runner.last_snapshot if runner is not None else None
    return {} if snapshot is None else {a.agent_id: a.state for a in snapshot.agents}


def _in_flight(stack: Stack, cid: int) -> int:
    runner = stack.running.supervisor.runners.get(cid)
    snapshot = runner.last_snapshot if runner is not None else None
    return 0 if snapshot is None else len(snapshot.calls)


def _sim_member(stack: Stack) -> Any:
    return stack.sim.world.queues.queues["sales"].members.get(NEW)


def _sample(stack: Stack, name: str, **labels: str) -> float:
    value = stack.running.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def _progressive(stack: Stack) -> int:
    campaign = await set_up_campaign(stack.api, stack.token, 600, seed=21)
    cid = campaign.campaign_id
    assert (await _http(stack, "POST", f"/campaigns/{cid}/stop"))[0] == 200
    patched = await _http(stack, "PATCH", f"/campaigns/{cid}", {"pacing_mode": "progressive"})
    assert patched[0] == 200, patched
    assert (await _http(stack, "POST", f"/campaigns/{cid}/start"))[0] == 200
    return cid


async def test_login_pause_unpause_logout_change_what_pacing_sees(one_agent: Stack) -> None:
    stack = one_agent
    cid = await _progressive(stack)
    base = f"/campaigns/{cid}/agents"

    async def one_seen() -> bool:
        return len(_seen(stack, cid)) == 1

    await until(one_seen, 30, "pacing to see the one configured agent")

    status, move = await _http(stack, "POST", base, {"interface": NEW, "name": NAME})
    assert status == 201, move
    assert (move["servers"], move["name"], move["interface"]) == (["sim"], NAME, NEW)

    async def login_seen() -> bool:
        return NEW in _seen(stack, cid) and _seen(stack, cid)[NEW] is not AgentState.PAUSED

    await until(login_seen, 10, "pacing to see the agent logged in")
    assert _sim_member(stack) is not None
    assert _sim_member(stack).membership == "dynamic"

    async def two_calls() -> bool:
        return _in_flight(stack, cid) >= 2

    await until(two_calls, 60, "a second call in flight with two agents (progressive)")

    status, listed = await _http(stack, "GET", base)
    assert status == 200
    assert {a["interface"] for a in listed["agents"]} == {NEW, *_configured(stack)}

    status, move = await _http(stack, "POST", f"{base}/{NAME}/pause", {"reason": "lunch"})
    assert status == 200, move

    async def paused_seen() -> bool:
        return _seen(stack, cid).get(NEW) is AgentState.PAUSED

    await until(paused_seen, 10, "pacing to see the agent paused")
    member = _sim_member(stack)
    assert (member.paused, member.paused_reason) == (True, "lunch")
    assert _sample(stack, "dialer_agent_pauses_total", campaign=str(cid), reason="lunch") == 1

    async def paused_metric() -> bool:
        labels = {"campaign": str(cid), "reason": "lunch"}
        return _sample(stack, "dialer_agents_paused", **labels) == 1

    await until(paused_metric, 10, "dialer_agents_paused{reason=lunch} to show the pause")
    await _no_new_call_while_paused(stack, cid)

    status, _ = await _http(stack, "POST", f"{base}/{NAME}/unpause")
    assert status == 200

    async def unpaused_seen() -> bool:
        state = _seen(stack, cid).get(NEW)
        return state is not None and state is not AgentState.PAUSED

    await until(unpaused_seen, 10, "pacing to see the agent back")
    taken = _sim_member(stack).calls_taken

    async def offered_again() -> bool:
        return bool(_sim_member(stack).calls_taken > taken)

    await until(offered_again, 90, "the unpaused agent to take a call again")

    status, _ = await _http(stack, "DELETE", f"{base}/{NEW.replace('/', '%2F')}")
    assert status == 200

    async def logout_seen() -> bool:
        return NEW not in _seen(stack, cid)

    await until(logout_seen, 10, "pacing to see the agent gone")
    assert _sim_member(stack) is None

    async with stack.running.engine.connect() as conn:
        actions = (
            (
                await conn.execute(
                    text(
                        "SELECT action FROM audit_log WHERE entity = 'campaign' AND entity_id = :e "
                        "AND action LIKE 'agent.%' ORDER BY id"
                    ),
                    {"e": str(cid)},
                )
            )
            .scalars()
            .all()
        )
    assert actions == ["agent.login", "agent.pause", "agent.unpause", "agent.logout"]


def _configured(stack: Stack) -> set[str]:
    return {a.member_interface for q in stack.sim.config.queues for a in q.agents}


async def _no_new_call_while_paused(stack: Stack, cid: int) -> None:
    """While paused the agent is offered no call: its count stays as 5 more calls settle.

    A call it was ringing or talking on when the pause came may still end (and count), so the
    count is read once the agent is off the phone.
    """

    async def off_the_phone() -> bool:
        return _sim_member(stack).state.value in ("idle", "wrapup")

    await until(off_the_phone, 120, "the paused agent to finish the call it was on")
    taken = _sim_member(stack).calls_taken
    started = await _settled(stack, cid)

    async def five_more() -> bool:
        return await _settled(stack, cid) >= started + 5

    await until(five_more, 120, "five more calls to settle while the agent is paused")
    assert _sim_member(stack).calls_taken == taken
    assert _sim_member(stack).state.value in ("idle", "wrapup")


async def _settled(stack: Stack, cid: int) -> int:
    async with stack.running.engine.connect() as conn:
        found = await conn.execute(
            text("SELECT count(*) FROM attempts WHERE campaign_id = :c AND status = 'settled'"),
            {"c": cid},
        )
        return int(found.scalar_one())


async def test_refusals_in_the_api_and_one_line_cli_errors(
    one_agent: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = one_agent
    spec = {"name": "agents-refusals", "queue": "sales", "owner": "t", "resume_owner": "t"}
    status, campaign = await _http(stack, "POST", "/campaigns", spec)
    assert status == 201
    cid = campaign["id"]
    base = f"/campaigns/{cid}/agents"
    status, problem = await _http(stack, "DELETE", f"{base}/{NAME}")
    assert (status, "not logged in" in problem["detail"]) == (404, True)
    configured = next(iter(_configured(stack)))
    status, problem = await _http(stack, "POST", base, {"interface": configured, "name": "x1"})
    assert status == 409
    assert "already" in problem["detail"]
    status, other = await _http(stack, "POST", "/campaigns", {
        "name": "agents-nosuch", "queue": "nosuch", "owner": "t", "resume_owner": "t"})  # fmt: skip
    status, problem = await _http(stack, "POST", f"/campaigns/{other['id']}/agents",
                                  {"interface": NEW, "name": NAME})  # fmt: skip
    assert status == 409
    assert "no Asterisk server has a queue named 'nosuch'" in problem["detail"]

    url = stack.api.removesuffix("/v1")
    common = ["--url", url, f"--token={stack.token}"]  # test tokens may start with "-"
    mistakes = (
        ["agent", "pause", str(cid), NAME, "--reason", "out to lunch", *common],
        ["agent", "login", str(cid), "PJSIP/1 2", "a1", *common],
        ["agent", "logout", str(cid), NAME, *common],
        ["agent", "unpause", str(cid), NAME, "--url", "http://127.0.0.1:9", "--token", "t"],
    )
    codes = [await asyncio.to_thread(cli_main, argv) for argv in mistakes]
    err = capsys.readouterr().err.strip().splitlines()
    assert codes == [2, 2, 1, 1]
    assert len(err) == 4, err  # one line per mistake
    assert err[0].startswith("dialer: error: agent pause: reason 'out to lunch'")
    assert err[1].startswith("dialer: error: agent login: interface 'PJSIP/1 2'")
    assert err[2] == f"dialer: error: {NAME} is not logged in to queue sales (HTTP 404)"
    assert err[3].startswith("dialer: error: cannot reach the gateway at http://127.0.0.1:9")

    assert await asyncio.to_thread(cli_main, ["agent", "login", str(cid), NEW, NAME, *common]) == 0
    assert capsys.readouterr().out.strip() == f"{NAME} ({NEW}): login on sim"

    await stack.sim.stop()  # the PBX goes away: agent control says so, as a 503

    async def link_down() -> bool:
        return not stack.running.dialer.runtimes()[0].ami.ready

    await until(link_down, 10, "the gateway to see its AMI link down")
    status, problem = await _http(stack, "POST", f"{base}/{NAME}/pause", {"reason": "break"})
    assert status == 503
    assert "AMI link" in problem["detail"]
    assert "sim" in problem["detail"]
