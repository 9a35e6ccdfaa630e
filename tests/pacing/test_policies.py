"""Table tests for each policy's decision and the abandon controller, with no event loop."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from pacing.calls import CallPhase
from pacing.policies import decide, power, predictive, progressive
from pacing.policies.controller import (
    DEFAULT_TUNING,
    abandon_room,
    hour_room,
    margin,
    remaining_live,
    risk_threshold,
    room_factor,
)
from pacing.policies.model import horizons, quantile_at, quantile_cdf, risk
from pacing.snapshot import (
    Agent,
    AgentState,
    CallInFlight,
    CallingDay,
    Caps,
    ControlledResume,
    DecisionReason,
    Estimates,
    PacingConfig,
    PacingMode,
    PacingSnapshot,
    RollingStats,
    WindowCounts,
)

NOW = 10_000.0
CAPS = Caps()
EST = Estimates(
    live_answer_probability=0.25,
    machine_probability=0.1,
    ring_quantiles=tuple(3.0 + 1.7 * k for k in range(11)),
    talk_log_mean=math.log(60.0) - 0.35,
    talk_log_sd=0.83,
    wrap_mean=10.0,
    sample_size=5000,
)
# A healthy day: 2 % abandons over 2000 live answers.
CALM = RollingStats(
    hour=WindowCounts(800, 300, 250, 5),
    day=WindowCounts(8000, 2400, 2000, 40),
    month=WindowCounts(8000, 2400, 2000, 40),
)


def agents(
    free: int = 0, busy: tuple[float, ...] = (), wrap: tuple[float, ...] = (), paused: int = 0
) -> tuple[Agent, ...]:
    """Agents: ``busy`` and ``wrap`` give how long each has been in that state."""
    out = [Agent(f"f{i}", AgentState.FREE, NOW - 5) for i in range(free)]
    out += [Agent(f"b{i}", AgentState.BUSY, NOW - e) for i, e in enumerate(busy)]
    out += [Agent(f"w{i}", AgentState.WRAP, NOW - e) for i, e in enumerate(wrap)]
    out += [Agent(f"p{i}", AgentState.PAUSED, NOW - 5) for i in range(paused)]
    return tuple(out)


def ringing(*ages: float) -> tuple[CallInFlight, ...]:
    return tuple(CallInFlight(f"c{i}", NOW - a) for i, a in enumerate(ages))


def snap(
    mode: PacingMode = PacingMode.PREDICTIVE,
    *,
    team: tuple[Agent, ...] = (),
    calls: tuple[CallInFlight, ...] = (),
    stats: RollingStats = CALM,
    caps: Caps = CAPS,
    resume: ControlledResume | None = None,
    ratio: float = 2.0,
) -> PacingSnapshot:
    return PacingSnapshot(
        "c1", PacingConfig(mode, power_ratio=ratio), team, calls, stats, EST, caps, resume
    )


WAITING = CallInFlight("w", NOW - 10, CallPhase.WAITING, NOW - 1)


@pytest.mark.parametrize(
    ("team", "calls", "placed", "reason"),
    [
        (agents(free=3), (), 3, DecisionReason.PLACING),
        (agents(free=3), ringing(2, 5), 1, DecisionReason.PLACING),
        (agents(free=2), ringing(2, 5), 0, DecisionReason.AGENTS_COVERED),
        (agents(busy=(10, 20)), (), 0, DecisionReason.AGENTS_COVERED),
        (agents(paused=3), (), 0, DecisionReason.NO_AGENTS),
        ((), (), 0, DecisionReason.NO_AGENTS),
    ],
)
def test_progressive(
    team: tuple[Agent, ...], calls: tuple[CallInFlight, ...], placed: int, reason: DecisionReason
) -> None:
    decision = progressive.decide(snap(PacingMode.PROGRESSIVE, team=team, calls=calls), NOW)
    assert (decision.calls, decision.reason) == (placed, reason)
    assert decision.ring_timeout_s == 25.0


@pytest.mark.parametrize(
    ("team", "calls", "ratio", "placed"),
    [
        (agents(free=3), (), 2.0, 6),
        (agents(free=3), ringing(1, 2), 2.0, 4),
        (agents(free=3), ringing(1, 2), 1.5, 2),
        (agents(free=2), (WAITING, *ringing(1)), 3.0, 2),  # the waiting answer claims an agent
        (agents(busy=(30,)), (), 3.0, 0),
    ],
)
def test_power(
    team: tuple[Agent, ...], calls: tuple[CallInFlight, ...], ratio: float, placed: int
) -> None:
    decision = power.decide(snap(PacingMode.POWER, team=team, calls=calls, ratio=ratio), NOW)
    assert decision.calls == placed


def test_caps_bind_in_order_of_tightness() -> None:
    team = agents(free=4)
    lines = power.decide(
        snap(PacingMode.POWER, team=team, ratio=3.0, caps=Caps(max_lines_per_agent=2.0)), NOW
    )
    assert (lines.calls, lines.reason) == (8, DecisionReason.LINES_PER_AGENT_CAP)
    trunk = power.decide(
        snap(PacingMode.POWER, team=team, ratio=3.0, caps=Caps(trunk_channels_free=5)), NOW
    )
    assert (trunk.calls, trunk.reason) == (5, DecisionReason.TRUNK_CHANNEL_CAP)
    campaign = power.decide(
        snap(
            PacingMode.POWER,
            team=agents(free=4, busy=(5, 5)),
            ratio=3.0,
            caps=Caps(campaign_channels=9),
        ),
        NOW,
    )
    assert (campaign.calls, campaign.reason) == (7, DecisionReason.CAMPAIGN_CHANNEL_CAP)


def test_dispatch_by_mode() -> None:
    team = agents(free=2)
    assert decide(snap(PacingMode.PROGRESSIVE, team=team), NOW).calls == 2
    assert decide(snap(PacingMode.POWER, team=team, ratio=2.0), NOW).calls == 4
    assert decide(snap(team=team), NOW).risk_threshold is not None


def test_model_distributions() -> None:
    q = (0.0, 10.0, 20.0)
    assert quantile_cdf(q, -1) == 0.0
    assert quantile_cdf(q, 5) == pytest.approx(0.25)
    assert quantile_cdf(q, 15) == pytest.approx(0.75)
    assert quantile_cdf(q, 25) == 1.0
    assert quantile_at(q, 0.75) == pytest.approx(15.0)


@pytest.mark.parametrize(
    ("team", "calls", "low", "high"),
    [
        # Four idle agents, nothing ringing, 25 % live: more lines than agents, not reckless.
        (agents(free=4), (), 6, 16),
        # Every agent just started a call (mean 60 s): nobody will be free within 20 s.
        (agents(busy=(1, 1, 1, 1)), (), 0, 0),
        # Two agents end wrap-up within seconds: calls for them.
        (agents(busy=(1, 1), wrap=(8, 9)), (), 2, 8),
        # Already 12 lines ringing for two free agents: covered.
        (agents(free=2), ringing(*range(12)), 0, 1),
    ],
)
def test_predictive_places_for_agents_about_to_be_free(
    team: tuple[Agent, ...], calls: tuple[CallInFlight, ...], low: int, high: int
) -> None:
    decision = predictive.decide(snap(team=team, calls=calls), NOW)
    assert low <= decision.calls <= high, decision


def test_predictive_counts_agents_whose_calls_are_ending() -> None:
    fresh = snap(team=agents(free=1, busy=(1,) * 10))
    long = snap(team=agents(free=1, busy=(100,) * 10))
    assert horizons(fresh, NOW)[-1].surplus_mean < horizons(long, NOW)[-1].surplus_mean
    assert predictive.decide(fresh, NOW).calls <= predictive.decide(long, NOW).calls


def test_predictive_risk_grows_with_each_call() -> None:
    points = horizons(snap(team=agents(free=3, busy=(40, 80))), NOW)
    risks = [risk(points, n) for n in range(1, 30)]
    assert risks == sorted(risks)
    assert risks[0] < 0.01 < risks[-1]


def test_predictive_never_below_progressive() -> None:
    # Even under a tripped-looking day the floor is one call per free, unclaimed agent.
    bad = RollingStats(
        WindowCounts(100, 60, 50, 20), WindowCounts(100, 60, 50, 20), WindowCounts(100, 60, 50, 20)
    )
    decision = predictive.decide(snap(team=agents(free=3), stats=bad), NOW)
    assert decision.calls == 3


def test_controlled_resume() -> None:
    team = agents(free=4)
    only = ControlledResume(until=NOW + 600, progressive_only=True)
    assert predictive.decide(snap(team=team, resume=only), NOW).calls == 4
    capped = ControlledResume(until=NOW + 600, max_concurrent_calls=5)
    decision = predictive.decide(snap(team=team, resume=capped), NOW)
    assert (decision.calls, decision.reason) == (5, DecisionReason.CONTROLLED_RESUME_CAP)
    over = ControlledResume(until=NOW - 1, max_concurrent_calls=5)  # review window ended
    assert predictive.decide(snap(team=team, resume=over), NOW).calls > 5


def test_margin_shrinks_with_evidence() -> None:
    margins = [margin(live, 0.03) for live in (0, 100, 1000, 10000, 100000)]
    assert margins == sorted(margins, reverse=True)
    assert margins[0] == 0.6
    assert margins[-1] < 0.05


@pytest.mark.parametrize(
    ("stats", "binding", "direction"),
    [
        # Under budget all day: loosen, as far as the hour's room allows (250 live answers an
        # hour leave room for about ten more abandons under 4.8 %).
        (
            RollingStats(
                WindowCounts(900, 300, 250, 2),
                WindowCounts(9000, 3000, 2500, 20),
                WindowCounts(9000, 3000, 2500, 20),
            ),
            "hour",
            1,
        ),
        # A burst of abandons in the last hour (8 %) although the day is fine: tighten at once.
        (
            RollingStats(
                WindowCounts(900, 300, 250, 20),
                WindowCounts(9000, 3000, 2500, 45),
                WindowCounts(9000, 3000, 2500, 45),
            ),
            "hour",
            -1,
        ),
        # Over budget for the month: tighten.
        (
            RollingStats(
                WindowCounts(900, 300, 250, 5),
                WindowCounts(9000, 3000, 2500, 50),
                WindowCounts(90000, 30000, 25000, 800),
            ),
            "month",
            -1,
        ),
    ],
)
def test_controller(stats: RollingStats, binding: str, direction: int) -> None:
    threshold = risk_threshold(stats, 0.03)
    assert threshold.binding == binding
    assert (threshold.factor > 1.0) if direction > 0 else (threshold.factor < 1.0)
    assert threshold.theta == pytest.approx(threshold.aim * threshold.factor)


def test_controller_reacts_to_a_burst_of_abandons() -> None:
    team = agents(free=2, busy=(30, 45, 60, 75, 90, 120), wrap=(4,))
    calm = predictive.decide(snap(team=team), NOW)
    burst = RollingStats(WindowCounts(800, 300, 250, 25), CALM.day, CALM.month)
    hit = predictive.decide(snap(team=team, stats=burst), NOW)
    assert hit.risk_threshold is not None
    assert calm.risk_threshold is not None
    assert hit.risk_threshold < calm.risk_threshold / 2
    assert hit.calls < calm.calls
    assert hit.calls >= 2  # never below progressive


def _day_with(abandons: int, live: int = 2000) -> RollingStats:
    counts = WindowCounts(4 * live, int(1.2 * live), live, abandons)
    return RollingStats(WindowCounts(800, 300, 250, 5), counts, counts)


def test_the_budget_tightens_monotonically_down_to_progressive() -> None:
    thresholds = [risk_threshold(_day_with(a), 0.03) for a in range(0, 121, 10)]
    thetas = [t.theta for t in thresholds]
    assert thetas == sorted(thetas, reverse=True)
    assert not thresholds[0].progressive
    assert thresholds[0].factor > 1.0  # well under budget: loosen (as far as the hour allows)
    assert thresholds[-1].progressive  # 6 % over 2000 live answers: budget spent
    assert [t.progressive for t in thresholds] == sorted(t.progressive for t in thresholds)


@pytest.mark.parametrize(
    ("day", "tightens", "progressive"),
    [
        # No schedule, or a day too young to have a rate: the calling day plays no part.
        (None, False, False),
        (CallingDay(WindowCounts(50, 15, 10, 2), elapsed_s=300.0, left_s=28_000.0), False, False),
        # Mid-day at 2 % with hours left: budget to spare, it does not tighten.
        (CallingDay(WindowCounts(4000, 1200, 1000, 20), 14_400.0, 14_400.0), False, False),
        # Half an hour before the close at 2.65 %: little left to spread, it tightens.
        (CallingDay(WindowCounts(8000, 2400, 2000, 53), 27_000.0, 1_800.0), True, False),
        # Half an hour before the close at 3.5 %: the day's budget is spent, progressive.
        (CallingDay(WindowCounts(8000, 2400, 2000, 70), 27_000.0, 1_800.0), True, True),
    ],
)
def test_calling_day_budget(day: CallingDay | None, tightens: bool, progressive: bool) -> None:
    stats = _day_with(40)  # 2 % over the 24 h and 30 days: the rolling windows would loosen
    threshold = risk_threshold(stats, 0.03, calling_day=day)
    plain = risk_threshold(stats, 0.03)
    assert threshold.progressive is progressive
    assert (threshold.factor < 1.0) is tightens
    if tightens:
        assert threshold.binding == "calling_day"
        assert threshold.theta < plain.theta
    if day is None or day.elapsed_s < 600:
        assert threshold == plain


def test_remaining_live_answers_from_the_days_rate() -> None:
    day = CallingDay(WindowCounts(4000, 1200, 1000, 20), elapsed_s=10_000.0, left_s=5_000.0)
    assert remaining_live(day) == pytest.approx(500.0)
    assert remaining_live(CallingDay(WindowCounts(10, 3, 2, 0), 10_000.0, 5_000.0)) is None


def test_the_rolling_hour_is_held_under_the_worst_hour_target() -> None:
    # 5.2 % over the last hour with a fine day: the hour binds, no abandon left: a fifth of the
    # day's risk.
    stats = RollingStats(WindowCounts(800, 300, 250, 13), CALM.day, CALM.month)
    threshold = risk_threshold(stats, 0.03)
    assert threshold.binding == "hour"
    assert threshold.factor == DEFAULT_TUNING.hour_spent < DEFAULT_TUNING.hour_floor
    assert not threshold.progressive  # slowing to progressive would leave that hour higher


@pytest.mark.parametrize(
    ("live", "abandons", "limit", "room"),
    [
        (46, 0, 0.048, 2),  # 2/48 = 4.2 % fits, a third would be 6.1 %
        (46, 2, 0.048, 0),  # 3/47 = 6.4 %: no abandon left
        (46, 3, 0.048, -1),  # already over
        (160, 4, 0.03, 0),  # 5/161 = 3.1 % would pass the legal limit
        (480, 14, 0.03, 0),
        (480, 10, 0.03, 4),
        (0, 0, 0.03, 0),
    ],
)
def test_abandon_room(live: int, abandons: int, limit: float, room: int) -> None:
    assert abandon_room(live, abandons, limit) == room
    if live > 0 and room >= 0:  # exactly ``room`` more fit under the limit, one more does not
        assert (abandons + room) / (live + room) <= limit + 1e-12
        assert (abandons + room + 1) / (live + room + 1) > limit


def test_room_factor_spends_the_last_abandons_slowly() -> None:
    aim = 0.024
    factors = [room_factor(k, 100.0, aim, DEFAULT_TUNING) for k in range(-1, 12)]
    assert factors[:2] == [0.0, 0.0]  # none left
    assert factors == sorted(factors)  # more room, more risk allowed
    # One abandon left over 100 live answers: the chance of two stays near 10 % (Poisson).
    mu = factors[2] * aim * 100.0
    assert 1.0 - math.exp(-mu) * (1.0 + mu) == pytest.approx(0.1, abs=0.02)
    assert factors[-1] == DEFAULT_TUNING.max_factor  # plenty of room: it does not bind


def _small_hour(live: int, abandons: int, span: float | None = None) -> RollingStats:
    # A team of five at 10 % live answers: about 46 live answers an hour; the day is fine.
    hour = WindowCounts(10 * live, 2 * live, live, abandons)
    return RollingStats(hour, CALM.day, CALM.month, hour_span_s=span)


@pytest.mark.parametrize(
    ("stats", "low", "high"),
    [
        # No abandon in the hour: two fit, it allows more than the day's aim.
        (_small_hour(46, 0), 1.0, DEFAULT_TUNING.max_factor),
        # One abandon: a second still fits, the hour tightens below the day's aim.
        (_small_hour(46, 1), DEFAULT_TUNING.hour_floor, 1.0),
        # Two: a third would pass 4.8 %; the hour drops to a fifth of the risk, not progressive.
        (_small_hour(46, 2), DEFAULT_TUNING.hour_spent, DEFAULT_TUNING.hour_spent),
        (_small_hour(46, 5), DEFAULT_TUNING.hour_spent, DEFAULT_TUNING.hour_spent),
        # The harder bench world, 5 agents, seed 2: 1 abandon of 38 in the hour, a second is
        # 5.1 %: the old floor (half the risk) placed the calls of its worst hour, 3 of 38.
        (_small_hour(38, 1), DEFAULT_TUNING.hour_spent, DEFAULT_TUNING.hour_spent),
        # The first 20 minutes with 15 live answers and one abandon: projected to 45 an hour,
        # a second abandon still fits.
        (_small_hour(15, 1, span=1200.0), DEFAULT_TUNING.hour_floor, 1.0),
    ],
)
def test_the_hour_counts_its_last_abandons(stats: RollingStats, low: float, high: float) -> None:
    threshold = risk_threshold(stats, 0.03)
    assert threshold.binding == "hour"
    assert not threshold.progressive
    assert low <= threshold.factor <= high
    if low < high:
        assert low < threshold.factor < high


def test_the_hours_room_is_counted_with_a_wider_spread_than_poisson() -> None:
    # Abandons cluster (two calls of one tick dropped seconds apart): the hour's last abandons
    # are kept with a wider z than the legal windows', so its risk is lower for the same room.
    poisson = replace(DEFAULT_TUNING, hour_risk_z=DEFAULT_TUNING.room_risk_z)
    for abandons in (0, 1):
        stats = _small_hour(60, abandons)
        wide, narrow = risk_threshold(stats, 0.03), risk_threshold(stats, 0.03, poisson)
        assert wide.binding == narrow.binding == "hour"
        assert wide.theta < narrow.theta
    assert room_factor(1, 20.0, 0.024, DEFAULT_TUNING, z=2.0) < room_factor(
        1, 20.0, 0.024, DEFAULT_TUNING
    )


def test_a_part_hour_is_projected_to_a_whole_hour() -> None:
    whole = hour_room(_small_hour(15, 0), 0.03, DEFAULT_TUNING)
    part = hour_room(_small_hour(15, 0, span=1200.0), 0.03, DEFAULT_TUNING)
    young = hour_room(_small_hour(3, 0, span=60.0), 0.03, DEFAULT_TUNING)
    assert whole == (0, 15.0)  # 15 live answers taken as the whole hour: no abandon fits
    assert part == (2, 45.0)  # 20 minutes at 15: 45 an hour
    assert young == (0, 18.0)  # a minute's rate is read over ten minutes at least


def _legal(live: int, abandons: int) -> RollingStats:
    counts = WindowCounts(8 * live, 2 * live, live, abandons)
    return RollingStats(WindowCounts(800, 300, 250, 2), counts, counts)


@pytest.mark.parametrize(
    ("stats", "binding", "progressive"),
    [
        # Under the guard's evidence (150 live answers) the budget factor alone decides.
        (_legal(140, 3), "day", False),
        # 10 of 480 (2.1 %): four abandons left under 3 %, spent slowly.
        (_legal(480, 10), "day", False),
        # 14 of 480 (2.9 %): none left; half the risk of the last one.
        (_legal(480, 14), "day", False),
        # 30 of 480 (6.3 %): deeply over, the budget factor is at its floor: progressive.
        (_legal(480, 30), "day", True),
    ],
)
def test_the_legal_limits_last_abandons_are_kept_in_hand(
    stats: RollingStats, binding: str, progressive: bool
) -> None:
    threshold = risk_threshold(stats, 0.03)
    assert threshold.binding == binding
    assert threshold.progressive is progressive


def test_fewer_abandons_left_under_the_limit_mean_less_risk() -> None:
    thetas = [risk_threshold(_legal(480, a), 0.03).theta for a in range(31)]
    assert thetas == sorted(thetas, reverse=True)
    assert thetas[14] < thetas[10] < thetas[6]
    # Under 150 live answers the room plays no part; counted from the first, it would bind.
    young = _legal(140, 3)
    always = replace(DEFAULT_TUNING, limit_min_live=0)
    assert risk_threshold(young, 0.03, always).theta < risk_threshold(young, 0.03).theta
    # The calling day's counts are held the same way.
    day = CallingDay(WindowCounts(4000, 1000, 480, 14), elapsed_s=14_400.0, left_s=14_400.0)
    held = risk_threshold(_legal(2000, 30), 0.03, calling_day=day)
    assert held.binding == "calling_day"
    assert held.theta < risk_threshold(_legal(2000, 30), 0.03).theta


def test_a_spent_budget_paces_progressively_by_itself() -> None:
    team = agents(free=3, busy=(30, 45, 60, 75, 90, 120), wrap=(4,))
    spent = predictive.decide(snap(team=team, stats=_day_with(150)), NOW)
    slow = progressive.decide(snap(PacingMode.PROGRESSIVE, team=team, stats=_day_with(150)), NOW)
    calm = predictive.decide(snap(team=team), NOW)
    assert spent.calls == slow.calls == 3
    assert calm.calls > spent.calls
    assert spent.risk_threshold == 0.0
    assert "abandon budget spent" in spent.detail
    covered = predictive.decide(snap(team=team, calls=ringing(1, 2, 3), stats=_day_with(150)), NOW)
    assert (covered.calls, covered.reason) == (0, DecisionReason.ABANDON_RISK)
