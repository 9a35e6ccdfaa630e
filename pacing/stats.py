"""Incremental estimators fed with attempt outcomes and their timings.

* :class:`WindowCounter` — outcome counts over one rolling window, kept in fixed buckets so adding
  and reading are O(1) amortised; :class:`AbandonWindows` holds the hour, 24 h and 30 d windows.
* :class:`RiskCalibration` — how far the predictive model's priced abandon risk is from the
  abandons that came of it, as a ratio the policy divides its threshold by.
* :class:`CallEstimator` — exponentially weighted estimates of the live-answer and machine
  probabilities and a sliding sample of ring times to answer (read as quantiles), counted in dial
  order so quick answers cannot bias them; log-normal talk time from a Kaplan–Meier fit over
  finished calls and the calls in progress (right-censored); mean wrap-up. It starts from cautious
  priors (a high answer probability, short rings) so a fresh campaign under-dials rather than
  over-dials.

The caller owns these objects and passes the time of every event in; nothing here reads a clock or
does I/O. Their ``read``/``estimates`` methods return the frozen values a snapshot carries.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from pacing.outcomes import Outcome
from pacing.snapshot import DEFAULT_RING_QUANTILES, Estimates, RollingStats, WindowCounts

HOUR = 3600.0
DAY = 86400.0
MONTH = 30 * DAY
ANSWERED_OUTCOMES = frozenset({Outcome.ANSWERED, Outcome.ABANDONED, Outcome.MACHINE})


class WindowCounter:
    """Counts of attempts, answers, live answers and abandons over a rolling window."""

    def __init__(self, span: float, bucket: float) -> None:
        self.span = span
        self.bucket = bucket
        self._buckets: deque[list[float]] = deque()  # [start, attempts, answers, live, abandons]
        self._totals = [0, 0, 0, 0]
        self._first: float | None = None  # the first attempt ever counted

    def add(self, at: float, outcome: Outcome) -> None:
        """Count one finished attempt that ended at ``at`` (times must not go backwards much)."""
        if outcome is Outcome.DNC:
            return
        if self._first is None or at < self._first:
            self._first = at
        start = math.floor(at / self.bucket) * self.bucket
        if not self._buckets or self._buckets[-1][0] < start:
            self._buckets.append([start, 0, 0, 0, 0])
        row, totals = self._buckets[-1], self._totals
        row[1] += 1
        totals[0] += 1
        if outcome in ANSWERED_OUTCOMES:
            row[2] += 1
            totals[1] += 1
            if outcome is not Outcome.MACHINE:
                row[3] += 1
                totals[2] += 1
                if outcome is Outcome.ABANDONED:
                    row[4] += 1
                    totals[3] += 1

    def read(self, now: float) -> WindowCounts:
        """The counts of the attempts that ended within ``span`` before ``now``."""
        while self._buckets and self._buckets[0][0] + self.bucket <= now - self.span:
            old = self._buckets.popleft()
            for i in range(4):
                self._totals[i] -= int(old[i + 1])
        attempts, answers, live, abandons = self._totals
        return WindowCounts(attempts, answers, live, abandons)

    def covered(self, now: float) -> float:
        """Seconds of the window this counter has been counting: since its first attempt, at
        most the span. A quiet stretch inside the window is covered (its rate was low)."""
        if self._first is None:
            return 0.0
        return min(self.span, max(0.0, now - self._first))


class AbandonWindows:
    """The rolling hour, 24 h and 30 d windows of the abandon rule."""

    def __init__(self) -> None:
        self.hour = WindowCounter(HOUR, 60.0)
        self.day = WindowCounter(DAY, 300.0)
        self.month = WindowCounter(MONTH, HOUR)

    def add(self, at: float, outcome: Outcome) -> None:
        """Count one finished attempt in every window."""
        for window in (self.hour, self.day, self.month):
            window.add(at, outcome)

    def read(self, now: float) -> RollingStats:
        """The three windows' counts at ``now``."""
        return RollingStats(
            self.hour.read(now),
            self.day.read(now),
            self.month.read(now),
            hour_span_s=self.hour.covered(now),
        )


class DayCounter:
    """Outcome counts of the current calling day; a new day (another opening) starts afresh."""

    def __init__(self) -> None:
        self.opened: float | None = None  # the day's opening, on the caller's clock
        self._counts = WindowCounter(DAY, DAY)

    def begin(self, opened: float) -> bool:
        """Be in the day that opened at ``opened``; True when that is a new day."""
        if self.opened is not None and abs(self.opened - opened) < 1.0:
            return False
        self.opened = opened
        self._counts = WindowCounter(DAY, DAY)
        return True

    def add(self, at: float, outcome: Outcome) -> None:
        """Count one finished attempt if it ended inside the day."""
        if self.opened is not None and at >= self.opened:
            self._counts.add(self.opened, outcome)

    def read(self) -> WindowCounts:
        """The day's counts so far."""
        return self._counts.read(self.opened or 0.0)


def wholly_after(
    history: Iterable[tuple[float, Outcome, int]], start: float, bucket_s: float
) -> list[tuple[float, Outcome, int]]:
    """The history buckets ``(ended at, outcome, count)`` every attempt of which ended after
    ``start``: a bucket is stamped with its latest end and spans ``bucket_s`` before it, so one
    that may hold attempts from before ``start`` is left out."""
    return [(at, outcome, n) for at, outcome, n in history if at - bucket_s >= start]


@dataclass(frozen=True, slots=True)
class CalibrationTuning:
    """How fast the calibration ratio moves, and how far."""

    prior_abandons: float = 2.0  # pseudo-abandons on both sides: a ratio of 1 until evidence
    memory: float = 2000.0  # live answers; the sums' effective window once warmed up
    error_z: float = 1.0  # the ratio is read this many standard errors up
    low: float = 0.67
    high: float = 4.0


class RiskCalibration:
    """Realised abandons over the abandons the model priced, for calls placed on its risk.

    The predictive model (:mod:`pacing.policies.model`) prices each call beyond one per free
    agent with ``P(abandoned | live answer)``. Its approximations — log-normal talk, a wrap-up
    of fixed length, agents taken to be free when their wrap-up ends (they may pause or leave
    instead), a normal surplus for a handful of agents — hold on some call mixes and not on
    others: in the harder bench world its calls were abandoned 2–3 times as often as priced,
    and 8 times as often at the lowest risks, where the controller clamps down to hold the
    rolling hour. The controller's rolling counts correct the *day* (they are its integral
    term), but not a threshold that must bite now. So the live answers of those calls are
    compared with their priced risk: ``(A + a₀) / (R + a₀)`` over exponentially decayed sums
    (``a₀`` pseudo-abandons on both sides), read at its upper error bar (:meth:`scale`) and
    clamped; the policy prices its calls at ``risk × scale``.

    Fed in the order live answers happen: a call connected to an agent, or abandoned.
    """

    def __init__(self, tuning: CalibrationTuning = CalibrationTuning()) -> None:
        self._tuning = tuning
        self._priced = 0.0
        self._abandons = 0.0
        self.observed = 0

    def observe(self, risk: float, abandoned: bool) -> None:
        """One live answer of a call priced at ``risk``: abandoned or connected."""
        keep = 1.0 - 1.0 / self._tuning.memory
        self._priced = self._priced * keep + max(0.0, risk)
        self._abandons = self._abandons * keep + (1.0 if abandoned else 0.0)
        self.observed += 1

    def scale(self) -> float:
        """The ratio of realised to priced abandons at its upper error bar, clamped.

        The realised count is Poisson: its upper bound ``A + a₀ + z·√(A + a₀)`` over the priced
        ``R + a₀``. On thin evidence (a cold campaign, the first hours of a small team) the
        bound sits well above the point estimate, so the policy is the more careful the less
        it knows of its model; with hundreds of live answers it closes on the ratio.
        """
        t = self._tuning
        seen = self._abandons + t.prior_abandons
        ratio = (seen + t.error_z * math.sqrt(seen)) / (self._priced + t.prior_abandons)
        return min(t.high, max(t.low, ratio))


@dataclass(frozen=True, slots=True)
class EstimatorPriors:
    """Where the estimates start and how fast they move."""

    live_answer_probability: float = 0.5
    machine_probability: float = 0.1
    prior_weight: float = 30.0  # attempts' worth of belief in the priors
    memory: float = 400.0  # attempts; the EWMA's effective window once warmed up
    ring_sample: int = 300  # ring times kept for the quantiles
    talk_log_mean: float = math.log(90.0)
    talk_log_sd: float = 1.0
    talk_sample: int = 300  # finished talk times kept for the survival estimate
    wrap_mean: float = 10.0


class CallEstimator:
    """Live estimates of answer probabilities and ring, talk and wrap-up times."""

    def __init__(self, priors: EstimatorPriors = EstimatorPriors()) -> None:
        self._priors = priors
        self._live = priors.live_answer_probability
        self._machine = priors.machine_probability
        self._attempts = 0
        self._rings: deque[float] = deque(maxlen=priors.ring_sample)
        self._talks: deque[float] = deque(maxlen=priors.talk_sample)
        self._held: list[tuple[float, int, Outcome, float | None]] = []
        self._held_seq = 0
        self._wrap = priors.wrap_mean
        self._wraps = 0

    def record_attempt(
        self, outcome: Outcome, ring_s: float | None = None, dialled_at: float | None = None
    ) -> None:
        """Feed one finished attempt; ``ring_s`` is its ring time to answer if it was answered.

        Quick answers finish before slow ones and before calls that ring out, so counting
        attempts as they finish makes answers look likelier and rings shorter than they are —
        badly so in a campaign's first half-minute, when a policy trusting it over-dials. Given
        ``dialled_at``, the attempt is held back until :meth:`release` says every call dialled
        before it has finished: the estimates then only ever see complete cohorts.
        """
        if outcome in (Outcome.DNC, Outcome.CANCELLED, Outcome.UNKNOWN):
            return
        if dialled_at is not None:
            heapq.heappush(self._held, (dialled_at, self._held_seq, outcome, ring_s))
            self._held_seq += 1
            return
        self._count(outcome, ring_s)

    def release(self, oldest_unfinished: float | None) -> None:
        """Count held attempts dialled before ``oldest_unfinished`` (None: every one)."""
        held = self._held
        while held and (oldest_unfinished is None or held[0][0] < oldest_unfinished):
            _, _, outcome, ring_s = heapq.heappop(held)
            self._count(outcome, ring_s)

    def _count(self, outcome: Outcome, ring_s: float | None) -> None:
        self._attempts += 1
        weight = 1.0 / min(self._attempts + self._priors.prior_weight, self._priors.memory)
        live = 1.0 if outcome.is_live_answer else 0.0
        machine = 1.0 if outcome is Outcome.MACHINE else 0.0
        self._live += weight * (live - self._live)
        self._machine += weight * (machine - self._machine)
        if ring_s is not None and outcome in ANSWERED_OUTCOMES:
            self._rings.append(max(0.0, ring_s))

    def record_talk(self, talk_s: float) -> None:
        """Feed the talk time of one connected call."""
        self._talks.append(max(talk_s, 0.5))

    def talk_fit(self, ongoing: Iterable[float] = ()) -> tuple[float, float]:
        """Log-normal (log mean, log sd) of talk time from finished and ongoing calls.

        Early in a campaign only the short calls have finished, so fitting finished calls alone
        makes talk look short and agents look about to be free: the over-dialling that causes
        a burst of abandons at the start. Calls still in progress are therefore counted as
        right-censored observations (Kaplan–Meier), and the fit is read from the median and the
        quartiles of the survival curve; a median not reached yet is taken at the longest time
        seen, which errs long.
        """
        times = [(t, True) for t in self._talks]
        times += [(max(t, 0.5), False) for t in ongoing]
        if len(self._talks) < 10:
            prior = (self._priors.talk_log_mean, self._priors.talk_log_sd)
            longest = max((t for t, _ in times), default=0.0)
            return (max(prior[0], math.log(longest)) if longest > 0 else prior[0], prior[1])
        return _kaplan_meier_fit(times, self._priors.talk_log_sd)

    def record_wrap(self, wrap_s: float) -> None:
        """Feed the wrap-up time of one agent."""
        self._wraps += 1
        weight = 1.0 / min(self._wraps + 1.0, 50.0)
        self._wrap += weight * (wrap_s - self._wrap)

    def ring_quantiles(self) -> tuple[float, ...]:
        """Ring time to answer at the quantile levels 0, 0.1, …, 1 (priors until 20 samples)."""
        if len(self._rings) < 20:
            return DEFAULT_RING_QUANTILES
        ordered = sorted(self._rings)
        last = len(ordered) - 1
        return tuple(ordered[round(last * k / 10)] for k in range(11))

    def estimates(self, ongoing: Iterable[float] = ()) -> Estimates:
        """The current estimates as the frozen value a snapshot carries.

        ``ongoing`` are the talk times so far of the calls agents are on now (see
        :meth:`talk_fit`); the runner should pass them.
        """
        talk_mean, spread = self.talk_fit(ongoing)
        return Estimates(
            live_answer_probability=min(1.0, max(0.0, self._live)),
            machine_probability=min(1.0, max(0.0, self._machine)),
            ring_quantiles=self.ring_quantiles(),
            talk_log_mean=talk_mean,
            talk_log_sd=spread,
            wrap_mean=self._wrap,
            sample_size=self._attempts,
        )


def _kaplan_meier_fit(times: list[tuple[float, bool]], prior_sd: float) -> tuple[float, float]:
    """(log median, log sd) from the product-limit survival curve of (time, finished) pairs."""
    times.sort()
    at_risk = len(times)
    survival = 1.0
    marks: dict[float, float] = {}  # survival level → first time the curve reaches it
    for t, finished in times:
        if finished:
            survival *= 1.0 - 1.0 / at_risk
            for level in (0.75, 0.5, 0.25):
                if survival <= level and level not in marks:
                    marks[level] = t
        at_risk -= 1
    longest = times[-1][0]
    median = marks.get(0.5, longest)
    log_median = math.log(median)
    if 0.75 in marks and 0.25 in marks:
        spread = (math.log(marks[0.25]) - math.log(marks[0.75])) / 1.349
    elif 0.75 in marks and 0.5 in marks:
        spread = (log_median - math.log(marks[0.75])) / 0.6745
    else:
        spread = prior_sd
    return log_median, min(2.0, max(0.2, spread))
