"""Administrative endpoints: caller-ID numbers and campaign pools, the do-not-call list, the
audit log, webhooks and their deliveries, API tokens. HTTP only: each handler calls one service
of the campaign domain (:mod:`gateway.campaigns.numbers`, ``audit``, ``outbox``, ``tokens``),
which runs the change and its audit entry in one transaction, and renders the typed rows it
returns (:func:`control_api.schemas.document`).
"""

from __future__ import annotations

import re

from aiohttp import web

from control_api.auth import Permission as P
from control_api.http import TOKENS, Call, Route, paging, reply
from control_api.schemas import Field, Reply, Schema, document, documents
from gateway.campaigns import audit, numbers, outbox, tokens
from gateway.db.models import NumberStatus, Role

WEBHOOK_EVENT_PATTERN = "^(" + "|".join(re.escape(e) for e in outbox.WEBHOOK_EVENTS) + ")$"
#: A URL the sender can reach: http(s), a host name or IPv4 address, an optional port, then any
#: path, query or fragment without spaces or control characters.
WEBHOOK_URL_PATTERN = (
    r"^https?://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?"
    r"(?:[/?#][^\u0000-\u0020\u007f]*)?$"
)
#: ``format: e164``: what :func:`gateway.campaigns.numbers.e164` takes.
_E164_TEXT = (
    "an international number (+, the country code, the number; spaces, dashes and brackets "
    "allowed) valid in its country's numbering plan; stored and shown in E.164"
)
_E164 = Field(
    "number",
    "string",
    True,
    min_length=8,
    max_length=16,
    fmt="e164",
    description=_E164_TEXT,
)
NUMBER_FIELDS = (
    Field("status", "string", enum=tuple(NumberStatus)),
    Field("max_concurrent", "integer", minimum=0, maximum=1000),
    Field("max_per_day", "integer", minimum=0, maximum=1_000_000),
    Field("cooldown_s", "integer", minimum=0, maximum=86400),
    Field("region", "string", max_length=16),
    Field("health", "number", minimum=0, maximum=1),
    Field("rest_reason", "string", max_length=1000),
)
NUMBER_CREATE = Schema(
    "NumberCreate",
    (_E164, *NUMBER_FIELDS),
    example={"number": "+442079460000", "max_concurrent": 10, "region": "GB"},
)
NUMBER_UPDATE = Schema("NumberUpdate", NUMBER_FIELDS)
NUMBER = Reply(
    "CallerIdNumber", (Field("id", "integer"), Field("number", "string"), *NUMBER_FIELDS)
)
POOL = Schema(
    "Pool",
    (Field("number_ids", "array", True, items="integer", minimum=1, maximum=2**63 - 1),),
    example={"number_ids": []},
)
DNC = Schema(
    "DncEntry",
    (
        Field(
            "phone",
            "string",
            True,
            min_length=1,
            max_length=32,
            fmt="e164",
            description=_E164_TEXT,
        ),
        Field("reason", "string", max_length=1000),
    ),
    example={"phone": "+442079460001", "reason": "asked not to be called"},
)
WEBHOOK_CREATE = Schema(
    "WebhookCreate",
    (
        Field(
            "url",
            "string",
            True,
            min_length=8,
            max_length=2000,
            pattern=WEBHOOK_URL_PATTERN,
            description="an http:// or https:// URL to a host name or IPv4 address",
        ),
        Field("campaign_id", "integer", minimum=1, maximum=2**63 - 1),
        Field(
            "events",
            "array",
            items="string",
            max_length=64,
            pattern=WEBHOOK_EVENT_PATTERN,
            description="what to send: " + ", ".join(outbox.WEBHOOK_EVENTS) + ". Empty: every "
            "campaign event; agent events go only to webhooks that name them (agent.* for all)",
        ),
    ),
    example={"url": "https://hooks.example.com/dialer", "events": ["campaign.paused"]},
)
WEBHOOK = Reply(
    "Webhook",
    (
        Field("id", "integer"),
        Field("url", "string"),
        Field("campaign_id", "integer", nullable=True),
        Field("events", "array", items="string"),
        Field("active", "boolean"),
    ),
)
DELIVERY = Reply(
    "Delivery",
    (
        Field("id", "integer"),
        Field("event", "string"),
        Field("status", "string"),
        Field("attempts", "integer"),
        Field("last_status", "integer", nullable=True, description="the receiver's HTTP status"),
        Field("last_error", "string", nullable=True),
        Field("created_at", "datetime"),
        Field("delivered_at", "datetime", nullable=True),
    ),
)
TOKEN = Reply(
    "Token",
    (
        Field("id", "integer"),
        Field("name", "string"),
        Field("role", "string"),
        Field("agent_id", "string", nullable=True, description="the agent an agent token acts for"),
        Field("created_by", "string"),
        Field("created_at", "datetime"),
        Field("revoked_at", "datetime", nullable=True),
    ),
)
AUDIT_ENTRY = Reply(
    "AuditEntry",
    (
        Field("id", "integer"),
        Field("at", "datetime"),
        Field("actor", "string"),
        Field("action", "string"),
        Field("entity", "string"),
        Field("entity_id", "string"),
        Field("before", "json", description="the entity before the change (null: created)"),
        Field("after", "json", description="the entity after the change (null: deleted)"),
    ),
)
TOKEN_CREATE = Schema(
    "TokenCreate",
    (
        # 64: the name is also the audit entry's entity_id (VARCHAR(64))
        Field("name", "string", True, min_length=1, max_length=64),
        Field("role", "string", True, enum=tuple(Role)),
        Field(
            "agent_id",
            "string",
            min_length=1,
            max_length=128,
            description="role agent (required): the agent (queue member name) it acts as",
        ),
    ),
    example={"name": "ops-night-shift", "role": "ops"},
    # gateway.campaigns.tokens.check_agent: an agent token names its agent, no other does
    rules=(
        {
            "if": {"properties": {"role": {"const": "agent"}}, "required": ["role"]},
            "then": {"required": ["agent_id"]},
            "else": {"not": {"required": ["agent_id"]}},
        },
    ),
)


async def list_numbers(call: Call) -> web.StreamResponse:
    found = await numbers.listing(
        call.ctx.engine, call.query.get("limit", 100), call.query.get("offset", 0)
    )
    return reply({"numbers": documents(found)})


async def create_number(call: Call) -> web.StreamResponse:
    settings = {k: v for k, v in call.body.items() if k != "number"}
    row = await numbers.create(call.ctx.engine, call.principal.name, call.body["number"], settings)
    return reply(document(row), 201)


async def update_number(call: Call) -> web.StreamResponse:
    row = await numbers.update(call.ctx.engine, call.principal.name, call.ids["id"], call.body)
    return reply(document(row))


async def get_pool(call: Call) -> web.StreamResponse:
    return reply({"numbers": documents(await numbers.pool(call.ctx.engine, call.ids["id"]))})


async def set_pool(call: Call) -> web.StreamResponse:
    found = await numbers.set_pool(
        call.ctx.engine, call.principal.name, call.ids["id"], call.body["number_ids"]
    )
    return reply({"numbers": documents(found)})


async def add_dnc(call: Call) -> web.StreamResponse:
    phone = await numbers.add_dnc(
        call.ctx.engine, call.principal.name, call.body["phone"], call.body.get("reason", "")
    )
    return reply({"phone": phone}, 201)


async def list_audit(call: Call) -> web.StreamResponse:
    found = await audit.entries(
        call.ctx.engine,
        entity=call.query.get("entity"),
        entity_id=call.query.get("entity_id"),
        before_id=call.query.get("before_id"),
        limit=call.query.get("limit", 100),
    )
    return reply({"entries": documents(found)})


async def list_webhooks(call: Call) -> web.StreamResponse:
    return reply({"webhooks": documents(await outbox.webhooks(call.ctx.engine))})


async def create_webhook(call: Call) -> web.StreamResponse:
    hook, secret = await outbox.subscribe(
        call.ctx.engine,
        call.principal.name,
        call.body["url"],
        call.body.get("campaign_id"),
        call.body.get("events", []),
    )
    return reply({**document(hook), "secret": secret}, 201)


async def delete_webhook(call: Call) -> web.StreamResponse:
    await outbox.unsubscribe(call.ctx.engine, call.principal.name, call.ids["id"])
    return web.Response(status=204)


async def deliveries(call: Call) -> web.StreamResponse:
    found = await outbox.deliveries(call.ctx.engine, call.ids["id"], call.query.get("limit", 100))
    return reply({"deliveries": documents(found)})


async def list_tokens(call: Call) -> web.StreamResponse:
    return reply({"tokens": documents(await tokens.listing(call.ctx.engine))})


async def new_token(call: Call) -> web.StreamResponse:
    name, role, agent = call.body["name"], Role(call.body["role"]), call.body.get("agent_id")
    token = await tokens.issue(call.ctx.engine, call.principal.name, name, role, agent)
    return reply({"name": name, "role": str(role), "agent_id": agent, "token": token}, 201)


async def revoke_token(call: Call) -> web.StreamResponse:
    await tokens.revoke(call.ctx.engine, call.principal.name, call.ids["id"])
    call.request.app[TOKENS].clear()  # after the commit: a look-up from now on sees it
    return web.Response(status=204)


def _list(name: str, key: str, item: Reply) -> Reply:
    return Reply(name, (Field(key, "array", items="object", shape=item),))


_ID = ("id",)
_P404 = {404: "problem"}
_S = Field("entity", "string", max_length=32)
ROUTES = (
    Route(
        "GET",
        "/numbers",
        list_numbers,
        "List caller-ID numbers",
        P.READ,
        {200: _list("Numbers", "numbers", NUMBER)},
        query=paging(),
        tag="numbers",
    ),
    Route(
        "POST",
        "/numbers",
        create_number,
        "Add a caller-ID number",
        P.NUMBERS_WRITE,
        {201: NUMBER, 409: "problem", 422: "problem"},
        body=NUMBER_CREATE,
        tag="numbers",
    ),
    Route(
        "PATCH",
        "/numbers/{id}",
        update_number,
        "Change a number (rest, retire, caps)",
        P.NUMBERS_WRITE,
        {200: NUMBER, **_P404, 422: "problem"},
        body=NUMBER_UPDATE,
        ids=_ID,
        tag="numbers",
    ),
    Route(
        "GET",
        "/campaigns/{id}/numbers",
        get_pool,
        "A campaign's caller-ID pool",
        P.READ,
        {200: _list("PoolNumbers", "numbers", NUMBER), **_P404},
        ids=_ID,
        tag="numbers",
    ),
    Route(
        "PUT",
        "/campaigns/{id}/numbers",
        set_pool,
        "Set a campaign's caller-ID pool",
        P.NUMBERS_WRITE,
        {200: _list("PoolNumbers", "numbers", NUMBER), **_P404, 409: "problem", 422: "problem"},
        body=POOL,
        ids=_ID,
        tag="numbers",
    ),
    Route(
        "POST",
        "/dnc",
        add_dnc,
        "Add a number to the do-not-call list",
        P.CAMPAIGN_WRITE,
        {201: Reply("Dnc", (Field("phone", "string"),)), 422: "problem"},
        body=DNC,
        tag="dnc",
    ),
    Route(
        "GET",
        "/audit",
        list_audit,
        "The audit log, newest first",
        P.READ,
        {200: _list("Audit", "entries", AUDIT_ENTRY), 422: "problem"},
        query=(
            _S,
            Field("entity_id", "string", max_length=64),
            Field("before_id", "integer", minimum=1, maximum=2**63 - 1),
            paging()[0],
        ),
        tag="audit",
    ),
    Route(
        "GET",
        "/webhooks",
        list_webhooks,
        "List webhooks",
        P.READ,
        {200: _list("Webhooks", "webhooks", WEBHOOK)},
        tag="webhooks",
    ),
    Route(
        "POST",
        "/webhooks",
        create_webhook,
        "Add a webhook (the secret is shown once)",
        P.WEBHOOKS_WRITE,
        {201: WEBHOOK, **_P404, 422: "problem"},
        body=WEBHOOK_CREATE,
        tag="webhooks",
    ),
    Route(
        "DELETE",
        "/webhooks/{id}",
        delete_webhook,
        "Remove a webhook",
        P.WEBHOOKS_WRITE,
        {204: "empty", **_P404},
        ids=_ID,
        tag="webhooks",
    ),
    Route(
        "GET",
        "/webhooks/{id}/deliveries",
        deliveries,
        "A webhook's delivery log",
        P.READ,
        {200: _list("Deliveries", "deliveries", DELIVERY), 422: "problem"},
        query=(paging()[0],),
        ids=_ID,
        tag="webhooks",
    ),
    Route(
        "GET",
        "/tokens",
        list_tokens,
        "List tokens (never the secrets)",
        P.TOKENS_MANAGE,
        {200: _list("Tokens", "tokens", TOKEN)},
        tag="tokens",
    ),
    Route(
        "POST",
        "/tokens",
        new_token,
        "Create a token (shown once)",
        P.TOKENS_MANAGE,
        {
            201: Reply(
                "NewToken",
                (
                    Field("name", "string"),
                    Field("role", "string"),
                    Field("agent_id", "string", nullable=True),
                    Field("token", "string"),
                ),
            ),
            422: "problem",
        },
        body=TOKEN_CREATE,
        tag="tokens",
    ),
    Route(
        "DELETE",
        "/tokens/{id}",
        revoke_token,
        "Revoke a token",
        P.TOKENS_MANAGE,
        {204: "empty", **_P404},
        ids=_ID,
        tag="tokens",
    ),
)
