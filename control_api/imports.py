"""Checking uploaded contact rows: header mapping, phone normalisation, per-row errors. Pure.

Template columns (header row, case-insensitive, any order):

==============  ========  =======================================================
column          required  meaning
==============  ========  =======================================================
phone           yes       any format phonenumbers understands; stored as E.164
name                      contact name
time_zone                 IANA zone of the callee (default: from the number's
                          prefix, else the campaign's zone)
priority                  1–99, 1 is dialled first (default 50)
skill                     skill the answering agent needs
agent                     preferred agent
callback_at               ISO 8601 date-time (campaign zone when no offset) or an
                          Excel date; the record is dialled from then on
(any other)               kept in the record's custom fields
==============  ========  =======================================================

A row with a bad value is reported with its row number and reason and skipped; good rows are
kept. CR, LF and other control characters in any cell are a row error. Blank rows are ignored.
Numbers are parsed with ``phonenumbers`` and the campaign's default region; an already-E.164
number takes a fast path that skips text parsing but still checks validity. Time zones from the
number are looked up once per prefix (all but the last four digits) per import.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import phonenumbers
from phonenumbers import timezone as phone_tz

KNOWN = ("phone", "name", "time_zone", "priority", "skill", "agent", "callback_at")
MAX_CELL = 1000
_E164 = re.compile(r"\+[1-9]\d{6,14}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_EXCEL_EPOCH = datetime(1899, 12, 30, tzinfo=UTC)


class HeaderError(ValueError):
    """The header row cannot be used; the whole upload is refused."""


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    reason: str


@dataclass(frozen=True, slots=True)
class Contact:
    row: int
    phone: str
    name: str
    time_zone: str | None
    time_zones: list[str]
    priority: int
    skill: str
    agent: str
    callback_at: datetime | None
    custom: dict[str, str]


@dataclass(frozen=True, slots=True)
class Header:
    index: dict[str, int]  # known column -> position
    custom: list[tuple[str, int]]  # custom column name -> position


def header(cells: Sequence[str]) -> Header:
    names = [c.strip().lower() for c in cells]
    seen: set[str] = set()
    index: dict[str, int] = {}
    custom: list[tuple[str, int]] = []
    for position, name in enumerate(names):
        if not name:
            continue
        if name in seen:
            raise HeaderError(f"column {name!r} appears twice")
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in name) or len(name) > 100:
            raise HeaderError(f"column {position + 1} has an unusable name")
        seen.add(name)
        if name in KNOWN:
            index[name] = position
        else:
            custom.append((cells[position].strip(), position))
    if "phone" not in index:
        raise HeaderError("the header row has no 'phone' column")
    return Header(index, custom)


@dataclass(slots=True)
class RowChecker:
    """Checks rows of one upload for one campaign (holds the per-import caches)."""

    region: str
    campaign_zone: str
    zones: frozenset[str] = field(default_factory=lambda: frozenset(zoneinfo.available_timezones()))
    _prefix_zones: dict[str, list[str]] = field(default_factory=dict)

    def check(self, hdr: Header, number: int, cells: Sequence[str]) -> Contact | RowError | None:
        """A contact, a row error, or None for a blank row."""
        if not any(c.strip() for c in cells):
            return None
        if _CONTROL.search("".join(cells)):
            return RowError(number, "a cell contains a line break or control character")
        if max(map(len, cells)) > MAX_CELL:
            return RowError(number, f"a cell is longer than {MAX_CELL} characters")

        def get(name: str) -> str:
            position = hdr.index.get(name)
            return cells[position].strip() if position is not None and position < len(cells) else ""

        try:
            return self._contact(hdr, number, cells, get)
        except ValueError as exc:
            return RowError(number, str(exc))

    def _contact(self, hdr: Header, number: int, cells: Sequence[str], get: Any) -> Contact:
        phone = self.normalise(get("phone"))
        zone = get("time_zone") or None
        if zone is not None and zone not in self.zones:
            raise ValueError(f"time_zone: unknown zone {zone!r}")
        custom = {
            name: cells[position].strip()
            for name, position in hdr.custom
            if position < len(cells) and cells[position].strip()
        }
        return Contact(
            row=number,
            phone=phone,
            name=get("name"),
            time_zone=zone,
            time_zones=[zone] if zone else self.zones_for(phone),
            priority=_priority(get("priority")),
            skill=get("skill"),
            agent=get("agent"),
            callback_at=self._when(get("callback_at")),
            custom=custom,
        )

    def normalise(self, raw: str) -> str:
        """E.164 form of ``raw``; ValueError naming the problem."""
        if not raw:
            raise ValueError("phone: missing")
        parsed = _fast(raw) if _E164.fullmatch(raw) else None
        if parsed is None:
            try:
                parsed = phonenumbers.parse(raw, self.region)
            except phonenumbers.NumberParseException:
                raise ValueError(f"phone: {raw!r} is not a phone number") from None
        if not phonenumbers.is_valid_number(parsed):
            raise ValueError(f"phone: {raw!r} is not a valid number")
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

    def zones_for(self, e164: str) -> list[str]:
        prefix = e164[:-4]
        cached = self._prefix_zones.get(prefix)
        if cached is None:
            found = phone_tz.time_zones_for_number(phonenumbers.parse(e164))
            cached = sorted(z for z in found if z in self.zones)
            self._prefix_zones[prefix] = cached
        return cached

    def _when(self, raw: str) -> datetime | None:
        if not raw:
            return None
        try:
            serial = float(raw)
        except ValueError:
            serial = None
        if serial is not None:
            if not 1 <= serial <= 2958465:
                raise ValueError(f"callback_at: {raw!r} is not a date")
            local = (_EXCEL_EPOCH + timedelta(days=serial)).replace(tzinfo=None)
            return local.replace(tzinfo=zoneinfo.ZoneInfo(self.campaign_zone))
        try:
            when = datetime.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"callback_at: {raw!r} is not an ISO 8601 date-time") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=zoneinfo.ZoneInfo(self.campaign_zone))
        return when


def _fast(raw: str) -> phonenumbers.PhoneNumber | None:
    """Split an E.164 string without text parsing; None when the slow path is needed."""
    digits = raw[1:]
    for length in (1, 2, 3):
        code = int(digits[:length])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            national = digits[length:]
            if national.startswith("0"):
                return None  # leading zeros (Italy and others): let the parser decide
            return phonenumbers.PhoneNumber(country_code=code, national_number=int(national))
    return None


def _priority(raw: str) -> int:
    if not raw:
        return 50
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"priority: {raw!r} is not a number") from None
    if not value.is_integer() or not 1 <= value <= 99:
        raise ValueError(f"priority: {raw!r} must be a whole number from 1 to 99")
    return int(value)
