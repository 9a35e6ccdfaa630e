"""``GET /v1/me``: the caller's token name, role and permissions (what the console shows)."""

from __future__ import annotations

from control_api.auth import MATRIX
from gateway.db.models import Role
from tests.api.conftest import Api


async def test_me_names_the_token_and_its_role(api: Api) -> None:
    for role in Role:
        response = await api.client.get("/v1/me", headers=api.auth(role))
        assert response.status == 200
        body = await response.json()
        assert body["name"] == api.names[role]
        assert body["role"] == str(role)
        assert set(body["permissions"]) == {str(p) for p, roles in MATRIX.items() if role in roles}


async def test_viewer_holds_only_read(api: Api) -> None:
    body = await (await api.client.get("/v1/me", headers=api.auth(Role.VIEWER))).json()
    assert body["permissions"] == ["read", "self", "watch_agent"]
    assert body["agent_id"] is None


async def test_an_agent_token_holds_dispose_and_names_its_agent(api: Api) -> None:
    body = await (await api.client.get("/v1/me", headers=api.auth(Role.AGENT))).json()
    assert body["permissions"] == ["agents_pause", "dispose", "self", "watch_agent"]
    assert body["agent_id"] == api.names[Role.AGENT]


async def test_me_without_a_token_is_a_401_problem(api: Api) -> None:
    response = await api.client.get("/v1/me")
    assert response.status == 401
    assert response.content_type == "application/problem+json"
    assert "bearer token" in (await response.json())["detail"]


async def test_me_is_in_the_openapi_document(api: Api) -> None:
    spec = await (await api.client.get("/v1/openapi.json")).json()
    operation = spec["paths"]["/me"]["get"]
    assert "200" in operation["responses"]
    assert "401" in operation["responses"]
