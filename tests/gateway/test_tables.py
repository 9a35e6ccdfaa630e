"""Pure tables: the call-leg and link state machines, backoff, server choice, rate budget."""

from __future__ import annotations

import pytest

from gateway.asterisk.ami.linkstate import LINK_TRANSITIONS, LinkInput, LinkState, backoff_delay
from gateway.asterisk.ami.linkstate import apply as link_apply
from gateway.asterisk.calls.outcome import Evidence, decide, from_cause
from gateway.asterisk.calls.runtime import BootWatch
from gateway.asterisk.calls.state import TRANSITIONS, CallInput, CallState, apply
from gateway.asterisk.errors import IllegalTransition
from gateway.asterisk.pool import ServerView, TokenBucket, choose
from pacing.outcomes import Outcome

S, In = CallState, CallInput


@pytest.mark.parametrize(
    ("state", "event", "expected"),
    [
        (S.QUEUED, In.SENT, S.DIALING),
        (S.DIALING, In.RING, S.RINGING),
        (S.RINGING, In.ANSWER, S.ANSWERED),
        (S.ANSWERED, In.JOIN_QUEUE, S.IN_QUEUE),
        (S.IN_QUEUE, In.CONNECT, S.CONNECTED),
        (S.IN_QUEUE, In.ABANDON, S.SETTLED),
        (S.ANSWERED, In.MACHINE, S.SETTLED),
        (S.RINGING, In.REJECT, S.SETTLED),
        (S.CONNECTED, In.RING, S.CONNECTED),  # late DialState after answer: harmless
        (S.CONNECTED, In.HANGUP, S.ENDED),
        (S.DIALING, In.GIVE_UP, S.ENDED),
    ],
)
def test_call_transitions(state: CallState, event: CallInput, expected: CallState) -> None:
    assert apply("c1", state, event) is expected


@pytest.mark.parametrize(
    ("state", "event"),
    [(S.ENDED, In.HANGUP), (S.QUEUED, In.CONNECT), (S.CONNECTED, In.MACHINE), (S.ENDED, In.RING)],
)
def test_illegal_call_transitions_raise(state: CallState, event: CallInput) -> None:
    with pytest.raises(IllegalTransition) as err:
        apply("c1", state, event)
    assert err.value.state == state


def test_transition_is_logged_from_one_place(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="gateway.asterisk.calls")
    apply("abc", S.RINGING, In.ANSWER)
    assert "call=abc ringing -[answer]-> answered" in caplog.text


def test_ended_is_terminal() -> None:
    assert not [k for k in TRANSITIONS if k[0] is S.ENDED]


@pytest.mark.parametrize(
    ("state", "event", "expected"),
    [
        (LinkState.DISCONNECTED, LinkInput.START, LinkState.CONNECTING),
        (LinkState.CONNECTING, LinkInput.CONNECTED, LinkState.AUTHENTICATING),
        (LinkState.AUTHENTICATING, LinkInput.AUTHENTICATED, LinkState.READY),
        (LinkState.AUTHENTICATING, LinkInput.FAILED, LinkState.BACKOFF),
        (LinkState.READY, LinkInput.FAILED, LinkState.BACKOFF),
        (LinkState.BACKOFF, LinkInput.RETRY, LinkState.CONNECTING),
        (LinkState.READY, LinkInput.STOP, LinkState.CLOSED),
    ],
)
def test_link_transitions(state: LinkState, event: LinkInput, expected: LinkState) -> None:
    assert link_apply("pbx1/ami", state, event) is expected


def test_link_illegal_and_closed_is_terminal() -> None:
    with pytest.raises(IllegalTransition):
        link_apply("pbx1/ami", LinkState.CONNECTING, LinkInput.AUTHENTICATED)
    assert not [k for k in LINK_TRANSITIONS if k[0] is LinkState.CLOSED]


@pytest.mark.parametrize(
    ("attempt", "rand", "expected"),
    [(0, 0.0, 0.25), (0, 1.0, 0.5), (1, 1.0, 1.0), (3, 1.0, 4.0), (10, 1.0, 10.0), (50, 0.0, 5.0)],
)
def test_backoff_is_exponential_jittered_and_capped(
    attempt: int, rand: float, expected: float
) -> None:
    assert backoff_delay(attempt, base=0.5, cap=10.0, rand=lambda: rand) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("evidence", "outcome"),
    [
        (Evidence(connected=True, abandoned=True), Outcome.ANSWERED),
        (Evidence(live_answer=True, machine=True), Outcome.MACHINE),
        (Evidence(live_answer=True, abandoned=True), Outcome.ABANDONED),
        (Evidence(live_answer=True), Outcome.ABANDONED),
        (Evidence(reason=4), Outcome.ABANDONED),
        (Evidence(cancelled=True, reason=3), Outcome.CANCELLED),
        (Evidence(reason=5, callee_cause=17), Outcome.BUSY),
        (Evidence(reason=3, callee_cause=19), Outcome.NO_ANSWER),
        (Evidence(reason=8), Outcome.CONGESTION),
        (Evidence(reason=0, callee_cause=34, leg_cause=34), Outcome.CONGESTION),
        (Evidence(reason=0, callee_cause=17), Outcome.BUSY),
        (Evidence(reason=0), Outcome.FAILED),
        (Evidence(reason=1), Outcome.NO_ANSWER),
        (Evidence(dial_status="BUSY"), Outcome.BUSY),
        (Evidence(dial_status="CHANUNAVAIL"), Outcome.FAILED),
        (Evidence(disposition="NO ANSWER"), Outcome.NO_ANSWER),
        (Evidence(rejected=True), Outcome.FAILED),
        (Evidence(), Outcome.UNKNOWN),
    ],
)
def test_outcome_decision(evidence: Evidence, outcome: Outcome) -> None:
    assert decide(evidence) is outcome


def test_q850_causes() -> None:
    assert [from_cause(c) for c in (0, 16, 17, 19, 34, 1, 21)] == [
        None, None, Outcome.BUSY, Outcome.NO_ANSWER, Outcome.CONGESTION, Outcome.FAILED,
        Outcome.FAILED,
    ]  # fmt: skip


def view(name: str, *, healthy: bool = True, channels: int = 10, used: int = 0,
         backlog: int = 0, rate: float = 10.0) -> ServerView:  # fmt: skip
    return ServerView(name, healthy, channels, used, backlog, rate)


@pytest.mark.parametrize(
    ("servers", "expected"),
    [
        ([view("a", used=5), view("b", used=2)], "b"),  # most free channels
        ([view("a"), view("b")], "a"),  # ties by name
        ([view("a", healthy=False), view("b", used=9)], "b"),  # a down server gets none
        ([view("a", used=10), view("b", healthy=False)], None),  # full / down
        ([view("a", backlog=10, rate=10.0), view("b", used=8)], "b"),  # a second of backlog
        ([], None),
    ],
)
def test_choose_server(servers: list[ServerView], expected: str | None) -> None:
    assert choose(servers) == expected


@pytest.mark.parametrize(
    ("server", "room"),
    [
        (view("a"), 10),  # ten free channels, ten a second of send budget
        (view("a", used=7), 3),
        (view("a", used=10), 0),  # full
        (view("a", used=4, backlog=4, rate=5.0), 1),  # a second of backlog is 5
        (view("a", backlog=10, rate=10.0), 0),
        (view("a", rate=0.5), 1),  # at least one call may wait
        (view("a", healthy=False), 0),  # a down server takes nothing
    ],
)
def test_room_is_what_choose_still_accepts(server: ServerView, room: int) -> None:
    assert server.room == room
    servers = [server]
    for _ in range(room):  # exactly ``room`` more calls are given to it, then none
        assert choose(servers) == "a"
        s = servers[0]
        servers = [ServerView("a", s.healthy, s.channels, s.used + 1, s.backlog + 1, s.rate)]
    assert choose(servers) is None


def test_token_bucket_refills_from_the_clock_passed_in() -> None:
    bucket = TokenBucket(10.0, now=0.0)  # burst of 1
    assert bucket.take(0.0)
    assert not bucket.take(0.0)
    assert bucket.wait_s(0.05) == pytest.approx(0.05)
    assert bucket.take(0.1)
    big = TokenBucket(1000.0, now=0.0)
    assert sum(big.take(0.0) for _ in range(200)) == 100  # a tenth of a second's worth


@pytest.mark.parametrize(
    ("sessions", "restarted"),
    [
        ([("2026-12-02 20:00:01", False)], [False]),  # the first session knows nothing before
        ([("2026-12-02 20:00:01", False), ("2026-12-02 20:00:01", False)], [False, False]),
        ([("2026-12-02 20:00:01", False), ("2026-12-02 20:05:09", False)], [False, True]),
        # a login before FullyBooted met a new process, even one started in the same second
        ([("2026-12-02 20:00:01", False), ("2026-12-02 20:00:01", True)], [False, True]),
    ],
)
def test_boot_watch_tells_a_restart(
    sessions: list[tuple[str, bool]], restarted: list[bool]
) -> None:
    watch = BootWatch()
    assert [watch.seen(stamp, booting_at_login=b) for stamp, b in sessions] == restarted
