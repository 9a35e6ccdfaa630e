"""Administrative endpoints: caller-ID numbers and campaign pools, the do-not-call list, the
audit log, webhooks and their deliveries, API tokens. Small enough that the queries live here;
each change writes an audit entry in its own transaction.
"""

from __future__ import annotations

import secrets
from typing import Any

import phonenumbers
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from control_api.auth import Permission as P
from control_api.errors import Conflict, Invalid, NotFound
from control_api.http import TOKENS, Call, Route, paging, reply
from control_api.schemas import Field, Reply, Schema
from gateway.campaigns import audit, campaigns
from gateway.campaigns.audit import jsonable
from gateway.campaigns.tokens import create_token
from gateway.db.models import NumberStatus, Role

_E164 = Field("number", "string", True, min_length=8, max_length=16, description="E.164")
NUMBER_FIELDS = (
    Field("status", "string", enum=tuple(NumberStatus)),
    Field("max_concurrent", "integer", minimum=0, maximum=1000),
    Field("max_per_day", "integer", minimum=0, maximum=1_000_000),
    Field("cooldown_s", "integer", minimum=0, maximum=86400),
    Field("region", "string", max_length=16),
    Field("health", "number", minimum=0, maximum=1),
    Field("rest_reason", "string", max_length=1000),
)
NUMBER_CREATE = Schema("NumberCreate", (_E164, *NUMBER_FIELDS))
NUMBER_UPDATE = Schema("NumberUpdate", NUMBER_FIELDS)
NUMBER = Reply(
    "CallerIdNumber", (Field("id", "integer"), Field("number", "string"), *NUMBER_FIELDS)
)
_NUMBER_COLS = ", ".join(f.name for f in NUMBER.fields)
POOL = Schema("Pool", (Field("number_ids", "array", True, items="integer"),))
DNC = Schema(
    "DncEntry",
    (
        Field("phone", "string", True, min_length=1, max_length=32),
        Field("reason", "string", max_length=1000),
    ),
)
WEBHOOK_CREATE = Schema(
    "WebhookCreate",
    (
        Field("url", "string", True, min_length=8, max_length=2000),
        Field("campaign_id", "integer", minimum=1, maximum=2**63 - 1),
        Field("events", "array", items="string", max_length=64),
    ),
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
TOKEN_CREATE = Schema(
    "TokenCreate",
    (
        Field("name", "string", True, min_length=1, max_length=128),
        Field("role", "string", True, enum=tuple(Role)),
    ),
)


def e164(raw: str, field: str) -> str:
    try:
        parsed = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        raise Invalid(field, "must be an E.164 number (+ and digits)") from None
    if not phonenumbers.is_valid_number(parsed):
        raise Invalid(field, "is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


async def _number(conn: AsyncConnection, number_id: int) -> dict[str, Any]:
    row = (
        (
            await conn.execute(
                text(f"SELECT {_NUMBER_COLS} FROM callerid_numbers WHERE id = :id"),  # noqa: S608
                {"id": number_id},
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"caller-ID number {number_id} does not exist")
    return dict(row)


async def list_numbers(call: Call) -> web.StreamResponse:
    async with call.ctx.engine.connect() as conn:
        rows = await conn.execute(
            text(f"SELECT {_NUMBER_COLS} FROM callerid_numbers ORDER BY id LIMIT :l OFFSET :o"),  # noqa: S608
            {"l": call.query.get("limit", 100), "o": call.query.get("offset", 0)},
        )
        return reply({"numbers": [dict(r) for r in rows.mappings()]})


async def create_number(call: Call) -> web.StreamResponse:
    data = {**call.body, "number": e164(call.body["number"], "number")}
    cols = ", ".join(data)
    values = ", ".join(f":{k}" for k in data)
    try:
        async with call.ctx.engine.begin() as conn:
            new_id = (
                await conn.execute(
                    text(f"INSERT INTO callerid_numbers ({cols}) VALUES ({values}) RETURNING id"),  # noqa: S608
                    data,
                )
            ).scalar_one()
            after = await _number(conn, int(new_id))
            await audit.record(
                conn, call.principal.name, "number.create", "number", new_id, None, after
            )
    except IntegrityError as exc:
        raise Conflict(f"{data['number']} is already in the pool") from exc
    return reply(after, 201)


async def update_number(call: Call) -> web.StreamResponse:
    async with call.ctx.engine.begin() as conn:
        before = await _number(conn, call.ids["id"])
        if call.body:
            sets = ", ".join(f"{k} = :{k}" for k in call.body)
            await conn.execute(
                text(f"UPDATE callerid_numbers SET {sets}, updated_at = now() WHERE id = :id"),  # noqa: S608
                {**call.body, "id": call.ids["id"]},
            )
        after = await _number(conn, call.ids["id"])
        await audit.record(
            conn, call.principal.name, "number.update", "number", call.ids["id"], before, after
        )
    return reply(after)


async def get_pool(call: Call) -> web.StreamResponse:
    async with call.ctx.engine.connect() as conn:
        await campaigns.fetch(conn, call.ids["id"])
        rows = await conn.execute(
            text(
                f"SELECT {', '.join('n.' + f.name for f in NUMBER.fields)} FROM callerid_numbers n "  # noqa: S608
                "JOIN campaign_numbers l ON l.number_id = n.id WHERE l.campaign_id = :cid "
                "ORDER BY n.id"
            ),
            {"cid": call.ids["id"]},
        )
        return reply({"numbers": [dict(r) for r in rows.mappings()]})


async def set_pool(call: Call) -> web.StreamResponse:
    ids = sorted(set(call.body["number_ids"]))
    cid = call.ids["id"]
    async with call.ctx.engine.begin() as conn:
        await campaigns.fetch(conn, cid, lock=True)
        known = await conn.execute(
            text("SELECT id FROM callerid_numbers WHERE id = ANY(:ids)"), {"ids": ids}
        )
        missing = set(ids) - {r[0] for r in known}
        if missing:
            raise Invalid("number_ids", f"unknown numbers: {sorted(missing)}")
        before = await conn.execute(
            text("SELECT number_id FROM campaign_numbers WHERE campaign_id = :cid"), {"cid": cid}
        )
        old = sorted(r[0] for r in before)
        await conn.execute(
            text("DELETE FROM campaign_numbers WHERE campaign_id = :cid"), {"cid": cid}
        )
        if ids:
            await conn.execute(
                text("INSERT INTO campaign_numbers SELECT :cid, unnest(CAST(:ids AS bigint[]))"),
                {"cid": cid, "ids": ids},
            )
        await audit.record(
            conn,
            call.principal.name,
            "campaign.pool",
            "campaign",
            cid,
            {"number_ids": old},
            {"number_ids": ids},
        )
    return await get_pool(call)


async def add_dnc(call: Call) -> web.StreamResponse:
    phone = e164(call.body["phone"], "phone")
    async with call.ctx.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO dnc_numbers (phone, reason, added_by) VALUES (:p, :r, :by) "
                "ON CONFLICT (phone) DO NOTHING"
            ),
            {"p": phone, "r": call.body.get("reason", ""), "by": call.principal.name},
        )
        await audit.record(
            conn, call.principal.name, "dnc.add", "dnc", phone, None, {"phone": phone}
        )
    return reply({"phone": phone}, 201)


async def list_audit(call: Call) -> web.StreamResponse:
    async with call.ctx.engine.connect() as conn:
        found = await audit.entries(
            conn,
            entity=call.query.get("entity"),
            entity_id=call.query.get("entity_id"),
            before_id=call.query.get("before_id"),
            limit=call.query.get("limit", 100),
        )
    return reply({"entries": found})


async def list_webhooks(call: Call) -> web.StreamResponse:
    cols = ", ".join(f.name for f in WEBHOOK.fields)
    async with call.ctx.engine.connect() as conn:
        rows = await conn.execute(text(f"SELECT {cols} FROM webhooks ORDER BY id"))  # noqa: S608
        return reply({"webhooks": [jsonable(dict(r)) for r in rows.mappings()]})


async def create_webhook(call: Call) -> web.StreamResponse:
    url = call.body["url"]
    if not url.startswith(("http://", "https://")):
        raise Invalid("url", "must be an http:// or https:// URL")
    cid = call.body.get("campaign_id")
    secret = secrets.token_urlsafe(32)
    async with call.ctx.engine.begin() as conn:
        if cid is not None:
            await campaigns.fetch(conn, cid)
        new_id = (
            await conn.execute(
                text(
                    "INSERT INTO webhooks (url, secret, campaign_id, events) "
                    "VALUES (:url, :secret, :cid, :events) RETURNING id"
                ),
                {"url": url, "secret": secret, "cid": cid, "events": call.body.get("events", [])},
            )
        ).scalar_one()
        shown = {
            "id": new_id,
            "url": url,
            "campaign_id": cid,
            "events": call.body.get("events", []),
            "active": True,
        }
        await audit.record(
            conn, call.principal.name, "webhook.create", "webhook", new_id, None, shown
        )
    return reply({**shown, "secret": secret}, 201)


async def delete_webhook(call: Call) -> web.StreamResponse:
    async with call.ctx.engine.begin() as conn:
        gone = await conn.execute(
            text("DELETE FROM webhooks WHERE id = :id RETURNING url"), {"id": call.ids["id"]}
        )
        url = gone.scalar_one_or_none()
        if url is None:
            raise NotFound(f"webhook {call.ids['id']} does not exist")
        await audit.record(
            conn,
            call.principal.name,
            "webhook.delete",
            "webhook",
            call.ids["id"],
            {"url": url},
            None,
        )
    return web.Response(status=204)


async def deliveries(call: Call) -> web.StreamResponse:
    async with call.ctx.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT id, event, status, attempts, last_status, last_error, created_at, "
                "delivered_at FROM webhook_deliveries WHERE webhook_id = :id "
                "ORDER BY id DESC LIMIT :l"
            ),
            {"id": call.ids["id"], "l": call.query.get("limit", 100)},
        )
        return reply({"deliveries": [jsonable(dict(r)) for r in rows.mappings()]})


async def list_tokens(call: Call) -> web.StreamResponse:
    async with call.ctx.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT id, name, role, created_by, created_at, revoked_at FROM api_tokens "
                "ORDER BY id"
            )
        )
        return reply({"tokens": [jsonable(dict(r)) for r in rows.mappings()]})


async def new_token(call: Call) -> web.StreamResponse:
    async with call.ctx.engine.begin() as conn:
        token = await create_token(
            conn, call.body["name"], Role(call.body["role"]), call.principal.name
        )
        shown = {"name": call.body["name"], "role": call.body["role"]}
        await audit.record(
            conn, call.principal.name, "token.create", "token", shown["name"], None, shown
        )
    return reply({**shown, "token": token}, 201)


async def revoke_token(call: Call) -> web.StreamResponse:
    async with call.ctx.engine.begin() as conn:
        done = await conn.execute(
            text(
                "UPDATE api_tokens SET revoked_at = now() WHERE id = :id AND revoked_at IS NULL "
                "RETURNING name"
            ),
            {"id": call.ids["id"]},
        )
        name = done.scalar_one_or_none()
        if name is None:
            raise NotFound(f"token {call.ids['id']} does not exist or is revoked")
        await audit.record(conn, call.principal.name, "token.revoke", "token", name, None, None)
    call.request.app[TOKENS].clear()  # after the commit: a look-up from now on sees it
    return web.Response(status=204)


def _list(name: str, key: str) -> Reply:
    return Reply(name, (Field(key, "array", items="object"),))


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
        {200: _list("Numbers", "numbers")},
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
        {200: _list("Pool", "numbers"), **_P404},
        ids=_ID,
        tag="numbers",
    ),
    Route(
        "PUT",
        "/campaigns/{id}/numbers",
        set_pool,
        "Set a campaign's caller-ID pool",
        P.NUMBERS_WRITE,
        {200: _list("Pool", "numbers"), **_P404, 422: "problem"},
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
        {200: _list("Audit", "entries"), 422: "problem"},
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
        {200: _list("Webhooks", "webhooks")},
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
        {200: _list("Deliveries", "deliveries"), 422: "problem"},
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
        {200: _list("Tokens", "tokens")},
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
                (Field("name", "string"), Field("role", "string"), Field("token", "string")),
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
