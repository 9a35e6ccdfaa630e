"""Downloading a campaign's records and outcomes as CSV, XLSX, XML or PDF, streamed.

Every format writes to a ``sink`` (an async ``bytes`` consumer: the HTTP response or a file) in
bounded pieces, so memory stays flat in the number of records:

* CSV is PostgreSQL's own ``COPY … TO STDOUT (FORMAT csv, HEADER)``: the driver hands over
  pieces of a few kilobytes, which are gathered and passed on in chunks of about
  :data:`CHUNK` bytes (fewer, larger writes to the HTTP response); no row is touched in Python.
* XML is written by hand, batch by batch, from a server-side cursor.
* XLSX uses openpyxl's write-only mode, which spools rows to a temporary file; the finished
  file is then streamed out in 256 KiB chunks.
* PDF (fpdf2) keeps its pages in memory, so it is capped at :data:`PDF_MAX_ROWS` rows and says
  so on its last line; use CSV or XLSX for whole campaigns.

The lifecycle check (download only in ready or completed) is the caller's, before streaming.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from openpyxl import Workbook
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

Sink = Callable[[bytes], Awaitable[None]]
FORMATS = ("csv", "xlsx", "xml", "pdf")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "xml": "application/xml; charset=utf-8",
    "pdf": "application/pdf",
}
COLUMNS = (
    "id",
    "phone",
    "name",
    "time_zone",
    "priority",
    "skill",
    "agent",
    "callback_at",
    "status",
    "reason",
    "disposition",
    "attempts",
    "next_attempt_at",
    "last_attempt_at",
    "caller_id",
    "custom",
)
PDF_MAX_ROWS = 5000
BATCH = 5000
CHUNK = 1024 * 1024
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM records WHERE campaign_id = :cid ORDER BY id"  # noqa: S608


async def export(engine: AsyncEngine, campaign_id: int, fmt: str, sink: Sink) -> int:
    """Write the campaign's records in ``fmt`` to ``sink``; returns the number of rows."""
    writer = {"csv": _csv, "xml": _xml, "xlsx": _xlsx, "pdf": _pdf}[fmt]
    return await writer(engine, campaign_id, sink)


async def _csv(engine: AsyncEngine, campaign_id: int, sink: Sink) -> int:
    query = _SELECT.replace(":cid", "$1")
    pending = bytearray()

    async def gather(piece: bytes) -> None:
        pending.extend(piece)
        if len(pending) >= CHUNK:
            chunk = bytes(pending)
            pending.clear()
            await sink(chunk)

    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        status = await raw.copy_from_query(
            query, campaign_id, output=gather, format="csv", header=True
        )
    if pending:
        await sink(bytes(pending))
    return int(str(status).split()[-1]) if status else 0


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


async def _batches(engine: AsyncEngine, campaign_id: int) -> Any:
    async with engine.connect() as conn:
        result = await conn.stream(
            text(_SELECT).execution_options(yield_per=BATCH), {"cid": campaign_id}
        )
        async for partition in result.partitions(BATCH):
            yield partition


async def _xml(engine: AsyncEngine, campaign_id: int, sink: Sink) -> int:
    await sink(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<records campaign="{campaign_id}">\n'.encode()
    )
    count = 0
    async for rows in _batches(engine, campaign_id):
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
    book = Workbook(write_only=True)
    sheet = book.create_sheet("records")
    sheet.append(list(COLUMNS))
    count = 0
    async for rows in _batches(engine, campaign_id):
        for row in rows:
            sheet.append([_xlsx_cell(v) for v in row])
        count += len(rows)
    with tempfile.TemporaryFile() as spool:
        await asyncio.to_thread(book.save, spool)
        await asyncio.to_thread(spool.seek, 0)
        while chunk := await asyncio.to_thread(spool.read, 256 * 1024):
            await sink(chunk)
    return count


def _xlsx_cell(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
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
    async for rows in _batches(engine, campaign_id):
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
