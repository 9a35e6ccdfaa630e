"""Settings the campaign runner cannot work with are refused at the API, naming the field.

An abandon target of 0 or 1 (or beyond) used to be stored; the runner then failed every tick
(``SnapshotError``) while the campaign stayed ``running`` and placed nothing. Each such value is a
422 problem document naming the field, on create and on update; the values just inside the
bounds are accepted and stored as sent.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.db.models import Role
from tests.api.conftest import Api

pytestmark = pytest.mark.db

REFUSED: list[tuple[str, dict[str, Any]]] = [
    ("abandon_target", {"abandon_target": 0}),
    ("abandon_target", {"abandon_target": 0.0}),
    ("abandon_target", {"abandon_target": 1}),
    ("abandon_target", {"abandon_target": 1.0}),
    ("abandon_target", {"abandon_target": 1.5}),
    ("abandon_target", {"abandon_target": -0.01}),
    ("max_attempts", {"max_attempts": 0}),
    ("max_attempts", {"max_attempts": -1}),
    ("pacing.ring_timeout_s", {"pacing": {"ring_timeout_s": -5}}),
    ("pacing.ring_timeout_s", {"pacing": {"ring_timeout_s": 0}}),
    ("pacing.power_ratio", {"pacing": {"power_ratio": 0.5}}),
]


@pytest.mark.parametrize(("field", "body"), REFUSED)
async def test_a_setting_the_runner_cannot_use_is_refused_on_create(
    api: Api, field: str, body: dict[str, Any]
) -> None:
    response = await api.client.post(
        "/v1/campaigns", json={"name": "bad", **body}, headers=api.auth(Role.OPS)
    )
    assert response.status == 422, await response.text()
    assert response.content_type == "application/problem+json"
    assert (await response.json())["field"] == field


@pytest.mark.parametrize(("field", "body"), REFUSED)
async def test_a_setting_the_runner_cannot_use_is_refused_on_update(
    api: Api, field: str, body: dict[str, Any]
) -> None:
    campaign = await api.campaign()
    response = await api.client.patch(
        f"/v1/campaigns/{campaign['id']}", json=body, headers=api.auth(Role.OPS)
    )
    assert response.status == 422, await response.text()
    assert (await response.json())["field"] == field
    shown = await api.client.get(f"/v1/campaigns/{campaign['id']}", headers=api.auth(Role.OPS))
    assert (await shown.json())["abandon_target"] == campaign["abandon_target"]


def test_a_non_finite_number_is_refused() -> None:
    from control_api.bodies import CREATE
    from control_api.errors import Invalid

    with pytest.raises(Invalid) as refused:
        CREATE.parse({"name": "n", "abandon_target": float("nan")})
    assert refused.value.field == "abandon_target"


@pytest.mark.parametrize("target", [0.0001, 0.03, 0.9999])
async def test_targets_inside_the_open_interval_are_kept(api: Api, target: float) -> None:
    campaign = await api.campaign(abandon_target=target)
    assert campaign["abandon_target"] == pytest.approx(target)
