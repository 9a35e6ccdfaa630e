"""Every valid workbook is read: files written by openpyxl, xlsxwriter and LibreOffice, and a
hand-made one with prefixed tags (``x:row``, ``x:c``) and rows and cells without ``r=``; shared
and inline strings, numbers typed as numbers, dates (as Excel serials); the sheet read in pieces
of any size, and the size caps (sheet, shared strings, one row) refusing what passes them."""

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

from gateway.campaigns.sheets import MAX_ROW_XML, SheetError, read_xlsx

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


@pytest.mark.parametrize("writer", ["openpyxl", "xlsxwriter", "prefixed"])
@pytest.mark.parametrize("chunk", [1, 7, 64, 1000])
def test_the_sheet_is_read_in_pieces_of_any_size(writer: str, chunk: int, tmp_path: Path) -> None:
    """The worksheet XML is inflated a chunk at a time and cut after each complete row: a tag,
    a prefix or a row split at any byte gives the same rows as one piece."""
    data = {"openpyxl": _openpyxl, "prefixed": _prefixed}.get(writer)
    book = data() if data is not None else _xlsxwriter(tmp_path)
    pieces = [(n, list(cells)) for n, cells in read_xlsx(book, chunk=chunk)]
    assert _trimmed(pieces) == EXPECTED


def _many_rows(count: int) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["phone", "name"])
    for row in range(1, count):
        sheet.write_row(row, 0, [f"+1212555{row:04d}", f"name {row}"])
    book.close()
    return out.getvalue()


def test_rows_without_r_are_numbered_across_pieces() -> None:
    body = "".join(f'<row><c t="inlineStr"><is><t>{n}</t></is></c></row>' for n in range(1, 60))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as book:
        book.writestr("xl/worksheets/sheet1.xml", f"<worksheet><sheetData>{body}</sheetData>")
    rows = list(read_xlsx(out.getvalue(), chunk=16))
    assert rows == [(n, [str(n)]) for n in range(1, 60)]


def test_a_sheet_larger_than_the_cap_once_inflated_is_refused() -> None:
    book = _many_rows(2000)
    size = zipfile.ZipFile(io.BytesIO(book)).getinfo("xl/worksheets/sheet1.xml").file_size
    assert len(list(read_xlsx(book, max_sheet_bytes=size))) == 2000
    with pytest.raises(SheetError, match="too large once uncompressed"):
        list(read_xlsx(book, max_sheet_bytes=size - 1))


def test_shared_strings_larger_than_the_cap_are_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("xl/worksheets/sheet1.xml", "<worksheet><sheetData/></worksheet>")
        book.writestr("xl/sharedStrings.xml", "<sst>" + "<si><t>a</t></si>" * 10_000 + "</sst>")
    with pytest.raises(SheetError, match="shared strings are too large"):
        list(read_xlsx(out.getvalue(), max_sheet_bytes=100_000))


def test_a_row_longer_than_the_cap_is_refused_without_reading_on() -> None:
    cell = "x" * (MAX_ROW_XML + 1)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr(
            "xl/worksheets/sheet1.xml",
            f'<worksheet><sheetData><row r="1"><c t="inlineStr"><is><t>{cell}</t></is></c></row>'
            "</sheetData></worksheet>",
        )
    with pytest.raises(SheetError, match="longer than"):
        list(read_xlsx(out.getvalue()))
