"""schemathesis hooks for ``test_openapi.py`` (loaded by the ``st`` CLI through
``SCHEMATHESIS_HOOKS``): what the OpenAPI document says in words but JSON Schema cannot.

- ``format: e164``: a number valid in its country's numbering plan (phonenumbers' example
  numbers), not only a string of the E.164 shape; ``time-zone``, ``phone-region`` and
  ``holiday-country``: a name from the library the server checks against.
- The rules that tie two fields of a campaign body together: the callee window ends after it
  starts, a weekly window likewise, and a holiday subdivision belongs to its country. Positive
  cases (those that must be accepted) are made to follow them; negative cases are left alone.

Nothing here relaxes a check: every generated request is still judged by all of them.
"""

from __future__ import annotations

import zoneinfo
from typing import Any

import holidays
import phonenumbers
import schemathesis
from hypothesis import strategies as st

_EXAMPLES = sorted(
    phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    for region in phonenumbers.SUPPORTED_REGIONS
    if (number := phonenumbers.example_number(region)) is not None
)
schemathesis.openapi.format("e164", st.sampled_from(_EXAMPLES))
schemathesis.openapi.format("time-zone", st.sampled_from(sorted(zoneinfo.available_timezones())))
schemathesis.openapi.format("phone-region", st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)))
schemathesis.openapi.format(
    "holiday-country", st.sampled_from(sorted(holidays.list_supported_countries()))
)

_CAMPAIGN_BODIES = {("POST", "/campaigns"), ("PATCH", "/campaigns/{id}")}
_SUBDIVISIONS: dict[str, list[str]] = {
    code: list(subs) for code, subs in holidays.list_supported_countries().items()
}


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _ordered_window(window: dict[str, Any]) -> None:
    start, end = window.get("start", "00:00"), window.get("end", "24:00")
    if not (isinstance(start, str) and isinstance(end, str)):
        return
    if _minutes(start) > _minutes(end):
        window["start"], window["end"] = end, start
    elif _minutes(start) == _minutes(end):
        window["start"], window["end"] = "00:00", "24:00"


def _follow_rules(body: dict[str, Any]) -> None:
    start, end = body.get("callee_window_start"), body.get("callee_window_end")
    if isinstance(start, int | float) and isinstance(end, int | float) and start >= end:
        low, high = int(min(start, end)), int(max(start, end))
        if low == high:  # the widest window that keeps the given start
            high = 1440
        body["callee_window_start"], body["callee_window_end"] = low, high
    schedule = body.get("schedule")
    if not isinstance(schedule, dict):
        return
    for window in schedule.get("weekly", []):
        if isinstance(window, dict):
            _ordered_window(window)
    found = schedule.get("holidays")
    if isinstance(found, dict) and isinstance(found.get("country"), str):
        subdivisions = _SUBDIVISIONS.get(found["country"], [])
        if found.get("subdivision") not in subdivisions:
            found["subdivision"] = subdivisions[0] if subdivisions else None


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    operation = (case.operation.method.upper(), case.operation.path)
    meta = case.meta
    positive = meta is not None and meta.generation.mode.is_positive
    if positive and operation in _CAMPAIGN_BODIES and isinstance(case.body, dict):
        _follow_rules(case.body)
    return case
