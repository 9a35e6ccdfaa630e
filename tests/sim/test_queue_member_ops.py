"""QueueAdd / QueueRemove / QueuePause on the simulator, value for value against Asterisk 22.

The generic trace conformance (``test_trace_conformance``) compares header names and a few key
values; agent control depends on the member events' values too (``Status`` of a removed member,
``Paused``/``PausedReason``, ``StateInterface``, ``Membership``), and on the queue's pause device
(``DeviceStateChange`` of ``Queue:<queue>_pause_<interface>``), so this replays the recorded
``ami-queue-member-ops`` session and compares every value except the clock readings
(``LoginTime``, ``LastPause``: only whether ``LastPause`` is still 0). The refusals the recording
does not hold are checked against Asterisk's own messages (``apps/app_queue.c``).
"""

from __future__ import annotations

import pytest

from asterisk_sim import SimAsterisk, SimConfig
from asterisk_sim.amiproto import AmiMessage
from tests.sim.amiclient import AmiTestClient
from tests.sim.test_trace_conformance import _replay
from tests.sim.traces import TRACES, read_messages

_MEMBER_EVENTS = ("QueueMemberAdded", "QueueMemberPause", "QueueMemberRemoved")
_CLOCKS = frozenset({"LoginTime", "LastPause", "LastCall"})


def _member_values(messages: list[AmiMessage]) -> list[tuple[tuple[str, str], ...]]:
    found = []
    for msg in messages:
        event = msg.get("Event")
        if event in _MEMBER_EVENTS:
            values = tuple((k, v) for k, v in msg.headers if k not in _CLOCKS)
            found.append((*values, ("LastPause=0", str(msg.get("LastPause") == "0"))))
        elif event == "DeviceStateChange" and msg.get("Device").startswith("Queue:"):
            device = (("Event", event), ("Device", msg.get("Device")), ("State", msg.get("State")))
            found.append(device)
    return found


async def test_member_events_carry_the_values_asterisk_sends() -> None:
    recorded = read_messages(TRACES / "ami-queue-member-ops.txt")
    simulated = await _replay("ami-queue-member-ops")
    want = _member_values(recorded)
    assert len(want) == 7  # the recording: 3 pause-device changes, Added, 2 Pause, Removed
    assert _member_values(simulated) == want


REFUSALS = [
    ("QueueAdd", {"Interface": "Local/1@x/n"}, "'Queue' not specified."),
    ("QueueAdd", {"Queue": "sales"}, "'Interface' not specified."),
    ("QueueAdd", {"Queue": "nosuch", "Interface": "Local/1@x/n"},
     "Unable to add interface to queue: No such queue"),
    ("QueueRemove", {"Queue": "sales"}, "Need 'Queue' and 'Interface' parameters."),
    ("QueueRemove", {"Queue": "nosuch", "Interface": "Local/1@x/n"},
     "Unable to remove interface from queue: No such queue"),
    ("QueueRemove", {"Queue": "sales", "Interface": "Local/1@x/n"},
     "Unable to remove interface: Not there"),
    ("QueuePause", {"Interface": "Local/1@x/n"}, "Need 'Interface' and 'Paused' parameters."),
    ("QueuePause", {"Interface": "Local/1@x/n", "Paused": "true"}, "Interface not found"),
]  # fmt: skip


@pytest.mark.parametrize(("action", "headers", "message"), REFUSALS)
async def test_refusals_in_asterisks_words(
    action: str, headers: dict[str, str], message: str
) -> None:
    async with SimAsterisk(SimConfig(ami_port=0, ari_port=0)) as sim:
        client = await AmiTestClient.connect(sim.ami_port)
        try:
            await client.login()
            client.send(action, ActionID="r-1", **headers)
            answer = await client.response("r-1")
        finally:
            await client.close()
    assert (answer.get("Response"), answer.get("Message")) == ("Error", message)


async def test_added_paused_is_one_event_and_a_second_add_is_refused() -> None:
    async with SimAsterisk(SimConfig(ami_port=0, ari_port=0)) as sim:
        client = await AmiTestClient.connect(sim.ami_port)
        try:
            await client.login()
            iface = "Local/7@sim-member/n"
            client.send("QueueAdd", ActionID="a-1", Queue="sales", Interface=iface,
                        MemberName="a7", Paused="true", Penalty="3")  # fmt: skip
            assert (await client.response("a-1")).get("Message") == "Added interface to queue"
            added = await client.wait_for(lambda m: m.get("Event") == "QueueMemberAdded")
            client.send("QueueAdd", ActionID="a-2", Queue="sales", Interface=iface)
            again = await client.response("a-2")
        finally:
            await client.close()
    assert (added.get("Paused"), added.get("Penalty"), added.get("StateInterface")) == (
        "1", "3", iface)  # fmt: skip
    assert added.get("Membership") == "dynamic"
    assert client.events("QueueMemberPause") == []  # Asterisk adds it paused: no second event
    assert again.get("Message") == "Unable to add interface: Already there"
