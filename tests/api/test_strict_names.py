"""Strict names at the API: a value that would reach Asterisk with a separator is a 422 naming
the field, on create and on change; the edge checks again (``tests/gateway/test_strict_names``).
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.db.models import Role
from tests.api.conftest import Api

pytestmark = pytest.mark.db

BAD: list[tuple[dict[str, Any], str]] = [
    ({"queue": "sales,DIALER_CONNECT_TIMEOUT=600"}, "queue"),
    ({"queue": "sales support"}, "queue"),
    ({"queue": "sales(1)"}, "queue"),
    ({"queue": "sales;x"}, "queue"),
    ({"queue": "$sales"}, "queue"),
    ({"queue": "{sales}"}, "queue"),
    ({"queue": "a|b"}, "queue"),
    ({"queue": "sales\r\nAction: Logoff"}, "queue"),
    ({"pacing": {"caller_id_name": "Acme,DIALER_AMD=0"}}, "pacing.caller_id_name"),
    ({"pacing": {"caller_id_name": "Acme ${EXTEN}"}}, "pacing.caller_id_name"),
    ({"pacing": {"caller_id_name": 'Acme" <+1900>'}}, "pacing.caller_id_name"),
    ({"pacing": {"caller_id_name": "Acme;(x)|y"}}, "pacing.caller_id_name"),
    ({"pacing": {"ring_timeout_s": 5}}, "pacing.ring_timeout_s"),
    ({"pacing": {"unknown": 1}}, "pacing.unknown"),
]


@pytest.mark.parametrize(("fields", "named"), BAD, ids=[n + repr(f) for f, n in BAD])
async def test_separators_are_refused_naming_the_field(
    api: Api, fields: dict[str, Any], named: str
) -> None:
    response = await api.client.post(
        "/v1/campaigns", json={"name": "strict", **fields}, headers=api.auth(Role.OPS)
    )
    assert response.status == 422, await response.text()
    assert (await response.json())["field"] == named
    campaign = await api.campaign()
    changed = await api.client.patch(
        f"/v1/campaigns/{campaign['id']}", json=fields, headers=api.auth(Role.OPS)
    )
    assert changed.status == 422
    assert (await changed.json())["field"] == named


async def test_good_names_are_kept(api: Api) -> None:
    campaign = await api.campaign(
        queue="sales-east_2", pacing={"caller_id_name": "Acme Sales - Ünïcode", "amd": False}
    )
    assert campaign["queue"] == "sales-east_2"
    assert campaign["pacing"]["caller_id_name"] == "Acme Sales - Ünïcode"
