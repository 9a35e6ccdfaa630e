"""Guards: pure checks that say when a running campaign must pause, and under which category.

The guards are the safety net, not the abandon controller: the predictive policy keeps the
abandon rate inside its budget by itself, so in normal operation no guard trips. They catch what
pacing cannot control — abandons of calls placed without over-dialling, callers given up on while
an agent was free, answer-to-agent times far over the limit, the legal limit breached all the
same, answer-rate collapse, call quality, the attempt writer, the Asterisk links. Each returns a
:class:`Trip` (a reason category from the pause governance, the guard's name and a sentence naming
the measured cause) or None; the runner evaluates them every tick and pauses on the
first trip. During the watch window after a resume the tighter :data:`WATCH` thresholds apply.

A resume is a person's judgement of the evidence that paused the campaign: after it, the abandon
guard trips again only on new evidence — the abandons counted since the resume
(:attr:`GuardInputs.since_resume`, and the last hour's abandons by cause counted from the resume
on) — never on the same 24 h counts it already paused on.

Pure: functions of a :class:`GuardInputs` value; no clock, no I/O.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from pacing.learning import Abandons
from pacing.snapshot import Agent, AgentState, RollingStats, WindowCounts


class ReasonCategory(enum.StrEnum):
    """Pause reason categories (product.md, pause governance)."""

    TIMING = "timing"
    CALL_QUALITY = "call_quality"
    LOGGING = "logging"
    COMPLIANCE = "compliance"
    CUSTOMER_EXPERIENCE = "customer_experience"
    PROCESS_FAILURE = "process_failure"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Trip:
    """A guard that tripped: pause with this category and text."""

    category: ReasonCategory
    guard: str
    text: str


@dataclass(frozen=True, slots=True)
class GuardThresholds:
    """When each guard trips."""

    abandon_backstop: float = 1.0  # of the target over 24 h: the legal limit itself is breached
    abandon_min_live: int = 200
    abandon_min_abandons: int = 5  # power pacing: the least evidence the backstop acts on
    progressive_abandons: int = 5  # last hour, of calls placed while not over-dialling
    agent_free_abandons: int = 3  # last hour, given up on while an agent was free
    wait_multiple: float = 2.0  # 90th percentile answer-to-agent time over the connect limit
    wait_min_samples: int = 20
    answer_rate_floor: float = 0.3  # last hour's answer rate over the 30-day one
    answer_min_attempts: int = 100
    mos_floor: float = 3.3
    mos_min_samples: int = 5
    max_write_failures: int = 3  # consecutive attempts that could not be recorded


NORMAL = GuardThresholds()
WATCH = GuardThresholds(
    abandon_backstop=0.9,
    abandon_min_live=100,
    abandon_min_abandons=3,
    progressive_abandons=3,
    agent_free_abandons=2,
    wait_multiple=1.5,
    wait_min_samples=10,
    answer_rate_floor=0.5,
    answer_min_attempts=50,
    mos_floor=3.6,
    max_write_failures=1,
)


@dataclass(frozen=True, slots=True)
class GuardInputs:
    """What the guards look at."""

    stats: RollingStats
    abandon_target: float = 0.03
    abandons: Abandons = field(default_factory=Abandons)  # the last hour's, by cause
    waits: tuple[float, ...] = ()  # recent answer-to-agent times, seconds
    connect_limit_s: float = 2.0
    amd_allowance_s: float = 0.0  # answered → queue may take this long while AMD listens
    mos: float | None = None  # estimated MOS over recent answered calls
    mos_samples: int = 0
    write_failures: int = 0  # consecutive failures to record an attempt
    links_up: int = 1  # Asterisk servers with a working (and reconciled) link
    links_total: int = 1
    links_down_s: float = 0.0  # how long no server has had a working link
    link_outage_limit_s: float = 60.0  # longer than this, the campaign pauses
    watching: bool = False  # inside the watch window after a resume
    policy_owns_budget: bool = True  # predictive pacing slows itself; power pacing does not
    since_resume: WindowCounts | None = None  # settled since the last resume (None: none in 24 h)


def abandon_guard(inputs: GuardInputs, t: GuardThresholds) -> Trip | None:
    """Abandons pacing cannot prevent, or (a backstop) the legal limit itself breached.

    The predictive policy owns the abandon budget and slows down, to progressive if need be, as
    it tightens (:mod:`pacing.policies.controller`); so abandons of calls placed while not
    over-dialling, or of callers given up on while an agent sat free, are not a pacing matter:
    agents are leaving, not answering, or the queue is misconfigured.
    """
    target = inputs.abandon_target
    ab = inputs.abandons
    if ab.agent_free >= t.agent_free_abandons:
        text = (
            f"{ab.agent_free} of the last hour's {ab.total} abandons happened while an agent "
            "was free: agents are not answering the calls offered to them"
        )
        return Trip(ReasonCategory.CUSTOMER_EXPERIENCE, "agents_not_answering", text)
    if ab.progressive >= t.progressive_abandons:
        text = (
            f"{ab.progressive} of the last hour's {ab.total} abandons were of calls placed "
            "without over-dialling (one call per free agent): pacing cannot prevent them"
        )
        return Trip(ReasonCategory.COMPLIANCE, "progressive_abandons", text)
    day = inputs.stats.day
    limit = t.abandon_backstop * target
    owns = inputs.policy_owns_budget
    if not _over_limit(day.abandons, day.live_answers, limit, t, owns):
        return None
    text = (
        f"abandon rate {day.abandon_rate:.2%} over 24 h ({day.abandons}/{day.live_answers})"
        f" is over {limit:.2%}"
    )
    new = inputs.since_resume
    if new is not None:  # the evidence before the resume was judged: act on new evidence only
        if not _over_limit(new.abandons, new.live_answers, limit, t, owns):
            return None
        text += f", and {new.abandon_rate:.2%} since the resume ({new.abandons}/{new.live_answers})"
    return Trip(ReasonCategory.COMPLIANCE, "abandon_limit", text)


def _over_limit(
    abandons: int, live: int, limit: float, t: GuardThresholds, policy_owns_budget: bool
) -> bool:
    """The 24 h abandon rate is over ``limit``, on enough evidence to act on.

    Under predictive pacing the policy keeps the day inside its budget, so the backstop waits
    for ``abandon_min_live`` live answers: an early bad minute is the policy's to recover.
    Under power pacing nothing slows down by itself, so the backstop acts as soon as the rate
    is over the limit beyond doubt: at least ``abandon_min_abandons`` abandons and the lower
    bound of the rate's 95 % Wilson interval over the limit.
    """
    if live <= 0 or abandons / live <= limit:
        return False
    if live >= t.abandon_min_live:
        return True
    if policy_owns_budget or abandons < t.abandon_min_abandons:
        return False
    return wilson_lower(abandons, live) > limit


def free_throughout(agents: Iterable[Agent], waiting_since: float | None) -> bool:
    """An agent sat free the whole time an abandoned caller waited (from ``waiting_since``).

    Only that is an abandon pacing could not cause: an agent who became free while the caller
    was already giving up, or during the last tick, was never offered the call. A call never
    seen waiting gives no evidence.
    """
    if waiting_since is None:
        return False
    return any(a.state is AgentState.FREE and a.since <= waiting_since for a in agents)


def wilson_lower(successes: int, trials: int, z: float = 1.96) -> float:
    """The lower bound of the Wilson score interval of a binomial proportion."""
    p = successes / trials
    z2 = z * z
    centre = p + z2 / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    return (centre - spread) / (1 + z2 / trials)


def wait_guard(inputs: GuardInputs, t: GuardThresholds) -> Trip | None:
    """Live answers take far longer than the connect limit to reach an agent."""
    waits = sorted(inputs.waits)
    if len(waits) < t.wait_min_samples:
        return None
    p90 = waits[math.ceil(0.9 * len(waits)) - 1]  # nearest rank
    limit = t.wait_multiple * inputs.connect_limit_s + inputs.amd_allowance_s
    if p90 <= limit:
        return None
    amd = f" + {inputs.amd_allowance_s:g} s for AMD" if inputs.amd_allowance_s else ""
    text = (
        f"90 % of the last {len(waits)} live answers reached an agent within {p90:.1f} s, "
        f"over {limit:.1f} s ({t.wait_multiple:g} × the {inputs.connect_limit_s:g} s limit{amd})"
    )
    return Trip(ReasonCategory.COMPLIANCE, "answer_to_agent", text)


def answer_rate_guard(inputs: GuardInputs, t: GuardThresholds) -> Trip | None:
    """The last hour's answer rate collapsed against the 30-day one."""
    hour, month = inputs.stats.hour, inputs.stats.month
    if hour.attempts < t.answer_min_attempts or month.answers == 0:
        return None
    if hour.answer_rate < t.answer_rate_floor * month.answer_rate:
        text = (
            f"answer rate {hour.answer_rate:.1%} over the last hour against "
            f"{month.answer_rate:.1%} over 30 days"
        )
        return Trip(ReasonCategory.CUSTOMER_EXPERIENCE, "answer_rate", text)
    return None


def quality_guard(inputs: GuardInputs, t: GuardThresholds) -> Trip | None:
    """Estimated MOS below the floor."""
    if inputs.mos is None or inputs.mos_samples < t.mos_min_samples or inputs.mos >= t.mos_floor:
        return None
    text = f"estimated MOS {inputs.mos:.2f} over {inputs.mos_samples} calls is below {t.mos_floor}"
    return Trip(ReasonCategory.CALL_QUALITY, "mos", text)


def logging_guard(inputs: GuardInputs, t: GuardThresholds) -> Trip | None:
    """Attempts cannot be written to the database."""
    if inputs.write_failures < t.max_write_failures:
        return None
    text = f"{inputs.write_failures} attempts in a row could not be recorded in the database"
    return Trip(ReasonCategory.LOGGING, "attempt_log", text)


def links_down(inputs: GuardInputs) -> bool:
    """No Asterisk server has a working link (a pool with no server configured is not down)."""
    return inputs.links_total > 0 and inputs.links_up == 0


def link_hold(inputs: GuardInputs) -> str | None:
    """Why no call may be placed while every link is down, short of the outage limit.

    A link loss holds dialling (the runner places nothing, calls in flight are reconciled when
    the link returns) and dialling continues by itself once a link is back; only an outage
    longer than the limit pauses the campaign (:func:`link_guard`).
    """
    if not links_down(inputs) or inputs.links_down_s >= inputs.link_outage_limit_s:
        return None
    return (
        f"no Asterisk link for {inputs.links_down_s:.1f} s: holding new calls until a link is"
        f" back and reconciled (the campaign pauses after {inputs.link_outage_limit_s:g} s)"
    )


def link_guard(inputs: GuardInputs, t: GuardThresholds) -> Trip | None:
    """Every Asterisk link has been down for longer than the outage limit."""
    del t
    if not links_down(inputs) or inputs.links_down_s < inputs.link_outage_limit_s:
        return None
    n = inputs.links_total
    text = (
        f"{'the Asterisk server has' if n == 1 else f'all {n} Asterisk servers have'} been "
        f"unreachable for {inputs.links_down_s:.0f} s (limit {inputs.link_outage_limit_s:g} s):"
        " check that Asterisk is running, that its AMI port (and ARI for driver 'ari') answers"
        " from this gateway with the configured credentials, and the network between them;"
        " calls in flight are reconciled when the link returns, then resume"
    )
    return Trip(ReasonCategory.PROCESS_FAILURE, "asterisk_links", text)


GUARDS = (abandon_guard, wait_guard, logging_guard, link_guard, quality_guard, answer_rate_guard)


def evaluate(inputs: GuardInputs) -> Trip | None:
    """The first guard that trips (compliance first), with the watch thresholds if watching."""
    thresholds = WATCH if inputs.watching else NORMAL
    for guard in GUARDS:
        trip = guard(inputs, thresholds)
        if trip is not None:
            return trip
    return None
