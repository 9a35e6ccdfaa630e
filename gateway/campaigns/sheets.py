"""Reading uploaded spreadsheets: CSV and XLSX bytes in, numbered rows of text cells out.

Pure (a file or bytes in, no database, no network). XLSX is read with a small scanner over the
worksheet XML rather than openpyxl, whose read-only mode runs at a few thousand rows a second on
files written without dimensions; the scanner handles shared strings, inline strings, numbers,
booleans and cached formula results, and decodes the OOXML ``_xHHHH_`` escapes (so a CR hidden
in a cell is seen and refused like one in a CSV). A prefixed SpreadsheetML namespace
(``<x:row>``, ``<x:c>``) is read like the default one, and a row or cell without ``r=`` is the
one after the previous. Numbers that are whole (phone numbers typed as
numbers) come out without a decimal point.

Memory stays bounded in the size of the file: the upload is read from a file object (the HTTP
layer spools it to disk), CSV line by line, and two caps hold whatever the file says:

* :data:`MAX_COLUMNS` (256) values per row: a value further right refuses the upload (empty
  cells there, as spreadsheets write them, are dropped);
* :data:`MAX_ROW_CHARS` characters per CSV row (room for 256 quoted cells of 1,000 characters),
  checked on each line *before* the csv module splits it, so a 10 MB row of a million columns is
  never turned into a million strings;
* the worksheet XML is inflated a megabyte at a time and scanned a batch of complete rows at a
  time, never whole: the bytes inflated are counted against :data:`MAX_SHEET_BYTES` (a zip bomb
  is refused however its sizes are declared), and one row's XML is capped at
  :data:`MAX_ROW_XML`.

Refusals of the whole file raise :class:`SheetError` (not a spreadsheet, not UTF-8, a zip bomb, a
cap); row-level problems (a cell over 1,000 characters, a bad phone) are the caller's business.
"""

from __future__ import annotations

import contextlib
import csv
import html
import io
import re
import zipfile
from collections.abc import Generator, Iterator
from typing import IO

Row = tuple[int, list[str]]  # (1-based row number in the file, cells as text)
Source = bytes | IO[bytes]  # the upload, in memory or as a seekable binary file

XLSX_TYPES = frozenset(
    {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.ms-excel.sheet.macroenabled.12",
    }
)
CSV_TYPES = frozenset({"text/csv", "application/csv", "text/plain"})
MAX_SHEET_BYTES = 512 * 1024 * 1024
MAX_COLUMNS = 256
MAX_ROW_CHARS = 256 * 1024
CHUNK = 1024 * 1024  # bytes of worksheet XML inflated at a time
MAX_ROW_XML = 16 * 1024 * 1024  # bytes of one row's XML (256 cells of 1,000 escaped characters fit)

_ROW = re.compile(rb"<row\b([^>]*?)(?:/>|>(.*?)</row>)", re.S)
_CELL = re.compile(rb"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.S)
_REF = re.compile(rb'\br="([A-Z]+)(\d+)"')
_TYPE = re.compile(rb'\bt="(\w+)"')
_ROWNUM = re.compile(rb'\br="(\d+)"')
_V = re.compile(rb"<v>(.*?)</v>", re.S)
_T = re.compile(rb"<t\b[^>]*>(.*?)</t>|<t\b[^>]*/>", re.S)
_SI = re.compile(rb"<si>(.*?)</si>|<si/>", re.S)
_RPH = re.compile(rb"<rPh\b.*?</rPh>", re.S)
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
# The fast path (on the decoded sheet): one row, one common-shape cell, a body of only those.
_S_ROW = re.compile(r"<row\b([^>]*?)(?:/>|>(.*?)</row>)", re.S)
_S_ROWNUM = re.compile(r'\br="(\d+)"')
_S_CELL_TEXT = (
    r'<c r="([A-Z]{1,3})\d+"(?: s="\d+")?(?: t="(\w+)")?(?: s="\d+")?'
    r'(?:/>|>(?:<v>([^<]+)</v>|<is><t(?: xml:space="preserve")?>([^<]*)</t></is>)</c>)'
)
# Each common cell, or (last group) the start of any other cell: the row then takes the generic
# path. Anything else in a row body is not a cell, and both readers skip it.
_S_CELLS = re.compile(_S_CELL_TEXT + r"|(<c\b)")


class SheetError(Exception):
    """The upload is not a readable CSV or XLSX file."""


def kind_of(content_type: str, filename: str | None) -> str:
    """``csv`` or ``xlsx`` from the declared type (or the file name's extension)."""
    ctype = content_type.split(";")[0].strip().lower()
    name = (filename or "").lower()
    if ctype in XLSX_TYPES or name.endswith((".xlsx", ".xlsm")):
        return "xlsx"
    if ctype in CSV_TYPES or name.endswith((".csv", ".txt")):
        return "csv"
    raise SheetError(f"unsupported content type {ctype or 'none'!r}: send text/csv or XLSX")


def rows(kind: str, data: Source) -> Generator[Row, None, None]:
    return read_xlsx(data) if kind == "xlsx" else read_csv(data)


def _stream(data: Source) -> IO[bytes]:
    return io.BytesIO(data) if isinstance(data, bytes) else data


def capped(number: int, cells: list[str]) -> list[str]:
    """``cells`` cut to :data:`MAX_COLUMNS`; :class:`SheetError` if a value lies beyond."""
    if len(cells) <= MAX_COLUMNS:
        return cells
    if any(c.strip() for c in cells[MAX_COLUMNS:]):
        raise SheetError(
            f"row {number} has values in more than {MAX_COLUMNS} columns "
            f"(uploads are limited to {MAX_COLUMNS} columns)"
        )
    return cells[:MAX_COLUMNS]


class _Lines:
    """The lines of a CSV text stream, each read with a bounded ``readline``; the characters of
    the record being parsed are counted (the reader resets ``record`` after each record)."""

    def __init__(self, text: IO[str]) -> None:
        self._text = text
        self.record = 0
        self.count = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self._text.readline(MAX_ROW_CHARS + 1)
        if not line:
            raise StopIteration
        self.count += 1
        self.record += len(line)
        if self.record > MAX_ROW_CHARS:
            raise SheetError(
                f"CSV line {self.count}: a row is longer than {MAX_ROW_CHARS} characters "
                f"(uploads are limited to {MAX_COLUMNS} columns of 1000 characters)"
            )
        if "\x00" in line:
            raise SheetError("the file is not CSV text (it contains NUL bytes)")
        return line


def read_csv(data: Source) -> Generator[Row, None, None]:
    stream = _stream(data)
    start = stream.tell()
    head = stream.read(65536)
    stream.seek(start)
    if head.startswith(b"PK\x03\x04") or b"\x00" in head:
        raise SheetError("the file is not CSV text (it looks binary)")
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    lines = _Lines(text)
    reader = csv.reader(lines)
    try:
        line = 1
        for cells in reader:
            lines.record = 0
            yield line, capped(line, cells)
            line = reader.line_num + 1
    except csv.Error as exc:
        raise SheetError(f"CSV line {reader.line_num}: {exc}") from None
    except UnicodeDecodeError:
        raise SheetError(f"the CSV file is not UTF-8 (line {lines.count + 1})") from None
    finally:
        with contextlib.suppress(ValueError):  # already closed by its owner
            text.detach()  # the caller owns the binary stream: closing this must not close it


def _unescape(raw: bytes) -> str:
    text = html.unescape(raw.decode("utf-8"))
    if "_x" in text:
        text = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return text


def _column(letters: bytes) -> int:
    index = 0
    for ch in letters:
        index = index * 26 + (ch - 64)
    return index - 1


def _shared_strings(book: zipfile.ZipFile, max_bytes: int) -> list[str]:
    try:
        info = book.getinfo("xl/sharedStrings.xml")
    except KeyError:
        return []
    if info.file_size > max_bytes:
        raise SheetError("the shared strings are too large once uncompressed")
    with book.open(info) as part:
        data = part.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise SheetError("the shared strings are too large once uncompressed")
    data = _unprefix(_prefix_pattern(data), data)
    strings = []
    for match in _SI.finditer(data):
        body = _RPH.sub(b"", match.group(1) or b"")
        strings.append("".join(_unescape(t.group(1) or b"") for t in _T.finditer(body)))
    return strings


def _first_sheet(book: zipfile.ZipFile, max_bytes: int) -> zipfile.ZipInfo:
    sheets = sorted(
        (i for i in book.infolist() if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", i.filename)),
        key=lambda i: int(re.sub(r"\D", "", i.filename)),
    )
    if not sheets:
        raise SheetError("the XLSX file has no worksheet")
    if sheets[0].file_size > max_bytes:
        raise SheetError("the worksheet is too large once uncompressed")
    return sheets[0]


def _value(attrs: bytes, body: bytes, shared: list[str]) -> str:
    kind = _TYPE.search(attrs)
    ctype = kind.group(1) if kind else b"n"
    if ctype == b"inlineStr":
        return "".join(_unescape(t.group(1) or b"") for t in _T.finditer(body))
    v = _V.search(body)
    if v is None:
        return ""
    raw = v.group(1)
    if ctype == b"s":
        index = int(raw)
        return shared[index] if 0 <= index < len(shared) else ""
    if ctype == b"n":
        return _number(raw.decode())
    if ctype == b"b":
        return "TRUE" if raw == b"1" else "FALSE"
    return _unescape(raw)


def _number(text: str) -> str:
    try:
        number = float(text)
    except ValueError:
        return text
    if number.is_integer() and abs(number) < 1e17:
        return str(int(number))
    return text


def read_xlsx(
    data: Source, max_sheet_bytes: int = MAX_SHEET_BYTES, chunk: int = CHUNK
) -> Generator[Row, None, None]:
    """The first worksheet's rows, read in pieces of complete rows (:func:`_row_batches`)."""
    try:
        book = zipfile.ZipFile(_stream(data))
        shared = _shared_strings(book, max_sheet_bytes)
        sheet = _first_sheet(book, max_sheet_bytes)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise SheetError(f"the file is not a readable XLSX workbook ({exc})") from None
    last = 0  # a row without r= is the one after the previous row, across batches
    for batch in _row_batches(book, sheet, max_sheet_bytes, chunk):
        try:
            text = batch.decode("utf-8")
        except UnicodeDecodeError:
            rows: Iterator[Row] = _scan(batch, shared, last)  # an undecodable cell: its own row
        else:
            rows = _fast_rows(text, shared, last)
        for row in rows:
            last = row[0]
            yield row


def _row_batches(
    book: zipfile.ZipFile, sheet: zipfile.ZipInfo, max_sheet_bytes: int, size: int
) -> Iterator[bytes]:
    """The worksheet XML, unprefixed, in pieces that each end after a complete ``</row>`` (the
    last piece holds the rest): memory holds one chunk and the row it cuts, not the sheet. The
    bytes inflated are counted, so a zip that lies about its sizes is refused all the same."""
    inflated = 0
    prefix: re.Pattern[bytes] | None = None
    first = True
    tail = b""
    try:
        with book.open(sheet) as part:
            while chunk := part.read(size):
                inflated += len(chunk)
                if inflated > max_sheet_bytes:
                    raise SheetError("the worksheet is too large once uncompressed")
                tail += chunk
                if first:  # the namespace is declared on the root element, in the first 4 KiB
                    if len(tail) < 4096:
                        continue
                    prefix, first = _prefix_pattern(tail), False
                tail = _unprefix(prefix, tail)
                end = tail.find(b"</row>")  # of the row the tail starts in
                if end > MAX_ROW_XML or (end < 0 and len(tail) > MAX_ROW_XML):
                    raise SheetError(f"a row of the worksheet is longer than {MAX_ROW_XML} bytes")
                cut = tail.rfind(b"</row>")
                if cut >= 0:
                    yield tail[: cut + 6]
                    tail = tail[cut + 6 :]
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise SheetError(f"the file is not a readable XLSX workbook ({exc})") from None
    if first:  # a part shorter than 4 KiB
        prefix = _prefix_pattern(tail)
    if tail:
        yield _unprefix(prefix, tail)


_MAIN_PREFIX = re.compile(
    rb'xmlns:([A-Za-z_][\w.-]*)="http://schemas\.openxmlformats\.org/spreadsheetml/2006/main"'
)


def _prefix_pattern(head: bytes) -> re.Pattern[bytes] | None:
    """The tags of the SpreadsheetML namespace's prefix (``<x:row>``, ``</x:c>``), declared in the
    part's first bytes; None when the part uses the default namespace, as most writers do."""
    found = _MAIN_PREFIX.search(head, 0, 4096)
    if found is None:
        return None
    return re.compile(rb"<(/?)" + re.escape(found.group(1)) + rb":")


def _unprefix(prefix: re.Pattern[bytes] | None, xml: bytes) -> bytes:
    """``xml`` with the prefix removed from its tags, so the scanners see the default-namespace
    names. Idempotent (a ``<`` in text is always escaped), so a piece may be passed again."""
    return xml if prefix is None else prefix.sub(rb"<\1", xml)


def _fast_rows(text: str, shared: list[str], last: int = 0) -> Iterator[Row]:
    """Rows made only of common cell shapes are read with one pattern; others generically.

    A row qualifies when every cell in its body is like ``<c r="B7" s="1" t="s"><v>3</v></c>``,
    ``<c r="A7" t="inlineStr"><is><t>x</t></is></c>`` or ``<c r="C7"/>``; for such a row the
    generic scanner would give the same cells, only several times slower. One pass finds the
    cells and, through the pattern's last group, any cell of another shape.
    """
    columns: dict[str, int] = {}  # column letters -> index
    for row in _S_ROW.finditer(text):
        cells = _fast_cells(_S_CELLS.findall(row.group(2) or ""), shared, columns)
        if cells is None:
            found = _scan_one(row.group(0).encode(), shared, last)
            if found is not None:
                last = found[0]
                yield found
            continue
        number = _S_ROWNUM.search(row.group(1))
        last = int(number.group(1)) if number is not None else last + 1
        yield last, capped(last, cells)


def _fast_cells(
    found: list[tuple[str, str, str, str, str]], shared: list[str], columns: dict[str, int]
) -> list[str] | None:
    """The cells of one row's common-shape matches; None if a cell of another shape was met
    (its match has no column letters)."""
    cells: list[str] = []
    for letters, kind, value, inline, _ in found:
        if not letters:
            return None
        column = columns.get(letters)
        if column is None:
            column = columns[letters] = _column(letters.encode())
        if kind == "inlineStr" and "&" not in inline and "_x" not in inline:
            cell = inline
        else:
            cell = _fast_value(kind, value, inline, shared)
        if column >= MAX_COLUMNS and not cell.strip():
            continue  # an empty (formatted) cell far right: dropped; a value: refused by capped()
        if column > MAX_COLUMNS:
            column = MAX_COLUMNS  # one cell past the cap is enough for capped() to refuse
        if column == len(cells):
            cells.append(cell)
        elif column > len(cells):
            cells.extend([""] * (column - len(cells)))
            cells.append(cell)
        else:
            cells[column] = cell
    return cells


def _fast_value(kind: str, value: str, inline: str, shared: list[str]) -> str:
    if kind == "inlineStr":
        return _unescape_text(inline)
    if not value:
        return ""  # no <v>: the generic reader's empty cell
    if kind == "s":
        if not value.isascii():
            return "\x00"  # as the generic reader: not an index, the row check reports it
        try:
            index = int(value)
        except ValueError:
            return "\x00"
        return shared[index] if 0 <= index < len(shared) else ""
    if kind in ("", "n"):
        return _number(value)
    if kind == "b":
        return "TRUE" if value == "1" else "FALSE"
    return _unescape_text(value)


def _unescape_text(raw: str) -> str:
    if "&" in raw:
        raw = html.unescape(raw)
    if "_x" in raw:
        raw = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), raw)
    return raw


def _scan(sheet: bytes, shared: list[str], last: int = 0) -> Iterator[Row]:
    for row in _ROW.finditer(sheet):
        found = _scan_one(row.group(0), shared, last)
        if found is not None:
            last = found[0]
            yield found


def _scan_one(row_xml: bytes, shared: list[str], last: int) -> Row | None:
    """The generic reader of one ``<row>`` element: any cell shape, decoded cell by cell; a row
    without ``r=`` is number ``last + 1``."""
    row = _ROW.match(row_xml)
    if row is None:
        return None
    found = _ROWNUM.search(row.group(1))
    number = int(found.group(1)) if found is not None else last + 1
    cells: list[str] = []
    for cell in _CELL.finditer(row.group(2) or b""):
        attrs = cell.group(1)
        ref = _REF.search(attrs)
        column = _column(ref.group(1)) if ref else len(cells)
        if column > MAX_COLUMNS:
            column = MAX_COLUMNS  # a cell past the cap: capped() refuses it if it has a value
        while len(cells) < column:
            cells.append("")
        try:
            value = _value(attrs, cell.group(2) or b"", shared)
        except (UnicodeDecodeError, ValueError):
            value = "\x00"  # undecodable cell: the row check reports it
        if column < len(cells):
            cells[column] = value
        else:
            cells.append(value)
    return number, capped(number, cells)
