"""Caller-ID numbers: which number a call goes out with, and which numbers should rest.

A campaign has a pool of numbers (a number may sit in several pools; its usage is its own, across
campaigns). A number is available when it is active, under its concurrent-call and daily caps and
past its cooldown since its last use. Among available numbers the choice is: the record's previous
caller ID if still available (sticky retries); else the most local one — same country as the
callee and the longest shared prefix of the national number (area code first), or a matching
region tag; ties go to the number used least today, then the healthier, then the lowest number.
No available number means no call, with the reason for every number.

Health is a number's answer rate against the rest of the pool's, once both have a minimum sample;
a number far below the pool rests automatically with a recorded reason.

Pure: functions of the pool, the usage counts and ``now``.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass

import phonenumbers

from pacing.errors import CallerIdError


class NumberStatus(enum.StrEnum):
    """A caller-ID number's status (the ``callerid_numbers.status`` column)."""

    ACTIVE = "active"
    RESTING = "resting"
    RETIRED = "retired"


class Unavailable(enum.StrEnum):
    """Why a number cannot be used now."""

    RESTING = "resting"
    RETIRED = "retired"
    CONCURRENT_CAP = "concurrent_cap"
    DAILY_CAP = "daily_cap"
    COOLDOWN = "cooldown"


@dataclass(frozen=True, slots=True)
class CallerIdNumber:
    """One number of a pool and its limits."""

    number: str  # E.164
    status: NumberStatus = NumberStatus.ACTIVE
    max_concurrent: int = 1
    max_per_day: int = 100
    cooldown: dt.timedelta = dt.timedelta(0)
    region: str = ""  # a free tag for local presence, e.g. "US-CA"
    rest_reason: str = ""

    def __post_init__(self) -> None:
        if not _national(self.number):
            raise CallerIdError(f"caller ID {self.number!r} is not a valid E.164 number")
        if self.max_concurrent < 0 or self.max_per_day < 0:
            raise CallerIdError(f"caller ID {self.number}: caps must not be negative")


@dataclass(frozen=True, slots=True)
class NumberUsage:
    """How a number has been used (across every campaign that shares it)."""

    in_flight: int = 0
    today: int = 0
    last_used_at: dt.datetime | None = None
    attempts: int = 0  # over the health window
    answers: int = 0  # over the health window


UNUSED = NumberUsage()  # a number with no usage yet (frozen: one instance serves every lookup)


@dataclass(frozen=True, slots=True)
class Blocked:
    """One unavailable number and why."""

    number: str
    reason: Unavailable
    detail: str


@dataclass(frozen=True, slots=True)
class Choice:
    """The chosen number (None: no call) and why, plus every number that was unavailable."""

    number: str | None
    why: str
    unavailable: tuple[Blocked, ...] = ()


@functools.lru_cache(maxsize=4096)
def _national(number: str) -> tuple[int, str] | None:
    """(country code, national significant number) of a valid E.164 string, else None.

    Kept for the pool's numbers (asked for every call placed: parsing them each time was most of
    a large decision's time); a pure function of the string, so the cache changes no answer."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    if parsed.country_code is None or not phonenumbers.is_possible_number(parsed):
        return None
    return parsed.country_code, phonenumbers.national_significant_number(parsed)


def unavailable(number: CallerIdNumber, usage: NumberUsage, now: dt.datetime) -> Blocked | None:
    """Why ``number`` cannot be used at ``now``, or None if it can."""
    n = number.number
    if number.status is NumberStatus.RETIRED:
        return Blocked(n, Unavailable.RETIRED, "retired")
    if number.status is NumberStatus.RESTING:
        return Blocked(n, Unavailable.RESTING, number.rest_reason or "resting")
    if usage.in_flight >= number.max_concurrent:
        return Blocked(n, Unavailable.CONCURRENT_CAP, f"{usage.in_flight} calls in flight")
    if usage.today >= number.max_per_day:
        return Blocked(n, Unavailable.DAILY_CAP, f"{usage.today} calls today")
    if usage.last_used_at is not None and now < usage.last_used_at + number.cooldown:
        ready = usage.last_used_at + number.cooldown
        return Blocked(n, Unavailable.COOLDOWN, f"cooling down until {ready.isoformat()}")
    return None


def locality(number: str, callee: tuple[int, str] | None) -> int:
    """How local ``number`` is to the callee: −1 other country, else the shared national prefix."""
    own = _national(number)
    if own is None or callee is None or own[0] != callee[0]:
        return -1
    shared = 0
    for a, b in zip(own[1], callee[1], strict=False):
        if a != b:
            break
        shared += 1
    return shared


def choose(
    pool: Sequence[CallerIdNumber],
    usage: Mapping[str, NumberUsage],
    callee: str,
    now: dt.datetime,
    sticky: str | None = None,
    callee_region: str = "",
) -> Choice:
    """The caller ID for a call to ``callee``."""
    blocked: list[Blocked] = []
    available: list[CallerIdNumber] = []
    for number in pool:
        reason = unavailable(number, usage.get(number.number, UNUSED), now)
        if reason is None:
            available.append(number)
        else:
            blocked.append(reason)
    if not available:
        why_none = "no caller-ID number available" if pool else "the campaign has no numbers"
        return Choice(None, why_none, tuple(blocked))
    if sticky is not None and any(n.number == sticky for n in available):
        return Choice(sticky, "same caller ID as the record's previous attempt", tuple(blocked))
    target = _national(callee)
    totals = pool_totals(pool, usage)
    scores = {}
    for n in available:
        score = health_score(n.number, pool, usage, totals=totals)
        scores[n.number] = 1.0 if score is None else score

    local = {n.number: locality(n.number, target) for n in available}

    def rank(n: CallerIdNumber) -> tuple[int, int, int, float, str]:
        region = 1 if callee_region and n.region == callee_region else 0
        used = usage.get(n.number, UNUSED).today
        return (-region, -local[n.number], used, -scores[n.number], n.number)

    best = min(available, key=rank)
    shared = local[best.number]
    why = f"local presence ({shared} digits shared)" if shared > 0 else "least used available"
    if callee_region and best.region == callee_region:
        why = f"region {callee_region}"
    return Choice(best.number, why, tuple(blocked))


def choose_many(
    pool: Sequence[CallerIdNumber],
    usage: Mapping[str, NumberUsage],
    calls: Sequence[tuple[str, str | None]],
    now: dt.datetime,
) -> tuple[list[Choice], dict[str, NumberUsage]]:
    """:func:`choose` for each ``(callee, sticky)`` call of one decision, in order, each pick
    counted against the usage the next one sees (one more call in flight and today, last used
    ``now``); returns the choices and the usage after them.

    The same answers as calling :func:`choose` once per call and counting each pick (the
    tests compare both), without redoing per call what a pick cannot change: the health scores
    (a pick changes no attempt or answer count), which pool numbers share which national prefix
    (:class:`_Prefixes`), and whether each number is available (only the picked one's usage
    changes)."""
    usage = dict(usage)
    if not pool:
        return [Choice(None, "the campaign has no numbers") for _ in calls], usage
    totals = pool_totals(pool, usage)
    scores: list[float] = []
    for n in pool:
        score = health_score(n.number, pool, usage, totals=totals)
        scores.append(1.0 if score is None else score)
    prefixes = _Prefixes(pool)
    entries: dict[str, list[int]] = {}
    for i, n in enumerate(pool):
        entries.setdefault(n.number, []).append(i)
    blocks = [unavailable(n, usage.get(n.number, UNUSED), now) for n in pool]
    blocked = tuple(b for b in blocks if b is not None)
    available = {i for i, b in enumerate(blocks) if b is None}
    choices: list[Choice] = []
    for callee, sticky in calls:
        if not available:
            choices.append(Choice(None, "no caller-ID number available", blocked))
            continue
        if sticky is not None and any(pool[i].number == sticky for i in available):
            choice = Choice(sticky, "same caller ID as the record's previous attempt", blocked)
        else:
            shared, candidates = prefixes.most_local(_national(callee), available)

            def rank(i: int) -> tuple[int, float, str]:
                number = pool[i].number
                return usage.get(number, UNUSED).today, -scores[i], number

            best = pool[min(candidates, key=rank)].number
            why = (
                f"local presence ({shared} digits shared)"
                if shared > 0
                else ("least used available")
            )
            choice = Choice(best, why, blocked)
        choices.append(choice)
        number = choice.number
        assert number is not None
        used = usage.get(number, UNUSED)
        usage[number] = NumberUsage(
            used.in_flight + 1, used.today + 1, now, used.attempts, used.answers
        )
        changed = False
        for i in entries[number]:
            block = unavailable(pool[i], usage[number], now)
            changed = changed or block != blocks[i]
            blocks[i] = block
            if block is None:
                available.add(i)
            else:
                available.discard(i)
        if changed:
            blocked = tuple(b for b in blocks if b is not None)
    return choices, usage


class _Prefixes:
    """Which entries of a pool share each national prefix, by country: :func:`locality` for the
    whole pool by a few lookups instead of a digit loop per number."""

    def __init__(self, pool: Sequence[CallerIdNumber]) -> None:
        found: dict[tuple[int, str], set[int]] = {}
        for i, n in enumerate(pool):
            own = _national(n.number)
            if own is None:
                continue
            country, digits = own
            for k in range(len(digits) + 1):
                found.setdefault((country, digits[:k]), set()).add(i)
        self._by = {key: frozenset(v) for key, v in found.items()}

    def most_local(
        self, callee: tuple[int, str] | None, available: set[int]
    ) -> tuple[int, Set[int]]:
        """The highest :func:`locality` among ``available`` entries and the entries that have
        it; ``(-1, available)`` when none is in the callee's country."""
        if callee is None:
            return -1, available
        country, digits = callee
        by = self._by
        k = len(digits)
        while k >= 0 and (country, digits[:k]) not in by:  # the longest prefix any entry has
            k -= 1
        while k >= 0:  # entries under prefix k share at least k digits; none deeper is free
            hit = by[(country, digits[:k])] & available
            if hit:
                return k, hit
            k -= 1
        return -1, available


@dataclass(frozen=True, slots=True)
class PoolTotals:
    """Attempts and answers summed over a pool's entries, and how often each number is in it."""

    attempts: int
    answers: int
    entries: Mapping[str, int]


def pool_totals(pool: Sequence[CallerIdNumber], usage: Mapping[str, NumberUsage]) -> PoolTotals:
    attempts = answers = 0
    entries: dict[str, int] = {}
    for n in pool:
        u = usage.get(n.number, UNUSED)
        attempts, answers = attempts + u.attempts, answers + u.answers
        entries[n.number] = entries.get(n.number, 0) + 1
    return PoolTotals(attempts, answers, entries)


def health_score(
    number: str,
    pool: Sequence[CallerIdNumber],
    usage: Mapping[str, NumberUsage],
    min_sample: int = 50,
    totals: PoolTotals | None = None,
) -> float | None:
    """The answer rate over the rest of the pool's (None until both have ``min_sample`` calls).

    ``totals``: the pool's (:func:`pool_totals`), when the caller scores every number of the
    pool: the rest is the total less the number's own, not a loop over the pool per number."""
    own = usage.get(number, UNUSED)
    totals = totals if totals is not None else pool_totals(pool, usage)
    entries = totals.entries.get(number, 0)
    attempts = totals.attempts - entries * own.attempts
    answers = totals.answers - entries * own.answers
    if own.attempts < min_sample or attempts < min_sample or answers == 0:
        return None
    return (own.answers / own.attempts) / (answers / attempts)


@dataclass(frozen=True, slots=True)
class RestOrder:
    """Rest ``number`` with ``reason`` (its health collapsed)."""

    number: str
    health: float
    reason: str


def rest_orders(
    pool: Sequence[CallerIdNumber],
    usage: Mapping[str, NumberUsage],
    floor: float = 0.5,
    min_sample: int = 50,
) -> list[RestOrder]:
    """Active numbers whose health is under ``floor``: they should rest, with the reason."""
    orders = []
    for number in pool:
        if number.status is not NumberStatus.ACTIVE:
            continue
        score = health_score(number.number, pool, usage, min_sample)
        if score is not None and score < floor:
            own = usage.get(number.number, UNUSED)
            reason = (
                f"answer rate {own.answers}/{own.attempts} is {score:.0%} of the pool's "
                f"(rest below {floor:.0%})"
            )
            orders.append(RestOrder(number.number, score, reason))
    return orders
