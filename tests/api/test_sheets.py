"""The XLSX fast path reads every row exactly as the generic scanner does, only faster."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from gateway.campaigns.sheets import _fast_rows, _scan, read_xlsx

SHARED = ["zero", "one &amp; two", "three"]


def both(sheet_data: str) -> tuple[list[Any], list[Any]]:
    text = f"<worksheet><sheetData>{sheet_data}</sheetData></worksheet>"
    return list(_fast_rows(text, SHARED)), list(_scan(text.encode(), SHARED))


@pytest.mark.parametrize(
    "xml",
    [
        '<row r="1"><c r="A1" t="s"><v>1</v></c><c r="C1"><v>12125550100</v></c></row>',
        '<row r="2"><c r="B2" s="3" t="inlineStr"><is><t>a_x000D_b &amp; c</t></is></c></row>',
        '<row r="3"><c r="A3" t="inlineStr"><is><t xml:space="preserve"> x </t></is></c></row>',
        '<row r="4"><c r="A4" t="b"><v>1</v></c><c r="B4" t="b"><v>0</v></c><c r="C4"/></row>',
        '<row r="5"><c r="A5" t="s"/><c r="B5" t="s"><v>x</v></c>'
        '<c r="C5" t="s"><v>9</v></c></row>',
        '<row r="6"><c r="A6" t="str"><v>&lt;b&gt;</v></c><c r="B6"><v>1.5</v></c></row>',
        '<row r="7"><c r="A7"><f>1+1</f><v>2</v></c><c r="B7" t="e"><v>#N/A</v></c></row>',
        '<row r="8"/><row r="9"></row><row><c r="A1"><v>1</v></c></row>',
        '<row r="10"><c t="s" r="B10"><v>0</v></c><c><v>4</v></c></row>',
        '<row r="11"><c r="A11" t="inlineStr"><is><r><t>rich</t></r><r><t> text</t></r></is>'
        "</c></row>",
        '<row r="12">\n  <c r="A12"><v>7</v></c>\n  <c r="D12"><v>8</v></c>\n</row>',
        '<row r="13"><c r="A13" t="s"><v>٣</v></c></row>',
        # a common cell, then cells of other shapes later in the same row
        '<row r="14"><c r="A14"><v>1</v></c><c r="B14"><f>A14*2</f><v>2</v></c></row>',
        '<row r="15"><c r="A15" t="s"><v>0</v></c><c t="s" r="C15"><v>2</v></c></row>',
        '<row r="16"><c r="A16"><v>1</v></c><c r="B16" t="inlineStr"><is><r><t>x</t></r></is>'
        "</c></row>",
    ],
)
def test_fast_path_matches_generic_scanner(xml: str) -> None:
    fast, generic = both(xml)
    assert fast == generic


_CELL = st.builds(
    lambda col, kind, value: (col, kind, value),
    st.integers(min_value=0, max_value=30),
    st.sampled_from(["", ' t="s"', ' t="n"', ' t="b"', ' t="str"', ' t="inlineStr"', ' s="2"']),
    st.text(alphabet="0123456789.&;amp_x0D -abc", max_size=8),
)


def _cell_xml(row: int, col: int, kind: str, value: str) -> str:
    ref = f"{chr(65 + col % 26) * (1 + col // 26)}{row}"
    if "inlineStr" in kind:
        return f'<c r="{ref}"{kind}><is><t>{value}</t></is></c>'
    if not value:
        return f'<c r="{ref}"{kind}/>'
    return f'<c r="{ref}"{kind}><v>{value}</v></c>'


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_CELL, max_size=6), max_size=5))
def test_generated_rows_agree(rows: list[list[tuple[int, str, str]]]) -> None:
    xml = "".join(
        f'<row r="{n}">' + "".join(_cell_xml(n, *cell) for cell in cells) + "</row>"
        for n, cells in enumerate(rows, start=1)
    )
    fast, generic = both(xml)
    assert fast == generic


def test_workbook_with_shared_strings_and_numbers() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["phone", "name", "priority"])
    sheet.append([12125550100, "Ann & Bob", 5])
    sheet.append(["+12125550101", None, 2.5])
    out = io.BytesIO()
    book.save(out)
    assert list(read_xlsx(out.getvalue())) == [
        (1, ["phone", "name", "priority"]),
        (2, ["12125550100", "Ann & Bob", "5"]),
        (3, ["+12125550101", "", "2.5"]),
    ]


def test_undecodable_sheet_falls_back_to_per_cell_decoding() -> None:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as book:
        book.writestr(
            "xl/worksheets/sheet1.xml",
            b'<worksheet><sheetData><row r="1"><c r="A1" t="str"><v>\xff</v></c>'
            b'<c r="B1"><v>3</v></c></row><row r="2"><c r="A2"><v>4</v></c></row>'
            b"</sheetData></worksheet>",
        )
    assert list(read_xlsx(data.getvalue())) == [(1, ["\x00", "3"]), (2, ["4"])]
