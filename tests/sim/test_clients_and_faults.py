"""panoramisk 1.4 against the simulator, the production dialplan, filters, and faults."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import aiohttp
import pytest
from panoramisk import Manager

from asterisk_sim import AgentConfig, CarrierProfile, Dist, QueueConfig, SimAsterisk, SimConfig
from tests.sim.amiclient import AmiTestClient, is_event


async def test_panoramisk_logs_in_and_follows_an_originate(sim: SimAsterisk) -> None:
    manager = Manager(
        host="127.0.0.1",
        port=sim.ami_port,
        username="dialer",
        secret="dialer-secret",
        ping_delay=0,
        reconnect_timeout=0.1,
    )
    hangups: list[str] = []
    both = asyncio.Event()

    def on_hangup(mgr: Manager, msg: Any) -> None:
        hangups.append(msg["Channel"])
        if len(hangups) == 2:
            both.set()

    manager.register_event("Hangup", on_hangup)
    await asyncio.wait_for(manager.connect(), 5)
    # connect() returns before login: the login future says when it is done
    assert await asyncio.wait_for(manager.authenticated_future, 5)
    result: Any = await asyncio.wait_for(
        manager.send_action(
            {
                "Action": "Originate",
                "ActionID": "pano-1",
                "Channel": "Local/10001@sim-carrier",
                "Context": "sim-agent",
                "Exten": "s",
                "Priority": "1",
                "Async": "true",
                "CallerID": '"Dialer" <5550100>',
            }
        ),
        10,
    )
    assert isinstance(result, list)
    final = result[-1]
    assert final["Event"] == "OriginateResponse"
    assert final["Reason"] == "4"

    await asyncio.wait_for(both.wait(), 10)
    manager.close()
    assert sim.originate_counts["pano-1"] == 1


def _production_config(outcome: str, agents: int, strategy: str = "ringall") -> SimConfig:
    def w(name: str) -> float:
        return 1.0 if name == outcome else 0.0

    carrier = CarrierProfile(
        live=w("live"),
        machine=w("machine"),
        no_answer=w("no_answer"),
        busy=w("busy"),
        congestion=w("congestion"),
        failure=w("failure"),
        post_dial_delay=Dist.fixed(0.5),
        ring_time=Dist.fixed(2.0),
        callee_hangup=Dist.fixed(30.0),
        amd_time=Dist.fixed(0.5),
    )
    queue = QueueConfig(
        "sales",
        tuple(AgentConfig(ext=str(101 + i)) for i in range(agents)),
        ring_time=Dist.fixed(0.5),
        talk_time=Dist.fixed(5.0),
        wrapup=2.0,
        strategy=strategy,
    )
    return SimConfig(
        ami_port=0,
        ari_port=0,
        time_scale=0.02,
        carriers=(carrier,),
        queues=(queue,),
        rtcp_interval=1.0,
    )


def _dialer_originate(
    client: AmiTestClient, attempt: str, amd: str = "1", agent: str | None = None
) -> None:
    direct = [f"DIALER_AGENT_INTERFACE={agent}"] if agent else []
    client.send(
        "Originate",
        ActionID=attempt,
        Channel="PJSIP/+15551234567@carrier-a",
        Context="dialer-outbound",
        Exten="s",
        Priority="1",
        CallerID='"ACME" <+15550001111>',
        Timeout="20000",
        Async="true",
        ChannelId=attempt,
        OtherChannelId=f"{attempt}-2",
        Variable=[
            f"DIALER_ATTEMPT_ID={attempt}",
            "DIALER_CAMPAIGN=c1",
            "DIALER_QUEUE=sales",
            f"DIALER_AMD={amd}",
            "DIALER_CONNECT_TIMEOUT=2",
            *direct,
        ],
    )


async def test_production_live_answer_connects_to_an_agent() -> None:
    async with SimAsterisk(_production_config("live", agents=1)) as sim:
        client = await AmiTestClient.connect(sim.ami_port)
        await client.login()
        attempt = "a" * 32
        _dialer_originate(client, attempt)
        resp = await client.wait_for(is_event("OriginateResponse", ActionID=attempt))
        assert (resp.get("Reason"), resp.get("Uniqueid")) == ("4", attempt)
        amd = await client.wait_for(is_event("UserEvent", UserEvent="AMDResult"))
        assert (amd.get("AttemptId"), amd.get("AMDSTATUS")) == (attempt, "HUMAN")
        connect = await client.wait_for(is_event("AgentConnect"))
        assert connect.get("MemberName") == "Agent 101"
        assert connect.get("Interface") == "PJSIP/agent-101"
        await client.wait_for(is_event("RTCPReceived"))
        await client.wait_for(is_event("AgentComplete"))
        cdr = await client.wait_for(is_event("Cdr", UniqueID=attempt))
        assert cdr.get("Disposition") == "ANSWERED"
        status = [m.get("Status") for m in client.events("QueueMemberStatus")]
        assert status[:2] == ["6", "2"]
        await client.close()


@pytest.mark.parametrize(("strategy", "connected"), [("rrmemory", 2), ("ringall", 1)])
async def test_simultaneous_answers_and_the_queue_strategy(strategy: str, connected: int) -> None:
    """Two live answers at once, two free agents: autofill connects both within the 2 s limit;
    ringall rings both agents for the head caller, so the second caller times out."""
    async with SimAsterisk(_production_config("live", agents=2, strategy=strategy)) as sim:
        client = await AmiTestClient.connect(sim.ami_port)
        await client.login()
        for attempt in ("c" * 32, "d" * 32):
            _dialer_originate(client, attempt, amd="0")
        for attempt in ("c" * 32, "d" * 32):
            await client.wait_for(is_event("Hangup", Uniqueid=attempt))
        connects = client.events("AgentConnect")
        assert len(connects) == connected
        assert len({c.get("MemberName") for c in connects}) == connected
        abandoned = [
            e for e in client.events("UserEvent") if e.get("UserEvent") == "DialerAbandoned"
        ]
        assert len(abandoned) == 2 - connected
        await client.close()


async def test_production_no_free_agent_is_abandoned_with_message() -> None:
    async with SimAsterisk(_production_config("live", agents=1)) as sim:
        sim.world.pause_agent("sales", "101", True, "lunch")
        client = await AmiTestClient.connect(sim.ami_port)
        await client.login()
        attempt = "b" * 32
        _dialer_originate(client, attempt, amd="0")
        abandoned = await client.wait_for(is_event("UserEvent", UserEvent="DialerAbandoned"))
        assert (abandoned.get("AttemptId"), abandoned.get("QueueStatus")) == (attempt, "TIMEOUT")
        await client.wait_for(is_event("Newexten", Application="Playback"))
        hangup = await client.wait_for(is_event("Hangup", Uniqueid=attempt))
        assert hangup.get("Cause") == "16"
        assert not client.events("AgentConnect")
        await client.close()


async def test_production_outcomes_by_carrier() -> None:
    expected = {
        "busy": ("5", "17"),
        "congestion": ("8", "34"),
        "no_answer": ("3", "19"),
        "failure": ("0", "1"),
        "machine": ("4", "16"),
    }
    for outcome, (reason, cause) in expected.items():
        async with SimAsterisk(_production_config(outcome, agents=1)) as sim:
            client = await AmiTestClient.connect(sim.ami_port)
            await client.login()
            _dialer_originate(client, "c" * 32)
            resp = await client.wait_for(is_event("OriginateResponse"))
            assert resp.get("Reason") == reason, outcome
            hangup = await client.wait_for(is_event("Hangup", Uniqueid="c" * 32))
            assert hangup.get("Cause") == cause, outcome
            if outcome == "machine":
                assert client.events("UserEvent")[0].get("AMDSTATUS") == "MACHINE"
            await client.close()


async def test_filter_cuts_events_to_the_matching_ones(ami: AmiTestClient) -> None:
    for i, flt in enumerate(("Event: OriginateResponse", "Event: Hangup")):
        ami.send("Filter", ActionID=f"f{i}", Operation="Add", Filter=flt)
        assert (await ami.response(f"f{i}")).get("Message") == "Success"
    ami.send(
        "Originate",
        ActionID="o1",
        Channel="Local/10001@sim-carrier",
        Context="sim-hangup",
        Exten="s",
        Priority="1",
        Async="true",
    )
    await ami.wait_for(lambda m: m.get("Event") == "Hangup" and m.get("Channel").endswith(";2"))
    names = [m.get("Event") for m in ami.messages if m.has("Event")]
    names = names[names.index("OriginateResponse") :]
    assert sorted(names) == ["Hangup", "Hangup", "HangupRequest", "OriginateResponse"]


async def test_bad_login_answers_late_then_closes(sim: SimAsterisk) -> None:
    client = await AmiTestClient.connect(sim.ami_port)
    client.send("Ping", ActionID="p")
    assert (await client.response("p")).get("Message") == "Permission denied"
    reply = await client.login(secret="wrong")
    assert (reply.get("Response"), reply.get("Message")) == ("Error", "Authentication failed")
    await asyncio.wait_for(client.eof.wait(), 5)
    await client.close()


async def test_faults_drop_stall_restart_malformed_delay(
    sim: SimAsterisk, ami: AmiTestClient
) -> None:
    ami.send(
        "Originate",
        ActionID="ring-1",
        Channel="Local/30001@sim-carrier",
        Context="sim-agent",
        Exten="s",
        Async="true",
        Timeout="60000",
        ChannelId="chan-1",
    )
    await ami.wait_for(is_event("DialState", DialStatus="RINGING"))
    assert sim.stats()["channels"] == 2
    await sim.faults.malformed_frame()
    await ami.wait_for(lambda m: bool(ami.frame_errors))
    sim.faults.delay_responses(0.3)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    ami.send("Ping", ActionID="late")
    await ami.response("late")
    assert loop.time() - t0 >= 0.25
    sim.faults.delay_responses(0)
    sim.faults.stall(0.3)
    t0 = loop.time()
    ami.send("Ping", ActionID="stalled")
    await ami.response("stalled")
    assert loop.time() - t0 >= 0.25
    await sim.faults.restart()
    await asyncio.wait_for(ami.eof.wait(), 5)
    assert sim.stats()["channels"] == 0
    await asyncio.wait_for(sim.faults.booted.wait(), 5)  # down, booting, then FullyBooted
    assert sim.originate_counts == {"ring-1": 1, "chan-1": 1}
    again = await AmiTestClient.connect(sim.ami_port)
    await again.login()
    again.send("CoreShowChannels", ActionID="csc")
    done = await again.wait_for(is_event("CoreShowChannelsComplete"))
    assert done.get("ListItems") == "0"
    await sim.faults.drop_ami()
    await asyncio.wait_for(again.eof.wait(), 5)
    await again.close()


async def test_admin_endpoint_and_drop_ari(sim: SimAsterisk) -> None:
    base = f"http://127.0.0.1:{sim.admin_port}"
    auth = {"Authorization": aiohttp.encode_basic_auth("dialer", "dialer-secret")}
    async with aiohttp.ClientSession() as anonymous:
        refused = await anonymous.post(f"{base}/sim/faults/drop_ari")
        assert refused.status == 401
        assert (await anonymous.get(f"{base}/sim/stats")).status == 401
    async with aiohttp.ClientSession(headers=auth) as http:
        ws = await http.ws_connect(f"{base}/ari/events?app=dialer")
        resp = await http.post(f"{base}/sim/faults/drop_ari")
        assert await resp.json() == {"dropped": 1}
        msg = await asyncio.wait_for(ws.receive(), 5)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        stats = await (await http.get(f"{base}/sim/stats")).json()
        assert stats["ari_sockets"] == 0
        resp = await http.post(f"{base}/sim/agents/logout?queue=sales&name=Agent 201")
        assert resp.status == 200
        resp = await http.post(f"{base}/sim/faults/bogus")
        assert resp.status == 404


async def test_production_agent_only_callback_dials_that_member_not_the_queue() -> None:
    """DIALER_AGENT_INTERFACE: Dial() of that member (ringall would ring both), as Asterisk 22
    does it: no queue caller or Agent* events, the U() subroutine's DialerAgentConnect before
    DialEnd ANSWER, the member's device status with InCall 0 and no CallsTaken."""
    async with SimAsterisk(_production_config("live", agents=2)) as sim:
        client = await AmiTestClient.connect(sim.ami_port)
        await client.login()
        attempt = "b" * 32
        _dialer_originate(client, attempt, amd="0", agent="PJSIP/agent-102")
        connect = await client.wait_for(is_event("UserEvent", UserEvent="DialerAgentConnect"))
        assert (connect.get("AttemptId"), connect.get("Queue"), connect.get("Interface")) == (
            attempt, "sales", "PJSIP/agent-102")  # fmt: skip
        assert connect.get("Channel", "").startswith("PJSIP/agent-102-")  # the agent's channel
        answered = await client.wait_for(
            is_event("DialEnd", DestChannel=connect.get("Channel", ""), DialStatus="ANSWER")
        )
        assert client.messages.index(connect) < client.messages.index(answered)
        await client.wait_for(is_event("Cdr", UniqueID=attempt), within=20)
        statuses = [(m.get("MemberName"), m.get("Status"), m.get("InCall"), m.get("CallsTaken"))
                    for m in client.events("QueueMemberStatus")]  # fmt: skip
        assert statuses == [("Agent 102", "6", "0", "0"), ("Agent 102", "2", "0", "0"),
                            ("Agent 102", "1", "0", "0")]  # fmt: skip
        names = {m.get("Event") for m in client.messages}
        assert not names & {"QueueCallerJoin", "AgentCalled", "AgentConnect", "AgentComplete"}
        await client.close()


@pytest.mark.parametrize(
    ("agent", "ring_s", "dialstatus"),
    [("PJSIP/agent-101", 5.0, "NOANSWER"), ("PJSIP/agent-999", 0.5, "CHANUNAVAIL")],
)
async def test_production_agent_only_callback_not_answered_is_abandoned(
    agent: str, ring_s: float, dialstatus: str
) -> None:
    """The member does not answer within DIALER_CONNECT_TIMEOUT (2 s), or the interface is no
    member: DialerAbandoned with the DIALSTATUS, the identification message, a free member."""
    config = _production_config("live", agents=1)
    queue = dataclasses.replace(config.queues[0], ring_time=Dist.fixed(ring_s))
    async with SimAsterisk(dataclasses.replace(config, queues=(queue,))) as sim:
        client = await AmiTestClient.connect(sim.ami_port)
        await client.login()
        attempt = "c" * 32
        _dialer_originate(client, attempt, amd="0", agent=agent)
        gone = await client.wait_for(is_event("UserEvent", UserEvent="DialerAbandoned"))
        assert (gone.get("AttemptId"), gone.get("QueueStatus")) == (attempt, dialstatus)
        user_events = [m.get("UserEvent") for m in client.events("UserEvent")]
        assert "DialerAgentConnect" not in user_events
        member = sim.world.queues.queues["sales"].members["PJSIP/agent-101"]
        assert member.free
        await client.close()
