"""Checked rows: the custom cells' JSON, encoded by hand, says what ``json.dumps`` would."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from gateway.campaigns.imports import Header, _custom_json


@given(st.lists(st.tuples(st.text(min_size=1), st.text()), max_size=5, unique_by=lambda c: c[0]))
def test_custom_cells_encode_as_json_does(cells: list[tuple[str, str]]) -> None:
    hdr = Header.of({"phone": 0}, [(name, at) for at, (name, _) in enumerate(cells, start=1)])
    stripped = ["+12125550100", *(value for _, value in cells), ""]
    encoded = _custom_json(hdr, stripped)
    assert encoded.isascii()
    assert json.loads(encoded) == {name: value for name, value in cells if value}
