"""Lifecycle operations over HTTP: a refusal is a 409 problem naming state and allowed states."""

from __future__ import annotations

import pytest

from gateway.db.models import Role
from tests.api.conftest import Api

pytestmark = pytest.mark.db


async def test_start_stop_and_refusal(api: Api) -> None:
    c = await api.campaign()
    response = await api.op(c["id"], "stop")
    assert response.status == 409
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    assert problem["state"] == "ready"
    assert problem["allowed"] == ["running", "paused"]
    assert (await api.op(c["id"], "start")).status == 200
    assert api.runtime.changes[-1] == (c["id"], "running")
    stopped = await (await api.op(c["id"], "stop")).json()
    assert stopped["state"] == "stopped"
    assert stopped["version"] == c["version"] + 2


async def test_pause_needs_category_and_text(api: Api) -> None:
    c = await api.campaign()
    await api.op(c["id"], "start")
    response = await api.op(c["id"], "pause", category="timing")
    assert response.status == 422
    assert (await response.json())["field"] == "text"
    response = await api.op(c["id"], "pause", category="bad", text="x")
    assert (await response.json())["field"] == "category"
    paused = await api.op(c["id"], "pause", category="timing", text="calls outside hours")
    assert (await paused.json())["state"] == "paused"


async def test_resume_owner_checklist_and_controlled_resume(api: Api) -> None:
    c = await api.campaign()
    await api.op(c["id"], "start")
    await api.op(c["id"], "pause", Role.REVIEWER, category="call_quality", text="one-way audio")
    refused = await api.op(c["id"], "resume", Role.REVIEWER)
    assert refused.status == 403
    api.runtime.agents = 0
    failed = await api.op(c["id"], "resume")
    assert failed.status == 409
    checklist = (await failed.json())["checklist"]
    assert checklist["agents_logged_in"] == {"ok": False, "count": 0}
    assert checklist["schedule_open"]["ok"] is True
    api.runtime.agents = 3
    resumed = await api.op(
        c["id"], "resume", review_minutes=15, max_concurrent_calls=2, progressive_only=True
    )
    body = await resumed.json()
    assert resumed.status == 200, body
    assert body["state"] == "running"
    assert body["controlled_max_calls"] == 2
    assert body["controlled_progressive"] is True
    assert body["controlled_until"] is not None
    history = await (
        await api.client.get(f"/v1/campaigns/{c['id']}/pauses", headers=api.auth(Role.VIEWER))
    ).json()
    assert history["by_category"]["call_quality"] == 1
    assert history["total"] == 1
    event = history["events"][0]
    assert event["paused_by"] == api.names[Role.REVIEWER]
    assert event["resumed_by"] == api.names[Role.OPS]
    assert event["checklist"]["agents_logged_in"]["ok"] is True
    assert event["controlled"]["review_minutes"] == 15


async def test_admin_may_resume_without_being_owner(api: Api) -> None:
    c = await api.campaign()
    await api.op(c["id"], "start")
    await api.op(c["id"], "pause", category="other", text="x")
    assert (await api.op(c["id"], "resume", Role.ADMIN)).status == 200


async def test_force_complete_and_reset(api: Api) -> None:
    c = await api.campaign()
    csv = b"phone,name\n+12125550101,A\n+12125550102,B\n"
    up = await api.client.post(
        f"/v1/campaigns/{c['id']}/records",
        data=csv,
        headers={**api.auth(Role.OPS), "Content-Type": "text/csv"},
    )
    assert (await up.json())["added"] == 2
    done = await (await api.op(c["id"], "force-complete")).json()
    assert done["completed"] == 2
    assert done["campaign"]["state"] == "completed"
    assert (await api.op(c["id"], "force-complete")).status == 409
    reset = await (await api.op(c["id"], "reset", reason="force completed")).json()
    assert reset["reset"] == 2
    assert reset["campaign"]["state"] == "ready"
    status = await (
        await api.client.get(f"/v1/campaigns/{c['id']}/status", headers=api.auth(Role.VIEWER))
    ).json()
    assert status["records"]["new"] == 2


async def test_delete_records_needs_the_count(api: Api) -> None:
    c = await api.campaign()
    csv = b"phone\n+12125550103\n"
    await api.client.post(
        f"/v1/campaigns/{c['id']}/records",
        data=csv,
        headers={**api.auth(Role.OPS), "Content-Type": "text/csv"},
    )
    url = f"/v1/campaigns/{c['id']}/records"
    first = await api.client.delete(url, headers=api.auth(Role.OPS))
    assert first.status == 409
    assert (await first.json())["record_count"] == 1
    ok = await api.client.delete(url + "?confirm=1", headers=api.auth(Role.OPS))
    assert (await ok.json())["deleted"] == 1


async def test_audit_log_records_changes(api: Api) -> None:
    c = await api.campaign()
    await api.op(c["id"], "start")
    response = await api.client.get(
        f"/v1/audit?entity=campaign&entity_id={c['id']}", headers=api.auth(Role.VIEWER)
    )
    entries = (await response.json())["entries"]
    assert [e["action"] for e in entries] == ["campaign.start", "campaign.create"]
    assert entries[0]["before"]["state"] == "ready"
    assert entries[0]["after"]["state"] == "running"
    assert entries[0]["actor"] == api.names[Role.OPS]
