"""Table tests for the guards and the diagnostics model."""

from __future__ import annotations

import datetime as dt

import pytest

from pacing.callerid import Blocked, Unavailable
from pacing.diagnostics import Blocker, DiagnosticsInput, diagnose
from pacing.guards import (
    GuardInputs,
    ReasonCategory,
    evaluate,
    free_throughout,
    link_hold,
    wilson_lower,
)
from pacing.learning import Abandons
from pacing.schedule import ClosedReason, WindowState
from pacing.snapshot import (
    Agent,
    AgentState,
    Decision,
    DecisionReason,
    RollingStats,
    WindowCounts,
)

FINE = RollingStats(
    WindowCounts(500, 150, 120, 2),
    WindowCounts(5000, 1500, 1200, 24),
    WindowCounts(50000, 15000, 12000, 240),
)


def stats(hour: WindowCounts = FINE.hour, day: WindowCounts = FINE.day) -> RollingStats:
    return RollingStats(hour, day, FINE.month)


@pytest.mark.parametrize(
    ("inputs", "guard", "category"),
    [
        (GuardInputs(FINE), None, None),
        # The policy owns the budget: 2.9 % over the day or a 6 % hour is not the guard's business.
        (GuardInputs(stats(day=WindowCounts(5000, 1500, 1200, 35))), None, None),
        (GuardInputs(stats(hour=WindowCounts(500, 150, 120, 8))), None, None),
        # Over the legal limit all the same: the backstop (tighter while watching after a resume).
        (
            GuardInputs(stats(day=WindowCounts(5000, 1500, 1200, 37))),
            "abandon_limit",
            ReasonCategory.COMPLIANCE,
        ),
        (GuardInputs(stats(day=WindowCounts(5000, 1500, 1200, 33))), None, None),
        (
            GuardInputs(stats(day=WindowCounts(5000, 1500, 1200, 33)), watching=True),
            "abandon_limit",
            ReasonCategory.COMPLIANCE,
        ),
        # Power pacing does not slow itself: the backstop acts once the breach is beyond doubt
        # (5 abandons at least, the 95 % Wilson lower bound over the target), well before 200.
        (
            GuardInputs(stats(day=WindowCounts(200, 60, 40, 20)), policy_owns_budget=False),
            "abandon_limit",
            ReasonCategory.COMPLIANCE,
        ),
        (GuardInputs(stats(day=WindowCounts(200, 60, 40, 20))), None, None),
        (
            GuardInputs(stats(day=WindowCounts(200, 60, 40, 4)), policy_owns_budget=False),
            None,
            None,
        ),
        (
            GuardInputs(stats(day=WindowCounts(500, 150, 100, 6)), policy_owns_budget=False),
            None,
            None,
        ),
        (
            GuardInputs(stats(day=WindowCounts(500, 150, 100, 8)), policy_owns_budget=False),
            "abandon_limit",
            ReasonCategory.COMPLIANCE,
        ),
        # Abandons pacing cannot prevent.
        (
            GuardInputs(FINE, abandons=Abandons(total=6, progressive=5)),
            "progressive_abandons",
            ReasonCategory.COMPLIANCE,
        ),
        (GuardInputs(FINE, abandons=Abandons(total=6, progressive=4)), None, None),
        (
            GuardInputs(FINE, abandons=Abandons(total=6, progressive=3), watching=True),
            "progressive_abandons",
            ReasonCategory.COMPLIANCE,
        ),
        (
            GuardInputs(FINE, abandons=Abandons(total=4, agent_free=3)),
            "agents_not_answering",
            ReasonCategory.CUSTOMER_EXPERIENCE,
        ),
        (GuardInputs(FINE, abandons=Abandons(total=4, agent_free=2)), None, None),
        # Answer-to-agent: the 90th percentile against twice the 2 s limit, 20 samples at least.
        (
            GuardInputs(FINE, waits=(1.0,) * 15 + (5.0,) * 5),
            "answer_to_agent",
            ReasonCategory.COMPLIANCE,
        ),
        (GuardInputs(FINE, waits=(1.0,) * 18 + (5.0,) * 2), None, None),
        (GuardInputs(FINE, waits=(9.0,) * 19), None, None),
        (
            GuardInputs(stats(hour=WindowCounts(500, 20, 15, 0))),
            "answer_rate",
            ReasonCategory.CUSTOMER_EXPERIENCE,
        ),
        (GuardInputs(FINE, mos=3.0, mos_samples=20), "mos", ReasonCategory.CALL_QUALITY),
        (GuardInputs(FINE, mos=3.5, mos_samples=20), None, None),
        (
            GuardInputs(FINE, mos=3.5, mos_samples=20, watching=True),
            "mos",
            ReasonCategory.CALL_QUALITY,
        ),
        (GuardInputs(FINE, write_failures=3), "attempt_log", ReasonCategory.LOGGING),
        (GuardInputs(FINE, write_failures=1, watching=True), "attempt_log", ReasonCategory.LOGGING),
        # every link down: a hold, not a pause, until the outage outlasts the limit
        (GuardInputs(FINE, links_up=0, links_total=2), None, None),
        (GuardInputs(FINE, links_up=0, links_total=2, links_down_s=59.9), None, None),
        (
            GuardInputs(FINE, links_up=0, links_total=2, links_down_s=60.0),
            "asterisk_links",
            ReasonCategory.PROCESS_FAILURE,
        ),
        (
            GuardInputs(FINE, links_up=0, links_total=1, links_down_s=2.5, link_outage_limit_s=2),
            "asterisk_links",
            ReasonCategory.PROCESS_FAILURE,
        ),
        (GuardInputs(FINE, links_up=1, links_total=2, links_down_s=600.0), None, None),
        (GuardInputs(FINE, links_up=0, links_total=0, links_down_s=600.0), None, None),
    ],
)
def test_guards(inputs: GuardInputs, guard: str | None, category: ReasonCategory | None) -> None:
    trip = evaluate(inputs)
    assert (trip.guard if trip else None) == guard
    assert (trip.category if trip else None) == category
    if trip is not None:
        assert trip.text
        if trip.guard == "answer_to_agent":
            assert "5.0 s" in trip.text  # the measured cause, not only the rule
        if trip.guard == "progressive_abandons":
            assert trip.text.startswith(f"{inputs.abandons.progressive} of")


@pytest.mark.parametrize(
    ("successes", "trials", "low"),
    [(0, 10, 0.0), (20, 40, 0.3520), (6, 100, 0.0278), (8, 100, 0.0410), (50, 50, 0.9287)],
)
def test_wilson_lower_bound(successes: int, trials: int, low: float) -> None:
    assert wilson_lower(successes, trials) == pytest.approx(low, abs=5e-4)


@pytest.mark.parametrize(
    ("up", "total", "down_s", "held"),
    [
        (1, 1, 0.0, False),
        (0, 1, 0.0, True),
        (0, 1, 0.4, True),
        (0, 2, 59.9, True),
        (0, 2, 60.0, False),  # beyond the limit the guard pauses instead
        (1, 2, 10.0, False),  # the other server still dials
        (0, 0, 0.0, False),
    ],
)
def test_link_hold(up: int, total: int, down_s: float, held: bool) -> None:
    inputs = GuardInputs(FINE, links_up=up, links_total=total, links_down_s=down_s)
    hold = link_hold(inputs)
    assert (hold is not None) == held
    if hold is not None:
        assert "holding new calls" in hold


def test_the_outage_pause_says_what_to_check() -> None:
    trip = evaluate(GuardInputs(FINE, links_up=0, links_total=1, links_down_s=61.0))
    assert trip is not None
    assert "unreachable for 61 s (limit 60 s)" in trip.text
    for what in ("Asterisk is running", "AMI port", "credentials", "network"):
        assert what in trip.text


OPEN = WindowState(True)
CLOSED = WindowState(
    False,
    ClosedReason.OUTSIDE_HOURS,
    dt.datetime(2026, 1, 7, 14, 0, tzinfo=dt.UTC),
    "outside calling hours",
)


def test_diagnose_everything_fine() -> None:
    d = diagnose(
        DiagnosticsInput(OPEN, 3, agents_logged_in=5, agents_free=1, eligibility={"dialable": 100})
    )
    assert d.findings == ()
    assert d.text.startswith("placing calls")


def test_diagnose_lists_every_blocker_most_blocking_first() -> None:
    from pacing.guards import Trip

    blocked = (Blocked("+12125550100", Unavailable.DAILY_CAP, "100 calls today"),)
    d = diagnose(
        DiagnosticsInput(
            CLOSED,
            0,
            blocked,
            agents_logged_in=2,
            agents_paused=2,
            eligibility={"dialable": 0, "waiting_retry": 120, "outside_callee_window": 40},
            guard=Trip(ReasonCategory.COMPLIANCE, "abandon_rate", "3.1 % over 24 h"),
            servers_up=0,
            servers_total=2,
        )
    )
    assert [f.blocker for f in d.findings] == [
        Blocker.OUTSIDE_SCHEDULE,
        Blocker.GUARD_TRIPPED,
        Blocker.SERVERS_UNREACHABLE,
        Blocker.NO_CALLER_ID,
        Blocker.NO_AGENTS,
        Blocker.NO_ELIGIBLE_RECORDS,
    ]
    assert "2026-01-07T14:00:00+00:00" in d.text
    assert d.text.endswith("(+5 more)")
    records = d.findings[5]
    assert records.text == "no eligible records (120 waiting retry, 40 outside callee window)"
    assert d.findings[3].data["numbers"] == {"+12125550100": "daily_cap: 100 calls today"}
    assert d.as_dict()["findings"][0]["blocker"] == "outside_schedule"


def test_diagnose_pacing_limit_when_agents_idle() -> None:
    decision = Decision(0, DecisionReason.ABANDON_RISK, "risk per call ≤ 1%", 25.0)
    d = diagnose(
        DiagnosticsInput(
            OPEN,
            2,
            agents_logged_in=4,
            agents_free=2,
            eligibility={"dialable": 9},
            decision=decision,
        )
    )
    assert [f.blocker for f in d.findings] == [Blocker.PACING_LIMIT]


# The fault bench's case: power pacing, a 30 % target, paused on 93 abandons of 99 live answers.
JUDGED = stats(day=WindowCounts(400, 120, 99, 93))


@pytest.mark.parametrize(
    ("inputs", "trips"),
    [
        # Before any resume, the 24 h evidence is enough.
        (GuardInputs(JUDGED, abandon_target=0.3, policy_owns_budget=False), True),
        # Resumed (watching): the same 24 h counts, nothing new yet — no trip, every second.
        (
            GuardInputs(
                JUDGED,
                abandon_target=0.3,
                policy_owns_budget=False,
                watching=True,
                since_resume=WindowCounts(),
            ),
            False,
        ),
        # New evidence under the limit (2 of 20 since the resume): still no trip.
        (
            GuardInputs(
                stats(day=WindowCounts(460, 140, 119, 95)),
                abandon_target=0.3,
                policy_owns_budget=False,
                watching=True,
                since_resume=WindowCounts(60, 20, 20, 2),
            ),
            False,
        ),
        # New evidence over the limit beyond doubt (12 of 20 since the resume): it trips again.
        (
            GuardInputs(
                stats(day=WindowCounts(460, 140, 119, 105)),
                abandon_target=0.3,
                policy_owns_budget=False,
                watching=True,
                since_resume=WindowCounts(60, 20, 20, 12),
            ),
            True,
        ),
        # Too little new evidence to be beyond doubt (2 of 2): no trip.
        (
            GuardInputs(
                stats(day=WindowCounts(410, 122, 101, 95)),
                abandon_target=0.3,
                policy_owns_budget=False,
                since_resume=WindowCounts(10, 2, 2, 2),
            ),
            False,
        ),
        # Predictive: 3.1 % over 24 h was judged; 40 of 1000 since the resume is new evidence.
        (
            GuardInputs(stats(day=WindowCounts(9000, 3000, 2200, 70)), since_resume=WindowCounts()),
            False,
        ),
        (
            GuardInputs(
                stats(day=WindowCounts(9000, 3000, 2200, 75)),
                since_resume=WindowCounts(4000, 1300, 1000, 40),
            ),
            True,
        ),
        # New evidence over the limit but the 24 h window back under it: no breach, no trip.
        (
            GuardInputs(
                stats(day=WindowCounts(9000, 3000, 2200, 60)),
                since_resume=WindowCounts(4000, 1300, 1000, 40),
            ),
            False,
        ),
    ],
)
def test_after_a_resume_the_backstop_acts_only_on_new_evidence(
    inputs: GuardInputs, trips: bool
) -> None:
    trip = evaluate(inputs)
    assert (trip is not None) == trips, trip
    if trip is not None:
        assert trip.guard == "abandon_limit"
        day = inputs.stats.day
        assert f"({day.abandons}/{day.live_answers})" in trip.text  # the measured cause
        new = inputs.since_resume
        if new is not None:
            assert f"since the resume ({new.abandons}/{new.live_answers})" in trip.text


@pytest.mark.parametrize(
    ("agents", "waiting_since", "free"),
    [
        # Free since before the caller began to wait: the call was there to take.
        ((Agent("a", AgentState.FREE, 90.0),), 100.0, True),
        ((Agent("a", AgentState.FREE, 100.0),), 100.0, True),
        # Became free while the caller waited (100 agents: one always just freed up): no.
        ((Agent("a", AgentState.FREE, 101.0), Agent("b", AgentState.BUSY, 50.0)), 100.0, False),
        ((Agent("a", AgentState.WRAP, 10.0), Agent("b", AgentState.PAUSED, 10.0)), 100.0, False),
        # Never seen waiting: no evidence.
        ((Agent("a", AgentState.FREE, 10.0),), None, False),
        ((), 100.0, False),
    ],
)
def test_an_abandon_counts_as_agent_free_only_if_an_agent_was_free_all_the_wait(
    agents: tuple[Agent, ...], waiting_since: float | None, free: bool
) -> None:
    assert free_throughout(agents, waiting_since) is free
