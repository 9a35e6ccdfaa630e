"""Pacing policies: ``decide(snapshot, now) -> Decision`` for progressive, power and predictive.

Every policy is a pure function of a :class:`pacing.snapshot.PacingSnapshot` and ``now``; the
runner calls :func:`decide`, which dispatches on the campaign's pacing mode.
"""

from __future__ import annotations

from pacing.policies import power, predictive, progressive
from pacing.snapshot import Decision, PacingMode, PacingSnapshot


def decide(snapshot: PacingSnapshot, now: float) -> Decision:
    """The decision of the campaign's own pacing mode."""
    mode = snapshot.config.mode
    if mode is PacingMode.PROGRESSIVE:
        return progressive.decide(snapshot, now)
    if mode is PacingMode.POWER:
        return power.decide(snapshot, now)
    return predictive.decide(snapshot, now)


__all__ = ["decide"]
