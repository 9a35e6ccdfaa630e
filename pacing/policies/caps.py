"""Caps every policy applies after choosing how many calls it wants: lines per agent, campaign
channels, free trunk channels and a controlled resume's concurrent-call cap.

Pure: a function of the snapshot, ``now`` and the wanted count. It never raises the count.
"""

from __future__ import annotations

import math

from pacing.snapshot import AgentState, DecisionReason, PacingSnapshot

MIN_RING_TIMEOUT_S = 15.0


def ring_timeout(snapshot: PacingSnapshot) -> float:
    """The ring timeout to dial with: the campaign's, never below 15 s."""
    return max(MIN_RING_TIMEOUT_S, snapshot.config.ring_timeout_s)


def resume_active(snapshot: PacingSnapshot, now: float) -> bool:
    """Whether a controlled resume's review window is still open."""
    return snapshot.resume is not None and now < snapshot.resume.until


def apply_caps(
    snapshot: PacingSnapshot, now: float, wanted: int
) -> tuple[int, DecisionReason | None]:
    """Cut ``wanted`` to the caps; return the count and the cap that bound (None if none did)."""
    in_flight = len(snapshot.calls)
    active = snapshot.active_agents
    connected = snapshot.count(AgentState.BUSY)
    limits: list[tuple[int, DecisionReason]] = []
    lines = math.floor(snapshot.caps.max_lines_per_agent * active + 1e-9) - in_flight
    limits.append((lines, DecisionReason.LINES_PER_AGENT_CAP))
    if snapshot.caps.campaign_channels is not None:
        channels = snapshot.caps.campaign_channels - in_flight - connected
        limits.append((channels, DecisionReason.CAMPAIGN_CHANNEL_CAP))
    if snapshot.caps.trunk_channels_free is not None:
        limits.append((snapshot.caps.trunk_channels_free, DecisionReason.TRUNK_CHANNEL_CAP))
    if resume_active(snapshot, now) and snapshot.resume is not None:
        cap = snapshot.resume.max_concurrent_calls
        if cap is not None:
            limits.append((cap - in_flight - connected, DecisionReason.CONTROLLED_RESUME_CAP))
    count, bound = max(0, wanted), None
    for limit, reason in limits:
        if limit < count:
            count, bound = max(0, limit), reason
    return count, bound
