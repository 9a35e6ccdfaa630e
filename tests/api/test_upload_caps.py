"""Upload caps: columns per row, row length, cell length, rows per upload, uploads at once.

Each cap refuses with a problem naming it (422 for what the file holds, 413 for its size, 429
for one upload too many at once); nothing is added by a refused upload.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import pytest
from openpyxl import Workbook

from gateway.campaigns import records
from gateway.campaigns.errors import Invalid
from gateway.campaigns.sheets import MAX_COLUMNS, MAX_ROW_CHARS
from gateway.db.models import Role
from tests.api.conftest import Api
from tests.api.test_records import XLSX, count, upload

pytestmark = pytest.mark.db

PHONE = b"+12125550100"


def _wide_xlsx(column: int, value: str | None) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.cell(row=1, column=1, value="phone")
    sheet.cell(row=2, column=1, value="+12125550101")
    sheet.cell(row=2, column=column, value=value)
    if value is None:  # a formatted empty cell, as spreadsheets keep them far right
        sheet.cell(row=2, column=column).number_format = "0.00"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


REFUSED = [
    ("a value in column 257", b"phone" + b",x" * MAX_COLUMNS + b"\n" + PHONE + b"\n", "text/csv",
     f"limited to {MAX_COLUMNS} columns"),
    ("700,000 columns", b"phone" + b",abcdefghi" * 700_000 + b"\n", "text/csv",
     f"longer than {MAX_ROW_CHARS} characters"),
    ("one row past the length cap", b"phone,notes\n" + PHONE + b',"' + b"y" * MAX_ROW_CHARS
     + b'"\n', "text/csv", f"longer than {MAX_ROW_CHARS} characters"),
    ("quoted cells over many lines", b"phone\n" + PHONE + b',"z\n"' * (MAX_ROW_CHARS // 5)
     + b"\n", "text/csv", f"longer than {MAX_ROW_CHARS} characters"),
    ("an XLSX value in column 300", _wide_xlsx(300, "x"), XLSX,
     f"limited to {MAX_COLUMNS} columns"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "data", "ctype", "says"), REFUSED, ids=[r[0] for r in REFUSED])
async def test_caps_refuse_the_upload_and_name_the_cap(
    api: Api, case: str, data: bytes, ctype: str, says: str
) -> None:
    c = await api.campaign()
    status, problem = await upload(api, c["id"], data, ctype)
    assert status == 422, (case, problem)
    assert problem["field"] == "file"
    assert says in problem["detail"]
    assert await count(api, c["id"]) == 0


ACCEPTED = [
    ("empty columns far right are dropped", b"phone" + b"," * 5000 + b"\n" + PHONE + b"\n",
     "text/csv"),
    ("256 columns", b"phone" + b"".join(b",c%d" % i for i in range(MAX_COLUMNS - 1)) + b"\n"
     + PHONE + b"\n", "text/csv"),
    ("an XLSX empty formatted cell far right", _wide_xlsx(16384, None), XLSX),
]  # fmt: skip


@pytest.mark.parametrize(("case", "data", "ctype"), ACCEPTED, ids=[r[0] for r in ACCEPTED])
async def test_what_fits_the_caps_is_read(api: Api, case: str, data: bytes, ctype: str) -> None:
    c = await api.campaign()
    status, report = await upload(api, c["id"], data, ctype)
    assert (status, report["added"], report["rejected"]) == (200, 1, 0), (case, report)


async def test_a_cell_over_1000_characters_is_a_row_error_naming_the_cap(api: Api) -> None:
    c = await api.campaign()
    data = b"phone,notes\n+12125550102," + b"n" * 1001 + b"\n+12125550103,ok\n"
    status, report = await upload(api, c["id"], data)
    assert (status, report["added"]) == (200, 1)
    assert report["errors"] == [{"row": 2, "reason": "a cell is longer than 1000 characters"}]


async def test_rows_per_upload_are_capped(api: Api) -> None:
    c = await api.campaign()
    data = b"phone\n" + b"".join(b"+1212555%04d\n" % i for i in range(200, 205))
    with pytest.raises(Invalid) as refused:
        await records.import_upload(api.engine, "tests", c["id"], "csv", data, max_rows=4)
    assert refused.value.field == "file"
    assert "limited to 4" in refused.value.detail
    assert await count(api, c["id"]) == 0


async def test_one_upload_more_than_the_cap_at_once_is_429(api: Api) -> None:
    targets = [(await api.campaign())["id"] for _ in range(5)]  # no wait on one campaign's lock
    release = asyncio.Event()

    async def slow_body(n: int) -> AsyncIterator[bytes]:
        yield b"phone\n"
        await release.wait()
        yield b"+1212555%04d\n" % (870 + n)  # numbers no other test puts on the DNC list

    async def held(n: int) -> tuple[int, dict[str, object]]:
        response = await api.client.post(
            f"/v1/campaigns/{targets[n]}/records",
            data=slow_body(n),
            headers={**api.auth(Role.OPS), "Content-Type": "text/csv"},
        )
        return response.status, await response.json()

    uploads = [asyncio.create_task(held(n)) for n in range(5)]
    try:
        done, pending = await asyncio.wait(uploads, timeout=30, return_when="FIRST_COMPLETED")
        assert len(done) == 1
        assert len(pending) == 4  # four hold their slots while they read
        status, problem = done.pop().result()
        assert status == 429
        assert problem["limit"] == 4
        assert "limited to 4 at once" in str(problem["detail"])
    finally:
        release.set()
        results = await asyncio.gather(*uploads)
    assert sorted(status for status, _ in results) == [200, 200, 200, 200, 429], results
    assert sorted(int(str(reply.get("added", 0))) for _, reply in results) == [0, 1, 1, 1, 1]
    status, _ = await upload(api, targets[0], b"phone\n+12125550105\n")
    assert status == 200
