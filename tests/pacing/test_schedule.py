"""Table tests for campaign schedules and the callee's window: DST, holidays, multi-zone numbers."""

from __future__ import annotations

import datetime as dt

import pytest

from pacing.errors import ScheduleError
from pacing.schedule import (
    CalleeWindow,
    CampaignSchedule,
    ClosedReason,
    WeeklyWindow,
    callee_state,
    callee_zones,
)

UTC = dt.UTC
NINE_TO_FIVE = tuple(WeeklyWindow(day, dt.time(9), dt.time(17)) for day in range(5))
EARLY = tuple(WeeklyWindow(day, dt.time(1, 0), dt.time(4, 0)) for day in range(7))


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


NEW_YORK = CampaignSchedule("America/New_York", NINE_TO_FIVE)


@pytest.mark.parametrize(
    ("now", "is_open", "reason", "next_open"),
    [
        # Winter: New York is UTC−5.
        (at(2026, 1, 6, 14, 0), True, None, None),
        (at(2026, 1, 6, 13, 59), False, ClosedReason.OUTSIDE_HOURS, at(2026, 1, 6, 14, 0)),
        (at(2026, 1, 6, 22, 0), False, ClosedReason.OUTSIDE_HOURS, at(2026, 1, 7, 14, 0)),
        # Saturday → Monday.
        (at(2026, 1, 10, 15, 0), False, ClosedReason.OUTSIDE_HOURS, at(2026, 1, 12, 14, 0)),
        # Summer: UTC−4, the same wall-clock hours are an hour earlier in UTC.
        (at(2026, 7, 7, 13, 0), True, None, None),
        (at(2026, 7, 7, 21, 0), False, ClosedReason.OUTSIDE_HOURS, at(2026, 7, 8, 13, 0)),
        # Friday before spring forward (Sun 8 March 2026): opens Monday at 09:00 EDT = 13:00 UTC.
        (at(2026, 3, 6, 23, 0), False, ClosedReason.OUTSIDE_HOURS, at(2026, 3, 9, 13, 0)),
        # Friday before fall back (Sun 1 November 2026): opens Monday at 09:00 EST = 14:00 UTC.
        (at(2026, 10, 30, 22, 0), False, ClosedReason.OUTSIDE_HOURS, at(2026, 11, 2, 14, 0)),
    ],
)
def test_weekly_hours_across_dst(
    now: dt.datetime, is_open: bool, reason: ClosedReason | None, next_open: dt.datetime | None
) -> None:
    state = NEW_YORK.state(now)
    assert state.open is is_open
    assert state.reason == reason
    assert state.next_open == next_open


LONDON_NIGHT = CampaignSchedule("Europe/London", EARLY)


@pytest.mark.parametrize(
    ("now", "is_open"),
    [
        # Spring forward, Sun 29 March 2026: 01:00 GMT becomes 02:00 BST; 01:00–04:00 local
        # is only 01:00–03:00 UTC that night.
        (at(2026, 3, 29, 0, 30), False),
        (at(2026, 3, 29, 1, 30), True),  # 02:30 BST
        (at(2026, 3, 29, 2, 59), True),  # 03:59 BST
        (at(2026, 3, 29, 3, 0), False),  # 04:00 BST
        # Fall back, Sun 25 October 2026: 02:00 BST becomes 01:00 GMT; the window lasts 4 h.
        (at(2026, 10, 24, 23, 59), False),  # 00:59 BST
        (at(2026, 10, 25, 0, 0), True),  # 01:00 BST
        (at(2026, 10, 25, 1, 30), True),  # 01:30 GMT (second pass)
        (at(2026, 10, 25, 3, 59), True),  # 03:59 GMT
        (at(2026, 10, 25, 4, 0), False),
    ],
)
def test_window_on_dst_change_nights(now: dt.datetime, is_open: bool) -> None:
    assert LONDON_NIGHT.state(now).open is is_open


def test_next_open_inside_spring_forward_gap() -> None:
    gap = CampaignSchedule("America/New_York", (WeeklyWindow(6, dt.time(2, 30), dt.time(5, 0)),))
    # 02:30 does not exist on 8 March 2026; zoneinfo reads it as 03:30 EDT = 07:30 UTC.
    assert gap.next_open(at(2026, 3, 8, 5, 0)) == at(2026, 3, 8, 7, 30)


@pytest.mark.parametrize(
    ("schedule", "now", "reason", "next_open"),
    [
        # Independence Day 2026 is a Saturday, observed Friday 3 July.
        (
            CampaignSchedule("America/New_York", NINE_TO_FIVE, holiday_country="US"),
            at(2026, 7, 3, 15, 0),
            ClosedReason.HOLIDAY,
            at(2026, 7, 6, 13, 0),
        ),
        # Cesar Chavez Day (31 March) is a California holiday, not a federal one.
        (
            CampaignSchedule(
                "America/Los_Angeles",
                NINE_TO_FIVE,
                holiday_country="US",
                holiday_subdivision="CA",
            ),
            at(2026, 3, 31, 18, 0),
            ClosedReason.HOLIDAY,
            at(2026, 4, 1, 16, 0),
        ),
        (
            CampaignSchedule(
                "America/New_York", NINE_TO_FIVE, blackout_dates=frozenset({dt.date(2026, 1, 6)})
            ),
            at(2026, 1, 6, 15, 0),
            ClosedReason.BLACKOUT,
            at(2026, 1, 7, 14, 0),
        ),
        (
            CampaignSchedule("America/New_York", NINE_TO_FIVE, start_date=dt.date(2026, 2, 2)),
            at(2026, 1, 6, 15, 0),
            ClosedReason.BEFORE_START_DATE,
            at(2026, 2, 2, 14, 0),
        ),
        (
            CampaignSchedule("America/New_York", NINE_TO_FIVE, end_date=dt.date(2026, 1, 5)),
            at(2026, 1, 6, 15, 0),
            ClosedReason.AFTER_END_DATE,
            None,
        ),
    ],
)
def test_dates_and_holidays(
    schedule: CampaignSchedule,
    now: dt.datetime,
    reason: ClosedReason,
    next_open: dt.datetime | None,
) -> None:
    state = schedule.state(now)
    assert not state.open
    assert state.reason is reason
    assert state.next_open == next_open


def test_federal_schedule_is_open_on_a_state_only_holiday() -> None:
    federal = CampaignSchedule("America/Los_Angeles", NINE_TO_FIVE, holiday_country="US")
    assert federal.state(at(2026, 3, 31, 18, 0)).open


def test_malformed_schedules_are_refused() -> None:
    with pytest.raises(ScheduleError):
        CampaignSchedule("Mars/Olympus", NINE_TO_FIVE)
    with pytest.raises(ScheduleError):
        WeeklyWindow(0, dt.time(17), dt.time(9))
    with pytest.raises(ScheduleError):
        CampaignSchedule("UTC", NINE_TO_FIVE, holiday_country="XX")
    with pytest.raises(ScheduleError):
        NEW_YORK.state(dt.datetime(2026, 1, 6, 12, 0))  # naive


@pytest.mark.parametrize(
    ("number", "record_zone", "zones"),
    [
        ("+12125551234", None, ("America/New_York",)),
        ("+12125551234", "Europe/Paris", ("Europe/Paris",)),
        ("+16055550123", None, ("America/Denver", "America/North_Dakota/Center")),
        ("not a number", None, ()),
    ],
)
def test_callee_zones(number: str, record_zone: str | None, zones: tuple[str, ...]) -> None:
    assert callee_zones(number, record_zone) == zones


SOUTH_DAKOTA = ("America/Denver", "America/North_Dakota/Center")  # UTC−7 and UTC−6 in January


@pytest.mark.parametrize(
    ("zones", "now", "allowed", "next_open"),
    [
        (("America/New_York",), at(2026, 1, 6, 13, 0), True, None),  # 08:00 EST
        (("America/New_York",), at(2026, 1, 6, 12, 59), False, at(2026, 1, 6, 13, 0)),
        (("America/New_York",), at(2026, 1, 7, 2, 0), False, at(2026, 1, 7, 13, 0)),  # 21:00
        # Central is at 08:30 but Denver at 07:30: not until Denver opens.
        (SOUTH_DAKOTA, at(2026, 1, 6, 14, 30), False, at(2026, 1, 6, 15, 0)),
        (SOUTH_DAKOTA, at(2026, 1, 6, 15, 0), True, None),
        # 20:30 Central, 19:30 Denver: both inside; at 21:00 Central it closes for both.
        (SOUTH_DAKOTA, at(2026, 1, 7, 2, 30), True, None),
        (SOUTH_DAKOTA, at(2026, 1, 7, 3, 0), False, at(2026, 1, 7, 15, 0)),
        # Spring forward in the US (8 March 2026): 08:00 EDT is 12:00 UTC.
        (("America/New_York",), at(2026, 3, 8, 12, 0), True, None),
        (("America/New_York",), at(2026, 3, 8, 11, 59), False, at(2026, 3, 8, 12, 0)),
        ((), at(2026, 1, 6, 15, 0), False, None),  # zone unknown: never
    ],
)
def test_callee_window(
    zones: tuple[str, ...], now: dt.datetime, allowed: bool, next_open: dt.datetime | None
) -> None:
    state = callee_state(zones, now, CalleeWindow())
    assert state.open is allowed
    assert state.next_open == next_open


@pytest.mark.parametrize(
    ("now", "window"),
    [
        # Tuesday 12:00 in New York (EST, UTC−5): the 09:00–17:00 window, in UTC.
        (
            dt.datetime(2025, 1, 14, 17, 0, tzinfo=UTC),
            (
                dt.datetime(2025, 1, 14, 14, 0, tzinfo=UTC),
                dt.datetime(2025, 1, 14, 22, 0, tzinfo=UTC),
            ),
        ),
        # Summer time (EDT, UTC−4).
        (
            dt.datetime(2025, 7, 15, 20, 59, tzinfo=UTC),
            (
                dt.datetime(2025, 7, 15, 13, 0, tzinfo=UTC),
                dt.datetime(2025, 7, 15, 21, 0, tzinfo=UTC),
            ),
        ),
        (dt.datetime(2025, 1, 14, 23, 0, tzinfo=UTC), None),  # after hours
        (dt.datetime(2025, 1, 18, 17, 0, tzinfo=UTC), None),  # Saturday
    ],
)
def test_open_window_bounds_the_calling_day(
    now: dt.datetime, window: tuple[dt.datetime, dt.datetime] | None
) -> None:
    assert NEW_YORK.open_window(now) == window
