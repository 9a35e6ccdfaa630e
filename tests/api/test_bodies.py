"""The replies of the control API name exactly the columns the domain reads."""

from __future__ import annotations

import holidays
import jsonschema
import pytest

from control_api import bodies, routes_admin
from control_api.app import ROUTES
from control_api.errors import Invalid
from control_api.openapi import document
from gateway.campaigns import audit, campaigns, governance, outbox, tokens
from gateway.campaigns.typed import columns
from gateway.db.models import Role


def test_campaign_reply_names_the_domain_columns() -> None:
    assert tuple(f.name for f in bodies.CAMPAIGN.fields) == campaigns.COLUMNS


def test_holiday_countries_are_those_the_holidays_library_supports() -> None:
    (country,) = (f for f in bodies.HOLIDAYS.fields if f.name == "country")
    assert country.enum == tuple(sorted(holidays.list_supported_countries()))


def test_pause_event_reply_names_the_domain_columns() -> None:
    assert tuple(f.name for f in bodies.PAUSE_EVENT.fields) == governance.EVENT_COLUMNS


def test_admin_replies_name_the_domain_columns() -> None:
    assert tuple(f.name for f in routes_admin.TOKEN.fields) == columns(tokens.Token)
    assert tuple(f.name for f in routes_admin.DELIVERY.fields) == columns(outbox.Delivery)
    assert tuple(f.name for f in routes_admin.AUDIT_ENTRY.fields) == columns(audit.AuditEntry)
    assert tuple(f.name for f in routes_admin.WEBHOOK.fields) == columns(outbox.Webhook)


def _bare_objects(node: object, path: str = "") -> list[str]:
    """Paths of object schemas that say nothing of their members."""
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "object" and not {"properties", "additionalProperties"} & set(node):
            found.append(path)
        for key, value in node.items():
            found += _bare_objects(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _bare_objects(value, f"{path}[{index}]")
    return found


def test_the_document_has_no_bare_object_and_shares_every_body_and_reply() -> None:
    doc = document(ROUTES, "test")
    assert _bare_objects(doc) == []
    schemas = doc["components"]["schemas"]
    for name in ("Schedule", "WeeklyWindow", "RetryRules", "RetryRule", "Pacing", "TimeZone"):
        assert name in schemas
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                assert set(body["schema"]) == {"$ref"}, (method, path)
            for status, response in operation["responses"].items():
                for media, content in response.get("content", {}).items():
                    if media == "application/json":
                        assert set(content["schema"]) == {"$ref"}, (method, path, status)


def test_every_body_example_parses_and_passes_the_domain_checks() -> None:
    examples = [r.body for r in ROUTES if r.body is not None and r.body.example is not None]
    assert len(examples) >= 8
    for schema in examples:
        assert schema.example is not None
        parsed = schema.parse(schema.example)
        if schema in (bodies.CREATE, bodies.UPDATE):
            campaigns.check_setup(parsed)


def test_schedule_and_retry_rules_are_checked_by_their_schemas() -> None:
    bad = [
        {"schedule": {"weekly": [{"days": ["mon"], "start": "9:00"}]}},
        {"schedule": {"weekly": [{"days": ["monday"]}]}},
        {"schedule": {"start_date": "2026-02-30"}},
        {"schedule": {"holidays": {"country": "XX"}}},
        {"schedule": {"opening": "09:00"}},
        {"retry_rules": {"no_answer": {"delay_s": -1}}},
        {"retry_rules": {"no_answer": {"delay_s": bodies.MAX_RETRY_DELAY_S + 1}}},
        {"retry_rules": {"later": {"delay_s": 60}}},
        {"time_zone": "Mars/Olympus"},
        {"default_region": "ZZ"},
    ]
    for body in bad:
        with pytest.raises(Invalid):
            bodies.UPDATE.parse(body)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("agent_id", [None, "Agent 101"])
def test_the_token_body_schema_states_the_agent_rule_the_service_enforces(
    role: Role, agent_id: str | None
) -> None:
    """A client that follows the document never meets the service's agent_id refusal."""
    body: dict[str, str] = {"name": "t", "role": str(role)}
    if agent_id is not None:
        body["agent_id"] = agent_id
    schema = document(ROUTES, "test")["components"]["schemas"]["TokenCreate"]
    valid = jsonschema.Draft202012Validator(schema).is_valid(body)
    try:
        tokens.check_agent(role, agent_id)
    except Invalid:
        accepted = False
    else:
        accepted = True
    assert valid == accepted, (body, valid, accepted)
