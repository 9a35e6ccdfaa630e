"""The pacing benchmark's harder world: a calling day as production has it, from a cold start.

Beside the grid of :mod:`bench.pacing.world` (log-normal talk, fixed rates, a fixed team, no AMD),
each scenario here is one calling day of a campaign with no history:

* **talk time** is a mixture — short calls (a quick "not interested", mean 25 s), long ones
  (mean 200 s) and a heavy Pareto tail (5 % from 400 s, shape 1.6, capped at an hour); wrap-up
  varies per call (5–20 s);
* **the live-answer rate drifts** through the day (for example 8 % in the morning to 25 % at
  the close), answering machines 10 %, the rest ring out at 25 s;
* **agents come and go**: most log in at the start, the rest within the first 20 minutes; each
  takes short breaks (paused 5–15 minutes every 40–80 minutes), a quarter log out for half an
  hour at mid-day and some leave in the last half hour; an agent only pauses or leaves when free;
* **AMD** listens after every answer (live 1.5–3.5 s, machines 2–5 s) before a live caller joins
  the queue; the 2 s connect limit runs from there;
* **the calling window ends**: no call is placed after it, and the policy knows how much of the
  day is left (:class:`pacing.snapshot.CallingDay`).

It drives what the runner drives, at the moments the runner sees them: the
:class:`pacing.learning.Learner` (dialled, answered, connected, settled, the agents' states every
tick), the rolling windows and the calling-day counts of :mod:`pacing.stats`, the runner's
snapshot, ``decide`` and the guards (:func:`pacing.guards.evaluate`). A guard that trips is
counted with its name and cause and pauses dialling for five minutes, as a person resuming the
campaign would; after the resume the guards watch with the tighter thresholds for ten minutes and
act only on evidence counted since the resume, as the runner's do.

Common random numbers: the k-th attempt draws the same seven numbers under every policy.
Pure computation on a virtual clock; the CLI times it.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.pacing.world import worst_hour
from pacing.calls import CallPhase
from pacing.guards import GuardInputs, evaluate
from pacing.learning import Learner, choose_prior
from pacing.outcomes import Outcome
from pacing.policies import power, predictive, progressive
from pacing.snapshot import (
    Agent,
    AgentState,
    CallInFlight,
    CallingDay,
    Caps,
    Decision,
    PacingConfig,
    PacingMode,
    PacingSnapshot,
)
from pacing.stats import HOUR, AbandonWindows, DayCounter

Policy = Callable[[PacingSnapshot, float], Decision]
TARGET = 0.03
AMD_ALLOWANCE_S = 5.0
RESUME_AFTER_S = 300.0  # a tripped guard pauses; a person resumes after this long
WATCH_AFTER_RESUME_S = 600.0  # the tighter guard thresholds after a resume (as the store says)
FIRST_S = 600.0  # "the first 10 minutes"
LIVE, MACHINE, NOANSWER = 0, 1, 2
(
    EV_PICKUP,
    EV_RING_END,
    EV_AMD_DONE,
    EV_EXPIRE,
    EV_TALK_END,
    EV_WRAP_END,
    EV_LOGIN,
    EV_BREAK,
    EV_BACK,
    EV_LEAVE,
) = range(10)


@dataclass(frozen=True, slots=True)
class HardScenario:
    """One calling day of the harder world."""

    agents: int
    live_start: float
    live_end: float
    duration_s: float = 8 * HOUR
    machine_rate: float = 0.10
    ring_min: float = 3.0
    ring_max: float = 20.0
    ring_timeout: float = 25.0
    connect_limit: float = 2.0
    amd: bool = True

    @property
    def name(self) -> str:
        """A label such as ``hard-a10-l8to25``."""
        start, end = round(self.live_start * 100), round(self.live_end * 100)
        live = f"l{start}" if start == end else f"l{start}to{end}"
        return f"hard-a{self.agents}-{live}"

    def live_rate(self, at: float) -> float:
        """The live-answer rate at ``at`` (linear drift over the day)."""
        share = min(1.0, max(0.0, at / self.duration_s))
        return self.live_start + share * (self.live_end - self.live_start)


def hard_grid() -> list[HardScenario]:
    """Small teams at 10 % live answers, and teams of 10, 25, 100 through an 8 % → 25 % drift."""
    return [
        HardScenario(5, 0.10, 0.10),
        HardScenario(10, 0.10, 0.10),
        HardScenario(10, 0.08, 0.25),
        HardScenario(25, 0.08, 0.25),
        HardScenario(100, 0.08, 0.25, duration_s=4 * HOUR),
    ]


def mixture_talk(u: float, z: float, v: float) -> float:
    """Talk seconds: 55 % short (mean 25 s), 40 % long (mean 200 s), 5 % Pareto tail from 400 s."""
    if u < 0.55:
        sigma = math.sqrt(math.log(1.0 + 0.6**2))
        return max(2.0, math.exp(math.log(25.0) - sigma * sigma / 2.0 + sigma * z))
    if u < 0.95:
        sigma = math.sqrt(math.log(1.0 + 0.7**2))
        return math.exp(math.log(200.0) - sigma * sigma / 2.0 + sigma * z)
    return float(min(3600.0, 400.0 * (1.0 - v) ** (-1.0 / 1.6)))


@dataclass(frozen=True, slots=True)
class Trip:
    """A guard trip in the simulated day."""

    at: float
    guard: str
    text: str


@dataclass(frozen=True, slots=True)
class DayResult:
    """What one simulated day measured."""

    live_answers: int
    abandons: int
    first_live: int
    first_abandons: int
    worst_hour_rate: float
    talk_s: float
    agent_hours: float  # logged-in time, pauses included
    calls: int
    trips: tuple[Trip, ...]
    ticks: int

    @property
    def abandon_rate(self) -> float:
        """The day's abandons over its live answers."""
        return self.abandons / self.live_answers if self.live_answers else 0.0

    @property
    def first_rate(self) -> float:
        """The first 10 minutes' abandons over their live answers."""
        return self.first_abandons / self.first_live if self.first_live else 0.0

    @property
    def talk_per_agent_hour(self) -> float:
        """Talk minutes per logged-in agent-hour."""
        return self.talk_s / 60.0 / self.agent_hours if self.agent_hours else 0.0


@dataclass(slots=True)
class _Attempt:
    kind: int
    ring: float
    talk: float
    amd: float
    wrap: float
    dialled_at: float
    picked_up: float | None = None
    done: bool = False


class HardDay:
    """One policy through one calling day of one scenario and seed."""

    def __init__(self, scenario: HardScenario, seed: int, config: PacingConfig) -> None:
        self.s = scenario
        self.config = config
        self.caps = Caps(max_lines_per_agent=6.0)
        self.rng = random.Random(seed)  # the attempt stream (common random numbers)
        team = random.Random(seed * 7_919 + scenario.agents)  # the agents' day, same for all
        self.now = 0.0
        self.heap: list[tuple[float, int, int, int]] = []
        self.seq = 0
        self.names = [f"agent-{i}" for i in range(scenario.agents)]
        self.agents: dict[int, Agent] = {}  # logged in
        self.free: deque[int] = deque()
        self.pause_due: set[int] = set()
        self.leave_due: dict[int, float] = {}  # agent → back at (inf: for the day)
        self.logged_since: dict[int, float] = {}
        self.logged_s = 0.0
        self.wraps: dict[int, float] = {}
        self.attempts: dict[int, _Attempt] = {}
        self.in_flight: dict[int, CallInFlight] = {}
        self.queue: deque[int] = deque()
        self.windows = AbandonWindows()
        self.day = DayCounter()
        self.day.begin(0.0)
        self.learner = Learner(choose_prior())  # a campaign with no history: cold
        self.count = 0
        self.talk_s = 0.0
        self.live: list[tuple[float, bool]] = []
        self.trips: list[Trip] = []
        self.paused_until = -1.0
        self.resumed_at: float | None = None  # the last resume after a trip
        self.since_resume = DayCounter()  # settled since then: the guards' new evidence
        self.progressive = False
        self.ticks = 0
        self.talking: dict[int, int] = {}  # agent → the call it is on
        self.breaks: dict[int, deque[float]] = {}  # agent → lengths of its breaks to come
        self._plan_agents(team)

    # -- the agents' day -------------------------------------------------------------------
    def _plan_agents(self, rng: random.Random) -> None:
        end = self.s.duration_s
        for i in range(self.s.agents):
            login = 0.0 if rng.random() < 0.7 else rng.uniform(0.0, 1200.0)
            self.push(login, EV_LOGIN, i)
            at = login + rng.uniform(2400.0, 4800.0)
            self.breaks[i] = deque()
            while at < end - 1800.0:
                self.push(at, EV_BREAK, i)
                self.breaks[i].append(rng.uniform(300.0, 900.0))
                at += rng.uniform(2400.0, 4800.0)
            if rng.random() < 0.25:
                self.push(end / 2 + rng.uniform(-900.0, 900.0), EV_LEAVE, i)
            elif rng.random() < 0.3:
                self.push(end - rng.uniform(0.0, 1800.0), EV_LEAVE, i)

    def _set(self, i: int, state: AgentState) -> None:
        self.agents[i] = Agent(self.names[i], state, self.now)

    def _become_free(self, i: int) -> None:
        """Agent ``i`` is ready: it pauses or leaves if due, else takes the queue's head."""
        if i in self.leave_due:
            back = self.leave_due.pop(i)
            self._log_out(i)
            if back < math.inf:
                self.push(back, EV_LOGIN, i)
            return
        if i in self.pause_due:
            self.pause_due.discard(i)
            self._set(i, AgentState.PAUSED)
            planned = self.breaks[i]
            self.push(self.now + (planned.popleft() if planned else 600.0), EV_BACK, i)
            return
        self._set(i, AgentState.FREE)
        self.free.append(i)
        if self.queue:
            self.connect(self.queue.popleft())

    def _log_out(self, i: int) -> None:
        self.agents.pop(i, None)
        if i in self.free:
            self.free.remove(i)
        since = self.logged_since.pop(i, self.now)
        self.logged_s += max(0.0, min(self.now, self.s.duration_s) - since)

    # -- calls -------------------------------------------------------------------------------
    def push(self, at: float, kind: int, ref: int) -> None:
        """Schedule an event."""
        self.seq += 1
        heapq.heappush(self.heap, (at, self.seq, kind, ref))

    def dial(self, risk: float | None = None) -> None:
        """Place the next attempt of the stream (``risk``: the model's, as the decision says)."""
        rng = self.rng
        u, r, tu, tz, tv, a, w = (rng.random() for _ in range(7))
        live = self.s.live_rate(self.now)
        kind = LIVE if u < live else MACHINE if u < live + self.s.machine_rate else NOANSWER
        ring = self.s.ring_min + r * (self.s.ring_max - self.s.ring_min)
        amd = (1.5 + 2.0 * a if kind == LIVE else 2.0 + 3.0 * a) if self.s.amd else 0.0
        talk = mixture_talk(tu, math.sqrt(-2.0 * math.log(max(tz, 1e-12))) * math.cos(tv), tv)
        k = self.count
        self.count += 1
        self.attempts[k] = _Attempt(kind, ring, talk, amd, 5.0 + 15.0 * w, self.now)
        self.in_flight[k] = CallInFlight(str(k), self.now)
        self.learner.dialled(str(k), self.now, progressive=self.progressive, risk=risk)
        if kind == NOANSWER:
            self.push(self.now + self.s.ring_timeout, EV_RING_END, k)
        else:
            self.push(self.now + ring, EV_PICKUP, k)

    def settle(self, k: int, outcome: Outcome, talk_s: float | None = None) -> None:
        """The attempt's outcome is recorded (what the result writer hands the runner)."""
        att = self.attempts.pop(k)
        self.in_flight.pop(k, None)
        self.windows.add(self.now, outcome)
        self.day.add(self.now, outcome)
        self.since_resume.add(self.now, outcome)
        ring = att.ring if att.picked_up is not None else None
        free = bool(self.free) and outcome is Outcome.ABANDONED
        self.learner.settled(str(k), outcome, self.now, ring_s=ring, talk_s=talk_s, agent_free=free)
        if outcome.is_live_answer and not att.done:
            self.live.append((self.now, outcome is Outcome.ABANDONED))

    def connect(self, k: int) -> None:
        """Give call ``k`` to the agent idle longest."""
        i = self.free.popleft()
        att = self.attempts[k]
        self._set(i, AgentState.BUSY)
        self.in_flight.pop(k, None)
        self.learner.connected(str(k), self.now)
        self.live.append((self.now, False))
        att.done = True
        end = self.s.duration_s  # talk inside the calling day
        self.talk_s += max(0.0, min(self.now + att.talk, end) - self.now)
        self.push(self.now + att.talk, EV_TALK_END, i)
        self.wraps[i] = att.wrap
        self.talking[i] = k

    def on_event(self, kind: int, ref: int) -> None:
        """Apply one event at ``self.now``."""
        if kind >= EV_LOGIN:
            self.on_agent_event(kind, ref)
        elif kind == EV_PICKUP:
            att = self.attempts[ref]
            att.picked_up = self.now
            self.in_flight[ref] = CallInFlight(
                str(ref), att.dialled_at, CallPhase.WAITING, self.now
            )
            self.learner.answered(str(ref), self.now)
            self.push(self.now + att.amd, EV_AMD_DONE, ref)
        elif kind == EV_RING_END:
            self.settle(ref, Outcome.NO_ANSWER)
        elif kind == EV_AMD_DONE:
            if self.attempts[ref].kind == MACHINE:
                self.settle(ref, Outcome.MACHINE)
            elif self.free and not self.queue:
                self.connect(ref)
            else:
                self.queue.append(ref)
                self.push(self.now + self.s.connect_limit, EV_EXPIRE, ref)
        elif kind == EV_EXPIRE:
            if ref in self.queue:
                self.queue.remove(ref)
                self.settle(ref, Outcome.ABANDONED)
        elif kind == EV_TALK_END:
            k = self.talking.pop(ref)
            self.settle(k, Outcome.ANSWERED, talk_s=self.now - self.agents[ref].since)
            self._set(ref, AgentState.WRAP)
            self.push(self.now + self.wraps.pop(ref), EV_WRAP_END, ref)
        elif kind == EV_WRAP_END:
            self._become_free(ref)

    def on_agent_event(self, kind: int, ref: int) -> None:
        """Log in, break, back from a break, leave."""
        if kind == EV_LOGIN:
            if ref not in self.agents:
                self.logged_since[ref] = self.now
                self._become_free(ref)
        elif kind in (EV_BREAK, EV_LEAVE):
            if ref not in self.agents:
                return
            if kind == EV_LEAVE:
                back = self.now + 1800.0 if self.now < self.s.duration_s * 0.75 else math.inf
                self.leave_due[ref] = back
            else:
                self.pause_due.add(ref)
            if self.agents[ref].state is AgentState.FREE:
                self.free.remove(ref)
                self._become_free(ref)
        elif kind == EV_BACK and ref in self.agents:
            self._become_free(ref)

    # -- the runner's tick -------------------------------------------------------------------
    def advance(self, until: float) -> None:
        """Apply every event up to ``until``."""
        while self.heap and self.heap[0][0] <= until:
            when, _, kind, ref = heapq.heappop(self.heap)
            self.now = when
            self.on_event(kind, ref)
        self.now = until

    def snapshot(self) -> PacingSnapshot:
        """What the runner builds: agents, calls, windows, the learner's estimates, the day."""
        now = self.now
        agents = tuple(self.agents.values())
        self.learner.agents(agents)
        talking = [now - a.since for a in agents if a.state is AgentState.BUSY]
        left = max(0.0, self.s.duration_s - now)
        return PacingSnapshot(
            campaign_id=self.s.name,
            config=self.config,
            agents=agents,
            calls=tuple(self.in_flight.values()),
            stats=self.windows.read(now),
            estimates=self.learner.estimates(talking),
            caps=self.caps,
            calling_day=CallingDay(self.day.read(), now, left),
        )

    def tick(self, policy: Policy) -> Decision:
        """One runner tick at ``self.now``: snapshot, decide, guards, place."""
        self.ticks += 1
        now = self.now
        snapshot = self.snapshot()
        decision = policy(snapshot, now)
        if now >= self.s.duration_s or now < self.paused_until:
            return decision
        if self.paused_until > 0.0 and self.resumed_at != self.paused_until:
            self.resumed_at = self.paused_until  # a person resumed the campaign
            self.since_resume.begin(self.resumed_at)
        resumed = self.resumed_at
        inputs = GuardInputs(
            stats=snapshot.stats,
            abandon_target=self.config.abandon_target,
            abandons=self.learner.abandons(
                now - HOUR if resumed is None else max(now - HOUR, resumed)
            ),
            since_resume=None if resumed is None else self.since_resume.read(),
            watching=resumed is not None and now < resumed + WATCH_AFTER_RESUME_S,
            waits=self.learner.waits(),
            connect_limit_s=self.s.connect_limit,
            amd_allowance_s=AMD_ALLOWANCE_S if self.s.amd else 0.0,
            policy_owns_budget=self.config.mode is not PacingMode.POWER,
        )
        trip = evaluate(inputs)
        if trip is not None:
            self.trips.append(Trip(now, trip.guard, trip.text))
            self.paused_until = now + RESUME_AFTER_S
            return decision
        if decision.calls > 0:
            over = len(snapshot.calls) + decision.calls > snapshot.count(AgentState.FREE)
            self.progressive = not over
            risks = decision.call_risks
            for n in range(decision.calls):
                self.dial(risks[n] if n < len(risks) else None)
        return decision

    def run(self, policy: Policy, tick: float = 1.0) -> DayResult:
        """The whole day, ticking every ``tick`` seconds, then the calls in flight to their end."""
        steps = int(self.s.duration_s / tick)
        for step in range(steps + 1):
            self.advance(step * tick)
            self.tick(policy)
        self.advance(self.s.duration_s + 2 * HOUR)
        for i in list(self.agents):
            self._log_out(i)
        return self.result()

    def result(self) -> DayResult:
        """The day's measurements (live answers by when they were answered or abandoned)."""
        live = sorted(self.live)
        first = [dropped for at, dropped in live if at < FIRST_S]
        end = self.s.duration_s
        logged = self.logged_s
        return DayResult(
            live_answers=len(live),
            abandons=sum(1 for _, dropped in live if dropped),
            first_live=len(first),
            first_abandons=sum(first),
            worst_hour_rate=worst_hour(live, end),
            talk_s=self.talk_s,
            agent_hours=logged / 3600.0,
            calls=self.count,
            trips=tuple(self.trips),
            ticks=self.ticks,
        )


def policy_for(name: str, ratio: float = 2.0) -> tuple[PacingConfig, Policy]:
    """The config and decision function of a policy of the harder world."""
    if name == "progressive":
        return PacingConfig(PacingMode.PROGRESSIVE), progressive.decide
    if name == "power":
        return PacingConfig(PacingMode.POWER, power_ratio=ratio), power.decide
    return PacingConfig(PacingMode.PREDICTIVE, abandon_target=TARGET), predictive.decide


def run_day(scenario: HardScenario, seed: int, policy: str, ratio: float = 2.0) -> DayResult:
    """One calling day of one policy."""
    config, decide = policy_for(policy, ratio)
    stream = seed * 1_000_003 + scenario.agents * 7919 + round(scenario.live_start * 1000)
    return HardDay(scenario, stream, config).run(decide)


def tune_power_day(
    scenario: HardScenario, seeds: Sequence[int], steps: int = 4
) -> tuple[float, list[DayResult]]:
    """The largest power ratio whose day stays at or under the target on every seed (bisection)."""

    def ok(runs: list[DayResult]) -> bool:
        return all(r.abandon_rate <= TARGET for r in runs)

    lo, hi = 1.0, max(2.0, 2.0 / scenario.live_start)
    lo_runs = [run_day(scenario, s, "power", lo) for s in seeds]
    hi_runs = [run_day(scenario, s, "power", hi) for s in seeds]
    if ok(hi_runs):
        return hi, hi_runs
    for _ in range(steps):
        mid = (lo + hi) / 2.0
        runs = [run_day(scenario, s, "power", mid) for s in seeds]
        if ok(runs):
            lo, lo_runs = mid, runs
        else:
            hi = mid
    return lo, lo_runs


def tick_world(agents: int, seed: int = 1, warm_s: float = 900.0) -> HardDay:
    """A harder-world day of ``agents`` warmed up for ``warm_s``: the state to time ticks on."""
    scenario = HardScenario(agents, 0.15, 0.15, duration_s=2 * HOUR)
    config, decide = policy_for("predictive")
    day = HardDay(scenario, seed, config)
    for step in range(int(warm_s) + 1):
        day.advance(float(step))
        day.tick(decide)
    return day
