"""Queue-level rules: GetConfig parsing, Asterisk's wrap-up rule, and the board that uses them.

Real Asterisk 22 reports ``Wrapuptime: 0`` for a member whose wrap-up is set on the queue; the
simulator now does the same and answers ``GetConfig`` like Asterisk, so these tests fail if the
gateway reads wrap-up from the member events alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from asterisk_sim import AgentConfig, Dist, QueueConfig, SimAsterisk
from gateway.asterisk.agents import AgentBoard, AgentStatus
from gateway.asterisk.ami import events as ev
from gateway.asterisk.ami.parser import AmiParser
from gateway.asterisk.queueconf import QueueConfigView, QueueRules, parse_getconfig, wrapup_for
from tests.gateway.conftest import DialerFactory, Recorder, request, wait_healthy
from tests.gateway.test_sim import server, world
from tests.sim.amiclient import AmiTestClient, is_event

# As Asterisk 22's action_getconfig writes it for the project's queues.conf shape: a template
# category (IsTemplate), a queue using it (Templates, inherited lines listed), and [general].
GETCONFIG = (
    b"Response: Success\r\nActionID: gw-7\r\n"
    b"Category-000000: general\r\nLine-000000-000000: persistentmembers=no\r\n"
    b"Line-000000-000001: shared_lastcall=yes\r\n"
    b"Category-000001: dialer-queue\r\nIsTemplate-000001: 1\r\n"
    b"Line-000001-000000: strategy=rrmemory\r\nLine-000001-000001: wrapuptime=10\r\n"
    b"Line-000001-000002: ringinuse=no\r\n"
    b"Category-000002: sales\r\nTemplates-000002: dialer-queue\r\n"
    b"Line-000002-000000: strategy=rrmemory\r\nLine-000002-000001: wrapuptime=10\r\n"
    b"Line-000002-000002: ringinuse=no\r\n"
    b"Line-000002-000003: member=PJSIP/agent-101,0,Agent 101\r\n"
    b"Category-000003: support\r\nTemplates-000003: dialer-queue\r\n"
    b"Line-000003-000000: wrapuptime=3\r\n"
    b"Category-000004: inbound\r\n\r\n"
)


def _response(data: bytes) -> ev.Response:
    (message,) = AmiParser().feed(b"Asterisk Call Manager/11.0.0\r\n" + data)
    parsed = ev.parse_event(message)
    assert isinstance(parsed, ev.Response)
    return parsed


def test_getconfig_of_queues_conf_as_asterisk_writes_it() -> None:
    view = parse_getconfig(_response(GETCONFIG).fields)
    assert view.shared_lastcall is True
    assert dict(view.queues) == {
        "sales": QueueRules(wrapup_s=10, ringinuse=False),
        "support": QueueRules(wrapup_s=3, ringinuse=False),  # its own line wins over the template
        "inbound": QueueRules(wrapup_s=0, ringinuse=True),  # Asterisk's defaults
    }
    assert view.rules("unknown") == QueueRules()


def test_a_queue_listing_only_its_own_lines_inherits_from_its_template() -> None:
    data = GETCONFIG.replace(
        b"Line-000002-000001: wrapuptime=10\r\nLine-000002-000002: ringinuse=no\r\n", b""
    )
    assert parse_getconfig(_response(data).fields).rules("sales") == QueueRules(10, False)


@pytest.mark.parametrize(
    ("member", "queue", "applied"), [(0, 10, 10), (3, 10, 3), (15, 10, 15), (0, 0, 0), (4, 0, 4)]
)
def test_asterisks_wrapup_rule_member_own_else_queue(member: int, queue: int, applied: int) -> None:
    assert wrapup_for(member, QueueRules(wrapup_s=queue)) == applied


def _member(queue: str, iface: str, *, calls: int = 0, status: int = 1,
            wrapup: int = 0, in_call: bool = False) -> ev.QueueMemberEvent:  # fmt: skip
    return ev.QueueMemberEvent("QueueMemberStatus", queue, iface, "Agent", status, False,
                               in_call, wrapup, calls_taken=calls)  # fmt: skip


def _agent(name: str, queue: str, iface: str) -> ev.AgentEvent:
    return ev.AgentEvent(name, queue, "u1", "u1", iface, "Agent")


def test_queue_level_wrapup_after_agent_complete() -> None:
    board = AgentBoard()
    board.configure(QueueConfigView({"sales": QueueRules(10)}))
    board.resync("sales", [_member("sales", "PJSIP/a")], 0.0)  # Wrapuptime: 0, as Asterisk says
    board.on_agent(_agent("AgentConnect", "sales", "PJSIP/a"), 1.0)
    board.on_agent(_agent("AgentComplete", "sales", "PJSIP/a"), 5.0)
    (view,) = board.snapshot("sales", 6.0).agents
    assert (view.status, view.wrapup_until, view.wrapup_s) == (AgentStatus.WRAPUP, 15.0, 10)
    assert board.snapshot("sales", 14.9).count(AgentStatus.WRAPUP) == 1
    assert board.snapshot("sales", 15.0).free == 1


def test_a_call_seen_only_through_calls_taken_starts_the_wrapup() -> None:
    board = AgentBoard()
    board.configure(QueueConfigView({"sales": QueueRules(10)}))
    board.resync("sales", [_member("sales", "PJSIP/a", calls=4)], 0.0)
    board.on_member(_member("sales", "PJSIP/a", calls=5), 20.0)  # AgentComplete was missed
    assert board.snapshot("sales", 21.0).count(AgentStatus.WRAPUP) == 1
    board.resync("sales", [_member("sales", "PJSIP/a", calls=6)], 40.0)  # and in a resync
    assert board.snapshot("sales", 49.0).agents[0].wrapup_until == 50.0


def test_shared_lastcall_holds_the_wrapup_in_every_queue_of_the_member() -> None:
    for shared, support_wrap in ((True, AgentStatus.WRAPUP), (False, AgentStatus.FREE)):
        board = AgentBoard()
        rules = {"sales": QueueRules(10), "support": QueueRules(5)}
        board.configure(QueueConfigView(rules, shared_lastcall=shared))
        board.resync("sales", [_member("sales", "PJSIP/a")], 0.0)
        board.resync("support", [_member("support", "PJSIP/a")], 0.0)
        board.on_agent(_agent("AgentConnect", "sales", "PJSIP/a"), 1.0)
        board.on_agent(_agent("AgentComplete", "sales", "PJSIP/a"), 2.0)
        assert board.snapshot("support", 3.0).agents[0].status is support_wrap
        assert board.snapshot("support", 7.0).free == 1  # the support queue's 5 s


@pytest.fixture
async def sim_wrapup() -> AsyncIterator[SimAsterisk]:
    queue = QueueConfig(
        "sales",
        agents=(AgentConfig("101"), AgentConfig("102", wrapup=2.0), AgentConfig("103")),
        ring_time=Dist.fixed(0.3),
        talk_time=Dist.fixed(20.0),
        wrapup=10.0,
    )
    # GetConfig needs a write class (system or config): Asterisk checks an action's privilege
    # against the user's ``write``; the project's AMI user has neither (see the next test)
    write = ("originate", "call", "agent", "reporting", "config")
    async with SimAsterisk(world(queues=(queue,), ami_write=write)) as sim:
        yield sim


async def test_getconfig_is_refused_without_a_write_class_as_asterisk_refuses_it() -> None:
    # Asterisk 22.10.1 with asterisk_conf/manager.conf (read includes config, write does not):
    # "Response: Error / Message: Permission denied" (tests/asterisk_real found it).
    async with SimAsterisk(world()) as sim:
        ami = await AmiTestClient.connect(sim.ami_port)
        try:
            await ami.login()
            ami.send("GetConfig", ActionID="gc", Filename="queues.conf")
            answer = await ami.response("gc")
            assert (answer.get("Response"), answer.get("Message")) == (
                "Error",
                "Permission denied",
            )
        finally:
            await ami.close()


async def test_the_simulator_reports_member_wrapup_0_and_answers_getconfig(
    sim_wrapup: SimAsterisk,
) -> None:
    ami = await AmiTestClient.connect(sim_wrapup.ami_port)
    try:
        await ami.login()
        ami.send("QueueStatus", ActionID="qs", Queue="sales")
        await ami.wait_for(is_event("QueueStatusComplete", ActionID="qs"))
        items = [m for m in ami.events("QueueMember") if m.get("ActionID") == "qs"]
        wrap = {m.get("Name"): m.get("Wrapuptime") for m in items}
        assert wrap == {"Agent 101": "0", "Agent 102": "2", "Agent 103": "0"}
        ami.send("GetConfig", ActionID="gc", Filename="queues.conf")
        answer = await ami.response("gc")
        assert answer.get("Response") == "Success"
        lines = {v for k, v in answer.headers if k.startswith("Line-")}
        assert "wrapuptime=10" in lines
        assert "member=PJSIP/agent-102,0,Agent 102,,no,2" in lines
        ami.send("GetConfig", ActionID="gc2", Filename="nosuch.conf")
        missing = await ami.response("gc2")
        assert (missing.get("Response"), missing.get("Message")) == (
            "Error",
            "Config file not found",
        )
    finally:
        await ami.close()


async def test_agents_are_known_at_link_up_and_wrapup_follows_the_queue(
    sim_wrapup: SimAsterisk, make_dialer: DialerFactory, recorder: Recorder
) -> None:
    dialer = await make_dialer([server(sim_wrapup)])
    await wait_healthy(dialer, recorder)
    # nothing dialled and no queue watched: the link-up resync alone knows every member
    await recorder.until(lambda: dialer.agents("sales").logged_in == 3, within=5)
    assert dialer.agents("sales").free == 3
    assert dialer.runtime("pbx1").agents.config.rules("sales") == QueueRules(10, False)
    req = request("+15551000001")
    dialer.originate(req)
    await recorder.until(lambda: dialer.agents("sales").count(AgentStatus.WRAPUP) == 1, within=20)
    (wrapping,) = [a for a in dialer.agents("sales").agents if a.status is AgentStatus.WRAPUP]
    assert wrapping.wrapup_s in (10, 2)  # the queue's 10 s, or agent 102's own 2 s
    assert wrapping.wrapup_s == (2 if wrapping.name == "Agent 102" else 10)
