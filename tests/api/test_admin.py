"""The administrative endpoints over HTTP: numbers, pools, do-not-call, webhooks, audit."""

from __future__ import annotations

import uuid

from gateway.db.models import Role
from tests.api.conftest import Api


def _unique_number() -> str:
    return f"+1212555{uuid.uuid4().int % 10000:04d}"


async def test_numbers_are_normalised_changed_and_audited(api: Api) -> None:
    ops = api.auth(Role.OPS)
    raw = _unique_number()
    made = await api.client.post("/v1/numbers", json={"number": raw, "max_per_day": 7}, headers=ops)
    if made.status == 409:  # the random suffix met an earlier test's number
        raw = _unique_number()
        made = await api.client.post("/v1/numbers", json={"number": raw}, headers=ops)
    assert made.status == 201, await made.text()
    number = await made.json()
    assert number["number"] == raw
    assert set(number) == {
        "id",
        "number",
        "status",
        "max_concurrent",
        "max_per_day",
        "cooldown_s",
        "region",
        "health",
        "rest_reason",
    }
    again = await api.client.post("/v1/numbers", json={"number": raw}, headers=ops)
    assert again.status == 409
    assert (await again.json())["status"] == 409
    bad = await api.client.post("/v1/numbers", json={"number": "+10000000000"}, headers=ops)
    assert bad.status == 422
    assert (await bad.json())["field"] == "number"

    rest = {"status": "resting", "rest_reason": "spam flag"}
    changed = await api.client.patch(f"/v1/numbers/{number['id']}", json=rest, headers=ops)
    assert changed.status == 200
    assert {k: (await changed.json())[k] for k in rest} == rest
    missing = await api.client.patch("/v1/numbers/999999999", json=rest, headers=ops)
    assert missing.status == 404

    listed = await api.client.get("/v1/numbers?limit=1000", headers=ops)
    assert number["id"] in {n["id"] for n in (await listed.json())["numbers"]}
    log = await api.client.get(
        f"/v1/audit?entity=number&entity_id={number['id']}", headers=api.auth(Role.VIEWER)
    )
    entries = (await log.json())["entries"]
    assert [e["action"] for e in entries] == ["number.update", "number.create"]
    assert entries[0]["before"]["status"] == "active"
    assert entries[0]["after"]["status"] == "resting"


async def test_pool_is_set_exactly_and_refuses_unknown_numbers(api: Api) -> None:
    ops = api.auth(Role.OPS)
    c = await api.campaign()
    made = await api.client.post("/v1/numbers", json={"number": _unique_number()}, headers=ops)
    assert made.status == 201, await made.text()
    nid = (await made.json())["id"]
    path = f"/v1/campaigns/{c['id']}/numbers"
    put = await api.client.put(path, json={"number_ids": [nid, nid]}, headers=ops)
    assert put.status == 200
    assert [n["id"] for n in (await put.json())["numbers"]] == [nid]
    got = await api.client.get(path, headers=ops)
    assert [n["id"] for n in (await got.json())["numbers"]] == [nid]
    unknown = await api.client.put(path, json={"number_ids": [nid, 999999999]}, headers=ops)
    assert unknown.status == 409
    assert "999999999" in (await unknown.json())["detail"]
    still = await api.client.get(path, headers=ops)
    assert [n["id"] for n in (await still.json())["numbers"]] == [nid]
    gone = await api.client.get("/v1/campaigns/999999999/numbers", headers=ops)
    assert gone.status == 404


async def test_dnc_is_stored_in_e164(api: Api) -> None:
    added = await api.client.post(
        "/v1/dnc", json={"phone": "+1 (212) 555-0177"}, headers=api.auth(Role.OPS)
    )
    assert added.status == 201
    assert await added.json() == {"phone": "+12125550177"}


async def test_webhooks_are_listed_without_secret_and_removed(api: Api) -> None:
    admin = api.auth(Role.ADMIN)
    made = await api.client.post(
        "/v1/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "events": ["agent.connected"]},
        headers=admin,
    )
    assert made.status == 201
    hook = await made.json()
    assert hook["secret"]
    assert hook["events"] == ["agent.connected"]
    unknown = await api.client.post(
        "/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["a"]}, headers=admin
    )
    assert unknown.status == 422
    assert (await unknown.json())["field"] == "events"
    assert hook["campaign_id"] is None
    listed = (await (await api.client.get("/v1/webhooks", headers=admin)).json())["webhooks"]
    mine = [h for h in listed if h["id"] == hook["id"]]
    assert mine == [{k: v for k, v in hook.items() if k != "secret"}]
    scheme = await api.client.post("/v1/webhooks", json={"url": "ftp://x.example"}, headers=admin)
    assert scheme.status == 422
    orphan = await api.client.post(
        "/v1/webhooks", json={"url": "http://x.example", "campaign_id": 999999999}, headers=admin
    )
    assert orphan.status == 404
    assert (await api.client.delete(f"/v1/webhooks/{hook['id']}", headers=admin)).status == 204
    assert (await api.client.delete(f"/v1/webhooks/{hook['id']}", headers=admin)).status == 404
