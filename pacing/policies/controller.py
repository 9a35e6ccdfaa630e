"""The abandon budget controller: how much abandon risk one more predictive call may carry.

Design. The policy owns the abandon budget over the legal windows — 30 days, 24 hours and the
calling day it knows from the schedule — and slows down by itself as the budget tightens, to
progressive if need be; the guards (:mod:`pacing.guards`) are only the safety net. The
predictive model prices each extra call with the probability that it is abandoned if answered
live. Placing calls while that risk is at most ``θ`` keeps the realised rate below ``θ`` when the
model is right; the controller sets ``θ`` from what actually happened, with no state of its own:
the rolling counts *are* the integral term.

* **24 h and 30 days.** For each the controller aims at ``τ* = τ · (1 − margin)``, where the
  margin is a Wilson-style relative half-width ``z · sqrt((1 − τ) / (τ · (L + L0)))`` that
  shrinks as live answers ``L`` accumulate. The window's budget ``B = τ* · L − A`` (abandons
  still allowed) scaled by its binomial spread ``sqrt(τ* · L) + s0`` gives a factor
  ``exp(gain · B / scale)``: under budget loosens, over budget tightens.
* **The last hour** has a limit of its own, ``hour_limit`` times the target (4.8 % for a 3 %
  target), and for a small team it is a matter of single abandons: with 46 live answers an hour
  two abandons are 4.3 % and a third is 6.5 %. So the controller counts the abandons the hour
  can still take, ``K = ⌊(limit · L − A) / (1 − limit)⌋`` over the hour's live answers ``L``
  (a part-hour window at the start of a campaign is projected to a whole hour at its rate so
  far), takes the abandons still to come while the present ones stay in the window (the next
  ``hour_horizon_s``) as a Poisson count of mean ``μ``, allows the largest ``μ`` whose chance of
  passing ``K`` stays under a few per cent (``μ + z√μ ≤ K + ½`` with ``hour_risk_z``, wider
  than the legal windows' ``z``: abandons come in clusters — two calls of one tick dropped
  seconds apart, seen in the harder bench world — so the count is over-dispersed) and spreads
  it over the live answers expected in that time: the most risk a call may carry for the hour.
  With an abandon still in hand it never goes below ``hour_floor`` of the day's risk; with none
  (``K ≤ 0``: the next abandon takes the hour over its limit) it drops to ``hour_spent`` of it
  (the bench's worst hours were such next abandons, placed at the old floor of half the risk).
  It does not go to progressive: the hour that holds the abandons is diluted only by the live
  answers that follow them, and progressive (a third of the live answers, for a small team at
  10 % live) leaves that hour *higher* — seen in the benchmark again (5 agents, 10 % live, 60 s
  talk, seed 1: worst hour 5.4 %, talk 33.6 → 24.5 min per agent-hour). A large team's hour has
  room for many abandons and never binds.
* **The legal limit itself.** From ``limit_min_live`` live answers on — where the abandon guard's
  backstop acts — each legal window keeps its last abandons in hand the same way: with ``K``
  abandons left under the target, the Poisson count over the next ``limit_horizon_live`` live
  answers may pass ``K`` with a chance of about 10 %, and with none left (``K < 1``) it allows
  half the risk of a last abandon, lower as the window's own factor falls (to progressive). A
  window already over the target recovers by dilution, the more live answers the sooner.
* **The calling day.** Late in the day few live answers remain to dilute an abandon: what is
  left of the day's budget, ``τ* · (L + L_rest) − A`` with ``L_rest`` the live answers expected
  before the window closes (today's rate so far times the time left), is spread over ``L_rest``:
  that is the most risk a call may carry. Early in the day it rarely binds; at the end of a day
  over budget it reaches zero.

``θ = τ*(24 h) · min(factors)``. When the binding factor is at its floor (a window deeply over
budget) or the day's remaining budget is spent, the threshold says *progressive*: place no call
beyond one per free agent until the windows recover.

Pure: a function of the rolling counts, the calling day and the target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pacing.snapshot import CallingDay, RollingStats, WindowCounts

HOUR_S = 3600.0


@dataclass(frozen=True, slots=True)
class ControllerTuning:
    """Constants of the controller (the defaults are those the benchmark was run with)."""

    evidence_z: float = 1.25
    evidence_prior: float = 50.0  # live answers of virtual evidence in the margin
    max_margin: float = 0.6
    gain: float = 1.0
    scale_floor: float = 2.0
    limit_min_live: int = 150  # a legal window's last abandons are kept from this many live answers
    limit_horizon_live: float = 100.0  # ... and spread over this many live answers
    hour_limit: float = 1.6  # no rolling hour over this multiple of the target (4.8 % for 3 %)
    room_risk_z: float = 1.28  # one-sided normal quantile: a window's room is passed ~10 % of times
    hour_horizon_s: float = 1800.0  # how long the hour's present abandons are taken to stay
    hour_min_span_s: float = 600.0  # a part-hour window is projected from at least this long
    hour_floor: float = 0.5  # with an abandon left, the hour keeps half the day's risk at least
    hour_spent: float = 0.2  # ... and with none left, a fifth of it (see above)
    hour_risk_z: float = 2.0  # the hour's room: ~2 % of times passed if Poisson (it clusters)
    min_factor: float = 0.05
    max_factor: float = 3.0
    day_min_elapsed_s: float = 600.0  # the calling day's rate means something after this long
    day_min_live: int = 20


DEFAULT_TUNING = ControllerTuning()


@dataclass(frozen=True, slots=True)
class Threshold:
    """The risk a call may carry, which window set it, and whether to pace progressively."""

    theta: float
    aim: float  # τ* over the 24 h window
    factor: float
    binding: str  # "day", "month", "hour" or "calling_day"
    progressive: bool = False  # the budget is spent: one call per free agent only


def margin(live: int, target: float, tuning: ControllerTuning = DEFAULT_TUNING) -> float:
    """Relative safety margin below the target given ``live`` answers of evidence."""
    spread = math.sqrt((1.0 - target) / (target * (live + tuning.evidence_prior)))
    return min(tuning.max_margin, tuning.evidence_z * spread)


def window_factor(counts: WindowCounts, aim: float, tuning: ControllerTuning) -> float:
    """``exp(gain · budget / spread)`` for one window, clamped."""
    budget = aim * counts.live_answers - counts.abandons
    scale = math.sqrt(aim * counts.live_answers) + tuning.scale_floor
    factor = math.exp(max(-20.0, min(20.0, tuning.gain * budget / scale)))
    return min(tuning.max_factor, max(tuning.min_factor, factor))


def hour_room(stats: RollingStats, target: float, tuning: ControllerTuning) -> tuple[int, float]:
    """Abandons the rolling hour can still take under its limit, and its live answers.

    The live answers are the hour's, or for a part-hour window (the campaign's first hour) the
    whole hour's at the rate seen so far (over at least ``hour_min_span_s``).
    """
    hour, span = stats.hour, stats.hour_span_s
    live = float(hour.live_answers)
    if span is not None and span < HOUR_S:
        live *= HOUR_S / max(span, tuning.hour_min_span_s)
    return abandon_room(live, hour.abandons, target * tuning.hour_limit), live


def abandon_room(live: float, abandons: int, limit: float) -> int:
    """How many more abandons ``abandons`` of ``live`` can take before the rate passes ``limit``.

    ``(A + k) / (L + k) ≤ limit`` for every ``k`` up to the answer; negative when already over.
    """
    limit = min(0.99, limit)
    return math.floor((limit * live - abandons) / (1.0 - limit) + 1e-9)


def room_factor(
    room: int, coming: float, aim: float, tuning: ControllerTuning, z: float | None = None
) -> float:
    """The risk per call, over ``aim``, that keeps a window's last ``room`` abandons in hand.

    ``coming`` live answers are expected over the horizon; the count of abandons among them is
    taken as Poisson, and its mean is the largest whose chance of passing ``room`` stays under
    the tuning's risk (``μ + z√μ ≤ room + ½``; ``z`` the tuning's ``room_risk_z`` unless given).
    0 when no abandon is left to spend.
    """
    if room < 1:
        return 0.0
    z = tuning.room_risk_z if z is None else z
    root = (math.sqrt(z * z + 4.0 * (room + 0.5)) - z) / 2.0
    return min(tuning.max_factor, root * root / max(1.0, coming) / aim)


def legal_factors(
    stats: RollingStats,
    calling_day: CallingDay | None,
    target: float,
    day_aim: float,
    factors: dict[str, float],
    tuning: ControllerTuning,
) -> dict[str, float]:
    """The legal windows' factors, lowered where their last abandons under the target are few."""
    legal = {"day": stats.day, "month": stats.month}
    if calling_day is not None:
        legal["calling_day"] = calling_day.counts
    lowered = {}
    for name, counts in legal.items():
        if counts.live_answers < tuning.limit_min_live:
            continue
        left = abandon_room(counts.live_answers, counts.abandons, target)
        # No abandon left, or already over: half the risk of the last one, and lower as the
        # window's own factor falls (to progressive). Not a stop: a window over the target
        # recovers by dilution, the sooner the more live answers follow.
        spread = room_factor(max(1, left), tuning.limit_horizon_live, day_aim, tuning)
        if left < 1:
            spread /= 2.0
        lowered[name] = min(factors.get(name, tuning.max_factor), spread)
    return lowered


def remaining_live(day: CallingDay, tuning: ControllerTuning = DEFAULT_TUNING) -> float | None:
    """Live answers expected before the calling window closes (None: too early to say)."""
    live = day.counts.live_answers
    if day.elapsed_s < tuning.day_min_elapsed_s or live < tuning.day_min_live:
        return None
    return live / day.elapsed_s * day.left_s


def day_factor(
    day: CallingDay, aim: float, day_aim: float, tuning: ControllerTuning
) -> float | None:
    """The calling day's remaining budget per remaining live answer, over ``day_aim``.

    None when the day is too young to say. 0 when the budget is spent; it is not floored at
    ``min_factor`` (a spent day is progressive).
    """
    rest = remaining_live(day, tuning)
    if rest is None:
        return None
    counts = day.counts
    budget = aim * (counts.live_answers + rest) - counts.abandons
    if budget <= 0.0:
        return 0.0
    if rest < 1.0:  # the last live answers of the day: budget left is budget for them
        return tuning.max_factor
    return min(tuning.max_factor, budget / rest / day_aim)


def risk_threshold(
    stats: RollingStats,
    target: float,
    tuning: ControllerTuning = DEFAULT_TUNING,
    calling_day: CallingDay | None = None,
) -> Threshold:
    """The abandon risk the next predictive call may carry."""
    day_aim = target * (1.0 - margin(stats.day.live_answers, target, tuning))
    month_aim = target * (1.0 - margin(stats.month.live_answers, target, tuning))
    factors = {
        "day": window_factor(stats.day, day_aim, tuning),
        "month": window_factor(stats.month, month_aim, tuning),
    }
    room, hourly = hour_room(stats, target, tuning)
    coming = hourly * tuning.hour_horizon_s / HOUR_S  # live answers over the horizon
    if room >= 1:
        hour = room_factor(room, coming, day_aim, tuning, tuning.hour_risk_z)
        factors["hour"] = max(tuning.hour_floor, hour)
    else:
        factors["hour"] = tuning.hour_spent
    if calling_day is not None:
        aim = target * (1.0 - margin(calling_day.counts.live_answers, target, tuning))
        spread = day_factor(calling_day, aim, day_aim, tuning)
        if spread is not None:
            factors["calling_day"] = spread
    factors.update(legal_factors(stats, calling_day, target, day_aim, factors, tuning))
    binding = min(factors, key=lambda name: factors[name])
    factor = factors[binding]
    spent = factor <= tuning.min_factor + 1e-12
    return Threshold(
        theta=day_aim * factor, aim=day_aim, factor=factor, binding=binding, progressive=spent
    )
