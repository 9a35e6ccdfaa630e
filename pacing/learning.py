"""What a running campaign learns about its calls, and when it learns it.

Design. :class:`Learner` is the runner's bookkeeping for the estimators (the benchmark's harder
world drives the same object at the same events). It is told of every call as it is dialled, as it
reaches an agent and as it settles, and of the agents' states every tick:

* **A live answer counts when it is answered**, not when it hangs up. A call seen with an agent is
  a live answer from that moment (its ring time is known); machines, no-answers and abandons count
  when they settle, which for them is at most seconds after the answer. Counting at hang-up would
  let the first minute learn only from no-answers and machines — the live-answer estimate then
  collapses and the policy bursts.
* **Cohorts, so ringing calls are censored, not ignored.** An attempt's outcome is only counted
  once every call dialled before it has been resolved (answered or rung out); calls that are still
  ringing therefore hold back the later ones instead of letting the quick outcomes bias the rates.
  An answered call whose kind is not known yet (AMD running, waiting in the queue) is unresolved.
  Cohorts are kept in dial order, not by dial time: the calls of one tick share a time, and
  ordering those by when their outcome came would count the live answers of a burst first and
  its no-answers last (the estimate then collapses as the no-answers come in).
* **Talk time is censored** by the calls agents are on now (Kaplan–Meier in
  :class:`pacing.stats.CallEstimator`): the model is not biased towards the short calls that end
  first.
* **Wrap-up is learnt from agent events**: an agent seen leaving wrap-up (to free or busy) gives
  one wrap-up time, measured from the state's own ``since`` stamps.
* **The model's calibration**: a call placed on the model's risk (beyond one per free agent)
  carries that risk; its live answer — connected or abandoned — feeds
  :class:`pacing.stats.RiskCalibration`, and the estimates carry the ratio.
* **Abandons of stranded callers** (answered live, no agent within the limit) are counted with
  whether the pacing could have avoided them: those of calls placed beyond one-per-free-agent are
  the policy's; those placed progressively, or abandoned while an agent sat free, are not (the
  guards look at those, :mod:`pacing.guards`).

Priors. :func:`choose_prior` starts a campaign from its own history, else recent history of the
same server or list, else conservative defaults (a high live-answer rate and long talk, so a cold
campaign under-dials). ``weight`` says how many attempts' worth of belief the prior carries, so the
dial level grows only as evidence accumulates.

Pure bookkeeping: no clock, no I/O; every method is given the time.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from pacing.outcomes import Outcome
from pacing.snapshot import Agent, AgentState, Estimates
from pacing.stats import CallEstimator, EstimatorPriors, RiskCalibration

IGNORED = frozenset({Outcome.DNC, Outcome.CANCELLED, Outcome.UNKNOWN})


@dataclass(frozen=True, slots=True)
class History:
    """Outcome counts of past attempts that a prior can be drawn from."""

    attempts: int = 0
    live_answers: int = 0
    machines: int = 0
    talk_mean_s: float | None = None
    wrap_mean_s: float | None = None


@dataclass(frozen=True, slots=True)
class Prior:
    """Where a campaign's estimates start, how strongly, and from what."""

    live_answer_probability: float = 0.5
    machine_probability: float = 0.1
    talk_mean_s: float = 120.0
    wrap_s: float = 10.0
    weight: float = 60.0  # attempts' worth of belief
    source: str = "defaults"


DEFAULT_PRIOR = Prior()
MIN_HISTORY = 200  # attempts a history needs before it is trusted as a prior
MAX_WEIGHT = {"campaign": 300.0, "server": 120.0, "list": 120.0}


def prior_from(history: History, source: str, fallback: Prior = DEFAULT_PRIOR) -> Prior | None:
    """A prior drawn from ``history`` (None when it is too thin to trust).

    The live-answer rate is shaded up by one binomial standard error (fewer calls when unsure);
    the weight grows with the history's size up to the source's cap.
    """
    n = history.attempts
    if n < MIN_HISTORY:
        return None
    live = history.live_answers / n
    live += math.sqrt(max(live * (1.0 - live), 1e-4) / n)
    return Prior(
        live_answer_probability=min(1.0, live),
        machine_probability=history.machines / n,
        talk_mean_s=history.talk_mean_s or fallback.talk_mean_s,
        wrap_s=history.wrap_mean_s if history.wrap_mean_s is not None else fallback.wrap_s,
        weight=min(MAX_WEIGHT.get(source, 60.0), n / 4.0),
        source=source,
    )


def choose_prior(
    campaign: History | None = None, server: History | None = None, listed: History | None = None
) -> Prior:
    """The campaign's own history, else the server's, else the list's, else the defaults."""
    for history, source in ((campaign, "campaign"), (server, "server"), (listed, "list")):
        if history is not None:
            prior = prior_from(history, source)
            if prior is not None:
                return prior
    return DEFAULT_PRIOR


def history_of(buckets: Iterable[tuple[float, Outcome, int]]) -> History:
    """Counts of ``(seconds ago, outcome, count)`` buckets, as the store's history returns."""
    attempts = live = machines = 0
    for _, outcome, count in buckets:
        if outcome in IGNORED:
            continue
        attempts += count
        live += count if outcome.is_live_answer else 0
        machines += count if outcome is Outcome.MACHINE else 0
    return History(attempts, live, machines)


def estimator_priors(prior: Prior) -> EstimatorPriors:
    """The estimator's starting point for ``prior``."""
    sd = 1.0
    return EstimatorPriors(
        live_answer_probability=prior.live_answer_probability,
        machine_probability=prior.machine_probability,
        prior_weight=prior.weight,
        talk_log_mean=math.log(prior.talk_mean_s) - sd * sd / 2.0,
        talk_log_sd=sd,
        wrap_mean=prior.wrap_s,
    )


@dataclass(frozen=True, slots=True)
class Abandons:
    """Abandons of stranded callers, by whether pacing could have avoided them."""

    total: int = 0
    progressive: int = 0  # placed at one call per free agent
    agent_free: int = 0  # an agent was free when the caller was given up on


@dataclass(slots=True)
class _Call:
    dialled_at: float
    progressive: bool
    order: int  # dial order: calls placed in one tick share a time, never an order
    answered_at: float | None = None
    risk: float | None = None  # the model's abandon risk, for a call placed on it


class Learner:
    """The estimators' bookkeeping for one campaign; see the module docstring."""

    def __init__(self, prior: Prior = DEFAULT_PRIOR, wait_sample: int = 200) -> None:
        self.prior = prior
        self.estimator = CallEstimator(estimator_priors(prior))
        self.calibration = RiskCalibration()
        self._calls: dict[str, _Call] = {}
        self._unresolved: OrderedDict[str, int] = OrderedDict()  # attempt → dial order
        self._dialled = 0
        self._wraps: dict[str, float] = {}  # agent → when its wrap-up began
        self._waits: deque[float] = deque(maxlen=wait_sample)  # answer → agent, seconds
        self._abandons: deque[tuple[float, bool, bool]] = deque()  # (at, progressive, free)
        self.live_answers = 0
        self.wraps_learnt = 0

    def dialled(
        self, attempt_id: str, at: float, *, progressive: bool = False, risk: float | None = None
    ) -> None:
        """A call was placed; ``progressive``: within one call per free agent; ``risk``: the
        model's abandon risk it was placed on (None: not placed on the model's risk)."""
        self._dialled += 1
        self._calls[attempt_id] = _Call(at, progressive, self._dialled, risk=risk)
        self._unresolved[attempt_id] = self._dialled

    def answered(self, attempt_id: str, at: float) -> None:
        """The callee picked up (live or machine, not known yet): the ring time is known."""
        call = self._calls.get(attempt_id)
        if call is not None and call.answered_at is None:
            call.answered_at = at

    def connected(self, attempt_id: str, at: float) -> None:
        """The call reached an agent: a live answer, counted now."""
        call = self._calls.get(attempt_id)
        if call is None or self._unresolved.pop(attempt_id, None) is None:
            return
        if call.risk is not None:
            self.calibration.observe(call.risk, abandoned=False)
        answered = call.answered_at if call.answered_at is not None else at
        self.live_answers += 1
        self._waits.append(max(0.0, at - answered))
        ring = answered - call.dialled_at
        self.estimator.record_attempt(Outcome.ANSWERED, ring, call.order)
        self._release()

    def settled(
        self,
        attempt_id: str,
        outcome: Outcome,
        at: float,
        *,
        ring_s: float | None = None,
        talk_s: float | None = None,
        agent_free: bool = False,
    ) -> None:
        """The attempt has its final outcome; ``agent_free``: an agent was free at that moment."""
        call = self._calls.pop(attempt_id, None)
        if talk_s is not None and outcome is Outcome.ANSWERED:
            self.estimator.record_talk(talk_s)
        if outcome is Outcome.ABANDONED:
            progressive = call.progressive if call is not None else False
            self._abandons.append((at, progressive, agent_free))
            if call is not None and call.risk is not None:
                self.calibration.observe(call.risk, abandoned=True)
        unresolved = self._unresolved.pop(attempt_id, None) is not None
        if call is None or not unresolved or outcome in IGNORED:
            self._release()
            return
        if ring_s is None and call.answered_at is not None:
            ring_s = call.answered_at - call.dialled_at
        if outcome.is_live_answer:
            self.live_answers += 1
        self.estimator.record_attempt(outcome, ring_s, call.order)
        self._release()

    def _release(self) -> None:
        """Count held attempts dialled before the oldest call still unresolved."""
        oldest = next(iter(self._unresolved.values()), None)
        self.estimator.release(oldest)

    def agents(self, agents: Sequence[Agent]) -> None:
        """Observe the agents' states: one leaving wrap-up teaches one wrap-up time."""
        seen: set[str] = set()
        for agent in agents:
            seen.add(agent.agent_id)
            began = self._wraps.get(agent.agent_id)
            if agent.state is AgentState.WRAP:
                self._wraps[agent.agent_id] = agent.since
            elif began is not None:
                del self._wraps[agent.agent_id]
                if agent.state in (AgentState.FREE, AgentState.BUSY) and agent.since > began:
                    self.estimator.record_wrap(agent.since - began)
                    self.wraps_learnt += 1
        for gone in set(self._wraps) - seen:
            del self._wraps[gone]  # logged out during wrap-up: nothing learnt

    def abandons(self, since: float) -> Abandons:
        """Abandons at or after ``since`` (older ones are forgotten)."""
        while self._abandons and self._abandons[0][0] < since:
            self._abandons.popleft()
        rows = self._abandons
        return Abandons(
            total=len(rows),
            progressive=sum(1 for _, prog, _ in rows if prog),
            agent_free=sum(1 for _, _, free in rows if free),
        )

    def waits(self) -> tuple[float, ...]:
        """Recent answer-to-agent times, seconds."""
        return tuple(self._waits)

    def estimates(self, talking: Iterable[float] = ()) -> Estimates:
        """The estimates a snapshot carries; ``talking``: elapsed talk of the calls going on."""
        estimates = self.estimator.estimates(talking)
        return replace(estimates, risk_scale=self.calibration.scale())
