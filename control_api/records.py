"""Record operations on the database: import, reset, force complete, delete, counts.

Shared by the HTTP handlers and the CLI; each operation is one transaction that holds the
campaign row lock, passes the lifecycle check and writes the audit entry
(:func:`control_api.campaigns.transition`), so an import can never interleave with a start.

Imports are parsed in a worker thread batch by batch (the event loop stays responsive) and
loaded with ``COPY`` into a temporary table, from which one ``INSERT … SELECT … ON CONFLICT DO
NOTHING`` adds the new records: duplicates of stored records are skipped and counted,
do-not-call numbers are reported row by row, and nothing already stored is touched.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from control_api import campaigns, sheets
from control_api.errors import Conflict, Invalid, NotFound
from control_api.imports import Contact, HeaderError, RowChecker, RowError, header
from control_api.schemas import Field, Schema
from gateway.db.models import RecordStatus
from pacing.lifecycle import Operation
from pacing.outcomes import Outcome

MAX_ROWS = 1_000_000
MAX_REPORTED_ERRORS = 1000
Progress = Callable[[int], None]

_TMP_COLUMNS = (
    "row_no",
    "phone",
    "name",
    "time_zone",
    "time_zones",
    "priority",
    "skill",
    "agent",
    "callback_at",
    "custom",
)


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
    """Turns an upload into batches of checked contacts; runs in a worker thread."""

    def __init__(self, kind: str, data: bytes, checker: RowChecker, report: ImportReport) -> None:
        self._rows: Iterator[sheets.Row] = sheets.rows(kind, data)
        self._checker = checker
        self._report = report
        self._header: Any = None
        self._seen: set[str] = set()

    def next_batch(self, size: int) -> list[Contact]:
        batch: list[Contact] = []
        for number, cells in self._rows:
            if self._header is None:
                if any(c.strip() for c in cells):
                    self._header = header(cells)
                continue
            self._report.rows += 1
            if self._report.rows > MAX_ROWS:
                raise HeaderError(f"the file has more than {MAX_ROWS} rows")
            checked = self._checker.check(self._header, number, cells)
            if checked is None:
                self._report.blank += 1
            elif isinstance(checked, RowError):
                self._report.errors.append(checked)
            elif checked.phone in self._seen:
                self._report.duplicates += 1
            else:
                self._seen.add(checked.phone)
                batch.append(checked)
                if len(batch) >= size:
                    break
        if self._header is None:
            raise HeaderError("the file is empty: no header row")
        return batch


def _tuple(c: Contact) -> tuple[object, ...]:
    return (
        c.row,
        c.phone,
        c.name,
        c.time_zone,
        c.time_zones,
        c.priority,
        c.skill,
        c.agent,
        c.callback_at,
        json.dumps(c.custom) if c.custom else "{}",
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


async def import_upload(
    engine: AsyncEngine,
    actor: str,
    campaign_id: int,
    kind: str,
    data: bytes,
    *,
    progress: Progress | None = None,
    batch_size: int = 10_000,
) -> ImportReport:
    """Add the rows of a CSV/XLSX upload; returns the report (bad rows listed, good kept)."""
    report = ImportReport()

    async def change(conn: AsyncConnection, campaign: dict[str, Any]) -> Mapping[str, object]:
        checker = RowChecker(campaign["default_region"], campaign["time_zone"])
        batches = _Batches(kind, data, checker, report)
        await conn.execute(
            text(
                "CREATE TEMP TABLE import_rows (row_no int, phone text, name text, "
                "time_zone text, time_zones text[], priority smallint, skill text, agent text, "
                "callback_at timestamptz, custom jsonb) ON COMMIT DROP"
            )
        )
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        staged = 0
        while True:
            try:
                batch = await asyncio.to_thread(batches.next_batch, batch_size)
            except HeaderError as exc:
                raise Invalid("file", str(exc)) from None
            except sheets.SheetError as exc:
                raise Invalid("file", str(exc)) from None
            if not batch:
                break
            await raw.copy_records_to_table(
                "import_rows", records=[_tuple(c) for c in batch], columns=_TMP_COLUMNS
            )
            staged += len(batch)
            if progress is not None:
                progress(report.rows)
        await _finish(conn, campaign_id, staged, report)
        return report.as_json() | {"errors": len(report.errors)}

    await campaigns.transition(engine, actor, campaign_id, Operation.ADD_DATA, change)
    report.errors.sort(key=lambda e: e.row)
    return report


async def _finish(
    conn: AsyncConnection, campaign_id: int, staged: int, report: ImportReport
) -> None:
    dnc = await conn.execute(
        text(
            "SELECT t.row_no FROM import_rows t JOIN dnc_numbers d ON d.phone = t.phone "
            "ORDER BY t.row_no"
        )
    )
    refused = [RowError(int(r[0]), "phone: on the do-not-call list") for r in dnc]
    report.errors.extend(refused)
    added = await conn.execute(_INSERT, {"cid": campaign_id})
    report.added = int(added.rowcount)
    report.duplicates += staged - len(refused) - report.added


RESET = Schema(
    "Reset",
    (
        Field("from", "datetime", description="last attempt at or after"),
        Field("to", "datetime", description="last attempt before"),
        Field("status", "array", items="string", max_length=16),
        Field("reason", "string", max_length=1000),
        Field("dispositions", "array", items="string", max_length=16),
        Field("priority_min", "integer", minimum=1, maximum=99),
        Field("priority_max", "integer", minimum=1, maximum=99),
        Field("agent", "string", max_length=1000),
        Field("skill", "string", max_length=1000),
    ),
)
_RESETTABLE = frozenset(
    {RecordStatus.NEW, RecordStatus.RETRY, RecordStatus.CALLBACK, RecordStatus.DONE}
)


def reset_filter(filters: Mapping[str, Any]) -> tuple[str, dict[str, object]]:
    """SQL conditions and parameters for the reset filters (all optional, ANDed)."""
    clauses = ["status IN ('new', 'retry', 'callback', 'done')"]
    params: dict[str, object] = {}
    for value in filters.get("status", []):
        if value not in _RESETTABLE:
            raise Invalid("status", f"{value!r} is not a resettable record status")
    for value in filters.get("dispositions", []):
        if value not in Outcome.__members__.values():
            raise Invalid("dispositions", f"{value!r} is not an outcome")
    simple = {
        "from": "last_attempt_at >= :from",
        "to": "last_attempt_at < :to",
        "status": "status = ANY(:status)",
        "reason": "reason = :reason",
        "dispositions": "disposition = ANY(:dispositions)",
        "priority_min": "priority >= :priority_min",
        "priority_max": "priority <= :priority_max",
        "agent": "agent = :agent",
        "skill": "skill = :skill",
    }
    for key, clause in simple.items():
        if key in filters:
            clauses.append(clause)
            params[key] = filters[key]
    return " AND ".join(clauses), params


async def reset(
    engine: AsyncEngine, actor: str, campaign_id: int, filters: Mapping[str, Any]
) -> tuple[dict[str, Any], int]:
    """Make matching records dialable again; campaign → ready. Returns (campaign, count)."""
    where, params = reset_filter(filters)

    async def change(conn: AsyncConnection, _: dict[str, Any]) -> Mapping[str, object]:
        result = await conn.execute(
            text(
                "UPDATE records SET status = 'new', reason = '', disposition = NULL, "  # noqa: S608
                "attempts = 0, next_attempt_at = NULL, callback_at = NULL, lease_owner = NULL, "
                "lease_expires_at = NULL, updated_at = now() "
                f"WHERE campaign_id = :cid AND {where} "
                "AND NOT (status = 'new' AND attempts = 0 AND disposition IS NULL)"
            ),
            {**params, "cid": campaign_id},
        )
        return {"reset": int(result.rowcount), "filters": dict(filters)}

    after, outcome = await campaigns.transition(engine, actor, campaign_id, Operation.RESET, change)
    assert outcome is not None
    return after, int(str(outcome["reset"]))


async def force_complete(
    engine: AsyncEngine, actor: str, campaign_id: int
) -> tuple[dict[str, Any], int]:
    """Mark every record not yet finished complete; campaign → completed."""

    async def change(conn: AsyncConnection, _: dict[str, Any]) -> Mapping[str, object]:
        result = await conn.execute(
            text(
                "UPDATE records SET status = 'done', reason = 'force completed', "
                "lease_owner = NULL, lease_expires_at = NULL, updated_at = now() "
                "WHERE campaign_id = :cid AND status IN ('new', 'retry', 'callback')"
            ),
            {"cid": campaign_id},
        )
        return {"completed": int(result.rowcount)}

    after, outcome = await campaigns.transition(
        engine, actor, campaign_id, Operation.FORCE_COMPLETE, change
    )
    assert outcome is not None
    return after, int(str(outcome["completed"]))


async def delete_all(engine: AsyncEngine, actor: str, campaign_id: int, confirm: int | None) -> int:
    """Delete every record, only if ``confirm`` equals the current record count."""

    async def change(conn: AsyncConnection, _: dict[str, Any]) -> Mapping[str, object]:
        count = await campaigns.count_records(conn, campaign_id)
        if confirm != count:
            raise Conflict(
                f"confirm the deletion by sending confirm={count} (the campaign's record count)",
                record_count=count,
            )
        await conn.execute(
            text("DELETE FROM records WHERE campaign_id = :cid"), {"cid": campaign_id}
        )
        return {"deleted": count}

    _, outcome = await campaigns.transition(
        engine, actor, campaign_id, Operation.DELETE_RECORDS, change
    )
    assert outcome is not None
    return int(str(outcome["deleted"]))


async def counts(engine: AsyncEngine, campaign_id: int) -> dict[str, int]:
    """Records per status (every status present, zero when none)."""
    async with engine.connect() as conn:
        await campaigns.fetch(conn, campaign_id)
        rows = await conn.execute(
            text("SELECT status, count(*) FROM records WHERE campaign_id = :cid GROUP BY status"),
            {"cid": campaign_id},
        )
        found = {r[0]: int(r[1]) for r in rows}
    return {str(s): found.get(str(s), 0) for s in RecordStatus}


async def status(engine: AsyncEngine, campaign_id: int) -> dict[str, Any]:
    """State, version and records per status, in one query (the hot status endpoint)."""
    async with engine.connect() as conn:
        row = (
            (
                await conn.execute(
                    text(
                        "SELECT c.id, c.state, c.version, c.controlled_until, "
                        "(SELECT json_object_agg(s.status, s.n) FROM (SELECT status, count(*) AS n "
                        "FROM records WHERE campaign_id = c.id GROUP BY status) s) AS records "
                        "FROM campaigns c WHERE c.id = :cid"
                    ),
                    {"cid": campaigns.valid_id(campaign_id)},
                )
            )
            .mappings()
            .first()
        )
    if row is None:
        raise NotFound(f"campaign {campaign_id} does not exist")
    found = row["records"] or {}
    return {**row, "records": {str(s): int(found.get(str(s), 0)) for s in RecordStatus}}


async def complete_if_exhausted(engine: AsyncEngine, actor: str, campaign_id: int) -> bool:
    """Runner hook: a running campaign with no record that can ever be dialled → completed."""
    async with engine.connect() as conn:
        campaign = await campaigns.fetch(conn, campaign_id)
        if campaign["state"] != "running":
            return False
        left = await conn.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM records WHERE campaign_id = :cid AND "
                "(status = 'dialing' OR (status IN ('new', 'retry', 'callback') "
                "AND attempts < :max)))"
            ),
            {"cid": campaign_id, "max": campaign["max_attempts"]},
        )
        if left.scalar_one():
            return False
    await campaigns.transition(engine, actor, campaign_id, Operation.COMPLETE)
    return True
