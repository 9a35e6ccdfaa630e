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
* **The last hour** is held the same way at ``hour_aim`` times the target, so that a burst of
  abandons tightens at once and no rolling hour runs far over the target.
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


@dataclass(frozen=True, slots=True)
class ControllerTuning:
    """Constants of the controller (the defaults are those the benchmark was run with)."""

    evidence_z: float = 1.25
    evidence_prior: float = 50.0  # live answers of virtual evidence in the margin
    max_margin: float = 0.6
    gain: float = 1.0
    scale_floor: float = 2.0
    hour_aim: float = 1.5  # the rolling hour is held at this multiple of the target
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
        "hour": window_factor(stats.hour, target * tuning.hour_aim, tuning),
    }
    if calling_day is not None:
        aim = target * (1.0 - margin(calling_day.counts.live_answers, target, tuning))
        spread = day_factor(calling_day, aim, day_aim, tuning)
        if spread is not None:
            factors["calling_day"] = spread
    binding = min(factors, key=lambda name: factors[name])
    factor = factors[binding]
    spent = factor <= tuning.min_factor + 1e-12
    return Threshold(
        theta=day_aim * factor, aim=day_aim, factor=factor, binding=binding, progressive=spent
    )
