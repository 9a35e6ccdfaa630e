"""The three former server errors: each is now a problem document naming what is wrong."""

from __future__ import annotations

import io

import pytest

from gateway.db.models import Role
from tests.api.conftest import Api

pytestmark = pytest.mark.db


@pytest.mark.parametrize(("length", "status"), [(1, 201), (64, 201), (65, 422), (128, 422)])
async def test_token_names_fit_their_columns(api: Api, length: int, status: int) -> None:
    name = ("n" * length + f"{length:03d}")[-length:]
    response = await api.client.post(
        "/v1/tokens", json={"name": name, "role": "viewer"}, headers=api.auth(Role.ADMIN)
    )
    assert response.status == status, await response.text()
    if status == 422:
        assert (await response.json())["field"] == "name"


@pytest.mark.parametrize(
    ("ctype", "body", "status"),
    [
        ("multipart/form-data", b"--x\r\n\r\n--x--\r\n", 415),
        ("multipart/form-data; boundary=", b"--x\r\n\r\n--x--\r\n", 415),
        ("multipart/form-data; boundary=x", b"garbage without any delimiter", 422),
        ("multipart/form-data; boundary=x", b"--x\r\nbroken header line\r\n\r\nabc\r\n--x--", 422),
        ("multipart/form-data; boundary=x", b"--x--\r\n", 422),
    ],
)
async def test_broken_multipart_is_a_problem_not_a_500(
    api: Api, ctype: str, body: bytes, status: int
) -> None:
    campaign = await api.campaign()
    response = await api.client.post(
        f"/v1/campaigns/{campaign['id']}/records",
        data=io.BytesIO(body),
        headers={**api.auth(Role.OPS), "Content-Type": ctype},
    )
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"


@pytest.mark.parametrize("bad", [2**63, 2**64 + 5, -1, 0, 10**30])
async def test_number_ids_beyond_64_bits_are_422(api: Api, bad: int) -> None:
    campaign = await api.campaign()
    response = await api.client.put(
        f"/v1/campaigns/{campaign['id']}/numbers",
        json={"number_ids": [bad]},
        headers=api.auth(Role.OPS),
    )
    assert response.status == 422, await response.text()
    assert (await response.json())["field"] == "number_ids"


async def test_number_ids_in_range_but_unknown_are_409(api: Api) -> None:
    campaign = await api.campaign()
    response = await api.client.put(
        f"/v1/campaigns/{campaign['id']}/numbers",
        json={"number_ids": [2**63 - 1]},
        headers=api.auth(Role.OPS),
    )
    assert response.status == 409
    body = await response.json()
    assert "unknown numbers" in body["detail"]
    assert body["field"] == "number_ids"
