"""Uploads (good, bad, hostile) and downloads of campaign records over HTTP."""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

import pytest
from aiohttp import FormData
from openpyxl import Workbook, load_workbook

from gateway.db.models import Role
from tests.api.conftest import Api

pytestmark = pytest.mark.db

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def upload(api: Api, cid: int, data: bytes, ctype: str = "text/csv") -> tuple[int, Any]:
    response = await api.client.post(
        f"/v1/campaigns/{cid}/records",
        data=io.BytesIO(data),
        headers={**api.auth(Role.OPS), "Content-Type": ctype},
    )
    return response.status, await response.json()


async def count(api: Api, cid: int) -> int:
    response = await api.client.get(f"/v1/campaigns/{cid}/status", headers=api.auth(Role.VIEWER))
    return sum((await response.json())["records"].values())


async def test_csv_rows_checked_one_by_one(api: Api) -> None:
    c = await api.campaign(default_region="GB", time_zone="Europe/London")
    data = (
        b"Phone,Name,priority,time_zone,crm_id\n"
        b"020 7946 0018,Ann,5,,C1\n"  # national GB format
        b"+12125550123,Bob,,America/New_York,C2\n"
        b"not a number,Cy,,,C3\n"
        b"+442079460018,Dup,,,C4\n"  # same as row 2 once normalised
        b"+12125550124,Eve,120,,C5\n"
        b"+12125550125,Fay,,Mars/Base,C6\n"
        b",,,,\n"
        b'+12125550126,"Gil\nbert",,,C7\n'
    )
    status, report = await upload(api, c["id"], data)
    assert status == 200
    assert report["added"] == 2
    assert report["duplicates"] == 1
    assert report["blank"] == 1
    reasons = {e["row"]: e["reason"] for e in report["errors"]}
    assert set(reasons) == {4, 6, 7, 9}
    assert "phone" in reasons[4]
    assert "priority" in reasons[6]
    assert "time_zone" in reasons[7]
    assert "line break" in reasons[9]
    assert await count(api, c["id"]) == 2


async def test_xlsx_upload_and_duplicates_of_stored_records(api: Api) -> None:
    c = await api.campaign()
    rows: list[list[Any]] = [["phone", "name", "skill", "notes"]]
    rows += [[12125550130 + i, f"N{i}", "sales", "x"] for i in range(5)]
    status, report = await upload(api, c["id"], xlsx(rows), XLSX)
    assert (status, report["added"], report["rejected"]) == (200, 5, 0)
    status, report = await upload(api, c["id"], xlsx([*rows[:3], ["+12125550199", "new"]]), XLSX)
    assert (report["added"], report["duplicates"]) == (1, 2)
    assert await count(api, c["id"]) == 6


async def test_do_not_call_numbers_are_refused(api: Api) -> None:
    c = await api.campaign()
    added = await api.client.post(
        "/v1/dnc", json={"phone": "+12125550140"}, headers=api.auth(Role.OPS)
    )
    assert added.status == 201
    _status, report = await upload(api, c["id"], b"phone\n+12125550140\n+12125550141\n")
    assert report["added"] == 1
    assert report["errors"] == [{"row": 2, "reason": "phone: on the do-not-call list"}]


@pytest.mark.parametrize(
    ("data", "ctype", "status", "field"),
    [
        (b"", "text/csv", 422, "file"),
        (b"name,skill\nA,b\n", "text/csv", 422, "file"),
        (b"PK\x03\x04garbage", XLSX, 422, "file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "text/csv", 422, "file"),
        (b"phone\n1\n", "image/png", 415, None),
    ],
)
async def test_unusable_files_are_refused_and_nothing_is_lost(
    api: Api, data: bytes, ctype: str, status: int, field: str | None
) -> None:
    c = await api.campaign()
    await upload(api, c["id"], b"phone\n+12125550150\n")
    got, problem = await upload(api, c["id"], data, ctype)
    assert got == status, problem
    assert problem.get("field") == field
    assert await count(api, c["id"]) == 1


async def test_a_50_mb_upload_is_refused(api: Api) -> None:
    c = await api.campaign()
    big = b"phone\n" + b"+12125550160\n" * (50 * 1024 * 1024 // 13)
    got, problem = await upload(api, c["id"], big)
    assert got == 413
    assert "limited" in problem["detail"]


async def test_multipart_upload(api: Api) -> None:
    c = await api.campaign()
    form = FormData()
    form.add_field("file", b"phone\n+12125550170\n", filename="list.csv", content_type="text/csv")
    response = await api.client.post(
        f"/v1/campaigns/{c['id']}/records", data=form, headers=api.auth(Role.OPS)
    )
    assert (await response.json())["added"] == 1


async def test_upload_refused_while_running(api: Api) -> None:
    c = await api.campaign()
    await api.op(c["id"], "start")
    got, problem = await upload(api, c["id"], b"phone\n+12125550180\n")
    assert got == 409
    assert problem["allowed"] == ["ready", "completed"]


async def _export(api: Api, cid: int, fmt: str) -> tuple[int, bytes]:
    response = await api.client.get(
        f"/v1/campaigns/{cid}/records/export?format={fmt}", headers=api.auth(Role.REVIEWER)
    )
    return response.status, await response.read()


async def test_exports_in_every_format(api: Api) -> None:
    c = await api.campaign()
    await upload(api, c["id"], b"phone,name,tier\n+12125550190,Zoe,gold\n+12125550191,Al,\n")
    status, body = await _export(api, c["id"], "csv")
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert [r["phone"] for r in rows] == ["+12125550190", "+12125550191"]
    assert rows[0]["custom"] == '{"tier": "gold"}'
    status, body = await _export(api, c["id"], "xlsx")
    sheet = load_workbook(io.BytesIO(body), read_only=True).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][1] == "phone"
    assert values[2][2] == "Al"
    status, body = await _export(api, c["id"], "xml")
    assert b"<phone>+12125550190</phone>" in body
    assert body.rstrip().endswith(b"</records>")
    status, body = await _export(api, c["id"], "pdf")
    assert body.startswith(b"%PDF")
    await api.op(c["id"], "start")
    status, _ = await _export(api, c["id"], "csv")
    assert status == 409


def test_xlsx_reader_decodes_escaped_control_characters() -> None:
    from gateway.campaigns.sheets import read_xlsx

    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as book:
        book.writestr(
            "xl/worksheets/sheet1.xml",
            '<worksheet><sheetData><row r="1"><c r="B1" t="inlineStr"><is><t>a_x000D_b</t>'
            '</is></c><c r="C1"><v>12125550100</v></c></row></sheetData></worksheet>',
        )
    assert list(read_xlsx(data.getvalue())) == [(1, ["", "a\rb", "12125550100"])]
