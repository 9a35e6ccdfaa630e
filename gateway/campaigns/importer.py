"""Importing an uploaded CSV/XLSX into a campaign's records, in one transaction.

The upload is read and checked (:mod:`gateway.campaigns.sheets`,
:mod:`gateway.campaigns.imports`) in a worker thread, batch by batch, while the database loads
the previous batch: the two overlap, so on two cores the import takes about as long as the
slower of them rather than their sum. Each batch goes with ``COPY`` into a temporary staging
table, from which one ``INSERT … SELECT … ON CONFLICT DO NOTHING`` adds the new records in row
order: duplicates of stored records are skipped and counted, do-not-call numbers are reported
row by row, and nothing already stored is touched. Duplicates inside the file are caught while
checking (first occurrence kept).

The whole import runs inside :func:`gateway.campaigns.campaigns.transition` (campaign row locked,
lifecycle checked, audit entry written), so it commits or rolls back as a whole and can never
interleave with a start. The worker thread only touches the reader and its own counters; the
event loop keeps the database counters, and they are merged at the end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.campaigns import campaigns, sheets
from gateway.campaigns.campaigns import Campaign
from gateway.campaigns.errors import Invalid
from gateway.campaigns.imports import Contact, Header, HeaderError, RowChecker, RowError, header
from pacing.lifecycle import Operation

MAX_ROWS = 1_000_000
MAX_REPORTED_ERRORS = 1000
Progress = Callable[[int], None]

_TMP_COLUMNS = ("row_no", *Contact._fields[1:])  # a checked Contact is a staging row
_CREATE = text(
    "CREATE TEMP TABLE import_rows (row_no int, phone text, name text, "
    "time_zone text, time_zones text[], priority smallint, skill text, agent text, "
    "callback_at timestamptz, custom jsonb) ON COMMIT DROP"
)
_DNC = text(
    "SELECT t.row_no FROM import_rows t JOIN dnc_numbers d ON d.phone = t.phone ORDER BY t.row_no"
)
_INSERT = text("""
INSERT INTO records (campaign_id, phone, name, time_zone, time_zones, priority, skill, agent,
                     callback_at, next_attempt_at, status, custom)
SELECT :cid, t.phone, t.name, t.time_zone, t.time_zones, t.priority, t.skill, t.agent,
       t.callback_at, t.callback_at,
       CASE WHEN t.callback_at IS NULL THEN 'new' ELSE 'callback' END, t.custom
FROM import_rows t
WHERE NOT EXISTS (SELECT 1 FROM dnc_numbers d WHERE d.phone = t.phone)
ORDER BY t.row_no
ON CONFLICT (campaign_id, phone) DO NOTHING
""")


@dataclass(slots=True)
class ImportReport:
    rows: int = 0
    added: int = 0
    duplicates: int = 0
    blank: int = 0
    errors: list[RowError] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "added": self.added,
            "duplicates": self.duplicates,
            "blank": self.blank,
            "rejected": len(self.errors),
            "errors": [
                {"row": e.row, "reason": e.reason} for e in self.errors[:MAX_REPORTED_ERRORS]
            ],
        }


class _Batches:
    """Turns an upload into batches of staging tuples; runs in a worker thread.

    Only this object's ``report`` counters are written here (rows, blank, in-file duplicates,
    row errors); the database side keeps its own.
    """

    def __init__(
        self, kind: str, data: sheets.Source, checker: RowChecker, max_rows: int = MAX_ROWS
    ) -> None:
        self._max_rows = max_rows
        self._rows: Generator[sheets.Row, None, None] = sheets.rows(kind, data)
        self._checker = checker
        self.report = ImportReport()
        self._header: Header | None = None
        self._seen: set[str] = set()

    def close(self) -> None:
        """Release the reader (its file stays open: the caller owns it)."""
        self._rows.close()

    def next_batch(self, size: int) -> list[tuple[object, ...]]:
        batch: list[tuple[object, ...]] = []
        report, seen, check = self.report, self._seen, self._checker.check
        for number, cells in self._rows:
            if self._header is None:
                if any(c.strip() for c in cells):
                    self._header = header(cells)
                continue
            report.rows += 1
            if report.rows > self._max_rows:
                limit = self._max_rows
                raise HeaderError(
                    f"the file has more than {limit} rows (uploads are limited to {limit})"
                )
            checked = check(self._header, number, cells)
            if checked is None:
                report.blank += 1
            elif isinstance(checked, RowError):
                report.errors.append(checked)
            elif checked.phone in seen:
                report.duplicates += 1
            else:
                seen.add(checked.phone)
                batch.append(checked)
                if len(batch) >= size:
                    break
        if self._header is None:
            raise HeaderError("the file is empty: no header row")
        return batch


@dataclass(slots=True)
class _Loaded:
    """What the database side found: records added, stored duplicates, do-not-call rows."""

    staged: int = 0
    added: int = 0
    refused: list[RowError] = field(default_factory=list)


async def _load(
    conn: AsyncConnection, raw: Any, campaign_id: int, batch: list[tuple[object, ...]]
) -> tuple[int, list[RowError]]:
    """Stage one batch and insert it; returns (added, do-not-call row errors)."""
    await raw.copy_records_to_table("import_rows", records=batch, columns=_TMP_COLUMNS)
    dnc = await conn.execute(_DNC)
    refused = [RowError(int(r[0]), "phone: on the do-not-call list") for r in dnc]
    added = await conn.execute(_INSERT, {"cid": campaign_id})
    await conn.execute(text("TRUNCATE import_rows"))
    return int(added.rowcount), refused


async def _next(batches: _Batches, size: int) -> list[tuple[object, ...]]:
    try:
        return await asyncio.to_thread(batches.next_batch, size)
    except (HeaderError, sheets.SheetError) as exc:
        raise Invalid("file", str(exc)) from None


async def _pipeline(
    conn: AsyncConnection,
    campaign_id: int,
    batches: _Batches,
    batch_size: int,
    progress: Progress | None,
) -> _Loaded:
    """Check batch n+1 in the worker thread while the database loads batch n."""
    raw = (await conn.get_raw_connection()).driver_connection
    assert raw is not None
    loaded = _Loaded()
    reading = asyncio.ensure_future(_next(batches, batch_size))
    try:
        while batch := await reading:
            reading = asyncio.ensure_future(_next(batches, batch_size))
            added, refused = await _load(conn, raw, campaign_id, batch)
            loaded.staged += len(batch)
            loaded.added += added
            loaded.refused.extend(refused)
            if progress is not None:
                progress(batches.report.rows)
    finally:
        if not reading.done():
            reading.cancel()  # the thread finishes its batch; the result is dropped
            await asyncio.wait([reading])
        elif not reading.cancelled():
            reading.exception()  # already raised above when it mattered
    return loaded


async def import_upload(
    engine: AsyncEngine,
    actor: str,
    campaign_id: int,
    kind: str,
    data: sheets.Source,
    *,
    progress: Progress | None = None,
    batch_size: int = 10_000,
    max_rows: int = MAX_ROWS,
) -> ImportReport:
    """Add the rows of a CSV/XLSX upload; returns the report (bad rows listed, good kept).

    ``data`` is the file's bytes or a seekable binary file (read row by row, in a worker thread).
    """
    report = ImportReport()

    async def change(conn: AsyncConnection, campaign: Campaign) -> Mapping[str, object]:
        checker = RowChecker(campaign.default_region, campaign.time_zone)
        batches = _Batches(kind, data, checker, max_rows)
        await conn.execute(_CREATE)
        try:
            loaded = await _pipeline(conn, campaign_id, batches, batch_size, progress)
        finally:
            batches.close()
        found = batches.report
        report.rows, report.blank = found.rows, found.blank
        report.errors = found.errors + loaded.refused
        report.added = loaded.added
        report.duplicates = found.duplicates + loaded.staged - len(loaded.refused) - loaded.added
        return report.as_json() | {"errors": len(report.errors)}

    await campaigns.transition(engine, actor, campaign_id, Operation.ADD_DATA, change)
    report.errors.sort(key=lambda e: e.row)
    return report
