"""The agent board from recorded queue events; the tracker's bounded waits and reconciliation."""

from __future__ import annotations

import time

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


def test_a_call_found_alive_after_a_restart_that_ends_undecided_is_read_from_the_ledger() -> None:
    # a gateway restart: the new process adopts calls whose answer and agent came before it
    # listened. Found alive (no agent visible yet), they end with cause 16, which says nothing:
    # the ledger line the hang-up wrote decides (issue 15: they ended unknown before)
    results: list[AttemptResult] = []
    now = [0.0]
    asked: list[int] = []
    tracker = CallTracker("pbx1", on_result=results.append, clock=lambda: now[0],
                          on_ask_ledger=lambda: asked.append(1))  # fmt: skip
    talked, lost, busy = "a" * 32, "b" * 32, "c" * 32
    for attempt in (talked, lost, busy):
        tracker.adopt(attempt, restarted=True)
    assert tracker.reconcile([talked, lost, busy]) == []  # all three still have a channel
    for attempt in (talked, lost):
        tracker.handle(ev.Hangup("Local/x;1", attempt, attempt, 16, "Normal Clearing"))
    tracker.handle(ev.Hangup("Local/y;1", busy, busy, 17, "User busy"))  # the cause decides
    assert [(r.attempt_id, r.outcome) for r in results] == [(busy, Outcome.BUSY)]
    assert len(asked) == 2  # the runtime is told; the queries name the two undecided calls
    queries = tracker.take_ledger_queries()
    assert [q.attempt_id for q in queries] == [talked, lost]
    assert tracker.take_ledger_queries() == []
    t = time.time()
    line = f"v1&c:16&a:{t - 30:.0f}&k:ANSWERED&d:&q:&m:Agent 7&e:{t - 1:.0f}"
    assert tracker.recovered(talked, line, last=False)
    assert not tracker.recovered(lost, None, last=False)  # not written yet: still waiting
    assert tracker.recovered(lost, None, last=True)  # never written: unknown
    outcomes = {r.attempt_id: (r.outcome, r.agent) for r in results}
    assert outcomes[talked] == (Outcome.ANSWERED, "Agent 7")
    assert outcomes[lost] == (Outcome.UNKNOWN, None)
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


DIRECT_CONNECT = (
    b"Event: UserEvent\r\nPrivilege: user,all\r\nChannel: Local/302@dialer-test-agents-00000007;1"
    b"\r\nUniqueid: 1733220000.42\r\nLinkedid: " + b"a" * 32 + b"\r\n"
    b"UserEvent: DialerAgentConnect\r\nAttemptId: " + b"a" * 32 + b"\r\nQueue: sales3\r\n"
    b"Interface: Local/302@dialer-test-agents/n\r\n\r\n"
)


def test_a_direct_connect_is_the_agent_connect_of_its_attempt_and_ends_without_wrapup() -> None:
    """DialerAgentConnect (raw bytes, split across two reads) stands for the AgentConnect that
    app_queue does not send for a Dial(): named by the attempt's channel; the member's device
    going free again ends it, with no wrap-up (app_queue applies none after a call it did not
    place), and on_member says so (the feed's ``ended``)."""
    parser = AmiParser(expect_banner=False)
    messages = parser.feed(DIRECT_CONNECT[:50]) + parser.feed(DIRECT_CONNECT[50:])
    (user,) = [e for e in map(ev.parse_event, messages) if e is not None]
    assert isinstance(user, ev.UserEvent)
    assert (user.user_event, user.attempt_id, user.queue, user.interface) == (
        ev.DIRECT_CONNECT, "a" * 32, "sales3", "Local/302@dialer-test-agents/n")  # fmt: skip
    connect = ev.direct_connect(user, "Agent 302")
    assert (connect.name, connect.uniqueid, connect.member_name) == (
        "AgentConnect", "a" * 32, "Agent 302")  # fmt: skip
    board = AgentBoard()
    iface = "Local/302@dialer-test-agents/n"
    board.on_member(member("sales3", iface, wrapup=5), now=0.0)
    assert board.on_member(member("sales3", iface, status=2, wrapup=5), now=1.0) is False
    board.on_agent(connect, now=1.0)
    assert board.snapshot("sales3", 2.0).on_call == 1
    assert board.on_member(member("sales3", iface, status=1, wrapup=5), now=3.0) is True
    assert board.snapshot("sales3", 3.0).free == 1  # no wrap-up after a direct call
    # a queue call of the same member still gets its 5 s wrap-up
    queued = ev.AgentEvent("AgentConnect", "sales3", "b" * 32, "b" * 32, iface, "Agent 302")
    board.on_agent(queued, now=4.0)
    assert board.on_member(member("sales3", iface, status=1, wrapup=5), now=6.0) is False
    assert board.snapshot("sales3", 7.0).count(AgentStatus.WRAPUP) == 1


def test_own_left_attempt_absent_from_server_and_kept_ledger_is_withdrawn() -> None:
    """Left by our own crashed process: no channel and no ledger line means it was never sent."""
    results: list[AttemptResult] = []
    now = [0.0]
    tracker = make_tracker(results, now)
    never, unsure, ours, taken = "e" * 32, "f" * 32, "g" * 32, "h" * 32
    tracker.adopt(never, restarted=True)
    tracker.adopt(unsure, restarted=True)
    tracker.adopt(taken)  # another instance's: its sender may only be frozen
    tracker.track(req(ours), dial_string="PJSIP/+15551234567@c")  # sent by this process
    tracker.sent(ours)
    tracker.link_lost()
    queries = tracker.reconcile([])
    assert sorted(q.attempt_id for q in queries) == [never, unsure, ours, taken]
    assert not tracker.recovered(never, None, last=False, ledger_kept=True)  # read it again
    assert tracker.recovered(never, None, last=True, ledger_kept=True)
    assert tracker.recovered(ours, None, last=True, ledger_kept=True)  # its bytes were written
    assert tracker.recovered(unsure, None, last=True, ledger_kept=False)  # no ledger to trust
    assert tracker.recovered(taken, None, last=True, ledger_kept=True)
    by_id = {r.attempt_id: r for r in results}
    assert by_id[never].sent is False
    assert "never sent" in by_id[never].detail
    assert (by_id[ours].sent, by_id[ours].outcome) == (True, Outcome.UNKNOWN)
    assert (by_id[unsure].sent, by_id[unsure].outcome) == (True, Outcome.UNKNOWN)
    assert (by_id[taken].sent, by_id[taken].outcome) == (True, Outcome.UNKNOWN)
    assert len(tracker) == 0
