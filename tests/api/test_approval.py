"""One approval path back to dialing after a pause, over HTTP with tokens of each role.

Every route from a paused campaign to a running one (resume; stop then start; stop, reset, then
start; an owner change then resume) needs the resume owner or an admin, and the checklist. A
refusal is 403 and audited; the campaign is left as it was.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from gateway.campaigns.tokens import create_token
from gateway.db.models import Role
from tests.api.conftest import Api

pytestmark = pytest.mark.db

Route = Callable[[Api, int, dict[str, str]], Awaitable[Any]]


async def _post(api: Api, cid: int, name: str, auth: dict[str, str], **body: Any) -> Any:
    return await api.client.post(f"/v1/campaigns/{cid}/{name}", json=body, headers=auth)


async def via_resume(api: Api, cid: int, auth: dict[str, str]) -> Any:
    return await _post(api, cid, "resume", auth)


async def via_stop_start(api: Api, cid: int, auth: dict[str, str]) -> Any:
    assert (await api.op(cid, "stop")).status == 200  # the owner's colleague may stop
    return await _post(api, cid, "start", auth)


async def via_stop_reset_start(api: Api, cid: int, auth: dict[str, str]) -> Any:
    assert (await api.op(cid, "stop")).status == 200
    assert (await api.op(cid, "reset", reason="again")).status == 200
    return await _post(api, cid, "start", auth)


async def via_owner_change(api: Api, cid: int, auth: dict[str, str]) -> Any:
    me = (await (await api.client.get("/v1/me", headers=auth)).json())["name"]
    changed = await api.client.patch(
        f"/v1/campaigns/{cid}", json={"resume_owner": me}, headers=auth
    )
    if changed.status != 200:
        return changed
    return await _post(api, cid, "resume", auth)


ROUTES = {
    "resume": via_resume,
    "stop-start": via_stop_start,
    "stop-reset-start": via_stop_reset_start,
    "owner-change": via_owner_change,
}


async def _other_ops(api: Api) -> dict[str, str]:
    async with api.engine.begin() as conn:
        token = await create_token(conn, f"ops2-{uuid.uuid4().hex[:8]}", Role.OPS, "tests")
    return {"Authorization": f"Bearer {token}"}


async def _paused(api: Api) -> int:
    c = await api.campaign()
    assert (await api.op(c["id"], "start")).status == 200
    assert (await api.op(c["id"], "pause", category="other", text="check")).status == 200
    return int(c["id"])


async def _state(api: Api, cid: int) -> dict[str, Any]:
    got: dict[str, Any] = await (
        await api.client.get(f"/v1/campaigns/{cid}", headers=api.auth(Role.VIEWER))
    ).json()
    return got


async def _audit(api: Api, cid: int) -> list[dict[str, Any]]:
    response = await api.client.get(
        f"/v1/audit?entity=campaign&entity_id={cid}", headers=api.auth(Role.VIEWER)
    )
    entries: list[dict[str, Any]] = (await response.json())["entries"]
    return entries


@pytest.mark.parametrize("route", ROUTES)
async def test_another_ops_token_cannot_restart_a_paused_campaign(api: Api, route: str) -> None:
    cid = await _paused(api)
    other = await _other_ops(api)
    response = await ROUTES[route](api, cid, other)
    assert response.status == 403, await response.text()
    problem = await response.json()
    assert problem["resume_owner"] == api.names[Role.OPS]
    campaign = await _state(api, cid)
    assert campaign["state"] != "running"
    assert campaign["resume_owner"] == api.names[Role.OPS]
    refused = [e for e in await _audit(api, cid) if e["action"] == "campaign.refused"]
    assert len(refused) == 1
    assert refused[0]["after"]["resume_owner"] == api.names[Role.OPS]
    assert refused[0]["actor"] != api.names[Role.OPS]


@pytest.mark.parametrize("role", [Role.OPS, Role.ADMIN])
@pytest.mark.parametrize("route", ROUTES)
async def test_the_owner_or_an_admin_restarts_through_the_checklist(
    api: Api, route: str, role: Role
) -> None:
    cid = await _paused(api)
    auth = api.auth(role)
    response = await ROUTES[route](api, cid, auth)
    assert response.status == 200, await response.text()
    assert (await response.json())["state"] == "running"
    history = await (
        await api.client.get(f"/v1/campaigns/{cid}/pauses", headers=api.auth(Role.VIEWER))
    ).json()
    last = history["events"][0]
    assert last["resumed_by"] == api.names[role]
    assert last["checklist"]["agents_logged_in"]["ok"] is True
    actions = [e["action"] for e in await _audit(api, cid)]
    assert actions[0] in ("campaign.start", "campaign.resume")
    assert "campaign.refused" not in actions


@pytest.mark.parametrize("route", ["stop-start", "stop-reset-start"])
async def test_a_start_after_a_pause_runs_the_checklist(api: Api, route: str) -> None:
    cid = await _paused(api)
    api.runtime.agents = 0
    response = await ROUTES[route](api, cid, api.auth(Role.OPS))
    assert response.status == 409
    problem = await response.json()
    assert problem["checklist"]["agents_logged_in"] == {"ok": False, "count": 0}
    assert (await _state(api, cid))["state"] != "running"


async def test_a_reviewer_who_may_resume_may_not_start(api: Api) -> None:
    cid = await _paused(api)
    assert (await api.op(cid, "stop")).status == 200
    response = await _post(api, cid, "start", api.auth(Role.REVIEWER))
    assert response.status == 403


async def test_without_a_pause_start_and_owner_changes_are_as_before(api: Api) -> None:
    c = await api.campaign()
    other = await _other_ops(api)
    me = (await (await api.client.get("/v1/me", headers=other)).json())["name"]
    changed = await api.client.patch(
        f"/v1/campaigns/{c['id']}", json={"resume_owner": me}, headers=other
    )
    assert changed.status == 200
    assert (await _post(api, c["id"], "start", other)).status == 200
    assert (await _post(api, c["id"], "stop", other)).status == 200
    assert (await _post(api, c["id"], "start", other)).status == 200


async def test_an_admin_hands_a_paused_campaign_to_a_new_owner(api: Api) -> None:
    cid = await _paused(api)
    other = await _other_ops(api)
    me = (await (await api.client.get("/v1/me", headers=other)).json())["name"]
    changed = await api.client.patch(
        f"/v1/campaigns/{cid}", json={"resume_owner": me}, headers=api.auth(Role.ADMIN)
    )
    assert changed.status == 200
    assert (await api.op(cid, "resume")).status == 403  # the former owner no longer approves
    assert (await _post(api, cid, "resume", other)).status == 200
    update = next(e for e in await _audit(api, cid) if e["action"] == "campaign.update")
    assert update["actor"] == api.names[Role.ADMIN]
    assert (update["before"]["resume_owner"], update["after"]["resume_owner"]) == (
        api.names[Role.OPS],
        me,
    )
