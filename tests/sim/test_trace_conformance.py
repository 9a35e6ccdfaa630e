"""Trace conformance: replay each recorded AMI session against the simulator and compare.

The actions of ``<scenario>.sent.txt`` are sent at the recorded times (scaled), then the
responses and, per channel, the sequences of the compared events (names, header names in order,
Reason/Cause/DialStatus/Disposition values) must equal the recording.
"""

from __future__ import annotations

import asyncio

import pytest

from asterisk_sim import SimAsterisk, SimConfig
from asterisk_sim.amiproto import AmiMessage
from tests.sim.amiclient import AmiTestClient
from tests.sim.traces import (
    TRACES,
    norm_channel,
    per_channel,
    read_messages,
    responses,
    sent_times,
)

SCALE = 0.02
CALL = frozenset(
    {
        "Newchannel",
        "Newstate",
        "Newexten",
        "VarSet",
        "NewCallerid",
        "NewConnectedLine",
        "DialBegin",
        "DialState",
        "DialEnd",
        "SoftHangupRequest",
        "HangupRequest",
        "Hangup",
        "Cdr",
        "OriginateResponse",
        "UserEvent",
    }
)
QUEUE = frozenset(
    {
        "QueueCallerJoin",
        "QueueCallerLeave",
        "QueueCallerAbandon",
        "AgentCalled",
        "AgentConnect",
        "AgentComplete",
        "OriginateResponse",
    }
)
# scenario -> events compared per channel (None: responses only)
SCENARIOS: dict[str, frozenset[str] | None] = {
    "ami-login-logoff": None,
    "ami-action-before-login": None,
    "ami-bad-actions": CALL - {"Newexten", "SoftHangupRequest", "HangupRequest", "Hangup", "Cdr"},
    "ami-ping-events-command": None,
    "ami-originate-answered": CALL,
    "ami-originate-busy": CALL,
    "ami-originate-noanswer": CALL,
    "ami-originate-congestion": CALL,
    "ami-originate-failure-cause34": CALL,
    "ami-originate-no-such-extension": CALL,
    "ami-originate-no-such-context": CALL - {"Newexten"},
    "ami-originate-answered-bad-destination-context": CALL,
    "ami-originate-answered-channelid": CALL,
    "ami-originate-busy-channelid": CALL,
    "ami-originate-noanswer-channelid": CALL,
    "ami-originate-sync-answered": CALL,
    "ami-originate-sync-busy": CALL,
    "ami-originate-answered-then-hangup-action": CALL,
    "ami-originate-answered-amd": CALL,
    "ami-originate-answered-with-cel": CALL,
    "ami-status-during-call": CALL,
    "ami-queue-member-ops": frozenset(
        {"QueueMemberAdded", "QueueMemberPause", "QueueMemberRemoved"}
    ),
    "ami-queue-answered": QUEUE,
    "ami-queue-abandon": QUEUE,
    "ami-originate-application": CALL
    - {"Newexten", "Cdr", "HangupRequest", "SoftHangupRequest", "Hangup"},
}


def _variables(sent: list[AmiMessage]) -> frozenset[str]:
    names = set()
    for msg in sent:
        for raw in msg.get_all("Variable"):
            names.add(raw.partition("=")[0])
    return frozenset(names)


async def _replay(name: str) -> list[AmiMessage]:
    sent = read_messages(TRACES / f"{name}.sent.txt")
    times = sent_times(name)
    assert len(times) == len(sent), name
    async with SimAsterisk(SimConfig(ami_port=0, ari_port=0, time_scale=SCALE)) as sim:
        client = await AmiTestClient.connect(sim.ami_port)
        assert client.banner == b"Asterisk Call Manager/11.0.0\r\n"
        loop = asyncio.get_running_loop()
        start = loop.time()
        for msg, at in zip(sent, times, strict=True):
            if msg.action == "Logoff":
                await _quiet(sim)
            delay = start + at * SCALE - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)  # the recorded pacing of the client, not a wait
            client.send_raw(_frame(_rename(msg, client.messages)))
        await asyncio.wait_for(client.eof.wait(), 10)
        await client.close()
        return client.messages


async def _quiet(sim: SimAsterisk) -> None:
    """Before Logoff, let every call of the scenario finish (under a timeout)."""
    await sim.wait_idle(10)


def _rename(msg: AmiMessage, seen: list[AmiMessage]) -> AmiMessage:
    """Recorded channel names carry Asterisk's counters; use the simulated channel instead."""
    names = {norm_channel(m.get("Channel")): m.get("Channel") for m in seen if m.has("Channel")}
    headers = tuple(
        (k, names.get(norm_channel(v), v) if k == "Channel" and msg.action != "Originate" else v)
        for k, v in msg.headers
    )
    return AmiMessage(headers)


def _frame(msg: AmiMessage) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in msg.headers) + "\r\n").encode()


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_ami_scenario_matches_trace(name: str) -> None:
    recorded = read_messages(TRACES / f"{name}.txt")
    simulated = await _replay(name)
    assert responses(simulated) == responses(recorded)
    compared = SCENARIOS[name]
    if compared is None:
        return
    variables = _variables(read_messages(TRACES / f"{name}.sent.txt"))
    want = per_channel(recorded, compared, variables)
    got = per_channel(simulated, compared, variables)
    assert sorted(got) == sorted(want)
    for channel, shapes in want.items():
        # Cdr events come from another thread in Asterisk: their position varies, their
        # content does not. Compare the channel's sequence without them, then the Cdrs.
        ordered = [s for s in shapes if s.event != "Cdr"]
        mine = [s for s in got[channel] if s.event != "Cdr"]
        assert [s.event for s in mine] == [s.event for s in ordered], channel
        assert mine == ordered, channel
        cdrs = [s for s in shapes if s.event == "Cdr"]
        assert [s for s in got[channel] if s.event == "Cdr"] == cdrs, channel
