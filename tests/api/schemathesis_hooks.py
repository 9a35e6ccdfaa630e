"""schemathesis hooks for ``test_openapi.py`` (loaded by the ``st`` CLI through
``SCHEMATHESIS_HOOKS``): what the OpenAPI document says in words but JSON Schema cannot.

- ``format: e164``: a number valid in its country's numbering plan (phonenumbers' example
  numbers), not only a string of the E.164 shape; ``time-zone``, ``phone-region`` and
  ``holiday-country``: a name from the library the server checks against.
- The rules that tie two fields of a campaign body together: the callee window ends after it
  starts, a weekly window likewise, a holiday subdivision belongs to its country, and the
  dispositions name each code once, at least one, with the default among them, and a retry
  code waits more than 0 s; a token is
  bound to an agent exactly when its role is ``agent``. Positive
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


def _follow_disposition_rules(body: dict[str, Any]) -> None:
    found = body.get("dispositions")
    if not isinstance(found, dict):
        return
    codes = [c for c in found.get("codes", []) if isinstance(c, dict)]
    for code in codes:  # a retry code waits before the next call (at least a second)
        if code.get("step") == "retry" and not code.get("delay_s"):
            code["delay_s"] = 3600
    unique = list({str(c.get("code")): c for c in codes}.values()) or [
        {"code": "sale", "step": "done"}
    ]
    if "codes" in found or unique != codes:
        found["codes"] = unique
    names = {str(c.get("code")) for c in unique} if "codes" in found else None
    if names is not None and found.get("default_code") not in names | {None}:
        found["default_code"] = None


def _follow_token_rules(body: dict[str, Any]) -> None:
    if body.get("role") == "agent":
        body.setdefault("agent_id", "Agent 101")
    else:
        body.pop("agent_id", None)


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    operation = (case.operation.method.upper(), case.operation.path)
    meta = case.meta
    positive = meta is not None and meta.generation.mode.is_positive
    if positive and operation in _CAMPAIGN_BODIES and isinstance(case.body, dict):
        _follow_rules(case.body)
        _follow_disposition_rules(case.body)
    if positive and operation == ("POST", "/tokens") and isinstance(case.body, dict):
        _follow_token_rules(case.body)
    return case
