"""A deterministic discrete-event simulation of one campaign on a virtual clock.

Simulated agents and callees, no sockets and no wall clock: events (answers, ring timeouts, the
2 s connect limit, end of talk, end of wrap-up) sit in a heap ordered by virtual time, and the
policy under test is called through the same ``decide(snapshot, now)`` the runner uses, every
``tick`` seconds, with a snapshot built exactly as the runner would (agents, calls in flight,
rolling counts from :class:`pacing.stats.AbandonWindows`, estimates from
:class:`pacing.stats.CallEstimator`).

Common random numbers: the k-th attempt of a run draws its outcome, ring time and talk time from
one stream seeded by the scenario and seed, three draws per attempt whatever happens, so the k-th
attempt is the same call under every policy. Answering-machine detection is taken as immediate at
answer; a live answer joins the queue at once and is abandoned if no agent is free within 2 s.
Agents take waiting answers first come, first served, and the agent idle longest takes a call.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from pacing.calls import CallPhase
from pacing.outcomes import Outcome
from pacing.snapshot import (
    Agent,
    AgentState,
    CallInFlight,
    Caps,
    Decision,
    PacingConfig,
    PacingSnapshot,
)
from pacing.stats import AbandonWindows, CallEstimator, RiskCalibration

Policy = Callable[[PacingSnapshot, float], Decision]

LIVE, MACHINE, NOANSWER = 0, 1, 2
EV_ANSWER, EV_RING_END, EV_EXPIRE, EV_TALK_END, EV_WRAP_END = range(5)


@dataclass(frozen=True, slots=True)
class Scenario:
    """One point of the benchmark grid."""

    agents: int
    live_rate: float
    talk_mean: float
    duration_s: float
    talk_cv: float = 1.0  # log-normal talk time with this coefficient of variation
    wrap_s: float = 10.0
    machine_rate: float = 0.1
    ring_min: float = 3.0
    ring_max: float = 20.0
    ring_timeout: float = 25.0
    connect_limit: float = 2.0

    @property
    def name(self) -> str:
        """A short label such as ``a10-l25-t60``."""
        return f"a{self.agents}-l{round(self.live_rate * 100)}-t{round(self.talk_mean)}"

    @property
    def limit(self) -> float:
        """Talk minutes per agent-hour with no idle time at all: 60 × talk / (talk + wrap)."""
        return 60.0 * self.talk_mean / (self.talk_mean + self.wrap_s)


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one simulated run measured."""

    talk_s: float
    busy_s: float  # talk plus wrap-up inside the run
    calls: int
    live_answers: int
    abandons: int
    worst_hour_rate: float
    agent_hours: float

    @property
    def abandon_rate(self) -> float:
        """Abandons over live answers for the whole run."""
        return self.abandons / self.live_answers if self.live_answers else 0.0


class AttemptStream:
    """The k-th attempt's outcome, ring time and talk time (common random numbers)."""

    def __init__(self, scenario: Scenario, seed: int) -> None:
        self._rng = random.Random(seed)
        self._s = scenario
        sigma = math.sqrt(math.log(1.0 + scenario.talk_cv**2))
        self._sigma = sigma
        self._mu = math.log(scenario.talk_mean) - sigma * sigma / 2.0

    def next(self) -> tuple[int, float, float]:
        """(kind, ring time to answer, talk time) of the next attempt."""
        rng, s = self._rng, self._s
        u, r, t = rng.random(), rng.random(), rng.gauss(0.0, 1.0)
        kind = (
            LIVE if u < s.live_rate else MACHINE if u < s.live_rate + s.machine_rate else NOANSWER
        )
        ring = s.ring_min + r * (s.ring_max - s.ring_min)
        return kind, ring, math.exp(self._mu + self._sigma * t)


class Simulation:
    """One run of one policy on one scenario and seed."""

    def __init__(self, scenario: Scenario, seed: int, config: PacingConfig, caps: Caps) -> None:
        self.s = scenario
        self.config = config
        self.caps = caps
        self.stream = AttemptStream(scenario, seed)
        self.now = 0.0
        self.heap: list[tuple[float, int, int, int]] = []
        self.seq = 0
        self.agents = [Agent(f"agent-{i}", AgentState.FREE, 0.0) for i in range(scenario.agents)]
        self.free: deque[int] = deque(range(scenario.agents))
        self.calls: dict[int, CallInFlight] = {}
        self.pending: dict[int, tuple[int, float, float]] = {}
        self.queue: deque[int] = deque()
        self.windows = AbandonWindows()
        self.estimator = CallEstimator()
        self.calibration = RiskCalibration()  # the model's priced risk against what came true
        self.risks: dict[int, float] = {}  # call → the model's risk it was placed on
        self.attempts = 0
        self.talk_s = 0.0
        self.busy_s = 0.0
        self.live: list[tuple[float, bool]] = []  # (time, abandoned) of every live answer
        self.estimates = self.estimator.estimates()

    def push(self, at: float, kind: int, ref: int) -> None:
        """Schedule an event."""
        self.seq += 1
        heapq.heappush(self.heap, (at, self.seq, kind, ref))

    def dial(self, risk: float | None = None) -> None:
        """Place the next attempt of the stream (``risk``: the model's, as the decision says)."""
        k = self.attempts
        if risk is not None:
            self.risks[k] = risk
        self.attempts += 1
        kind, ring, talk = self.stream.next()
        self.calls[k] = CallInFlight(str(k), self.now)
        self.pending[k] = (kind, ring, talk)
        if kind == NOANSWER:
            self.push(self.now + self.s.ring_timeout, EV_RING_END, k)
        else:
            self.push(self.now + ring, EV_ANSWER, k)

    def connect(self, k: int, talk: float) -> None:
        """Give call ``k`` to the agent idle longest."""
        i = self.free.popleft()
        self.agents[i] = Agent(self.agents[i].agent_id, AgentState.BUSY, self.now)
        self.push(self.now + talk, EV_TALK_END, i)
        end = self.s.duration_s
        self.talk_s += max(0.0, min(self.now + talk, end) - self.now)
        self.busy_s += max(0.0, min(self.now + talk + self.s.wrap_s, end) - self.now)
        self.finish(k, Outcome.ANSWERED)

    def finish(self, k: int, outcome: Outcome) -> None:
        """Record the outcome of call ``k`` and forget it."""
        self.calls.pop(k, None)
        self.pending.pop(k, None)
        risk = self.risks.pop(k, None)
        if risk is not None and outcome.is_live_answer:
            self.calibration.observe(risk, outcome is Outcome.ABANDONED)
        self.windows.add(self.now, outcome)
        if outcome.is_live_answer:
            self.live.append((self.now, outcome is Outcome.ABANDONED))

    def on_answer(self, k: int) -> None:
        kind, ring, talk = self.pending[k]
        if kind == MACHINE:
            self.estimator.record_attempt(Outcome.MACHINE, ring, self.calls[k].dialled_at)
            self.finish(k, Outcome.MACHINE)
            return
        self.estimator.record_attempt(Outcome.ANSWERED, ring, self.calls[k].dialled_at)
        if self.free and not self.queue:
            self.connect(k, talk)
            return
        self.calls[k] = CallInFlight(str(k), self.calls[k].dialled_at, CallPhase.WAITING, self.now)
        self.queue.append(k)
        self.push(self.now + self.s.connect_limit, EV_EXPIRE, k)

    def on_event(self, kind: int, ref: int) -> None:
        """Apply one event at ``self.now``."""
        if kind == EV_ANSWER:
            self.on_answer(ref)
        elif kind == EV_RING_END:
            self.estimator.record_attempt(Outcome.NO_ANSWER, None, self.calls[ref].dialled_at)
            self.finish(ref, Outcome.NO_ANSWER)
        elif kind == EV_EXPIRE:
            if ref in self.pending:
                self.queue.remove(ref)
                self.finish(ref, Outcome.ABANDONED)
        elif kind == EV_TALK_END:
            agent = self.agents[ref]
            self.estimator.record_talk(self.now - agent.since)
            self.agents[ref] = Agent(agent.agent_id, AgentState.WRAP, self.now)
            self.push(self.now + self.s.wrap_s, EV_WRAP_END, ref)
        else:
            agent = self.agents[ref]
            self.estimator.record_wrap(self.now - agent.since)
            self.agents[ref] = Agent(agent.agent_id, AgentState.FREE, self.now)
            self.free.append(ref)
            if self.queue:
                k = self.queue.popleft()
                self.connect(k, self.pending[k][2])

    def oldest_ringing(self) -> float | None:
        """When the oldest call still ringing was dialled (calls are kept in dial order)."""
        for call in self.calls.values():
            if call.phase is CallPhase.RINGING:
                return call.dialled_at
        return None

    def talking(self, now: float) -> list[float]:
        """How long each busy agent has been talking (censored talk times for the estimator)."""
        return [now - a.since for a in self.agents if a.state is AgentState.BUSY]

    def snapshot(self) -> PacingSnapshot:
        """The snapshot the runner would build now."""
        return PacingSnapshot(
            campaign_id=self.s.name,
            config=self.config,
            agents=tuple(self.agents),
            calls=tuple(self.calls.values()),
            stats=self.windows.read(self.now),
            estimates=self.estimates,
            caps=self.caps,
        )

    def run(self, policy: Policy, tick: float = 1.0, invariant: bool = False) -> RunResult:
        """Run to the scenario's end with ``policy`` called every ``tick`` seconds.

        ``invariant`` says the policy's answer depends on the state only, not on the time: it is
        then not called again until an event has changed the state (same result, less work).
        """
        end = self.s.duration_s
        self.estimates = self.estimator.estimates()
        steps = int(end / tick)
        changed = True
        for step in range(steps):
            at = step * tick
            while self.heap and self.heap[0][0] <= at:
                when, _, kind, ref = heapq.heappop(self.heap)
                self.now = when
                self.on_event(kind, ref)
                changed = True
            self.now = at
            if invariant and not changed:
                continue
            changed = False
            if step % max(1, round(5.0 / tick)) == 0:
                self.estimator.release(self.oldest_ringing())
                estimates = self.estimator.estimates(self.talking(at))
                self.estimates = replace(estimates, risk_scale=self.calibration.scale())
            decision = policy(self.snapshot(), at)
            risks = decision.call_risks
            for n in range(decision.calls):
                self.dial(risks[n] if n < len(risks) else None)
        while self.heap and self.heap[0][0] <= end:
            when, _, kind, ref = heapq.heappop(self.heap)
            self.now = when
            self.on_event(kind, ref)
        return self.result()

    def result(self) -> RunResult:
        """The run's measurements."""
        abandons = sum(1 for _, dropped in self.live if dropped)
        return RunResult(
            talk_s=self.talk_s,
            busy_s=self.busy_s,
            calls=self.attempts,
            live_answers=len(self.live),
            abandons=abandons,
            worst_hour_rate=worst_hour(self.live, self.s.duration_s),
            agent_hours=self.s.agents * self.s.duration_s / 3600.0,
        )


def worst_hour(live: list[tuple[float, bool]], end: float, step: float = 60.0) -> float:
    """The highest abandon rate over any one-hour window (sliding by ``step``) inside the run."""
    if end < 3600.0 or not live:
        total = sum(1 for _, dropped in live if dropped)
        return total / len(live) if live else 0.0
    worst, lo, hi, count, drops = 0.0, 0, 0, 0, 0
    start = 0.0
    while start + 3600.0 <= end + 1e-9:
        while hi < len(live) and live[hi][0] < start + 3600.0:
            count, drops, hi = count + 1, drops + live[hi][1], hi + 1
        while lo < hi and live[lo][0] < start:
            count, drops, lo = count - 1, drops - live[lo][1], lo + 1
        if count:
            worst = max(worst, drops / count)
        start += step
    return worst
