"""HTTP plumbing of the control API: route declarations, the one problem middleware, requests.

A :class:`Route` declares everything about an endpoint once — method, path, permission, body
schema, query fields, replies — and is used both to register the aiohttp handler (wrapped by
:func:`wrap`, which authenticates, checks the permission and parses the input) and to write the
OpenAPI document (``control_api.openapi``). :func:`problem_middleware` is the only place that
turns exceptions into responses: RFC 9457 ``application/problem+json`` for every error.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from control_api.auth import Permission, Principal, TokenCache, authenticate
from control_api.availability import Coalescer, unavailable
from control_api.context import ApiContext
from control_api.errors import (
    ApiError,
    CampaignError,
    Invalid,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    status_of,
)
from control_api.schemas import INT32, Field, Reply, Schema
from control_api.uploads import UploadSlots
from control_api.webhooks import WebhookSender
from gateway.asterisk.errors import InvalidValue
from gateway.asterisk.validate import NAME_PATTERN
from gateway.campaigns.status import RecordCounts
from gateway.logs import event, request_id
from pacing.lifecycle import OperationRefused

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"
CTX: web.AppKey[ApiContext] = web.AppKey("control_api_context", ApiContext)
TOKENS: web.AppKey[TokenCache] = web.AppKey("control_api_token_cache", TokenCache)
SENDER: web.AppKey[WebhookSender] = web.AppKey("control_api_webhook_sender", WebhookSender)
AUTH: web.AppKey[Coalescer[str, Principal]] = web.AppKey("control_api_auth_reads", Coalescer)
STATUS: web.AppKey[Coalescer[int, bytes]] = web.AppKey("control_api_status_reads", Coalescer)
COUNTS: web.AppKey[RecordCounts] = web.AppKey("control_api_record_counts", RecordCounts)
UPLOADS: web.AppKey[UploadSlots] = web.AppKey("control_api_upload_slots", UploadSlots)
MAX_JSON = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Call:
    """One authenticated, parsed request."""

    request: web.Request
    ctx: ApiContext
    principal: Principal
    body: dict[str, Any]
    query: dict[str, Any]
    ids: dict[str, int]
    names: dict[str, str] = field(default_factory=dict)  # string path parameters
    socket: web.WebSocketResponse | None = None  # a WebSocket route's socket, prepared


Handler = Callable[[Call], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    permission: Permission
    replies: Mapping[int, Reply | str]
    body: Schema | None = None
    query: tuple[Field, ...] = ()
    upload: bool = False  # raw CSV/XLSX body or multipart form
    tag: str = "campaigns"
    ids: tuple[str, ...] = field(default=())
    names: tuple[str, ...] = field(default=())  # string path parameters (strict-name grammar)
    # a path parameter's own rule instead of the strict-name grammar (an agent id with spaces)
    name_rules: Mapping[str, PathName] = field(default_factory=dict)
    # a WebSocket stream (control_api.streams): GET answered with 101 Switching Protocols
    socket: bool = False
    # a check of the caller against this request beyond the role (raises Forbidden)
    guard: Callable[[Principal, Call], None] | None = None
    # a socket route's message shapes: (component name, JSON Schema), for the OpenAPI document,
    # and which of them the server sends and which the client may send
    messages: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    sends: tuple[str, ...] = ()
    receives: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True, slots=True)
class PathName:
    """A string path parameter's own rule (raises InvalidValue), pattern and description."""

    check: Callable[[str], str]
    pattern: str
    max_length: int
    description: str = ""


def problem(status: int, title: str, detail: str, **extra: object) -> web.Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    response = web.Response(status=status, text=json.dumps(body, default=str), content_type=PROBLEM)
    if status in (429, 503):
        response.headers["Retry-After"] = str(extra.get("retry_after_s", 1))
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def _unavailable_problem(exc: BaseException) -> web.Response:
    detail = f"the database is busy or out of reach ({type(exc).__name__}); retry shortly"
    gone = ServiceUnavailable(detail)
    return problem(gone.status, gone.title, gone.detail, **gone.extra)


@web.middleware
async def problem_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    token = request_id.set(request.headers.get("X-Request-Id") or uuid.uuid4().hex[:16])
    try:
        return await handler(request)
    except ApiError as exc:
        return problem(exc.status, exc.title, exc.detail, **exc.extra)
    except CampaignError as exc:
        status, title = status_of(exc)
        return problem(status, title, exc.detail, **exc.extra)
    except OperationRefused as exc:
        return problem(
            409,
            "Conflict",
            str(exc),
            state=str(exc.state),
            operation=str(exc.operation),
            allowed=[str(s) for s in exc.allowed],
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = problem(exc.status, exc.reason, exc.text or exc.reason)
        if "Allow" in exc.headers:  # 405: the methods the path does accept
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception as exc:
        if unavailable(exc):
            event(log, "database unavailable", logging.WARNING, path=request.path, error=repr(exc))
            return _unavailable_problem(exc)
        event(log, "request failed", logging.ERROR, path=request.path, error=repr(exc))
        return problem(500, "Internal Server Error", "the request failed; see the server log")
    finally:
        request_id.reset(token)


def path_ids(route: Route, request: web.Request) -> dict[str, int]:
    ids = {}
    for name in route.ids:
        raw = request.match_info[name]
        if not raw.isdigit() or not 1 <= int(raw) <= 2**63 - 1:
            raise NotFound(f"{name} {raw!r} does not exist")
        ids[name] = int(raw)
    return ids


def path_names(route: Route, request: web.Request) -> dict[str, str]:
    """String path parameters: percent-decoded by aiohttp, then held to the strict-name grammar
    or to the parameter's own rule (``Route.name_rules``).

    The grammar (:data:`gateway.asterisk.validate.NAME_PATTERN`) is the one every name reaching
    Asterisk follows, so a decoded CR, LF, space or separator is refused here, as a 404 (no such
    agent can exist), before any handler sees it. aiohttp decodes once (``Agent%20101`` is
    ``Agent 101``, ``%2F`` a slash); a ``%`` left over (``%2520``) is refused, never decoded again.
    """
    names = {}
    for name in route.names:
        raw = request.match_info[name]
        rule = route.name_rules.get(name)
        if rule is not None:
            try:
                names[name] = rule.check(raw)
            except InvalidValue:
                raise NotFound(f"{name} {raw!r} does not exist (not a valid {name})") from None
            continue
        if re.fullmatch(NAME_PATTERN, raw) is None:
            raise NotFound(f"{name} {raw!r} does not exist (not a valid name)")
        names[name] = raw
    return names


def _query_value(f: Field, raw: str) -> object:
    if f.kind == "integer":
        try:
            return f.parse(int(raw))
        except ValueError:
            raise Invalid(f.name, "must be an integer") from None
    return f.parse(raw)


def parse_query(fields: tuple[Field, ...], request: web.Request) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for f in fields:
        raw = request.query.get(f.name)
        if raw is None:
            if f.required:
                raise Invalid(f.name, "is required")
            continue
        parsed[f.name] = _query_value(f, raw)
    return parsed


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def body_required(route: Route) -> bool:
    """A body must be sent, except to a POST whose every field is optional (a resume, a
    reset: no body means the defaults). A PATCH or PUT without one says nothing."""
    if route.body is None:
        return False
    return route.method != "POST" or any(f.required for f in route.body.fields)


async def read_json(request: web.Request, schema: Schema, *, required: bool) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_JSON:
        raise PayloadTooLarge(f"JSON bodies are limited to {MAX_JSON} bytes")
    raw = await request.content.read(MAX_JSON + 1)
    if len(raw) > MAX_JSON:
        raise PayloadTooLarge(f"JSON bodies are limited to {MAX_JSON} bytes")
    if not raw.strip():
        if required:
            raise Invalid("body", "is required (a JSON object)")
        body: object = {}
    else:
        try:
            body = json.loads(raw, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            raise Invalid("body", "is not valid JSON") from None
    return schema.parse(body)


async def principal_of(request: web.Request, header: str | None) -> Principal:
    """The caller of an ``Authorization`` header value (cached), or :class:`Unauthorized`."""
    cache = request.app[TOKENS]
    principal = cache.get(header) if header is not None else None
    if principal is None:
        generation = cache.generation
        principal = await request.app[AUTH].get(header or "")
        cache.put(str(header), principal, generation)
    return principal


def authorize(route: Route, call: Call) -> None:
    """The route's permission, then its guard (raises Forbidden)."""
    call.principal.require(route.permission)
    if route.guard is not None:
        route.guard(call.principal, call)


def wrap(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        ctx = request.app[CTX]
        principal = await principal_of(request, request.headers.get("Authorization"))
        principal.require(route.permission)
        ids = path_ids(route, request)
        names = path_names(route, request)
        query = parse_query(route.query, request)
        body = {}
        if route.body is not None:
            body = await read_json(request, route.body, required=body_required(route))
        call = Call(request, ctx, principal, body, query, ids, names)
        if route.guard is not None:
            route.guard(principal, call)
        return await route.handler(call)

    return handle


def notify(request: web.Request) -> None:
    """Wake the webhook sender after a notification was queued (if the app runs one)."""
    sender = request.app.get(SENDER)
    if sender is not None:
        sender.wake()


def reply(data: object, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda v: json.dumps(v, default=str))


def paging(default: int = 100) -> tuple[Field, ...]:
    return (
        Field("limit", "integer", minimum=1, maximum=1000, description=f"default {default}"),
        Field("offset", "integer", minimum=0, maximum=INT32),
    )


def auth_reads(ctx: ApiContext) -> Coalescer[str, Principal]:
    """Token look-ups shared by concurrent requests carrying the same header."""

    async def load(header: str) -> Principal:
        return await authenticate(ctx.engine, header or None, ctx.bootstrap_token)

    return Coalescer(load)
