"""``POST /v1/attempts/{id}/disposition`` on a real PostgreSQL: each step a code maps to, who may
set one, what is refused, and where a disposition shows (record, DNC list, audit, reset filters,
export, the settle of a call still in progress).

Calls are made with the runner's own write path (lease, start, settle in ``batches``), so the
attempt a disposition lands on is the one the gateway writes.
"""

from __future__ import annotations

import csv
import io
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from gateway.campaigns import batches, records
from gateway.campaigns.leasing import AttemptRow, AttemptStart, lease_records
from gateway.db.models import Role
from pacing.outcomes import Outcome
from tests.api.conftest import Api

pytestmark = pytest.mark.db

CODES = {
    "codes": [
        {"code": "sale", "step": "done"},
        {"code": "not_interested", "step": "done"},
        {"code": "later", "step": "retry", "delay_s": 3600},
        {"code": "callback", "step": "callback"},
        {"code": "dnc", "step": "dnc"},
    ]
}


async def campaign(api: Api, phones: int = 1, **fields: Any) -> int:
    c = await api.campaign(dispositions=CODES, callee_window_start=0, callee_window_end=1440,
                           **fields)  # fmt: skip
    if not phones:
        return int(c["id"])
    rows = "".join(f"+1917555{n:04d}\n" for n in random.sample(range(10000), phones))
    response = await api.client.post(
        f"/v1/campaigns/{c['id']}/records",
        data=("phone\n" + rows).encode(),
        headers={**api.auth(Role.OPS), "Content-Type": "text/csv"},
    )
    assert response.status in (200, 201), await response.text()
    return int(c["id"])


async def call(
    api: Api, cid: int, agent: str | None, *, settle: bool = True, attempts_before: int = 0
) -> tuple[str, int]:
    """One call of the campaign through the runner's write path; ``agent`` None: no agent."""
    now = datetime.now(UTC)
    leased = await lease_records(api.engine, cid, "gw-dispo", 1, now, 60)
    assert leased, "no record could be leased"
    rid = leased[0].id
    if attempts_before:
        async with api.engine.begin() as conn:
            await conn.execute(
                text("UPDATE records SET attempts = :n WHERE id = :rid"),
                {"n": attempts_before, "rid": rid},
            )
    aid = uuid.uuid4().hex
    start = AttemptStart(aid, cid, rid, "gw-dispo", "pbx1", "+12125550001", now)
    assert await batches.start_attempts(api.engine, [start]) == {aid}
    if agent is not None:
        progress = batches.Progress(aid, now, now, agent)
        assert await batches.save_progress(api.engine, [progress]) == 1
    if settle:
        await settle_call(api, aid, agent)
    return aid, rid


async def settle_call(api: Api, aid: str, agent: str | None) -> None:
    now = datetime.now(UTC)
    outcome = Outcome.ANSWERED if agent else Outcome.NO_ANSWER
    talked = now if agent else None
    row = AttemptRow(
        aid, outcome, now, answered_at=talked, agent_connected_at=talked, hangup_at=now, agent=agent
    )
    assert len(await batches.settle_attempts(api.engine, [row])) == 1


async def dispose(api: Api, aid: str, role: Role = Role.OPS, **body: Any) -> Any:
    return await api.client.post(
        f"/v1/attempts/{aid}/disposition", json=body, headers=api.auth(role)
    )


async def record(api: Api, rid: int) -> dict[str, Any]:
    async with api.engine.connect() as conn:
        row = (
            (
                await conn.execute(
                    text(
                        "SELECT r.status, r.reason, r.disposition, r.agent, r.next_attempt_at, "
                        "r.callback_at, r.callback_agent, r.phone, r.attempts, "
                        "q.record_id IS NOT NULL AS queued, q.next_attempt_at AS queued_at, "
                        "EXISTS (SELECT 1 FROM dnc_numbers d WHERE d.phone = r.phone) AS on_dnc "
                        "FROM records r LEFT JOIN record_queue q ON q.record_id = r.id "
                        "WHERE r.id = :rid"
                    ),
                    {"rid": rid},
                )
            )
            .mappings()
            .one()
        )
    return dict(row)


def near(value: datetime | None, expected: datetime) -> bool:
    return value is not None and abs((value - expected).total_seconds()) < 30


async def test_done_code_finishes_the_record_with_the_code(api: Api) -> None:
    cid = await campaign(api)
    aid, rid = await call(api, cid, "ann")
    response = await dispose(api, aid, code="sale", note="two boxes")
    assert response.status == 201, await response.text()
    body = await response.json()
    assert (body["code"], body["applied"], body["record_status"]) == ("sale", True, "done")
    r = await record(api, rid)
    assert (r["status"], r["reason"], r["disposition"], r["agent"]) == (
        "done", "disposition sale", "sale", "ann")  # fmt: skip
    assert not r["queued"]
    assert not r["on_dnc"]
    async with api.engine.connect() as conn:
        attempt = (
            await conn.execute(
                text(
                    "SELECT disposition, disposition_note, disposed_by FROM attempts WHERE id = :id"
                ),
                {"id": aid},
            )
        ).one()
        audited = (
            await conn.execute(
                text(
                    "SELECT actor, after FROM audit_log WHERE action = 'attempt.disposition' "
                    "AND entity_id = :id"
                ),
                {"id": aid},
            )
        ).one()
    assert tuple(attempt) == ("sale", "two boxes", api.names[Role.OPS])
    assert audited[0] == api.names[Role.OPS]
    assert audited[1]["code"] == "sale"
    assert [d.attempt_id for d in api.runtime.dispositions] == [aid]  # the wrap-up hook ran


async def test_retry_code_queues_the_record_after_its_delay(api: Api) -> None:
    cid = await campaign(api)
    aid, rid = await call(api, cid, "ann")
    assert (await dispose(api, aid, code="later")).status == 201
    r = await record(api, rid)
    due = datetime.now(UTC) + timedelta(hours=1)
    assert (r["status"], r["reason"], r["disposition"]) == ("retry", "disposition later", "later")
    assert near(r["next_attempt_at"], due)
    assert r["queued"]
    assert near(r["queued_at"], due)
    # not leasable before its time
    assert await lease_records(api.engine, cid, "gw-other", 5, datetime.now(UTC), 60) == []
    later = await lease_records(api.engine, cid, "gw-other", 5, due + timedelta(minutes=1), 60)
    assert [x.id for x in later] == [rid]


async def test_retry_code_past_max_attempts_ends_the_record(api: Api) -> None:
    cid = await campaign(api, max_attempts=2)
    aid, rid = await call(api, cid, "ann", attempts_before=1)  # this call is the second
    assert (await dispose(api, aid, code="later")).status == 201
    r = await record(api, rid)
    assert (r["status"], r["reason"], r["attempts"]) == ("done", "max attempts (later)", 2)
    assert not r["queued"]


async def test_callback_code_schedules_the_callback(api: Api) -> None:
    cid = await campaign(api)
    aid, rid = await call(api, cid, "ann")
    at = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0)
    response = await dispose(api, aid, code="callback", callback_at=at.isoformat())
    assert response.status == 201, await response.text()
    r = await record(api, rid)
    assert (r["status"], r["callback_at"], r["next_attempt_at"], r["callback_agent"]) == (
        "callback", at, at, None)  # fmt: skip
    assert r["queued"]
    assert r["queued_at"] == at
    assert await lease_records(api.engine, cid, "gw-other", 5, at - timedelta(minutes=1), 60) == []
    assert [x.id for x in await lease_records(api.engine, cid, "gw-other", 5, at, 60)] == [rid]


async def test_agent_only_callback_is_kept_for_the_agent(api: Api) -> None:
    cid = await campaign(api)
    aid, rid = await call(api, cid, "ann")
    at = datetime.now(UTC) + timedelta(hours=3)
    response = await dispose(
        api, aid, code="callback", callback_at=at.isoformat(), callback_scope="agent"
    )
    assert response.status == 201
    assert (await response.json())["callback_agent"] == "ann"
    assert (await record(api, rid))["callback_agent"] == "ann"


async def test_dnc_code_puts_the_number_on_the_do_not_call_list(api: Api) -> None:
    cid = await campaign(api)
    aid, rid = await call(api, cid, "ann")
    assert (await dispose(api, aid, code="dnc")).status == 201
    r = await record(api, rid)
    assert (r["status"], r["disposition"], r["on_dnc"], r["queued"]) == ("dnc", "dnc", True, False)
    # the list is global: the number is refused by leasing in every campaign from now on
    other = await campaign(api, phones=0)
    async with api.engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO records (campaign_id, phone) VALUES (:cid, :phone)"),
            {"cid": other, "phone": r["phone"]},
        )
    assert await lease_records(api.engine, other, "gw-other", 5, datetime.now(UTC), 60) == []
    async with api.engine.begin() as conn:  # the list is shared by the session's other tests
        await conn.execute(text("DELETE FROM dnc_numbers WHERE phone = :p"), {"p": r["phone"]})


async def test_an_agent_token_disposes_its_own_calls_only(api: Api) -> None:
    me = api.names[Role.AGENT]
    cid = await campaign(api, phones=2)
    mine, _ = await call(api, cid, me)
    theirs, rid = await call(api, cid, "someone-else")
    refused = await dispose(api, theirs, Role.AGENT, code="sale")
    assert refused.status == 403
    assert refused.content_type == "application/problem+json"
    assert "not a call of agent" in (await refused.json())["detail"]
    assert (await record(api, rid))["disposition"] == "answered"  # untouched
    assert (await dispose(api, mine, Role.AGENT, code="sale")).status == 201


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.VIEWER])
async def test_reviewers_and_viewers_may_not_dispose(api: Api, role: Role) -> None:
    cid = await campaign(api)
    aid, _ = await call(api, cid, "ann")
    assert (await dispose(api, aid, role, code="sale")).status == 403


async def test_a_second_disposition_is_refused_saying_why(api: Api) -> None:
    cid = await campaign(api)
    aid, rid = await call(api, cid, "ann")
    assert (await dispose(api, aid, code="sale")).status == 201
    again = await dispose(api, aid, Role.ADMIN, code="dnc")
    assert again.status == 409
    problem = await again.json()
    assert problem["reason"] == "already_disposed"
    assert "'sale'" in problem["detail"]
    assert (await record(api, rid))["status"] == "done"  # the dnc step never ran


async def test_a_call_that_reached_no_agent_has_nothing_to_dispose(api: Api) -> None:
    cid = await campaign(api)
    aid, _ = await call(api, cid, None)
    refused = await dispose(api, aid, code="sale")
    assert refused.status == 409
    problem = await refused.json()
    assert problem["reason"] == "no_agent"
    assert "never reached an agent" in problem["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "refund"}, "code"),  # not a code of the campaign
        ({"code": "Sale!"}, "code"),  # not a code at all
        ({"code": "callback"}, "callback_at"),  # a callback needs its time
        ({"code": "callback", "callback_at": "2020-01-01T00:00:00+00:00"}, "callback_at"),
        ({"code": "sale", "callback_at": "2099-01-01T00:00:00+00:00"}, "callback_at"),
        ({"code": "sale", "callback_scope": "team"}, "callback_scope"),
    ],
)
async def test_bad_requests_are_422_naming_the_field(
    api: Api, body: dict[str, Any], field: str
) -> None:
    cid = await campaign(api)
    aid, rid = await call(api, cid, "ann")
    refused = await dispose(api, aid, **body)
    assert refused.status == 422, await refused.text()
    assert (await refused.json())["field"] == field
    assert (await record(api, rid))["disposition"] == "answered"  # nothing written


async def test_unknown_attempts_are_404(api: Api) -> None:
    assert (await dispose(api, "0" * 32, code="sale")).status == 404
    assert (await dispose(api, "not-hex", code="sale")).status == 404


async def test_a_disposition_during_the_call_is_applied_when_it_is_settled(api: Api) -> None:
    cid = await campaign(api)
    aid, rid = await call(api, cid, "ann", settle=False)
    response = await dispose(api, aid, code="later")
    assert response.status == 201
    body = await response.json()
    assert (body["applied"], body["record_status"]) == (False, None)
    assert (await record(api, rid))["status"] == "dialing"  # never dialable while talking
    await settle_call(api, aid, "ann")
    r = await record(api, rid)
    assert (r["status"], r["disposition"], r["attempts"]) == ("retry", "later", 1)
    assert near(r["next_attempt_at"], datetime.now(UTC) + timedelta(hours=1))
    assert r["queued"]


async def test_a_dnc_during_the_call_reaches_the_list_at_the_settle(api: Api) -> None:
    cid = await campaign(api)
    aid, rid = await call(api, cid, "ann", settle=False)
    assert (await dispose(api, aid, code="dnc")).status == 201
    assert not (await record(api, rid))["on_dnc"]
    await settle_call(api, aid, "ann")
    r = await record(api, rid)
    assert (r["status"], r["on_dnc"]) == ("dnc", True)
    async with api.engine.begin() as conn:  # the list is shared by the session's other tests
        await conn.execute(text("DELETE FROM dnc_numbers WHERE phone = :p"), {"p": r["phone"]})


async def test_reset_filters_and_export_see_dispositions(api: Api) -> None:
    cid = await campaign(api, phones=3)
    sold, sold_rid = await call(api, cid, "ann")
    other, _ = await call(api, cid, "bob")
    await dispose(api, sold, code="sale")
    await dispose(api, other, code="not_interested")
    export = await api.client.get(
        f"/v1/campaigns/{cid}/records/export?format=csv", headers=api.auth(Role.REVIEWER)
    )
    assert export.status == 200
    rows = list(csv.DictReader(io.StringIO(await export.text())))
    assert sorted(r["disposition"] for r in rows) == ["", "not_interested", "sale"]
    assert (await api.op(cid, "force-complete")).status == 200
    for filters, expected in (
        ({"agent": "ann", "dispositions": ["sale", "not_interested"]}, 1),  # the sale
        ({"reason": "disposition not_interested"}, 1),
        ({"dispositions": ["sale"]}, 0),  # reset already: dialable again, no disposition
    ):
        reset = await api.op(cid, "reset", **filters)
        assert reset.status == 200, await reset.text()
        assert (await reset.json())["reset"] == expected, filters
        if "agent" in filters:
            assert (await record(api, sold_rid))["status"] == "new"
            assert (await record(api, sold_rid))["disposition"] is None
        assert (await api.op(cid, "force-complete")).status == 200


async def test_campaign_dispositions_are_validated(api: Api) -> None:
    bad = [
        {"codes": [{"code": "Sale", "step": "done"}]},
        {"codes": [{"code": "sale", "step": "refund"}]},
        {"codes": [{"code": "sale", "step": "done"}, {"code": "sale", "step": "dnc"}]},
        {"codes": [{"code": "later", "step": "retry"}]},  # a retry needs its delay
        {"codes": [{"code": "sale", "step": "done"}], "default_code": "dnc"},
        {"codes": []},
        {"wrapup_limit_s": -1},
    ]
    for document in bad:
        response = await api.client.post(
            "/v1/campaigns",
            json={"name": f"c-{uuid.uuid4().hex[:8]}", "dispositions": document},
            headers=api.auth(Role.OPS),
        )
        assert response.status == 422, document
        assert (await response.json())["field"].startswith("dispositions"), document
    c = await api.campaign()
    assert c["dispositions"] == {}  # the defaults
    patched = await api.client.patch(
        f"/v1/campaigns/{c['id']}", json={"dispositions": CODES}, headers=api.auth(Role.OPS)
    )
    assert patched.status == 200
    assert (await patched.json())["dispositions"] == CODES


async def test_default_codes_apply_when_a_campaign_names_none(api: Api) -> None:
    c = await api.campaign(callee_window_start=0, callee_window_end=1440)
    cid = int(c["id"])
    await api.client.post(
        f"/v1/campaigns/{cid}/records",
        data=b"phone\n+19175559177\n",
        headers={**api.auth(Role.OPS), "Content-Type": "text/csv"},
    )
    aid, rid = await call(api, cid, "ann")
    assert (await dispose(api, aid, code="later")).status == 422  # not a default code
    assert (await dispose(api, aid, code="wrong_number")).status == 201
    assert (await record(api, rid))["disposition"] == "wrong_number"


async def test_agent_tokens_need_an_agent_and_only_they_take_one(api: Api) -> None:
    admin = api.auth(Role.ADMIN)
    tokens = "/v1/tokens"
    post = api.client.post
    missing = await post(tokens, json={"name": "a1", "role": "agent"}, headers=admin)
    assert missing.status == 422
    assert (await missing.json())["field"] == "agent_id"
    stray = await post(
        tokens, json={"name": "v1", "role": "viewer", "agent_id": "x"}, headers=admin
    )
    assert stray.status == 422
    assert (await stray.json())["field"] == "agent_id"
    made = await post(
        tokens, json={"name": "a2", "role": "agent", "agent_id": "cat"}, headers=admin
    )
    assert made.status == 201
    body = await made.json()
    assert body["agent_id"] == "cat"
    cid = await campaign(api)
    aid, _ = await call(api, cid, "cat")
    mine = {"Authorization": f"Bearer {body['token']}"}
    me = await (await api.client.get("/v1/me", headers=mine)).json()
    assert (me["role"], me["agent_id"]) == ("agent", "cat")
    assert (await api.client.get(f"/v1/campaigns/{cid}", headers=mine)).status == 403
    ok = await api.client.post(f"/v1/attempts/{aid}/disposition", json={"code": "sale"},
                               headers=mine)  # fmt: skip
    assert ok.status == 201
    assert (await ok.json())["disposed_by"] == "a2"


async def test_the_operation_and_its_shapes_are_in_the_openapi_document(api: Api) -> None:
    spec = await (await api.client.get("/v1/openapi.json")).json()
    op = spec["paths"]["/attempts/{id}/disposition"]["post"]
    assert op["x-permission"] == "dispose"
    assert {"201", "403", "404", "409", "422"} <= set(op["responses"])
    (param,) = op["parameters"]
    assert (param["name"], param["in"], param["schema"]["type"]) == ("id", "path", "string")
    schemas = spec["components"]["schemas"]
    assert {"Dispositions", "DispositionCode"} <= set(schemas)
    create = spec["paths"]["/campaigns"]["post"]["requestBody"]["content"]["application/json"]
    body = create["schema"]
    if "$ref" in body:  # a shared component
        body = schemas[body["$ref"].rsplit("/", 1)[1]]
    assert body["properties"]["dispositions"] == {"$ref": "#/components/schemas/Dispositions"}
    codes = schemas["Dispositions"]["properties"]["codes"]
    assert codes["items"] == {"$ref": "#/components/schemas/DispositionCode"}


async def test_an_agent_only_callback_is_leased_for_its_free_agent_or_after_the_grace(
    api: Api,
) -> None:
    cid = await campaign(api)
    async with api.engine.begin() as conn:
        await conn.execute(
            text("UPDATE campaigns SET dispositions = CAST(:d AS jsonb) WHERE id = :cid"),
            {"d": '{"codes": [{"code": "callback", "step": "callback"}], '
                  '"callback_grace_s": 600}', "cid": cid},
        )  # fmt: skip
    aid, rid = await call(api, cid, "ann")
    at = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    done = await dispose(api, aid, code="callback", callback_at=at.isoformat(),
                         callback_scope="agent")  # fmt: skip
    assert done.status == 201

    async def lease(now: datetime, free: set[str]) -> list[tuple[int, str | None]]:
        leased = await lease_records(
            api.engine, cid, "gw-cb", 5, now, 1, free_agents=lambda q: free
        )
        return [(r.id, r.callback_agent) for r in leased]

    assert await lease(at - timedelta(seconds=1), {"ann"}) == []  # not due
    assert await lease(at, set()) == []  # due, ann not free
    assert await lease(at, {"bob"}) == []  # someone else is free: kept for ann
    assert await lease(at + timedelta(seconds=599), {"bob"}) == []
    # ann is free: leased for ann only (the call is dialled to ann, not the queue)
    assert await lease(at + timedelta(seconds=5), {"ann", "bob"}) == [(rid, "ann")]
    later = at + timedelta(seconds=600)  # the lease above expired (1 s)
    assert await lease(later, set()) == [(rid, None)]  # the grace is over: anyone
    assert await lease(later + timedelta(seconds=2), {"ann"}) == [(rid, None)]  # anyone still


async def test_a_campaign_waits_for_its_held_wrapups_before_completing(api: Api) -> None:
    cid = await campaign(api)
    async with api.engine.begin() as conn:
        await conn.execute(
            text("UPDATE campaigns SET dispositions = CAST(:d AS jsonb) WHERE id = :cid"),
            {"d": '{"wrapup_limit_s": 600}', "cid": cid},
        )
    aid, _ = await call(api, cid, "ann")  # its only record: done (answered) for now
    assert (await api.op(cid, "start")).status == 200
    assert not await records.complete_if_exhausted(api.engine, "pacing", cid)  # in wrap-up
    at = datetime.now(UTC) + timedelta(hours=1)
    assert (await dispose(api, aid, code="callback", callback_at=at.isoformat())).status == 201
    async with api.engine.begin() as conn:  # the callback is kept past max_attempts
        await conn.execute(text("UPDATE records SET attempts = 99 WHERE campaign_id = :c"),
                           {"c": cid})  # fmt: skip
    assert not await records.complete_if_exhausted(api.engine, "pacing", cid)
    assert (await api.op(cid, "stop")).status == 200


async def test_the_service_wrapup_limit_counts_for_campaigns_without_one(api: Api) -> None:
    cid = await campaign(api)  # CODES only: no wrapup_limit_s of its own
    await call(api, cid, "ann")
    assert (await api.op(cid, "start")).status == 200
    assert not await records.complete_if_exhausted(api.engine, "pacing", cid, 600)
    assert await records.complete_if_exhausted(api.engine, "pacing", cid)  # no limit: done
