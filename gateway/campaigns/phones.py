"""Phone-number validity at import speed: ``phonenumbers.is_valid_number``, compiled. Pure.

``phonenumbers.is_valid_number`` costs tens of microseconds a number: it finds the region
(trying every region of a shared calling code such as NANPA's +1 in turn), then matches the
national number against up to eleven patterns one by one through a wrapper that looks each
pattern up in a cache. An import of 100,000 rows spends most of its time there.

:class:`Validity` gives exactly the same answer from one precompiled expression per (region,
national-number length): the general pattern as a look-ahead, followed by the union of every
number-type pattern whose possible lengths admit that length. It follows the library's own
decision procedure step by step, reading the library's metadata, so a new metadata release
changes both alike:

* a number is valid for a region when it matches the region's general description and at
  least one number type (premium rate, toll free, shared cost, VoIP, personal, pager, UAN,
  voicemail, fixed line, or mobile when mobile's pattern differs from fixed line's), each type
  first checked against its own possible lengths;
* the region of a calling code shared by several regions is the first one whose leading digits
  match, or (without leading digits) for which the number has a type; the number is then valid
  when it is valid for that region.

The expressions are built lazily and kept in the instance (one per import); nothing is
module-level. ``tests/api/test_phones.py`` compares the two on many numbers of many countries.
This module never parses text: callers hand in the calling code and national significant number.
"""

from __future__ import annotations

import re
from typing import Any

import phonenumbers
from phonenumbers import PhoneMetadata

_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
)
_NEVER = re.compile(r"(?!)")


def _admits(desc: Any, length: int) -> bool:
    """The description has a pattern and its possible lengths (if any) include ``length``."""
    if desc is None or not desc.national_number_pattern:
        return False
    lengths = desc.possible_length
    return not lengths or length in lengths


class Validity:
    """``valid(cc, nsn)`` equals ``phonenumbers.is_valid_number`` of that number."""

    def __init__(self) -> None:
        self._typed: dict[tuple[str, int, int], re.Pattern[str]] = {}
        self._leading: dict[str, re.Pattern[str] | None] = {}

    def valid(self, country_code: int, nsn: str) -> bool:
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(country_code)
        if not regions:
            return False
        if len(regions) == 1:
            return self._has_type(regions[0], country_code, nsn)
        for region in regions:
            if PhoneMetadata.metadata_for_region(region, None) is None:
                continue
            leading = self._leading_digits(region)
            if leading is not None:
                if leading.match(nsn):
                    return self._has_type(region, country_code, nsn)
            elif self._has_type(region, country_code, nsn):
                return True
        return False

    def _leading_digits(self, region: str) -> re.Pattern[str] | None:
        if region not in self._leading:
            metadata = PhoneMetadata.metadata_for_region(region, None)
            pattern = None if metadata is None else metadata.leading_digits
            self._leading[region] = re.compile(pattern) if pattern is not None else None
        return self._leading[region]

    def _has_type(self, region: str, country_code: int, nsn: str) -> bool:
        key = (region, country_code, len(nsn))
        compiled = self._typed.get(key)
        if compiled is None:
            compiled = self._typed[key] = _compile(region, country_code, len(nsn))
        return compiled.fullmatch(nsn) is not None


def _compile(region: str, country_code: int, length: int) -> re.Pattern[str]:
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region.upper())
    if metadata is None or not _admits(metadata.general_desc, length):
        return _NEVER
    names = list(_TYPES)
    if not metadata.same_mobile_and_fixed_line_pattern:
        names.append("mobile")
    kinds = [
        f"(?:{desc.national_number_pattern})"
        for desc in (getattr(metadata, name) for name in names)
        if _admits(desc, length)
    ]
    if not kinds:
        return _NEVER
    general = metadata.general_desc
    assert general is not None  # _admits checked it
    return re.compile(f"(?=(?:{general.national_number_pattern})\\Z)(?:{'|'.join(kinds)})")
