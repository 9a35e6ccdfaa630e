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
number takes a fast path that skips text parsing and checks validity with
:class:`gateway.campaigns.phones.Validity` (the same answer as
``phonenumbers.is_valid_number``, from precompiled patterns). Other spellings are parsed once
per distinct text per import. Time zones from the number are looked up once per prefix (all
but the last four digits) per import.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from json.encoder import encode_basestring_ascii as _json_string
from typing import NamedTuple

import phonenumbers
from phonenumbers import timezone as phone_tz

from gateway.campaigns.phones import Validity

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


class Contact(NamedTuple):
    """A checked row, field for field the importer's staging row (it is copied as it is)."""

    row: int
    phone: str
    name: str
    time_zone: str | None
    time_zones: list[str]
    priority: int
    skill: str
    agent: str
    callback_at: datetime | None
    custom: str  # the non-empty custom cells as a JSON object


@dataclass(frozen=True, slots=True)
class Header:
    index: dict[str, int]  # known column -> position
    custom: list[tuple[str, int]]  # custom column name -> position
    known: tuple[int, ...] = ()  # position of each KNOWN column in order, -1 when absent
    width: int = 0  # one past the last used position
    custom_json: tuple[tuple[str, int], ...] = ()  # (name as a JSON string + ":", position)

    @classmethod
    def of(cls, index: dict[str, int], custom: list[tuple[str, int]]) -> Header:
        used = [*index.values(), *(p for _, p in custom)]
        known = tuple(index.get(name, -1) for name in KNOWN)
        keys = tuple((_json_string(name) + ":", position) for name, position in custom)
        return cls(index, custom, known, max(used, default=-1) + 1, keys)


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
    return Header.of(index, custom)


@dataclass(slots=True)
class RowChecker:
    """Checks rows of one upload for one campaign (holds the per-import caches)."""

    region: str
    campaign_zone: str
    zones: frozenset[str] = field(default_factory=lambda: frozenset(zoneinfo.available_timezones()))
    _prefix_zones: dict[str, list[str]] = field(default_factory=dict)
    _validity: Validity = field(default_factory=Validity)
    _parsed: dict[str, str | None] = field(default_factory=dict)  # raw text -> E.164 / invalid

    def check(self, hdr: Header, number: int, cells: Sequence[str]) -> Contact | RowError | None:
        """A contact, a row error, or None for a blank row."""
        joined = "".join(cells)
        if not joined.strip():
            return None
        if _CONTROL.search(joined):
            return RowError(number, "a cell contains a line break or control character")
        if len(joined) > MAX_CELL and max(map(len, cells)) > MAX_CELL:
            return RowError(number, f"a cell is longer than {MAX_CELL} characters")

        # The used cells stripped, padded to the header's width plus one "" (absent columns
        # have position -1, so they read that "").
        stripped = [c.strip() for c in cells[: hdr.width]]
        stripped.extend([""] * (hdr.width + 1 - len(stripped)))
        try:
            return self._contact(hdr, number, stripped)
        except ValueError as exc:
            return RowError(number, str(exc))

    def _contact(self, hdr: Header, number: int, stripped: list[str]) -> Contact:
        phone, name, zone, priority, skill, agent, callback = [stripped[i] for i in hdr.known]
        e164 = self.normalise(phone)
        if zone and zone not in self.zones:
            raise ValueError(f"time_zone: unknown zone {zone!r}")
        return Contact(
            row=number,
            phone=e164,
            name=name,
            time_zone=zone or None,
            time_zones=[zone] if zone else self.zones_for(e164),
            priority=_priority(priority),
            skill=skill,
            agent=agent,
            callback_at=self._when(callback),
            custom=_custom_json(hdr, stripped),
        )

    def normalise(self, raw: str) -> str:
        """E.164 form of ``raw``; ValueError naming the problem."""
        if not raw:
            raise ValueError("phone: missing")
        split = _split_e164(raw) if _E164.fullmatch(raw) else None
        if split is not None:
            if self._validity.valid(*split):
                return raw  # already E.164 without leading zeros: its own formatting
            raise ValueError(f"phone: {raw!r} is not a valid number")
        if raw not in self._parsed:
            self._parsed[raw] = _parse(raw, self.region)
        e164 = self._parsed[raw]
        if e164 is None:
            raise ValueError(f"phone: {raw!r} is not a valid number")
        return e164

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
            # Whole milliseconds (Excel's own precision): the binary fraction of 09:30 read as
            # days is a microsecond past it.
            since = timedelta(milliseconds=round(serial * 86_400_000))
            local = (_EXCEL_EPOCH + since).replace(tzinfo=None)
            return local.replace(tzinfo=zoneinfo.ZoneInfo(self.campaign_zone))
        try:
            when = datetime.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"callback_at: {raw!r} is not an ISO 8601 date-time") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=zoneinfo.ZoneInfo(self.campaign_zone))
        return when


def _split_e164(raw: str) -> tuple[int, str] | None:
    """(calling code, national number) of an E.164 string; None when the parser must decide."""
    digits = raw[1:]
    for length in (1, 2, 3):
        code = int(digits[:length])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            national = digits[length:]
            if national.startswith("0"):
                return None  # leading zeros (Italy and others): let the parser decide
            return code, national
    return None


def _parse(raw: str, region: str) -> str | None:
    """E.164 of any spelling ``phonenumbers`` understands; None when valid-looking but invalid.

    ValueError when it is not a phone number at all.
    """
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise ValueError(f"phone: {raw!r} is not a phone number") from None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _custom_json(hdr: Header, stripped: list[str]) -> str:
    """The non-empty custom cells as a JSON object, keys in column order (what json.dumps of the
    same dict gives, short of the spaces; encoded by hand because this runs once a row)."""
    if not hdr.custom_json:
        return "{}"
    members = [key + _json_string(stripped[at]) for key, at in hdr.custom_json if stripped[at]]
    return "{" + ",".join(members) + "}"


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
