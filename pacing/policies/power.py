"""Power pacing: a fixed number of calls in flight per free agent (``config.power_ratio``).

Pure: ``decide(snapshot, now)`` keeps ``floor(ratio × free agents)`` calls ringing or waiting,
within the caps. Answers waiting in the queue already claim a free agent each.
"""

from __future__ import annotations

import math

from pacing.policies.caps import apply_caps, ring_timeout
from pacing.snapshot import AgentState, Decision, DecisionReason, PacingSnapshot


def decide(snapshot: PacingSnapshot, now: float) -> Decision:
    """Keep ``ratio`` calls in flight per free agent not yet claimed by a waiting answer."""
    timeout = ring_timeout(snapshot)
    if snapshot.active_agents == 0:
        return Decision(0, DecisionReason.NO_AGENTS, "no agent logged in and unpaused", timeout)
    ratio = snapshot.config.power_ratio
    waiting = snapshot.waiting
    unclaimed = max(0, snapshot.count(AgentState.FREE) - waiting)
    target = math.floor(ratio * unclaimed + 1e-9)
    wanted = target - (len(snapshot.calls) - waiting)
    count, bound = apply_caps(snapshot, now, wanted)
    detail = f"{ratio:g} lines per free agent, {unclaimed} unclaimed free agents"
    if bound is not None:
        return Decision(count, bound, detail, timeout)
    if count == 0:
        return Decision(0, DecisionReason.AGENTS_COVERED, detail, timeout)
    return Decision(count, DecisionReason.PLACING, detail, timeout)
