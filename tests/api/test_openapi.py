"""schemathesis against ``/v1/openapi.json``: no server error, no reply that breaks the schema.

The server runs on the test's event loop (real socket, port 0); schemathesis calls it with
``requests`` from a worker thread. Examples per operation are few to keep the run short.
"""

from __future__ import annotations

import asyncio
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.db.models import Role
from tests.api.conftest import Api

pytestmark = pytest.mark.db
EXAMPLES = 5


def _fuzz(doc: dict[str, Any], base_url: str, token: str) -> list[str]:
    schema = schemathesis.openapi.from_dict(doc)
    checks = [
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
        content_type_conformance,
    ]
    tried: list[str] = []
    session = requests.Session()
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # Err raises InvalidSchema

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            case.call_and_validate(
                base_url=base_url,
                session=session,
                headers={"Authorization": f"Bearer {token}"},
                checks=checks,
            )

        run()
        tried.append(f"{operation.method.upper()} {operation.path}")
    session.close()
    return tried


async def test_schemathesis_finds_nothing(api: Api) -> None:
    response = await api.client.get("/v1/openapi.json")
    doc = await response.json()
    assert doc["openapi"] == "3.1.0"
    base_url = str(api.client.make_url("/v1"))
    for _ in range(2):  # some campaigns to act on (ids 1.. exist)
        await api.campaign()
    tried = await asyncio.wait_for(
        asyncio.to_thread(_fuzz, doc, base_url, api.tokens[Role.ADMIN]), timeout=100
    )
    assert "POST /campaigns/{id}/pause" in tried
    assert len(tried) == sum(len(ops) for ops in doc["paths"].values())
