"""The campaign ``schedule`` document (JSON, as stored and sent over the API) → a schedule.

Format (every key optional; ``{}`` means "no campaign-level restriction", only the callee's own
08:00–21:00 window applies)::

    {
      "weekly": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "20:00"},
                 {"days": ["sat"], "start": "10:00", "end": "14:00"}],
      "start_date": "2026-12-01", "end_date": "2027-01-31",
      "holidays": {"country": "US", "subdivision": "NY"},
      "blackout_dates": ["2026-12-24", "2026-12-31"]
    }

Times are local to the campaign's time zone. A document with no ``weekly`` key is open all day
on every day it is not closed by dates or holidays. Pure: raises
:class:`pacing.errors.ScheduleError` naming the bad key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pacing.errors import ScheduleError
from pacing.schedule import CampaignSchedule, WeeklyWindow

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ALL_DAY = (dt.time(0, 0), dt.time(23, 59, 59, 999999))


def _time(value: object, key: str) -> dt.time:
    if value == "24:00":
        return _ALL_DAY[1]
    try:
        return dt.time.fromisoformat(str(value))
    except ValueError:
        raise ScheduleError(f"schedule.{key}: expected HH:MM, got {value!r}") from None


def _date(value: object, key: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ScheduleError(f"schedule.{key}: expected YYYY-MM-DD, got {value!r}") from None


def _weekly(raw: object) -> tuple[WeeklyWindow, ...]:
    if not isinstance(raw, list):
        raise ScheduleError("schedule.weekly: expected a list of windows")
    windows: list[WeeklyWindow] = []
    for index, item in enumerate(raw):
        key = f"weekly[{index}]"
        if not isinstance(item, Mapping):
            raise ScheduleError(f"schedule.{key}: expected an object")
        days = item.get("days", list(DAYS))
        if not isinstance(days, list) or any(d not in DAYS for d in days):
            raise ScheduleError(f"schedule.{key}.days: expected names from {', '.join(DAYS)}")
        start = _time(item.get("start", "00:00"), f"{key}.start")
        end = _time(item.get("end", "24:00"), f"{key}.end")
        windows.extend(WeeklyWindow(DAYS.index(day), start, end) for day in days)
    return tuple(windows)


def parse_schedule(document: Mapping[str, Any], zone_name: str) -> CampaignSchedule:
    """The campaign's schedule from its stored document."""
    unknown = set(document) - {"weekly", "start_date", "end_date", "holidays", "blackout_dates"}
    if unknown:
        raise ScheduleError(f"schedule: unknown keys {', '.join(sorted(unknown))}")
    weekly = (
        _weekly(document["weekly"])
        if "weekly" in document
        else tuple(WeeklyWindow(day, *_ALL_DAY) for day in range(7))
    )
    holidays = document.get("holidays") or {}
    if not isinstance(holidays, Mapping):
        raise ScheduleError("schedule.holidays: expected {country, subdivision}")
    blackout = document.get("blackout_dates", [])
    if not isinstance(blackout, list):
        raise ScheduleError("schedule.blackout_dates: expected a list of dates")
    return CampaignSchedule(
        zone_name=zone_name,
        weekly=weekly,
        start_date=_date(document["start_date"], "start_date")
        if "start_date" in document
        else None,
        end_date=_date(document["end_date"], "end_date") if "end_date" in document else None,
        holiday_country=holidays.get("country"),
        holiday_subdivision=holidays.get("subdivision"),
        blackout_dates=frozenset(_date(d, "blackout_dates") for d in blackout),
    )
