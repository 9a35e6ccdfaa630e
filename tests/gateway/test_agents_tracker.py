"""The agent board from recorded queue events; the tracker's bounded waits and reconciliation."""

from __future__ import annotations

from gateway.asterisk.agents import AgentBoard, AgentStatus
from gateway.asterisk.ami import events as ev
from gateway.asterisk.ami.parser import AmiParser
from gateway.asterisk.calls.model import OriginateRequest
from gateway.asterisk.calls.tracker import CallTracker
from pacing.calls import AttemptResult
from pacing.outcomes import Outcome
from tests.gateway.traces import TRACES


def recorded(name: str) -> list[ev.AmiEvent]:
    data = (TRACES / f"{name}.txt").read_bytes()
    return [e for e in map(ev.parse_event, AmiParser().feed(data)) if e is not None]


def member(queue: str, interface: str, status: int = 1, *, paused: bool = False,
           wrapup: int = 0, name: str = "QueueMemberStatus") -> ev.QueueMemberEvent:  # fmt: skip
    return ev.QueueMemberEvent(name, queue, interface, "Agent", status, paused, False, wrapup)


def test_board_from_the_recorded_member_operations() -> None:
    board = AgentBoard()
    pauses = []
    for e in recorded("ami-queue-member-ops"):
        if isinstance(e, ev.QueueMemberEvent) and not e.action_id:
            board.on_member(e, now=0.0)
            if e.name == "QueueMemberPause":
                pauses.append(board.snapshot("sales", 0.0).count(AgentStatus.PAUSED))
    assert pauses == [1, 0]  # paused with a reason, then unpaused
    assert "Local/203@sim-member/n" not in {a.interface for a in board.snapshot("sales", 0).agents}


def test_board_from_a_recorded_answered_queue_call() -> None:
    board = AgentBoard()
    for e in recorded("ami-queue-answered"):
        if isinstance(e, ev.AgentEvent):
            board.on_agent(e, now=10.0)
            if e.name == "AgentConnect":
                snap = board.snapshot("sales", 10.0)
                (agent,) = [a for a in snap.agents if a.status is AgentStatus.ON_CALL]
                assert agent.name == "Agent 202"
                assert agent.since == 10.0
    assert board.snapshot("sales", 11.0).on_call == 0


def test_wrapup_then_free_and_resync_replaces_members() -> None:
    board = AgentBoard()
    board.on_member(member("sales", "PJSIP/agent-101", wrapup=10), now=0.0)
    connect = ev.AgentEvent("AgentConnect", "sales", "u1", "u1", "PJSIP/agent-101", "Agent 101")
    board.on_agent(connect, now=1.0)
    assert board.snapshot("sales", 2.0).on_call == 1
    complete = ev.AgentEvent("AgentComplete", "sales", "u1", "u1", "PJSIP/agent-101", "Agent 101")
    board.on_agent(complete, now=5.0)
    assert board.snapshot("sales", 6.0).count(AgentStatus.WRAPUP) == 1
    assert board.snapshot("sales", 15.0).free == 1
    board.on_member(member("sales", "PJSIP/agent-101", 6), now=16.0)
    assert board.snapshot("sales", 16.0).count(AgentStatus.RINGING) == 1
    board.resync("sales", [member("sales", "PJSIP/agent-102", 5, name="QueueMember")], 20.0)
    snap = board.snapshot("sales", 20.0)
    assert [(a.interface, a.status) for a in snap.agents] == [
        ("PJSIP/agent-102", AgentStatus.UNAVAILABLE)
    ]


def make_tracker(results: list[AttemptResult], now: list[float]) -> CallTracker:
    return CallTracker("pbx1", on_result=results.append, clock=lambda: now[0],
                       reconcile_wait_s=30.0)  # fmt: skip


def req(attempt: str) -> OriginateRequest:
    return OriginateRequest(attempt, 1, 2, "+15551234567", "+15550100", "D", "sales", 20.0)


def test_a_call_with_no_events_ends_unknown_after_the_bounded_wait() -> None:
    results: list[AttemptResult] = []
    now = [100.0]
    tracker = make_tracker(results, now)
    tracker.track(req("a" * 32), dial_string="PJSIP/+15551234567@c")
    tracker.sent("a" * 32)
    now[0] += 20.0 + 119.0
    assert tracker.sweep() == 0
    now[0] += 2.0
    assert tracker.sweep() == 1
    (r,) = results
    assert r.outcome is Outcome.UNKNOWN
    assert r.detail


def test_link_loss_then_reconcile_resumes_live_calls_and_ends_the_rest() -> None:
    results: list[AttemptResult] = []
    now = [0.0]
    tracker = make_tracker(results, now)
    for a in ("a" * 32, "b" * 32, "c" * 32):
        tracker.track(req(a), dial_string="PJSIP/+15551234567@c")
        tracker.sent(a)
    tracker.handle(ev.ChannelEvent("Newchannel", "PJSIP/c-1", "a" * 32, "a" * 32, 0))
    tracker.handle(ev.ChannelEvent("Newchannel", "PJSIP/c-2", "b" * 32, "b" * 32, 0))
    tracker.handle(
        ev.AgentEvent("AgentConnect", "sales", "b" * 32, "b" * 32, "PJSIP/agent-1", "A1")
    )
    assert sorted(tracker.link_lost()) == ["a" * 32, "b" * 32, "c" * 32]
    queries = tracker.reconcile(["a" * 32, "zzz"])  # only a is still up
    assert [q.attempt_id for q in queries] == ["c" * 32]  # its end was missed: read the ledger
    assert queries[0].families[0].startswith("dialer-outcome/")
    assert not tracker.recovered("c" * 32, None, last=False)  # not written yet: still waiting
    assert tracker.recovered("c" * 32, None, last=True)  # no line at all: unknown
    outcomes = {r.attempt_id: r.outcome for r in results}
    assert outcomes == {"b" * 32: Outcome.ANSWERED, "c" * 32: Outcome.UNKNOWN}
    # a resumes; its OriginateResponse went to the old session, the hang-up settles it
    tracker.handle(ev.Hangup("PJSIP/c-1", "a" * 32, "a" * 32, 17, "User busy"))
    assert results[-1].outcome is Outcome.BUSY
    assert results[-1].cause == 17
    assert len(tracker) == 0


def test_rtcp_reports_become_call_quality() -> None:
    results: list[AttemptResult] = []
    now = [0.0]
    tracker = make_tracker(results, now)
    a = "d" * 32
    tracker.track(req(a), dial_string="PJSIP/+15551234567@c")
    tracker.handle(ev.OriginateResponse(a, True, 4, "PJSIP/c-1", a))
    for jitter, lost in ((80, 0), (240, 13)):
        tracker.handle(ev.Rtcp("RTCPReceived", "PJSIP/c-1", a, a, 0.05, lost / 256, lost, jitter))
    tracker.handle(ev.Hangup("PJSIP/c-1", a, a, 16, "Normal Clearing"))
    (r,) = results
    assert r.quality is not None
    assert (r.quality.jitter_ms, r.quality.rtt_ms, r.quality.reports) == (30.0, 50.0, 2)
    assert r.quality.fraction_lost == 13 / 256


def test_a_held_member_is_paused_until_asterisk_says_otherwise() -> None:
    board = AgentBoard()
    board.on_member(member("sales", "PJSIP/agent-101"), now=0.0)
    assert board.snapshot("sales", 1.0).free == 1
    assert board.hold("sales", "PJSIP/agent-101", "wrapup")
    (held,) = board.snapshot("sales", 1.0).agents
    assert (held.status, held.paused_reason) == (AgentStatus.PAUSED, "wrapup")
    assert not board.hold("sales", "PJSIP/agent-999", "wrapup")  # not a member: nothing held
    # the QueueMemberPause the pause brings confirms it; an unpause frees the agent
    board.on_member(member("sales", "PJSIP/agent-101", paused=True, name="QueueMemberPause"), 2.0)
    assert board.snapshot("sales", 2.0).count(AgentStatus.PAUSED) == 1
    board.on_member(member("sales", "PJSIP/agent-101", name="QueueMemberPause"), 3.0)
    assert board.snapshot("sales", 3.0).free == 1
