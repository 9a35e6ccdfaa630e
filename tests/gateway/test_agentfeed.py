"""The agent feed: which call reached which agent (ringing, connected, ended, wrap-up, state)."""

from __future__ import annotations

from gateway.asterisk.agentfeed import AgentFeed, CallRef, ChangeKind
from gateway.asterisk.agents import AgentBoard, AgentStatus
from gateway.asterisk.ami import events as ev
from gateway.asterisk.calls.model import OriginateRequest
from gateway.asterisk.queueconf import QueueConfigView

IFACE = "PJSIP/agent-101"
REQ = OriginateRequest("a" * 32, 7, 42, "+15551234567", "+15557654321", "X", "sales", 20.0)


def _agent(name: str) -> ev.AgentEvent:
    return ev.AgentEvent(name, "sales", "a" * 32, "a" * 32, IFACE, "Agent 101")


def _member(status: int, wrapup: int = 0) -> ev.QueueMemberEvent:
    return ev.QueueMemberEvent("QueueMemberStatus", "sales", IFACE, "Agent 101", status, False,
                               False, wrapup)  # fmt: skip


def test_a_call_rings_connects_ends_and_wraps_up_naming_its_attempt() -> None:
    board, feed = AgentBoard(), AgentFeed("pbx1")
    board.on_member(_member(1, wrapup=10), 0.0)
    assert [c.status for c in feed.on_member(_member(1, wrapup=10), board, 0.0)] == ["free"]
    kinds = []
    for t, name in enumerate(("AgentCalled", "AgentConnect")):
        board.on_agent(_agent(name), float(t))
        kinds += feed.on_agent(_agent(name), REQ, board, float(t))
    board.on_agent(_agent("AgentComplete"), 5.0)
    ended = feed.on_agent(_agent("AgentComplete"), None, board, 5.0)  # caller channel forgotten
    changes = kinds + ended
    assert [c.kind for c in changes] == [ChangeKind.RINGING, ChangeKind.CONNECTED,
                                         ChangeKind.ENDED, ChangeKind.WRAPUP]  # fmt: skip
    assert {c.call for c in changes} == {CallRef("a" * 32, 7, 42)}
    assert changes[1].status is AgentStatus.ON_CALL
    assert changes[1].agent == "Agent 101"
    assert changes[3].wrapup_s == 10


def test_events_of_calls_that_are_not_ours_are_not_reported() -> None:
    board, feed = AgentBoard(), AgentFeed("pbx1")
    board.configure(QueueConfigView())
    board.on_agent(_agent("AgentConnect"), 0.0)
    assert feed.on_agent(_agent("AgentConnect"), None, board, 0.0) == []


def test_a_state_change_is_reported_once() -> None:
    board, feed = AgentBoard(), AgentFeed("pbx1")
    board.on_member(_member(1), 0.0)
    assert len(feed.on_member(_member(1), board, 0.0)) == 1
    assert feed.on_member(_member(1), board, 0.1) == []
    board.on_member(_member(5), 0.2)
    assert [c.status for c in feed.on_member(_member(5), board, 0.2)] == ["unavailable"]
