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


def _step(
    board: AgentBoard, feed: AgentFeed, event: ev.AgentEvent | ev.QueueMemberEvent, t: float
) -> list[str]:
    """One event through the board then the feed, as the runtime does: ``kind:status`` said."""
    if isinstance(event, ev.QueueMemberEvent):
        board.on_member(event, t)
        changes = feed.on_member(event, board, t)
    else:
        board.on_agent(event, t)
        changes = feed.on_agent(event, REQ if event.uniqueid else None, board, t)
    return [f"{c.kind}:{c.status}" for c in changes]


def test_a_ring_that_is_not_answered_is_reported_once_and_its_end_once() -> None:
    # a ringall queue rings every free member for each caller: AgentCalled, then the member's
    # QueueMemberStatus ringing, then not in use again when another member answered
    board, feed = AgentBoard(), AgentFeed("pbx1")
    assert _step(board, feed, _member(1), 0.0) == ["state:free"]
    ring: tuple[ev.AgentEvent | ev.QueueMemberEvent, ...] = (
        _agent("AgentCalled"),
        _member(6),
        _member(1),
        _agent("AgentCalled"),
        _member(6),
    )
    said = [_step(board, feed, e, t) for t, e in enumerate(ring, 1)]
    assert said == [["ringing:ringing"], [], ["state:free"], ["ringing:ringing"], []]


def test_a_call_that_is_not_ours_does_not_hide_the_members_state_changes() -> None:
    board, feed = AgentBoard(), AgentFeed("pbx1")
    theirs = ev.AgentEvent("AgentConnect", "sales", "", "", IFACE, "Agent 101")
    done = ev.AgentEvent("AgentComplete", "sales", "", "", IFACE, "Agent 101")
    steps: tuple[ev.AgentEvent | ev.QueueMemberEvent, ...] = (
        _member(1),
        theirs,
        _member(2),
        _member(2),
        done,
        _member(1),
    )
    said = [_step(board, feed, e, t) for t, e in enumerate(steps)]
    assert said == [["state:free"], [], ["state:on_call"], [], [], ["state:free"]]


def test_a_member_rung_while_the_board_counts_its_wrapup_is_reported_ringing_once() -> None:
    board, feed = AgentBoard(), AgentFeed("pbx1")
    done = ev.AgentEvent("AgentComplete", "sales", "", "", IFACE, "Agent 101")
    board.on_agent(_agent("AgentConnect"), 0.0)
    board.on_member(_member(2, wrapup=30), 0.0)
    board.on_agent(done, 10.0)  # wrap-up on the board until 40 s
    assert _step(board, feed, _member(1, wrapup=30), 11.0) == ["state:wrapup"]
    assert _step(board, feed, _agent("AgentCalled"), 12.0) == ["ringing:ringing"]
    assert _step(board, feed, _member(6, wrapup=30), 12.1) == []


def _through(
    board: AgentBoard,
    feed: AgentFeed,
    req: OriginateRequest | None,
    steps: tuple[ev.AgentEvent | ev.QueueMemberEvent, ...],
) -> list[str]:
    said = []
    for t, event in enumerate(steps):
        if isinstance(event, ev.QueueMemberEvent):
            board.on_member(event, float(t))
            changes = feed.on_member(event, board, float(t))
        else:
            board.on_agent(event, float(t))
            changes = feed.on_agent(event, req, board, float(t))
        said += [f"{c.kind}:{c.status}:{'call' if c.call else '-'}" for c in changes]
    return said


def test_another_instances_call_is_said_by_that_instance_only() -> None:
    """Two gateway instances on one server see the same events; the caller (an attempt id) is
    the placing instance's: it says ringing/connected/ended with the call, the other nothing
    of it, and both say the same call-less changes (one instance per server writes those)."""
    steps: tuple[ev.AgentEvent | ev.QueueMemberEvent, ...] = (
        _member(1),
        _agent("AgentCalled"),  # a ringall queue rings the member for the other's caller
        _member(6),
        _member(1),  # another member answered
        _agent("AgentCalled"),  # the next caller: this member answers
        _member(6),
        _agent("AgentConnect"),
        _member(2),
        ev.QueueMemberEvent("QueueMemberPause", "sales", IFACE, "Agent 101", 2, True, True, 0),
        _agent("AgentComplete"),
        _member(1),  # free, unpaused
    )
    placing = _through(AgentBoard(), AgentFeed("pbx1"), REQ, steps)
    other = _through(AgentBoard(), AgentFeed("pbx1"), None, steps)
    assert placing == ["state:free:-", "ringing:ringing:call", "state:free:-",
                       "ringing:ringing:call", "connected:on_call:call", "state:paused:call",
                       "ended:paused:call", "state:free:-"]  # fmt: skip
    assert other == ["state:free:-", "state:free:-", "state:free:-"]
    assert [s for s in placing if s.endswith(":-")] == other


def _status_item(status: int, paused: bool = False) -> ev.QueueMemberEvent:
    return ev.QueueMemberEvent("QueueMember", "sales", IFACE, "Agent 101", status, paused,
                               False, 0)  # fmt: skip


def test_a_resync_says_the_changes_made_while_the_link_was_down_once() -> None:
    board, feed = AgentBoard(), AgentFeed("pbx1")
    board.resync("sales", [_status_item(1)], 0.0)
    assert feed.resynced(board, 0.0) == []  # the first one only learns the statuses
    assert feed.on_member(_member(1), board, 0.5) == []  # nothing changed since
    board.resync("sales", [_status_item(1, paused=True)], 1.0)  # paused while the link was down
    (paused,) = feed.resynced(board, 1.0)
    assert (paused.kind, paused.status, paused.agent, paused.call) == (
        ChangeKind.STATE, AgentStatus.PAUSED, "Agent 101", None,
    )  # fmt: skip
    assert feed.resynced(board, 1.5) == []
    board.resync("sales", [], 2.0)  # logged out while the link was down
    (gone,) = feed.resynced(board, 2.0)
    assert (gone.status, gone.agent) == (AgentStatus.UNAVAILABLE, "Agent 101")
    assert feed.resynced(board, 2.5) == []


def test_another_instances_call_whose_end_the_link_missed_ends_at_the_resync() -> None:
    board, feed = AgentBoard(), AgentFeed("pbx1")
    board.resync("sales", [_status_item(1)], 0.0)
    feed.resynced(board, 0.0)
    assert _through(board, feed, None, (_agent("AgentConnect"), _member(2))) == []
    board.resync("sales", [_status_item(1, paused=True)], 5.0)  # ended and paused, unheard
    assert [f"{c.kind}:{c.status}" for c in feed.resynced(board, 5.0)] == ["state:paused"]
    board.on_member(_member(1), 6.0)  # unpaused: this instance says it again
    assert [c.status for c in feed.on_member(_member(1), board, 6.0)] == ["free"]
