"""Calling windows: the campaign's schedule and the callee's local hours.

Design. Windows are wall-clock hours in a named zone (``zoneinfo``), so daylight-saving changes are
handled by converting ``now`` into the zone and comparing local times; an instant is never built
from a local time except to report when a window next opens (a start inside a spring-forward gap
resolves, as ``zoneinfo`` does, to the instant one hour later on the wall clock). The campaign is
closed on dates outside its range, on public holidays of its country and subdivision (the
``holidays`` library) and on blackout dates, all taken in the campaign's zone. The callee's window
(default 08:00–21:00) is checked in the record's zone, else in every zone its number may be in
(``phonenumbers.timezone``): a number spanning several zones may be called only when all of them
are inside the window.

Pure: functions of the schedule, the number and an aware ``now``; no clock read.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import phonenumbers
from phonenumbers import timezone as pn_timezone

from pacing.errors import ScheduleError

SEARCH_DAYS = 400
UNKNOWN_ZONE = "Etc/Unknown"


def zone(name: str) -> ZoneInfo:
    """The named zone, or ScheduleError."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(f"unknown time zone {name!r}") from exc


def _aware(now: dt.datetime) -> dt.datetime:
    if now.tzinfo is None:
        raise ScheduleError("now must be timezone-aware")
    return now


@dataclass(frozen=True, slots=True)
class WeeklyWindow:
    """Calling hours on one weekday (0 = Monday), ``start`` ≤ local time < ``end``."""

    weekday: int
    start: dt.time
    end: dt.time

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ScheduleError(f"weekday {self.weekday} not in 0..6")
        if self.start >= self.end:
            raise ScheduleError(f"window {self.start}–{self.end} is empty")


class ClosedReason(enum.StrEnum):
    """Why the campaign schedule is closed now."""

    BEFORE_START_DATE = "before_start_date"
    AFTER_END_DATE = "after_end_date"
    HOLIDAY = "holiday"
    BLACKOUT = "blackout"
    OUTSIDE_HOURS = "outside_hours"


@dataclass(frozen=True, slots=True)
class WindowState:
    """Whether a window is open now and, if not, why and when it next opens (None: never)."""

    open: bool
    reason: ClosedReason | None = None
    next_open: dt.datetime | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class CampaignSchedule:
    """A campaign's calling windows in its own time zone."""

    zone_name: str
    weekly: tuple[WeeklyWindow, ...]
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    blackout_dates: frozenset[dt.date] = frozenset()

    def __post_init__(self) -> None:
        zone(self.zone_name)
        if self.holiday_country is not None:
            self.holidays_in([])  # fail now on an unknown country or subdivision (no year:
            # a year outside a country's table only warns)

    def holidays_in(self, years: Iterable[int]) -> dict[dt.date, str]:
        """Public holidays (date → name) of the campaign's country in ``years``."""
        if self.holiday_country is None:
            return {}
        try:
            table = holidays.country_holidays(
                self.holiday_country, subdiv=self.holiday_subdivision, years=list(years)
            )
        except NotImplementedError as exc:
            raise ScheduleError(
                f"no holidays for {self.holiday_country}/{self.holiday_subdivision}"
            ) from exc
        return {day: str(name) for day, name in table.items()}

    def _day_closed(
        self, day: dt.date, table: dict[dt.date, str]
    ) -> tuple[ClosedReason, str] | None:
        if self.start_date is not None and day < self.start_date:
            return ClosedReason.BEFORE_START_DATE, f"campaign starts on {self.start_date}"
        if self.end_date is not None and day > self.end_date:
            return ClosedReason.AFTER_END_DATE, f"campaign ended on {self.end_date}"
        if day in self.blackout_dates:
            return ClosedReason.BLACKOUT, f"{day} is a blackout date"
        if day in table:
            return ClosedReason.HOLIDAY, f"{day} is a public holiday ({table[day]})"
        return None

    def state(self, now: dt.datetime) -> WindowState:
        """Whether the campaign may call at ``now``, and when it next opens if not."""
        tz = zone(self.zone_name)
        local = _aware(now).astimezone(tz)
        today = local.date()
        table = self.holidays_in(range(today.year, today.year + 3))
        closed = self._day_closed(today, table)
        if closed is None:
            for window in self.weekly:
                if window.weekday == today.weekday() and window.start <= local.time() < window.end:
                    return WindowState(True, detail=f"open until {window.end:%H:%M} {tz.key}")
            closed = (
                ClosedReason.OUTSIDE_HOURS,
                f"outside calling hours ({local:%a %H:%M} {tz.key})",
            )
        reason, detail = closed
        return WindowState(False, reason, self.next_open(now, table), detail)

    def open_window(self, now: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
        """The calling window ``now`` is in, as (opened, closes) in UTC; None when closed."""
        if not self.state(now).open:
            return None
        tz = zone(self.zone_name)
        local = _aware(now).astimezone(tz)
        for window in self.weekly:
            if window.weekday == local.weekday() and window.start <= local.time() < window.end:
                start = dt.datetime.combine(local.date(), window.start, tzinfo=tz)
                end = dt.datetime.combine(local.date(), window.end, tzinfo=tz)
                return start.astimezone(dt.UTC), end.astimezone(dt.UTC)
        return None

    def next_open(
        self, now: dt.datetime, table: dict[dt.date, str] | None = None
    ) -> dt.datetime | None:
        """The first instant at or after ``now`` when the schedule is open (UTC), or None."""
        tz = zone(self.zone_name)
        local = _aware(now).astimezone(tz)
        if table is None or local.year + 1 not in {day.year for day in table}:
            table = self.holidays_in(range(local.year, local.year + 3))
        for offset in range(SEARCH_DAYS):
            day = local.date() + dt.timedelta(days=offset)
            if self.end_date is not None and day > self.end_date:
                return None
            if self._day_closed(day, table) is not None:
                continue
            for window in sorted(self.weekly, key=lambda w: w.start):
                if window.weekday != day.weekday():
                    continue
                start = dt.datetime.combine(day, window.start, tzinfo=tz)
                end = dt.datetime.combine(day, window.end, tzinfo=tz)
                if end.astimezone(dt.UTC) <= now.astimezone(dt.UTC):
                    continue
                return max(start, local).astimezone(dt.UTC)
        return None


@dataclass(frozen=True, slots=True)
class CalleeWindow:
    """The callee's own local calling hours (default 08:00–21:00)."""

    start: dt.time = dt.time(8, 0)
    end: dt.time = dt.time(21, 0)

    def __post_init__(self) -> None:
        if self.start >= self.end:
            raise ScheduleError(f"callee window {self.start}–{self.end} is empty")


def callee_zones(number: str, record_zone: str | None = None) -> tuple[str, ...]:
    """The zones the callee may be in: the record's, else those of the number (may be empty)."""
    if record_zone:
        zone(record_zone)
        return (record_zone,)
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return ()
    zones = tuple(z for z in pn_timezone.time_zones_for_number(parsed) if z != UNKNOWN_ZONE)
    return tuple(z for z in zones if _known(z))


def _known(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _inside(window: CalleeWindow, tz: ZoneInfo, now: dt.datetime) -> bool:
    local = now.astimezone(tz).time()
    return window.start <= local < window.end


def callee_state(
    zones: tuple[str, ...], now: dt.datetime, window: CalleeWindow = CalleeWindow()
) -> WindowState:
    """Whether every one of ``zones`` is inside the callee window at ``now``; next opening if not.

    With no zone at all the callee's hours cannot be known and the call is not allowed.
    """
    _aware(now)
    if not zones:
        return WindowState(False, ClosedReason.OUTSIDE_HOURS, None, "callee time zone unknown")
    tzs = [zone(name) for name in zones]
    if all(_inside(window, tz, now) for tz in tzs):
        return WindowState(True, detail="inside the callee's local hours")
    candidates = sorted(
        dt.datetime.combine(
            now.astimezone(tz).date() + dt.timedelta(days=d), window.start, tzinfo=tz
        ).astimezone(dt.UTC)
        for tz in tzs
        for d in range(3)
    )
    upcoming = (c for c in candidates if c > now)
    when = next((c for c in upcoming if all(_inside(window, tz, c) for tz in tzs)), None)
    names = ", ".join(zones)
    return WindowState(False, ClosedReason.OUTSIDE_HOURS, when, f"outside callee hours in {names}")
