"""Guards: pure checks that say when a running campaign must pause, and under which category.

Each guard returns a :class:`Trip` (a reason category from the pause governance, the guard's name
and a sentence for the pause record) or None. They look at rolling counts, call quality, the
attempt writer and the Asterisk links; the runner evaluates them every tick and pauses on the
first trip. During the watch window after a resume the tighter :data:`WATCH` thresholds apply.

Pure: functions of a :class:`GuardInputs` value; no clock, no I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pacing.snapshot import RollingStats


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

    abandon_share: float = 0.98  # of the target, over the 24 h window
    abandon_hour_multiple: float = 2.5  # of the target, over the last hour
    abandon_min_live: int = 40
    answer_rate_floor: float = 0.3  # last hour's answer rate over the 30-day one
    answer_min_attempts: int = 100
    mos_floor: float = 3.3
    mos_min_samples: int = 5
    max_write_failures: int = 3  # consecutive attempts that could not be recorded


NORMAL = GuardThresholds()
WATCH = GuardThresholds(
    abandon_share=0.9,
    abandon_hour_multiple=2.0,
    abandon_min_live=20,
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
    mos: float | None = None  # estimated MOS over recent answered calls
    mos_samples: int = 0
    write_failures: int = 0  # consecutive failures to record an attempt
    links_up: int = 1  # Asterisk servers with a working (and reconciled) link
    links_total: int = 1
    links_down_s: float = 0.0  # how long no server has had a working link
    link_outage_limit_s: float = 60.0  # longer than this, the campaign pauses
    watching: bool = False  # inside the watch window after a resume


def abandon_guard(inputs: GuardInputs, t: GuardThresholds) -> Trip | None:
    """The abandon rate is about to breach the target (24 h) or bursting (last hour)."""
    target = inputs.abandon_target
    day, hour = inputs.stats.day, inputs.stats.hour
    if day.live_answers >= t.abandon_min_live and day.abandon_rate >= t.abandon_share * target:
        text = (
            f"abandon rate {day.abandon_rate:.2%} over 24 h ({day.abandons}/{day.live_answers})"
            f" is at {day.abandon_rate / target:.0%} of the {target:.0%} target"
        )
        return Trip(ReasonCategory.COMPLIANCE, "abandon_rate", text)
    limit = t.abandon_hour_multiple * target
    if hour.live_answers >= t.abandon_min_live and hour.abandon_rate >= limit:
        text = (
            f"abandon rate {hour.abandon_rate:.2%} over the last hour "
            f"({hour.abandons}/{hour.live_answers}) is above {limit:.1%}"
        )
        return Trip(ReasonCategory.COMPLIANCE, "abandon_burst", text)
    return None


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


GUARDS = (abandon_guard, logging_guard, link_guard, quality_guard, answer_rate_guard)


def evaluate(inputs: GuardInputs) -> Trip | None:
    """The first guard that trips (compliance first), with the watch thresholds if watching."""
    thresholds = WATCH if inputs.watching else NORMAL
    for guard in GUARDS:
        trip = guard(inputs, thresholds)
        if trip is not None:
            return trip
    return None
