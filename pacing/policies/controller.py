"""The abandon-rate controller: how much abandon risk one more predictive call may carry.

Design. The predictive model prices each extra call with the probability that it is abandoned if
answered live. Placing calls while that risk is at most ``θ`` keeps the realised rate near ``θ``
when the model is right; the controller corrects ``θ`` from what actually happened, with no state
of its own: the rolling counts *are* the integral term.

For each window (24 h and 30 days, the two the rule is measured on) the controller aims at
``τ* = τ · (1 − margin)``, where the margin is a Wilson-style relative half-width
``z · sqrt((1 − τ) / (τ · (L + L0)))`` that shrinks as live answers ``L`` accumulate. The window's
abandon budget ``B = τ* · L − A`` (abandons still allowed) scaled by its binomial spread
``sqrt(τ* · L) + s0`` gives a factor ``exp(gain · B / scale)``: under budget loosens, over budget
tightens. The last hour is held the same way at twice the target so that a burst of abandons
tightens at once. ``θ = τ*(day) · min(factors)``, clamped.

Pure: a function of the rolling counts and the target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pacing.snapshot import RollingStats, WindowCounts


@dataclass(frozen=True, slots=True)
class ControllerTuning:
    """Constants of the controller (the defaults are those the benchmark was run with)."""

    evidence_z: float = 1.25
    evidence_prior: float = 50.0  # live answers of virtual evidence in the margin
    max_margin: float = 0.6
    gain: float = 1.0
    scale_floor: float = 2.0
    hour_aim: float = 2.0  # the rolling hour is held at this multiple of the target
    min_factor: float = 0.05
    max_factor: float = 3.0


DEFAULT_TUNING = ControllerTuning()


@dataclass(frozen=True, slots=True)
class Threshold:
    """The risk a call may carry, and which window set it."""

    theta: float
    aim: float  # τ* over the day window
    factor: float
    binding: str  # "day", "month" or "hour"


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


def risk_threshold(
    stats: RollingStats, target: float, tuning: ControllerTuning = DEFAULT_TUNING
) -> Threshold:
    """The abandon risk the next predictive call may carry."""
    day_aim = target * (1.0 - margin(stats.day.live_answers, target, tuning))
    month_aim = target * (1.0 - margin(stats.month.live_answers, target, tuning))
    factors = {
        "day": window_factor(stats.day, day_aim, tuning),
        "month": window_factor(stats.month, month_aim, tuning),
        "hour": window_factor(stats.hour, target * tuning.hour_aim, tuning),
    }
    binding = min(factors, key=lambda name: factors[name])
    factor = factors[binding]
    return Threshold(theta=day_aim * factor, aim=day_aim, factor=factor, binding=binding)
