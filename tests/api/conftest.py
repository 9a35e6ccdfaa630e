"""Fixtures for the control API: a real aiohttp server on port 0 over the session database."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from control_api.app import build_api
from control_api.context import ApiContext
from control_api.serving import ApiRunner
from gateway.campaigns.agents import StaticAgents
from gateway.campaigns.runtime import StaticRuntime
from gateway.campaigns.tokens import create_token
from gateway.db.models import Role
from gateway.settings import Secret

BOOTSTRAP = "bootstrap-secret-for-tests"


class ApiTestServer(TestServer):
    """A test server that serves like the product: :class:`control_api.serving.ApiRunner`."""

    async def _make_runner(self, **kwargs: Any) -> web.BaseRunner:
        return ApiRunner(self.app, **kwargs)


async def always_reachable(url: str) -> bool:
    del url
    return True


@dataclass
class Api:
    client: TestClient[web.Request, web.Application]
    runtime: StaticRuntime
    engine: AsyncEngine
    tokens: dict[Role, str]
    names: dict[Role, str]
    agents: StaticAgents = dataclasses.field(default_factory=StaticAgents)

    def auth(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    async def campaign(self, **fields: Any) -> dict[str, Any]:
        body = {
            "name": f"c-{uuid.uuid4().hex[:10]}",
            "resume_owner": self.names[Role.OPS],
            "owner": self.names[Role.OPS],
            **fields,
        }
        response = await self.client.post("/v1/campaigns", json=body, headers=self.auth(Role.OPS))
        assert response.status == 201, await response.text()
        data: dict[str, Any] = await response.json()
        return data

    async def op(self, campaign_id: int, name: str, role: Role = Role.OPS, **body: Any) -> Any:
        return await self.client.post(
            f"/v1/campaigns/{campaign_id}/{name}", json=body, headers=self.auth(role)
        )


async def make_tokens(engine: AsyncEngine) -> tuple[dict[Role, str], dict[Role, str]]:
    tokens, names = {}, {}
    async with engine.begin() as conn:
        for role in Role:
            name = f"{role}-{uuid.uuid4().hex[:8]}"
            agent = name if role is Role.AGENT else None  # an agent token acts as agent <name>
            tokens[role] = await create_token(conn, name, role, "tests", agent)
            names[role] = name
    return tokens, names


@pytest.fixture
async def api(engine: AsyncEngine) -> AsyncIterator[Api]:
    runtime = StaticRuntime()
    port = StaticAgents()
    ctx = ApiContext(
        engine=engine,
        runtime=runtime,
        clock=lambda: datetime.now(UTC),
        bootstrap_token=Secret(BOOTSTRAP),
        max_upload_bytes=8 * 1024 * 1024,
        probe=always_reachable,
        agents=port,
    )
    root = web.Application()
    root.add_subapp("/v1", build_api(ctx, send_webhooks=False))
    tokens, names = await make_tokens(engine)
    async with TestClient(ApiTestServer(root, port=0)) as client:
        yield Api(client, runtime, engine, tokens, names, port)
