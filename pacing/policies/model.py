"""The predictive model: when agents will be free, when calls in flight will be answered, and the
risk that one more call placed now is abandoned.

Design. A call placed now is answered (if at all) after a ring time R drawn from the measured ring
distribution. If it is a live answer at ``now + R``, it reaches an agent when, counting the agents
free now and those who finish talk and wrap-up by ``now + R + 2 s``, there is one left after the
live answers that arrive before it (calls already waiting, calls in flight answered before it, and
the other calls placed in this same decision, and those that calls placed by later ticks will
bring in ahead of it, see :func:`horizons`). The counts are sums of independent Bernoulli
variables:

* a busy agent whose call has lasted ``e`` seconds is free by ``now + h`` with probability
  ``P(T ≤ e + h − wrap | T > e)`` for the log-normal talk time ``T``; an agent in wrap-up is free
  when wrap-up ends;
* a call ringing for ``a`` seconds is a live answer by ``now + h`` with probability
  ``p_live · (F(a + h) − F(a)) / P(still ringing at a)`` where ``F`` is the ring-time-to-answer
  distribution (callers that have rung long are more likely to be no-answers).

The surplus (agents minus earlier answers) is taken as normal with the summed means and variances,
evaluated at the quintile midpoints of R; the risk of the n-th new call is the mean over those
points of ``P(surplus < 1)``. Calls in flight are grouped by whole seconds of age so the cost grows
with the number of agents, not with the number of lines.

Pure: functions of the snapshot and ``now``; no clock, no state.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from pacing.calls import CallPhase
from pacing.snapshot import AgentState, Estimates, PacingSnapshot

SQRT2 = math.sqrt(2.0)
POINTS = 5  # quantile midpoints of the new call's ring time
# Later calls only get ahead of this one when agents free up that it did not already claim; the
# full steady-state stream over-prices risk (seen in the benchmark's calibration), none under-prices
# it about threefold. Half the stream is the measured compromise.
AHEAD_WEIGHT = 0.5


def normal_cdf(z: float) -> float:
    """Standard normal distribution function."""
    return 0.5 * (1.0 + math.erf(z / SQRT2))


def lognormal_cdf(x: float, log_mean: float, log_sd: float) -> float:
    """P(T ≤ x) for a log-normal T."""
    if x <= 0.0:
        return 0.0
    if log_sd <= 0.0:
        return 1.0 if math.log(x) >= log_mean else 0.0
    return 0.5 * (1.0 + math.erf((math.log(x) - log_mean) / (log_sd * SQRT2)))


def quantile_cdf(quantiles: Sequence[float], x: float) -> float:
    """P(R ≤ x) for R given by values at evenly spaced quantile levels, interpolated linearly."""
    if x <= quantiles[0]:
        return 0.0
    last = len(quantiles) - 1
    if x >= quantiles[last]:
        return 1.0
    i = bisect.bisect_right(quantiles, x) - 1
    lo = quantiles[i]
    span = quantiles[i + 1] - lo
    return (i + ((x - lo) / span if span > 0.0 else 1.0)) / last


def quantile_at(quantiles: Sequence[float], level: float) -> float:
    """The value at quantile ``level`` (0..1), interpolated linearly."""
    pos = min(max(level, 0.0), 1.0) * (len(quantiles) - 1)
    i = min(int(pos), len(quantiles) - 2)
    return quantiles[i] + (pos - i) * (quantiles[i + 1] - quantiles[i])


@dataclass(frozen=True, slots=True)
class Horizon:
    """One evaluation point: a new call answered ``ring_s`` from now."""

    ring_s: float
    earlier_share: float  # P(another new call placed now is answered before this one)
    surplus_mean: float  # agents free by ring + 2 s minus earlier answers, before new calls
    surplus_var: float


def supply(snapshot: PacingSnapshot, now: float, offsets: Sequence[float]) -> list[list[float]]:
    """Mean and variance of agents free by ``now + offset``, for each offset."""
    est = snapshot.estimates
    width = len(offsets)
    means = [0.0] * width
    variances = [0.0] * width
    wrap = est.wrap_mean
    mu = est.talk_log_mean
    scale = 1.0 / (max(est.talk_log_sd, 1e-6) * SQRT2)
    erf, log = math.erf, math.log
    free = 0
    for agent in snapshot.agents:
        state = agent.state
        if state is AgentState.FREE:
            free += 1
        elif state is AgentState.WRAP:
            left = wrap - (now - agent.since)
            for k in range(width):
                if offsets[k] >= left:
                    means[k] += 1.0
        elif state is AgentState.BUSY:
            elapsed = max(now - agent.since, 1e-3)
            done = 0.5 * (1.0 + erf((log(elapsed) - mu) * scale))
            alive = 1.0 - done
            for k in range(width):
                reach = elapsed + offsets[k] - wrap
                if reach <= elapsed:
                    continue
                if alive < 1e-9:
                    q = 1.0
                else:
                    q = (0.5 * (1.0 + erf((log(reach) - mu) * scale)) - done) / alive
                means[k] += q
                variances[k] += q * (1.0 - q)
    for k in range(width):
        means[k] += free
    return [means, variances]


def demand(snapshot: PacingSnapshot, now: float, offsets: Sequence[float]) -> list[list[float]]:
    """Mean and variance of live answers arriving by ``now + offset`` (waiting ones included)."""
    est = snapshot.estimates
    ages: Counter[int] = Counter()
    waiting = 0
    for call in snapshot.calls:
        if call.phase is CallPhase.WAITING:
            waiting += 1
        else:
            ages[int(now - call.dialled_at + 0.5)] += 1
    width = len(offsets)
    means = [float(waiting)] * width
    variances = [0.0] * width
    quantiles = est.ring_quantiles
    answered = est.live_answer_probability + est.machine_probability
    cdf = quantile_cdf
    for age, count in ages.items():
        reached = cdf(quantiles, age)
        still = 1.0 - answered * reached
        if still <= 1e-9 or reached >= 1.0:
            continue
        live = est.live_answer_probability / still
        for k in range(width):
            p = live * (cdf(quantiles, age + offsets[k]) - reached)
            means[k] += count * p
            variances[k] += count * p * (1.0 - p)
    return [means, variances]


def shortfall(quantiles: Sequence[float], r: float) -> float:
    """E[(r − R)⁺] for the ring time R: how long before ``r`` a call placed now is answered."""
    return sum(r - q for q in quantiles if q < r) / len(quantiles)


def horizons(snapshot: PacingSnapshot, now: float) -> list[Horizon]:
    """The evaluation points for calls placed now.

    Calls that later ticks will place, answered before a call placed now, compete with it too:
    they are taken to arrive live at the rate agents are expected to free up inside the horizon
    (after its first point), a Poisson stream ahead of the new call for ``E[(r − R)⁺]`` seconds.
    """
    est: Estimates = snapshot.estimates
    levels = [(j + 0.5) / POINTS for j in range(POINTS)]
    rings = [quantile_at(est.ring_quantiles, level) for level in levels]
    connect = snapshot.config.connect_limit_s
    offsets = [r + connect for r in rings]
    (s_mean, s_var) = supply(snapshot, now, offsets)
    (d_mean, d_var) = demand(snapshot, now, rings)
    # Releases before the first point are claimed by the calls placed now; later ones are the
    # steady stream that later ticks will place calls for.
    release_rate = max(0.0, s_mean[-1] - s_mean[0]) / max(1.0, offsets[-1] - offsets[0])
    points = []
    for k in range(POINTS):
        ahead = AHEAD_WEIGHT * release_rate * shortfall(est.ring_quantiles, rings[k])
        points.append(
            Horizon(
                ring_s=rings[k],
                earlier_share=est.live_answer_probability * levels[k],
                surplus_mean=s_mean[k] - d_mean[k] - ahead,
                surplus_var=s_var[k] + d_var[k] + ahead,
            )
        )
    return points


def risk(points: Sequence[Horizon], n: int) -> float:
    """P(the n-th call placed now is abandoned | it is a live answer), for n ≥ 1."""
    total = 0.0
    others = n - 1
    for point in points:
        mean = point.surplus_mean - others * point.earlier_share
        var = point.surplus_var + others * point.earlier_share * (1.0 - point.earlier_share)
        gap = 0.5 - mean  # surplus below one agent, with a continuity correction
        if var <= 1e-12:
            total += 1.0 if gap > 0 else 0.0
        else:
            total += normal_cdf(gap / math.sqrt(var))
    return total / len(points)


def most_calls(points: Sequence[Horizon], threshold: float, limit: int) -> int:
    """The largest n ≤ limit whose n-th call carries a risk at or under ``threshold``."""
    if limit <= 0 or risk(points, 1) > threshold:
        return 0
    lo, hi = 1, limit  # risk(lo) ≤ threshold holds; find the last such n
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if risk(points, mid) <= threshold:
            lo = mid
        else:
            hi = mid - 1
    return lo
