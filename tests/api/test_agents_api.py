"""Agent control over HTTP: routes, string path parameters, refusals as problems, the audit log.

The port is the in-memory :class:`gateway.campaigns.agents.StaticAgents`; the same operations
against the simulated Asterisk through the real port are in ``tests/e2e/test_agent_control.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from gateway.db.models import Role
from tests.api.conftest import Api

pytestmark = pytest.mark.db

_AUDIT = text(
    "SELECT actor, action, after FROM audit_log WHERE entity = 'campaign' AND entity_id = :eid "
    "AND action LIKE 'agent.%' ORDER BY id"
)


async def _audit(api: Api, cid: int) -> list[tuple[str, str, Any]]:
    async with api.engine.connect() as conn:
        rows = (await conn.execute(_AUDIT, {"eid": str(cid)})).all()
    return [(r.actor, r.action, r.after) for r in rows]


async def test_login_pause_unpause_logout_each_audited(api: Api) -> None:
    cid = (await api.campaign(queue="sales"))["id"]
    h = api.auth(Role.OPS)
    base = f"/v1/campaigns/{cid}/agents"
    login = await api.client.post(
        base, json={"interface": "PJSIP/1001", "name": "a1001"}, headers=h
    )
    assert login.status == 201, await login.text()
    assert (await login.json())["servers"] == ["static"]
    listed = await (await api.client.get(base, headers=api.auth(Role.VIEWER))).json()
    assert [(a["interface"], a["state"]) for a in listed["agents"]] == [("PJSIP/1001", "free")]
    paused = await api.client.post(f"{base}/a1001/pause", json={"reason": "lunch"}, headers=h)
    assert paused.status == 200
    listed = await (await api.client.get(base, headers=h)).json()
    assert [(a["state"], a["paused_reason"]) for a in listed["agents"]] == [("paused", "lunch")]
    assert (await api.client.post(f"{base}/a1001/unpause", headers=h)).status == 200
    gone = await api.client.delete(f"{base}/PJSIP%2F1001", headers=h)  # by interface, encoded
    assert gone.status == 200, await gone.text()
    assert (await (await api.client.get(base, headers=h)).json())["agents"] == []
    entries = await _audit(api, cid)
    assert [a for _, a, _ in entries] == ["agent.login", "agent.pause", "agent.unpause",
                                          "agent.logout"]  # fmt: skip
    assert {actor for actor, _, _ in entries} == {api.names[Role.OPS]}
    assert entries[1][2]["reason"] == "lunch"


async def test_refusals_are_problems_and_audited(api: Api) -> None:
    cid = (await api.campaign(queue="sales"))["id"]
    h = api.auth(Role.OPS)
    base = f"/v1/campaigns/{cid}/agents"
    body = {"interface": "PJSIP/1002", "name": "a1002"}
    assert (await api.client.post(base, json=body, headers=h)).status == 201
    again = await api.client.post(base, json=body, headers=h)
    assert again.status == 409
    assert again.content_type == "application/problem+json"
    missing = await api.client.post(f"{base}/nobody/pause", json={"reason": "x"}, headers=h)
    assert missing.status == 404
    assert "not logged in" in (await missing.json())["detail"]
    api.agents.down = "the Asterisk link is down: pbx1 AMI link is backoff"
    down = await api.client.post(f"{base}/a1002/unpause", headers=h)
    assert down.status == 503
    assert "pbx1" in (await down.json())["detail"]
    assert down.headers["Retry-After"]
    refused = [after for _, action, after in await _audit(api, cid) if action == "agent.refused"]
    assert [r["action"] for r in refused] == ["login", "pause", "unpause"]


@pytest.mark.parametrize(
    ("path_agent", "detail"),
    [
        ("a%0D%0AAction:%20Originate", "not a valid name"),  # CR LF decoded: refused
        ("a%20b", "not a valid name"),  # a space: no name has one
        ("a%2Cb", "not a valid name"),  # an Asterisk separator
        ("%24%7BEXTEN%7D", "Not Found"),  # ${EXTEN}: braces match no route at all
    ],
)
async def test_path_agent_held_to_the_strict_name_grammar(
    api: Api, path_agent: str, detail: str
) -> None:
    cid = (await api.campaign(queue="sales"))["id"]
    response = await api.client.delete(
        f"/v1/campaigns/{cid}/agents/{path_agent}", headers=api.auth(Role.OPS)
    )
    assert response.status == 404
    assert response.content_type == "application/problem+json"
    assert detail in (await response.json())["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"interface": "PJSIP/1\r\nAction: Originate", "name": "a"}, "interface"),
        ({"interface": "PJSIP/1", "name": "Agent 1"}, "name"),
        ({"interface": "PJSIP/1,2", "name": "a"}, "interface"),
    ],
)
async def test_login_values_refused_with_the_field(
    api: Api, body: dict[str, str], field: str
) -> None:
    cid = (await api.campaign(queue="sales"))["id"]
    response = await api.client.post(
        f"/v1/campaigns/{cid}/agents", json=body, headers=api.auth(Role.OPS)
    )
    assert response.status == 422
    assert (await response.json())["field"] == field
    assert api.agents.members("sales") == []


async def test_pause_reason_is_a_code(api: Api) -> None:
    cid = (await api.campaign(queue="sales"))["id"]
    h = api.auth(Role.OPS)
    base = f"/v1/campaigns/{cid}/agents"
    await api.client.post(base, json={"interface": "PJSIP/7", "name": "a7"}, headers=h)
    bad = await api.client.post(f"{base}/a7/pause", json={"reason": "out to lunch"}, headers=h)
    assert bad.status == 422
    assert (await bad.json())["field"] == "reason"
    assert api.agents.members("sales")[0].state == "free"


async def test_reviewer_and_viewer_may_list_but_not_change(api: Api) -> None:
    cid = (await api.campaign(queue="sales"))["id"]
    base = f"/v1/campaigns/{cid}/agents"
    for role in (Role.REVIEWER, Role.VIEWER):
        assert (await api.client.get(base, headers=api.auth(role))).status == 200
        refused = await api.client.post(
            base, json={"interface": "PJSIP/9", "name": "a9"}, headers=api.auth(role)
        )
        assert refused.status == 403


async def test_skill_queues_of_the_campaign_and_no_other(api: Api) -> None:
    pacing = {"skill_queues": {"spanish": "sales-es"}}
    cid = (await api.campaign(queue="sales", pacing=pacing))["id"]
    h = api.auth(Role.OPS)
    base = f"/v1/campaigns/{cid}/agents"
    es = {"interface": "PJSIP/901", "name": "a901", "queue": "sales-es"}
    login = await api.client.post(base, json=es, headers=h)
    assert login.status == 201, await login.text()
    assert (await login.json())["queue"] == "sales-es"
    own = await api.client.post(base, json={"interface": "PJSIP/101", "name": "a101"}, headers=h)
    assert (await own.json())["queue"] == "sales"
    other = await api.client.post(base, json={**es, "queue": "support"}, headers=h)
    assert other.status == 409  # well formed; not one of this campaign's queues
    assert (await other.json())["field"] == "queue"
    listed = await (await api.client.get(base, headers=h)).json()
    assert [(a["queue"], a["name"]) for a in listed["agents"]] == [
        ("sales", "a101"), ("sales-es", "a901")]  # fmt: skip
    wrong = await api.client.post(f"{base}/a901/pause", json={"reason": "lunch"}, headers=h)
    assert wrong.status == 404  # a901 is not in the campaign's own queue
    paused = await api.client.post(
        f"{base}/a901/pause?queue=sales-es", json={"reason": "lunch"}, headers=h
    )
    assert paused.status == 200
    assert api.agents.members("sales-es")[0].state == "paused"


async def test_a_bad_skill_mapping_is_refused(api: Api) -> None:
    response = await api.client.post(
        "/v1/campaigns",
        json={"name": "bad-skills", "pacing": {"skill_queues": {"spanish": "a,b"}}},
        headers=api.auth(Role.OPS),
    )
    assert response.status == 422
    assert (await response.json())["field"] == "pacing.skill_queues"


async def test_an_agent_token_pauses_and_unpauses_its_own_agent(api: Api) -> None:
    cid = (await api.campaign(queue="sales"))["id"]
    base = f"/v1/campaigns/{cid}/agents"
    me = api.names[Role.AGENT]  # the agent token is bound to the agent id of its name
    login = {"interface": "PJSIP/2001", "name": me}
    assert (await api.client.post(base, json=login, headers=api.auth(Role.OPS))).status == 201
    h = api.auth(Role.AGENT)
    paused = await api.client.post(f"{base}/{me}/pause", json={"reason": "break"}, headers=h)
    assert paused.status == 200, await paused.text()
    assert [(a.state, a.paused_reason) for a in api.agents.members("sales")] == [
        ("paused", "break")]  # fmt: skip
    assert (await api.client.post(f"{base}/{me}/unpause", headers=h)).status == 200
    assert [a.state for a in api.agents.members("sales")] == ["free"]
    entries = await _audit(api, cid)
    assert [(actor, action) for actor, action, _ in entries][1:] == [
        (me, "agent.pause"), (me, "agent.unpause")]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/other/pause", {"reason": "break"}),  # another agent
        ("POST", "/other/unpause", None),
        ("POST", "/PJSIP%2F2002/pause", {"reason": "break"}),  # itself, but by interface
        ("DELETE", "/other", None),  # logout: not for agent tokens
        ("DELETE", "/SELF", None),  # not even its own
        ("POST", "", {"interface": "PJSIP/2009", "name": "SELF"}),  # login, even as itself
    ],
)
async def test_an_agent_token_may_not_touch_another_agent_or_log_in_and_out(
    api: Api, method: str, path: str, body: dict[str, str] | None
) -> None:
    cid = (await api.campaign(queue="sales"))["id"]
    base = f"/v1/campaigns/{cid}/agents"
    me = api.names[Role.AGENT]
    ops = api.auth(Role.OPS)
    for iface, name in (("PJSIP/2002", me), ("PJSIP/2003", "other")):
        login = {"interface": iface, "name": name}
        assert (await api.client.post(base, json=login, headers=ops)).status == 201
    before = [(a.name, a.state) for a in api.agents.members("sales")]
    if body is not None and body.get("name") == "SELF":
        body = {**body, "name": me}
    url = base + path.replace("SELF", me)
    response = await api.client.request(method, url, json=body, headers=api.auth(Role.AGENT))
    assert response.status == 403
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    assert problem["status"] == 403
    assert [(a.name, a.state) for a in api.agents.members("sales")] == before  # nothing changed
    # ops and admin are unchanged: they may act on any agent
    paused = await api.client.post(f"{base}/other/pause", json={"reason": "x"}, headers=ops)
    assert paused.status == 200
