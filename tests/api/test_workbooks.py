"""Every valid workbook is read: files written by openpyxl, xlsxwriter and LibreOffice, and a
hand-made one with prefixed tags (``x:row``, ``x:c``) and rows and cells without ``r=``; shared
and inline strings, numbers typed as numbers, dates (as Excel serials)."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
import xlsxwriter
from openpyxl import Workbook

from gateway.campaigns.sheets import read_xlsx

ROWS: list[list[object]] = [
    ["phone", "name", "callback_at"],
    [12125550100, "Ann & Bob", datetime(2026, 1, 2, 12, 0)],
    ["+12125550101", "Zoë", None],
]
EXPECTED = [
    (1, ["phone", "name", "callback_at"]),
    (2, ["12125550100", "Ann & Bob", "46024.5"]),
    (3, ["+12125550101", "Zoë"]),
]


def _openpyxl() -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in ROWS:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsxwriter(tmp: Path) -> bytes:
    path = tmp / "w.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    dates = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    for r, row in enumerate(ROWS):
        for c, value in enumerate(row):
            if isinstance(value, datetime):
                sheet.write_datetime(r, c, value, dates)
            elif value is not None:
                sheet.write(r, c, value)
    book.close()
    return path.read_bytes()


def _libreoffice(tmp: Path) -> bytes:
    source = tmp / "lo.csv"
    source.write_text("phone,name,callback_at\n12125550100,Ann & Bob,46024.5\n+12125550101,Zoë,\n")
    soffice = shutil.which("soffice")
    assert soffice is not None
    subprocess.run(  # noqa: S603 - our own arguments
        [soffice, "--headless", f"-env:UserInstallation=file://{tmp}/profile",
         "--infilter=CSV:44,34,76,1,1/2", "--convert-to", "xlsx", "--outdir", str(tmp),
         str(source)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return (tmp / "lo.xlsx").read_bytes()


PREFIXED_SHEET = (
    '<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    "<x:sheetData>"
    '<x:row><x:c t="s"><x:v>0</x:v></x:c><x:c t="inlineStr"><x:is><x:t>name</x:t></x:is></x:c>'
    '<x:c t="inlineStr"><x:is><x:t>callback_at</x:t></x:is></x:c></x:row>'
    '<x:row><x:c><x:v>12125550100</x:v></x:c><x:c t="s"><x:v>1</x:v></x:c>'
    "<x:c><x:v>46024.5</x:v></x:c></x:row>"
    '<x:row r="3"><x:c r="A3" t="inlineStr"><x:is><x:t>+12125550101</x:t></x:is></x:c>'
    '<x:c t="inlineStr"><x:is><x:t>Zoë</x:t></x:is></x:c></x:row>'
    "</x:sheetData></x:worksheet>"
)
PREFIXED_STRINGS = (
    '<x:sst xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    "<x:si><x:t>phone</x:t></x:si><x:si><x:t>Ann &amp; Bob</x:t></x:si></x:sst>"
)


def _prefixed() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as book:
        book.writestr("xl/worksheets/sheet1.xml", PREFIXED_SHEET)
        book.writestr("xl/sharedStrings.xml", PREFIXED_STRINGS)
    return out.getvalue()


def _rows(data: bytes) -> list[tuple[int, list[str]]]:
    return [(n, [c for c in cells]) for n, cells in read_xlsx(data)]


def _trimmed(rows: list[tuple[int, list[str]]]) -> list[tuple[int, list[str]]]:
    out = []
    for number, cells in rows:
        while cells and cells[-1] == "":
            cells = cells[:-1]
        out.append((number, cells))
    return out


@pytest.mark.parametrize("writer", ["openpyxl", "xlsxwriter", "prefixed"])
def test_workbooks_from_every_writer_are_read(writer: str, tmp_path: Path) -> None:
    data = {"openpyxl": _openpyxl, "prefixed": _prefixed}.get(writer)
    book = data() if data is not None else _xlsxwriter(tmp_path)
    assert _trimmed(_rows(book)) == EXPECTED


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed")
def test_a_libreoffice_workbook_is_read(tmp_path: Path) -> None:
    assert _trimmed(_rows(_libreoffice(tmp_path))) == EXPECTED
