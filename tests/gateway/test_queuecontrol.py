"""Agent control over real AMI links to two simulated Asterisk servers (one holds ``east``).

Checks which servers a change goes to (a login to every server whose link is up, Asterisk saying
which hold the queue; a pause or logout only where the member is), the typed refusals, that the
agent board follows Asterisk's events, and that with ``driver = "ari"`` queue control still goes
over the AMI link. The pure header builders are checked on their values, injection included.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from asterisk_sim import QueueConfig, SimAsterisk
from gateway.asterisk.agents import AgentStatus
from gateway.asterisk.dialing import Dialer
from gateway.asterisk.errors import (
    AlreadyAMember,
    InvalidValue,
    LinkDown,
    NotAMember,
    UnknownQueue,
)
from gateway.asterisk.pool import Driver
from gateway.asterisk.queuecontrol import QueueControl, add_headers, pause_headers
from tests.gateway.conftest import DialerFactory, Recorder, wait_healthy
from tests.gateway.test_sim import SimFactory, make_sim, server, world

__all__ = ["make_sim"]  # the fixture, imported for pytest

IFACE = "PJSIP/agent-301"


async def _until(predicate: Callable[[], bool], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.02)  # the board changes from socket reads: poll it


def _status(dialer: Dialer, queue: str, interface: str) -> AgentStatus | None:
    found = [a for a in dialer.agents(queue).agents if a.interface == interface]
    return found[0].status if found else None


async def _two_servers(
    make_sim: SimFactory, make_dialer: DialerFactory, recorder: Recorder, driver: Driver
) -> tuple[Dialer, SimAsterisk, SimAsterisk]:
    # (every simulated world also has the trace replays' "sales" and "support" queues)
    east = await make_sim(world(queues=(QueueConfig("east"),)))
    west = await make_sim(world(queues=(QueueConfig("west"),)))
    servers = [server(east, driver, name="pbx1"), server(west, driver, name="pbx2")]
    dialer = await make_dialer(servers)
    await wait_healthy(dialer, recorder, servers=2)
    for rt in dialer.runtimes():
        rt.watch_queue("east")
    return dialer, east, west


@pytest.mark.parametrize("driver", ["ami", "ari"])
async def test_changes_go_to_the_server_holding_the_queue(
    make_sim: SimFactory, make_dialer: DialerFactory, recorder: Recorder, driver: Driver
) -> None:
    dialer, east, _ = await _two_servers(make_sim, make_dialer, recorder, driver)
    control = QueueControl(dialer.runtimes)
    change = await control.login("east", IFACE, "a301")
    assert change.servers == ("pbx1",)
    assert IFACE in east.world.queues.queues["east"].members
    await _until(lambda: _status(dialer, "east", IFACE) is AgentStatus.FREE)
    with pytest.raises(AlreadyAMember):
        await control.login("east", IFACE, "a301")

    paused = await control.pause("east", "a301", "lunch")  # by member name
    assert (paused.servers, paused.interface) == (("pbx1",), IFACE)
    await _until(lambda: _status(dialer, "east", IFACE) is AgentStatus.PAUSED)
    view = next(m.view for m in control.members("east") if m.view.interface == IFACE)
    assert view.paused_reason == "lunch"
    assert east.world.queues.queues["east"].members[IFACE].paused_reason == "lunch"
    await control.unpause("east", IFACE)
    await _until(lambda: _status(dialer, "east", IFACE) is AgentStatus.FREE)

    await control.logout("east", IFACE)
    await _until(lambda: _status(dialer, "east", IFACE) is None)
    assert IFACE not in east.world.queues.queues["east"].members
    with pytest.raises(NotAMember):
        await control.logout("east", IFACE)
    with pytest.raises(UnknownQueue):
        await control.login("nosuch", IFACE, "a301")


async def test_a_link_down_is_named(
    make_sim: SimFactory, make_dialer: DialerFactory, recorder: Recorder
) -> None:
    dialer, _, west = await _two_servers(make_sim, make_dialer, recorder, "ami")
    control = QueueControl(dialer.runtimes)
    await west.stop()
    await _until(lambda: not dialer.runtime("pbx2").ami.ready)
    with pytest.raises(LinkDown, match="pbx2"):  # west may be on pbx2: not "no such queue"
        await control.login("west", IFACE, "a301")
    with pytest.raises(LinkDown, match="pbx2"):  # not found where links are up; pbx2 unknown
        await control.pause("west", "a301", "lunch")
    assert (await control.login("east", IFACE, "a301")).servers == ("pbx1",)


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: add_headers("sales", "PJSIP/1\r\nAction: Originate", "a1"), "interface"),
        (lambda: add_headers("sales", "PJSIP/1", "Agent 1"), "member_name"),
        (lambda: add_headers("sa,les", "PJSIP/1", "a1"), "queue"),
        (lambda: pause_headers("sales", "PJSIP/1", True, "lunch\r\nx: y"), "reason"),
        (lambda: pause_headers("sales", "PJSIP/1", True, "${EXTEN}"), "reason"),
    ],
)
def test_values_outside_the_grammar_never_reach_a_header(
    build: Callable[[], object], field: str
) -> None:
    with pytest.raises(InvalidValue) as refused:
        build()
    assert refused.value.field == field


def test_header_values() -> None:
    assert add_headers("sales", "Local/1@agents/n", "a1", "PJSIP/1") == [
        ("Action", "QueueAdd"), ("Queue", "sales"), ("Interface", "Local/1@agents/n"),
        ("MemberName", "a1"), ("StateInterface", "PJSIP/1"),
    ]  # fmt: skip
    assert pause_headers("sales", "PJSIP/1", True, "lunch")[-2:] == [
        ("Paused", "true"), ("Reason", "lunch")]  # fmt: skip
    assert pause_headers("sales", "PJSIP/1", False)[-1] == ("Paused", "false")
