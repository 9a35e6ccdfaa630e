"""Downloading a campaign's records and outcomes as CSV, XLSX, XML or PDF, streamed.

Every format writes to a ``sink`` (an async ``bytes`` consumer: the HTTP response or a file) in
bounded pieces, so memory stays flat in the number of records. The rows come from
:mod:`gateway.campaigns.exports`; this module only renders them:

* CSV is PostgreSQL's own ``COPY … TO STDOUT (FORMAT csv, HEADER)``
  (:func:`gateway.campaigns.exports.copy_csv`); no row is touched in Python. A text cell that a
  spreadsheet would run as a formula (it starts with ``= + - @``, a tab or a CR and is not a
  plain number) gets a leading apostrophe, in the query.
* XML is written by hand, batch by batch, from a server-side cursor.
* XLSX uses openpyxl's write-only mode, which spools rows to a temporary file; the finished
  file is then streamed out in 256 KiB chunks. Every text is a string cell, never a formula.
* PDF (fpdf2) keeps its pages in memory, so it is capped at :data:`PDF_MAX_ROWS` rows and says
  so on its last line; use CSV or XLSX for whole campaigns.

The lifecycle check (download only in ready or completed) is the caller's, before streaming.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.campaigns import exports
from gateway.campaigns.exports import COLUMNS, Sink

FORMATS = ("csv", "xlsx", "xml", "pdf")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "xml": "application/xml; charset=utf-8",
    "pdf": "application/pdf",
}
PDF_MAX_ROWS = 5000


async def export(engine: AsyncEngine, campaign_id: int, fmt: str, sink: Sink) -> int:
    """Write the campaign's records in ``fmt`` to ``sink``; returns the number of rows."""
    writer = {"csv": _csv, "xml": _xml, "xlsx": _xlsx, "pdf": _pdf}[fmt]
    return await writer(engine, campaign_id, sink)


async def _csv(engine: AsyncEngine, campaign_id: int, sink: Sink) -> int:
    return await exports.copy_csv(engine, campaign_id, sink)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


async def _xml(engine: AsyncEngine, campaign_id: int, sink: Sink) -> int:
    await sink(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<records campaign="{campaign_id}">\n'.encode()
    )
    count = 0
    async for rows in exports.batches(engine, campaign_id):
        parts = []
        for row in rows:
            fields = "".join(
                f"<{name}>{escape(_cell(value))}</{name}>"
                for name, value in zip(COLUMNS[1:], row[1:], strict=True)
            )
            parts.append(f"<record id={quoteattr(str(row[0]))}>{fields}</record>\n")
        count += len(rows)
        await sink("".join(parts).encode())
    await sink(b"</records>\n")
    return count


async def _xlsx(engine: AsyncEngine, campaign_id: int, sink: Sink) -> int:
    from openpyxl import Workbook  # ~0.25 s to import: the first XLSX download, not the start

    book = Workbook(write_only=True)
    sheet = book.create_sheet("records")
    sheet.append(list(COLUMNS))
    count = 0
    async for rows in exports.batches(engine, campaign_id):
        for row in rows:
            sheet.append([_xlsx_cell(sheet, v) for v in row])
        count += len(rows)
    with tempfile.TemporaryFile() as spool:
        await asyncio.to_thread(book.save, spool)
        await asyncio.to_thread(spool.seek, 0)
        while chunk := await asyncio.to_thread(spool.read, 256 * 1024):
            await sink(chunk)
    return count


def _xlsx_cell(sheet: Any, value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and value.startswith("="):
        # openpyxl writes a str that starts with "=" as a formula; a string cell is never run.
        from openpyxl.cell import WriteOnlyCell  # loaded by _xlsx already (see there)

        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value


def _latin(value: str) -> str:
    return value.encode("latin-1", "replace").decode("latin-1")


async def _pdf(engine: AsyncEngine, campaign_id: int, sink: Sink) -> int:
    from fpdf import FPDF

    pdf = FPDF(orientation="L", format="A4")
    pdf.set_font("Helvetica", size=7)
    pdf.add_page()
    shown = ("id", "phone", "name", "priority", "status", "disposition", "attempts", "reason")
    widths = (18, 30, 60, 14, 18, 22, 14, 90)
    picks = [COLUMNS.index(c) for c in shown]
    _pdf_line(pdf, shown, widths)
    count = 0
    truncated = False
    async for rows in exports.batches(engine, campaign_id):
        for row in rows:
            if count >= PDF_MAX_ROWS:
                truncated = True
                break
            _pdf_line(pdf, [_cell(row[i]) for i in picks], widths)
            count += 1
        if truncated:
            break
    if truncated:
        pdf.cell(0, 5, f"(first {PDF_MAX_ROWS} records only; download CSV or XLSX for all)")
    data = await asyncio.to_thread(pdf.output)
    await sink(bytes(data))
    return count


def _pdf_line(pdf: Any, cells: Sequence[str], widths: Sequence[int]) -> None:
    for value, width in zip(cells, widths, strict=True):
        pdf.cell(width, 4, _latin(value)[: width // 1], border=0)
    pdf.ln(4)
