"""The compiled validity check answers exactly as ``phonenumbers.is_valid_number``."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.campaigns.imports import RowChecker
from gateway.campaigns.phones import Validity

CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


def library(country_code: int, nsn: str) -> bool:
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(nsn))
    return bool(phonenumbers.is_valid_number(number))


def test_every_example_number_of_every_region_and_type() -> None:
    validity = Validity()
    checked = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in range(11):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            nsn = phonenumbers.national_significant_number(example)
            if nsn.startswith("0"):
                continue  # leading zeros always take the parser's path
            code = example.country_code
            assert code is not None
            checked += 1
            assert validity.valid(code, nsn) == library(code, nsn)
    assert checked > 1000


@settings(max_examples=3000, deadline=None)
@given(
    st.sampled_from(CODES),
    st.integers(min_value=1, max_value=9),
    st.text(alphabet="0123456789", min_size=2, max_size=13),
)
def test_random_numbers_agree(country_code: int, first: int, rest: str) -> None:
    nsn = f"{first}{rest}"
    assert Validity().valid(country_code, nsn) == library(country_code, nsn)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+12125550123", "US", "+12125550123"),
        ("+442079460018", "US", "+442079460018"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("(212) 555-0123", "US", "+12125550123"),
        ("+390612345678", "IT", "+390612345678"),  # Italian leading zero: parser's path
    ],
)
def test_normalise_gives_e164(raw: str, region: str, expected: str) -> None:
    assert RowChecker(region, "UTC").normalise(raw) == expected


@pytest.mark.parametrize("raw", ["+11234567890", "+4412", "12", "+999123456789"])
def test_normalise_refuses_invalid_numbers_every_time(raw: str) -> None:
    checker = RowChecker("US", "UTC")
    for _ in range(2):  # the second answer comes from the per-import cache
        with pytest.raises(ValueError, match="phone"):
            checker.normalise(raw)
