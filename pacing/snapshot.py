"""What a pacing policy sees and what it answers: the snapshot and the decision.

A snapshot is everything ``decide(snapshot, now)`` may look at, frozen: the campaign's agents and
their states, the calls in flight, rolling outcome counts, the live estimates (answer probability,
ring, talk and wrap-up times), the caps and any controlled-resume restriction. All times in a
snapshot and ``now`` are seconds on one monotonic clock chosen by the runner (the benchmark uses a
virtual clock); nothing here reads a clock, a database or a socket.

Agents that are logged out are simply absent. Calls connected to an agent are not calls in flight:
they are the agents in ``BUSY`` (one call per busy agent).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from pacing.calls import CallPhase
from pacing.errors import SnapshotError


class AgentState(enum.StrEnum):
    """What a logged-in agent is doing."""

    FREE = "free"  # ready for a call
    BUSY = "busy"  # talking; ``since`` is when the call was connected
    WRAP = "wrap"  # wrap-up after a call; ``since`` is when wrap-up began
    PAUSED = "paused"  # logged in but not taking calls


class PacingMode(enum.StrEnum):
    """How a campaign decides how many calls to place."""

    PROGRESSIVE = "progressive"
    POWER = "power"
    PREDICTIVE = "predictive"


class DecisionReason(enum.StrEnum):
    """Why a decision places the number of calls it does (shown by diagnostics)."""

    PLACING = "placing"  # calls placed, nothing limited them
    NO_AGENTS = "no_agents"  # nobody logged in and unpaused
    AGENTS_COVERED = "agents_covered"  # calls in flight already cover the agents that will be free
    ABANDON_RISK = "abandon_risk"  # predictive: one more call would risk an abandon above threshold
    LINES_PER_AGENT_CAP = "lines_per_agent_cap"
    CAMPAIGN_CHANNEL_CAP = "campaign_channel_cap"
    TRUNK_CHANNEL_CAP = "trunk_channel_cap"
    CONTROLLED_RESUME_CAP = "controlled_resume_cap"


@dataclass(frozen=True, slots=True)
class Agent:
    """One logged-in agent; ``since`` is when the current state began (snapshot clock)."""

    agent_id: str
    state: AgentState
    since: float


@dataclass(frozen=True, slots=True)
class CallInFlight:
    """A call dialled and not yet connected to an agent nor ended (``phase`` ringing or waiting)."""

    attempt_id: str
    dialled_at: float
    phase: CallPhase = CallPhase.RINGING
    answered_at: float | None = None


@dataclass(frozen=True, slots=True)
class WindowCounts:
    """Outcome counts over one rolling window."""

    attempts: int = 0
    answers: int = 0  # any answer, machines included
    live_answers: int = 0  # answered + abandoned
    abandons: int = 0

    @property
    def abandon_rate(self) -> float:
        """Abandons over live answers (0 without live answers)."""
        return self.abandons / self.live_answers if self.live_answers else 0.0

    @property
    def answer_rate(self) -> float:
        """Any answer over attempts (0 without attempts)."""
        return self.answers / self.attempts if self.attempts else 0.0


@dataclass(frozen=True, slots=True)
class RollingStats:
    """Outcome counts over the rolling windows the abandon rule is measured on."""

    hour: WindowCounts = WindowCounts()
    day: WindowCounts = WindowCounts()
    month: WindowCounts = WindowCounts()  # 30 days
    # How much of the last hour the counts cover (since the first attempt counted in it);
    # None: the whole hour. A campaign in its first hour has a part-hour window.
    hour_span_s: float | None = None

    def __post_init__(self) -> None:
        if self.hour_span_s is not None and self.hour_span_s < 0:
            raise SnapshotError("the hour window's span must not be negative")


@dataclass(frozen=True, slots=True)
class CallingDay:
    """The calling day the campaign's schedule says it is in: counts since it opened, time left.

    The 24 h window at the end of a calling day holds little but that day, so abandons spent
    late cannot be diluted by later calls: the controller spreads what is left of the day's
    budget over the live answers still to come (:mod:`pacing.policies.controller`).
    """

    counts: WindowCounts = WindowCounts()  # attempts settled since the window opened
    elapsed_s: float = 0.0  # since the window opened
    left_s: float = 0.0  # until the window closes

    def __post_init__(self) -> None:
        if self.elapsed_s < 0 or self.left_s < 0:
            raise SnapshotError("calling-day elapsed and remaining times must not be negative")


DEFAULT_RING_QUANTILES = (2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0, 18.0, 20.0, 22.0)


@dataclass(frozen=True, slots=True)
class Estimates:
    """Live estimates of the call process, from :mod:`pacing.stats`.

    ``ring_quantiles`` are the ring times to answer at evenly spaced quantile levels from 0 to 1
    (first the minimum, last the maximum). Talk time is log-normal: ``talk_log_mean`` and
    ``talk_log_sd`` are the mean and standard deviation of its natural logarithm. Wrap-up is taken
    as fixed at ``wrap_mean`` (Asterisk's ``wrapuptime`` is a queue setting).
    """

    live_answer_probability: float = 0.5
    machine_probability: float = 0.1
    ring_quantiles: tuple[float, ...] = DEFAULT_RING_QUANTILES
    talk_log_mean: float = 4.5
    talk_log_sd: float = 1.0
    wrap_mean: float = 10.0
    sample_size: int = 0  # finished attempts behind the answer probabilities
    # How many times the abandons the model priced its calls at came true (1: as priced); see
    # pacing.stats.RiskCalibration. The policy divides its risk threshold by it.
    risk_scale: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.live_answer_probability <= 1.0:
            raise SnapshotError(
                f"live answer probability {self.live_answer_probability} not in [0, 1]"
            )
        if len(self.ring_quantiles) < 2 or list(self.ring_quantiles) != sorted(self.ring_quantiles):
            raise SnapshotError("ring quantiles must be at least two ascending values")
        if self.talk_log_sd < 0 or self.wrap_mean < 0:
            raise SnapshotError("talk spread and wrap-up time must not be negative")
        if not self.risk_scale > 0.0:
            raise SnapshotError(f"risk scale {self.risk_scale} must be positive")


@dataclass(frozen=True, slots=True)
class Caps:
    """Limits on how many calls may be in flight (``None``: no limit)."""

    max_lines_per_agent: float = 6.0  # calls ringing or waiting per unpaused agent
    campaign_channels: int | None = None  # calls in flight plus calls with agents, campaign-wide
    trunk_channels_free: int | None = None  # channels still free on the trunks, right now


@dataclass(frozen=True, slots=True)
class ControlledResume:
    """Pacing restriction during the review window after a controlled resume."""

    until: float
    max_concurrent_calls: int | None = None
    progressive_only: bool = False


@dataclass(frozen=True, slots=True)
class PacingConfig:
    """The campaign's pacing settings."""

    mode: PacingMode = PacingMode.PREDICTIVE
    power_ratio: float = 2.0  # calls in flight per free agent in power mode
    abandon_target: float = 0.03
    ring_timeout_s: float = 25.0
    connect_limit_s: float = 2.0

    def __post_init__(self) -> None:
        if not 0.0 < self.abandon_target < 1.0:
            raise SnapshotError(f"abandon target {self.abandon_target} not in (0, 1)")
        if self.power_ratio < 1.0:
            raise SnapshotError(f"power ratio {self.power_ratio} below 1")


@dataclass(frozen=True, slots=True)
class PacingSnapshot:
    """Everything a policy may look at for one campaign at one instant."""

    campaign_id: str
    config: PacingConfig
    agents: tuple[Agent, ...] = ()
    calls: tuple[CallInFlight, ...] = ()
    stats: RollingStats = RollingStats()
    estimates: Estimates = field(default_factory=Estimates)
    caps: Caps = Caps()
    resume: ControlledResume | None = None
    calling_day: CallingDay | None = None  # None: no campaign calling windows

    _tally: dict[AgentState | CallPhase, int] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        # One pass over agents and calls: policies ask for these counts several times per tick.
        tally: dict[AgentState | CallPhase, int] = dict.fromkeys(AgentState, 0)
        tally.update(dict.fromkeys(CallPhase, 0))
        for agent in self.agents:
            tally[agent.state] += 1
        for call in self.calls:
            tally[call.phase] += 1
        object.__setattr__(self, "_tally", tally)

    def count(self, state: AgentState) -> int:
        """How many agents are in ``state``."""
        return self._tally[state]

    @property
    def active_agents(self) -> int:
        """Logged-in agents that are not paused."""
        return len(self.agents) - self._tally[AgentState.PAUSED]

    @property
    def ringing(self) -> int:
        """Calls dialled and not answered yet."""
        return self._tally[CallPhase.RINGING]

    @property
    def waiting(self) -> int:
        """Live answers waiting in the queue for an agent."""
        return self._tally[CallPhase.WAITING]


@dataclass(frozen=True, slots=True)
class Decision:
    """How many calls to place now, and why (``detail`` is a short text for diagnostics)."""

    calls: int
    reason: DecisionReason
    detail: str
    ring_timeout_s: float
    risk_threshold: float | None = None  # predictive only: the abandon risk a call may carry
    # predictive only: the model's abandon risk of each call placed, in order; None for a call
    # placed as one per free agent (placed whatever its risk, so it says nothing of the model)
    call_risks: tuple[float | None, ...] = ()
