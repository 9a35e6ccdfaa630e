"""Predictive pacing: place the calls whose answers will find an agent, within an abandon budget.

Design. :mod:`pacing.policies.model` prices the n-th call placed now with the probability that it
is abandoned should it be answered live; :mod:`pacing.policies.controller` says how much risk a call
may carry from the rolling abandon counts. ``decide`` places the largest number of calls whose
last one stays within that risk — the model's risk times its measured calibration
(:class:`pacing.stats.RiskCalibration`) — never fewer than progressive would (one per unclaimed
free agent), and within the caps. When the controller says the abandon budget is spent it paces
progressively by itself until the windows recover, as it does during a controlled resume marked
progressive-only.

Pure: a function of the snapshot and ``now``.
"""

from __future__ import annotations

from pacing.policies import progressive
from pacing.policies.caps import apply_caps, resume_active, ring_timeout
from pacing.policies.controller import DEFAULT_TUNING, ControllerTuning, risk_threshold
from pacing.policies.model import horizons, most_calls, risk
from pacing.snapshot import AgentState, Decision, DecisionReason, PacingSnapshot

UNBOUNDED = 10**6


def decide(
    snapshot: PacingSnapshot, now: float, tuning: ControllerTuning = DEFAULT_TUNING
) -> Decision:
    """How many calls to place now under predictive pacing."""
    timeout = ring_timeout(snapshot)
    if snapshot.active_agents == 0:
        return Decision(0, DecisionReason.NO_AGENTS, "no agent logged in and unpaused", timeout)
    resume = snapshot.resume
    if resume is not None and resume.progressive_only and resume_active(snapshot, now):
        return progressive.decide(snapshot, now)
    target = snapshot.config.abandon_target
    threshold = risk_threshold(snapshot.stats, target, tuning, snapshot.calling_day)
    if threshold.progressive:
        slow = progressive.decide(snapshot, now)
        detail = (
            f"abandon budget spent ({threshold.binding} window): one call per free agent; "
            + slow.detail
        )
        reason = slow.reason
        if reason is DecisionReason.AGENTS_COVERED:  # over-dialling is what the budget forbids
            reason = DecisionReason.ABANDON_RISK
        return Decision(slow.calls, reason, detail, timeout, risk_threshold=0.0)
    limit, bound = apply_caps(snapshot, now, UNBOUNDED)
    points = horizons(snapshot, now)
    scale = snapshot.estimates.risk_scale  # the model's abandons came true this many times over
    count = most_calls(points, threshold.theta / scale, limit)
    floor = snapshot.count(AgentState.FREE) - len(snapshot.calls)
    count = min(limit, max(count, floor))
    risks = tuple(None if n <= floor else risk(points, n) for n in range(1, count + 1))
    detail = (
        f"risk per call ≤ {threshold.theta:.2%} (aim {threshold.aim:.2%}, "
        f"{threshold.binding} factor {threshold.factor:.2f}, model ×{scale:.2f})"
    )
    if count == limit and bound is not None:
        reason = bound
    elif count > 0:
        reason = DecisionReason.PLACING
    elif snapshot.count(AgentState.FREE) > snapshot.waiting:
        reason = DecisionReason.ABANDON_RISK
    else:
        reason = DecisionReason.AGENTS_COVERED
    return Decision(
        count, reason, detail, timeout, risk_threshold=threshold.theta, call_risks=risks
    )
