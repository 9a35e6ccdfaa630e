"""An import split into many batches reports exactly what a single batch would."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from control_api.errors import Invalid
from gateway.campaigns import campaigns, records

pytestmark = pytest.mark.db

CSV = (
    b"phone,name,tier\n"
    b"+12125550301,A,gold\n"  # 2
    b"bad,B,\n"  # 3: error
    b"+12125550302,C,\n"  # 4
    b"+12125550301,dup,\n"  # 5: duplicate inside the file
    b",,\n"  # 6: blank
    b"+12125550303,D,\n"  # 7: on the do-not-call list
    b"+12125550304,E,\n"  # 8: already stored
    b"+12125550305,F,\n"  # 9
)


async def _campaign(engine: AsyncEngine) -> int:
    row = await campaigns.create(engine, "tests", {"name": f"b-{uuid.uuid4().hex[:10]}"})
    return row.id


@pytest.mark.parametrize("batch_size", [1, 2, 3, 10_000])
async def test_batches_do_not_change_the_report(engine: AsyncEngine, batch_size: int) -> None:
    cid = await _campaign(engine)
    async with engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO dnc_numbers (phone) VALUES ('+12125550303') ON CONFLICT DO NOTHING")
        )
    await records.import_upload(engine, "tests", cid, "csv", b"phone\n+12125550304\n")
    seen: list[int] = []
    report = await records.import_upload(
        engine, "tests", cid, "csv", CSV, batch_size=batch_size, progress=seen.append
    )
    assert report.as_json() == {
        "rows": 8,
        "added": 3,
        "duplicates": 2,
        "blank": 1,
        "rejected": 2,
        "errors": [
            {"row": 3, "reason": "phone: 'bad' is not a phone number"},
            {"row": 7, "reason": "phone: on the do-not-call list"},
        ],
    }
    assert seen
    assert seen == sorted(seen)
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT phone, custom FROM records WHERE campaign_id = :c ORDER BY id"),
            {"c": cid},
        )
        stored = [(r[0], r[1]) for r in rows]
    assert stored == [
        ("+12125550304", {}),
        ("+12125550301", {"tier": "gold"}),
        ("+12125550302", {}),
        ("+12125550305", {}),
    ]


async def test_a_late_file_error_rolls_back_every_batch(engine: AsyncEngine) -> None:
    cid = await _campaign(engine)
    too_long = b"x" * 200_000  # over the csv module's field limit: a file error on row 4
    broken = b"phone\n+12125550401\n+12125550402\n" + too_long + b"\n"
    with pytest.raises(Invalid, match="CSV line"):
        await records.import_upload(engine, "tests", cid, "csv", broken, batch_size=1)
    assert (await records.counts(engine, cid))["new"] == 0


async def test_custom_columns_are_stored_as_written(engine: AsyncEngine) -> None:
    cid = await _campaign(engine)
    upload = (
        'phone,Notes,"Say ""hi""",Ünïcode\n'
        '+12125550501,"a ""quoted"" \\ back\\slash",x,é 😀 ☎\n'
        "+12125550502,,,\n"
        "+12125550503,,y,\n"
    ).encode()
    report = await records.import_upload(engine, "tests", cid, "csv", upload)
    assert (report.added, report.errors) == (3, [])
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT custom FROM records WHERE campaign_id = :c ORDER BY phone"), {"c": cid}
        )
        stored = [r[0] for r in rows]
    assert stored == [
        {"Notes": 'a "quoted" \\ back\\slash', 'Say "hi"': "x", "Ünïcode": "é 😀 ☎"},
        {},
        {'Say "hi"': "y"},
    ]


async def test_xlsx_dates_float_phones_and_empty_cells(engine: AsyncEngine) -> None:
    row = await campaigns.create(
        engine, "tests", {"name": f"x-{uuid.uuid4().hex[:10]}", "time_zone": "America/New_York"}
    )
    cid = row.id
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["phone", "name", "callback_at", "priority", "tier"])
    sheet.append([2125550601.0, "float phone", datetime(2026, 1, 5, 9, 30), 7.0, None])
    sheet.append(["+12125550602", None, "2026-01-05T10:00:00+00:00", None, "gold"])
    sheet.append([2125550603, "no date", None, 2, ""])
    sheet.append([None, None, None, None, None])  # blank
    sheet.append([2125550604.5, "half a number", None, None, None])
    out = io.BytesIO()
    book.save(out)
    report = await records.import_upload(engine, "tests", cid, "xlsx", out.getvalue())
    assert (report.rows, report.added, report.blank) == (5, 3, 1)
    assert [(e.row, e.reason) for e in report.errors] == [
        (6, "phone: '2125550604.5' is not a valid number")
    ]
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT phone, name, callback_at, priority, status, custom FROM records "
                "WHERE campaign_id = :c ORDER BY phone"
            ),
            {"c": cid},
        )
        stored = [tuple(r) for r in rows]
    new_york = ZoneInfo("America/New_York")
    assert stored == [
        ("+12125550601", "float phone", datetime(2026, 1, 5, 9, 30, tzinfo=new_york), 7,
         "callback", {}),
        ("+12125550602", "", datetime(2026, 1, 5, 10, tzinfo=UTC), 50, "callback",
         {"tier": "gold"}),
        ("+12125550603", "no date", None, 2, "new", {}),
    ]  # fmt: skip
