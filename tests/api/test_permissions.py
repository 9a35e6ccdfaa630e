"""The permission matrix, role by role, over HTTP: allowed gets through, refused is a 403."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from control_api.auth import MATRIX, Permission, Principal, TokenCache, may_resume
from gateway.db.models import Role
from tests.api.conftest import BOOTSTRAP, Api

pytestmark = pytest.mark.db

A, O, R, V = Role.ADMIN, Role.OPS, Role.REVIEWER, Role.VIEWER  # noqa: E741
G = Role.AGENT
EXPECTED = {
    Permission.READ: {A, O, R, V},
    Permission.CAMPAIGN_WRITE: {A, O},
    Permission.CAMPAIGN_RUN: {A, O},
    Permission.PAUSE: {A, O, R},
    Permission.RESUME: {A, O, R},
    Permission.RECORDS_WRITE: {A, O},
    Permission.RECORDS_READ: {A, O, R},
    Permission.NUMBERS_WRITE: {A, O},
    Permission.WEBHOOKS_WRITE: {A},
    Permission.TOKENS_MANAGE: {A},
    Permission.AGENTS_CONTROL: {A, O},
    Permission.AGENTS_PAUSE: {A, O, G},
    Permission.DISPOSE: {A, O, G},
    Permission.SELF: {A, O, R, V, G},
    Permission.WATCH_AGENT: {A, O, R, V, G},
}


def test_matrix_is_the_documented_one() -> None:
    assert {p: set(r) for p, r in MATRIX.items()} == EXPECTED


@pytest.mark.parametrize(
    ("role", "owner", "allowed"),
    [
        (A, "someone", True),
        (O, "me", True),
        (O, "someone", False),
        (R, "me", True),
        (V, "me", False),
        (O, "", False),
    ],
)
def test_only_the_resume_owner_or_admin_resumes(role: Role, owner: str, allowed: bool) -> None:
    assert may_resume(Principal("me", role), owner) is allowed


async def _call(api: Api, permission: Permission, role: Role) -> int:
    c = await api.campaign()
    cid = c["id"]
    h = api.auth(role)
    get, post = api.client.get, api.client.post
    calls: dict[Permission, Any] = {
        Permission.READ: lambda: get(f"/v1/campaigns/{cid}", headers=h),
        Permission.CAMPAIGN_WRITE: lambda: api.client.patch(
            f"/v1/campaigns/{cid}", json={"queue": "q1"}, headers=h
        ),
        Permission.CAMPAIGN_RUN: lambda: post(f"/v1/campaigns/{cid}/start", headers=h),
        Permission.PAUSE: lambda: post(
            f"/v1/campaigns/{cid}/pause", json={"category": "other", "text": "t"}, headers=h
        ),
        Permission.RESUME: lambda: post(f"/v1/campaigns/{cid}/resume", json={}, headers=h),
        Permission.RECORDS_WRITE: lambda: post(
            f"/v1/campaigns/{cid}/records",
            data=b"phone\n+12125550199\n",
            headers={**h, "Content-Type": "text/csv"},
        ),
        Permission.RECORDS_READ: lambda: get(f"/v1/campaigns/{cid}/records/export", headers=h),
        Permission.NUMBERS_WRITE: lambda: api.client.put(
            f"/v1/campaigns/{cid}/numbers", json={"number_ids": []}, headers=h
        ),
        Permission.WEBHOOKS_WRITE: lambda: post(
            "/v1/webhooks", json={"url": "http://127.0.0.1:9/x", "campaign_id": cid}, headers=h
        ),
        Permission.TOKENS_MANAGE: lambda: get("/v1/tokens", headers=h),
        Permission.AGENTS_CONTROL: lambda: post(
            f"/v1/campaigns/{cid}/agents",
            json={"interface": "PJSIP/1001", "name": "agent1001"},
            headers=h,
        ),
        # the agent token's own agent (past the role check: 404, not logged in to the queue)
        Permission.AGENTS_PAUSE: lambda: post(
            f"/v1/campaigns/{cid}/agents/{api.names[G]}/pause",
            json={"reason": "break"},
            headers=h,
        ),
        # past the role check, an attempt that does not exist is a 404
        Permission.DISPOSE: lambda: post(
            "/v1/attempts/0123456789abcdef/disposition", json={"code": "sale"}, headers=h
        ),
        Permission.SELF: lambda: get("/v1/me", headers=h),
        # the agent token's own agent (past the role check: 503, no hub in these tests)
        Permission.WATCH_AGENT: lambda: get(f"/v1/agents/{api.names[G]}/events", headers=h),
    }
    if permission in (Permission.PAUSE, Permission.RESUME):
        await api.op(cid, "start", Role.ADMIN)
    if permission is Permission.RESUME:
        await api.op(cid, "pause", Role.ADMIN, category="other", text="t")
    response = await calls[permission]()
    return int(response.status)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("permission", list(Permission))
async def test_role_matrix(api: Api, permission: Permission, role: Role) -> None:
    status = await _call(api, permission, role)
    if role in EXPECTED[permission]:
        # the resume owner is the ops token: a reviewer passes the role check, not the owner check
        expected_refusal = permission is Permission.RESUME and role is R
        assert (status == 403) is expected_refusal, status
    else:
        assert status == 403


async def test_no_token_unknown_token_and_bootstrap(api: Api) -> None:
    missing = await api.client.get("/v1/campaigns")
    assert missing.status == 401
    assert missing.content_type == "application/problem+json"
    wrong = await api.client.get("/v1/campaigns", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 401
    boot = await api.client.post(
        "/v1/tokens",
        json={"name": "first-admin", "role": "admin"},
        headers={"Authorization": f"Bearer {BOOTSTRAP}"},
    )
    token = (await boot.json())["token"]
    mine = await api.client.get("/v1/tokens", headers={"Authorization": f"Bearer {token}"})
    assert mine.status == 200
    listed = (await mine.json())["tokens"]
    assert all("token" not in t and "token_sha256" not in t for t in listed)


async def test_revoked_token_is_refused(api: Api) -> None:
    created = await api.client.post(
        "/v1/tokens", json={"name": "temp", "role": "viewer"}, headers=api.auth(A)
    )
    token = (await created.json())["token"]
    mine = {"Authorization": f"Bearer {token}"}
    assert (await api.client.get("/v1/campaigns", headers=mine)).status == 200  # now cached
    listed = (await (await api.client.get("/v1/tokens", headers=api.auth(A))).json())["tokens"]
    token_id = max(t["id"] for t in listed if t["name"] == "temp")
    assert (await api.client.delete(f"/v1/tokens/{token_id}", headers=api.auth(A))).status == 204
    again = await api.client.get("/v1/campaigns", headers=mine)
    assert again.status == 401


def test_a_lookup_begun_before_a_revocation_caches_nothing() -> None:
    cache = TokenCache()
    seen = cache.generation
    cache.clear()  # a token was revoked while the look-up read the database
    cache.put("Bearer t", Principal("p", Role.VIEWER), seen)
    assert cache.get("Bearer t") is None
    cache.put("Bearer t", Principal("p", Role.VIEWER), cache.generation)
    assert cache.get("Bearer t") == Principal("p", Role.VIEWER)


def test_the_readme_role_table_is_the_matrix() -> None:
    """README's "Roles" table says exactly what :data:`MATRIX` grants ("own calls": held, limited
    to the agent token's own agent)."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    lines = readme.split("| permission | admin | ops | reviewer | viewer | agent |", 1)[1]
    rows = [r for r in lines.split("\n\n", 1)[0].splitlines()[2:] if r.startswith("|")]
    roles = [A, O, R, V, G]
    documented: dict[str, set[Role]] = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        names = cells[0].split(" (", 1)[0]
        held = {role for role, cell in zip(roles, cells[1:], strict=True) if cell}
        for name in names.split(", "):
            documented[name] = held
    assert documented == {str(p): set(r) for p, r in MATRIX.items()}
