"""Progressive pacing: one call in flight per free agent.

Pure: ``decide(snapshot, now)`` counts free agents against calls already ringing or waiting and
places the difference, within the caps. It never risks an abandon unless an agent leaves.
"""

from __future__ import annotations

from pacing.policies.caps import apply_caps, ring_timeout
from pacing.snapshot import AgentState, Decision, DecisionReason, PacingSnapshot


def decide(snapshot: PacingSnapshot, now: float) -> Decision:
    """One call in flight per free agent."""
    timeout = ring_timeout(snapshot)
    if snapshot.active_agents == 0:
        return Decision(0, DecisionReason.NO_AGENTS, "no agent logged in and unpaused", timeout)
    free = snapshot.count(AgentState.FREE)
    wanted = free - len(snapshot.calls)
    count, bound = apply_caps(snapshot, now, wanted)
    if bound is not None:
        return Decision(count, bound, f"{free} free agents, capped at {count} calls", timeout)
    if count == 0:
        detail = f"{len(snapshot.calls)} calls in flight cover {free} free agents"
        return Decision(0, DecisionReason.AGENTS_COVERED, detail, timeout)
    return Decision(
        count, DecisionReason.PLACING, f"one call per free agent ({free} free)", timeout
    )
