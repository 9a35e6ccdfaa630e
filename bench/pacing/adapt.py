"""VICIdial's ADAPT_TAPERED dial level, re-implemented from its public description, as a reference
policy for the benchmark only (it keeps state between calls, which runner policies must not).

Every second it samples R (agents ready), W (answered calls waiting) and A (agents logged in);
every 15 s, with the samples averaged, ``m = (R − W) / A`` and ``level ← level × (1 + m)``; if more
than half of over 20 live answers in the last minute were dropped the level is halved; if today's
drop rate exceeds the target after 50 live answers the level is multiplied by
``min(1, hours left before the end of the day / 10)``; the level stays within [1, 3]. Every 2.5 s
it places ``round(level × agents not paused) − calls in flight``, where calls in flight are those
ringing, those waiting and those connected to an agent (VICIdial counts every live call).
"""

from __future__ import annotations

from collections import deque

from pacing.policies.caps import apply_caps, ring_timeout
from pacing.snapshot import AgentState, Decision, DecisionReason, PacingSnapshot

SAMPLE_S = 1.0
ADJUST_S = 15.0
PLACE_S = 2.5


class AdaptTapered:
    """The ADAPT_TAPERED dial level; ``decide`` must be called at least once a second.

    Placements happen at the first call at or after each 2.5 s mark, so with a 1 s tick they
    come 2 or 3 s apart (2.5 s on average).
    """

    def __init__(self, day_end: float, target: float = 0.03) -> None:
        self.day_end = day_end
        self.target = target
        self.level = 1.0
        self._samples: list[tuple[int, int, int]] = []
        self._history: deque[tuple[float, int, int]] = deque()  # (time, live answers, drops)
        self._next_sample = 0.0
        self._next_adjust = ADJUST_S
        self._next_place = 0.0

    def _sample(self, snapshot: PacingSnapshot, now: float) -> None:
        ready = snapshot.count(AgentState.FREE)
        self._samples.append((ready, snapshot.waiting, len(snapshot.agents)))
        day = snapshot.stats.day
        self._history.append((now, day.live_answers, day.abandons))
        while self._history and self._history[0][0] < now - 60.0:
            self._history.popleft()

    def _adjust(self, snapshot: PacingSnapshot, now: float) -> None:
        if self._samples:
            count = len(self._samples)
            ready = sum(s[0] for s in self._samples) / count
            waiting = sum(s[1] for s in self._samples) / count
            logged = sum(s[2] for s in self._samples) / count
            if logged > 0:
                self.level *= 1.0 + (ready - waiting) / logged
        self._samples.clear()
        day = snapshot.stats.day
        if self._history:
            _, live_then, drops_then = self._history[0]
            live, drops = day.live_answers - live_then, day.abandons - drops_then
            if live > 20 and drops > live / 2:
                self.level /= 2.0
        if day.live_answers >= 50 and day.abandon_rate > self.target:
            self.level *= min(1.0, max(0.0, self.day_end - now) / 3600.0 / 10.0)
        self.level = min(3.0, max(1.0, self.level))

    def decide(self, snapshot: PacingSnapshot, now: float) -> Decision:
        """Sample, adjust and place on ADAPT_TAPERED's own timers."""
        timeout = ring_timeout(snapshot)
        if now >= self._next_sample:
            self._sample(snapshot, now)
            self._next_sample += SAMPLE_S
        if now >= self._next_adjust:
            self._adjust(snapshot, now)
            self._next_adjust += ADJUST_S
        detail = f"ADAPT_TAPERED level {self.level:.2f}"
        if now < self._next_place:
            return Decision(0, DecisionReason.AGENTS_COVERED, detail, timeout)
        self._next_place += PLACE_S
        active = snapshot.active_agents
        if active == 0:
            return Decision(0, DecisionReason.NO_AGENTS, detail, timeout)
        in_flight = len(snapshot.calls) + snapshot.count(AgentState.BUSY)
        wanted = round(self.level * active) - in_flight
        count, bound = apply_caps(snapshot, now, wanted)
        reason = bound or (DecisionReason.PLACING if count else DecisionReason.AGENTS_COVERED)
        return Decision(count, reason, detail, timeout)
