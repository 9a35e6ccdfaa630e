"""The OpenAPI 3.1 document, written from the same :class:`control_api.http.Route` table that
registers the handlers, so the document and the implementation cannot drift apart. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from control_api.formats import CONTENT_TYPES
from control_api.http import PROBLEM, Route, body_required
from control_api.schemas import Field, Reply, Schema
from gateway.asterisk.validate import NAME_PATTERN
from gateway.campaigns.sheets import XLSX_TYPES

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "field": {"type": "string"},
        "state": {"type": "string"},
        "allowed": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["type", "title", "status", "detail"],
}
#: What each named format admits (the server checks exactly this).
_FORMATS = {
    "time-zone": "an IANA time zone name known to the server's zoneinfo (e.g. Europe/London)",
    "phone-region": "a region code known to phonenumbers (e.g. US, GB)",
    "holiday-country": "a country code known to the holidays library (e.g. US, GB, DEU)",
}
_DESCRIPTIONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    401: "missing, unknown or revoked bearer token",
    403: "the token's role may not do this",
    404: "not found",
    409: "refused in the current state (names the state and the allowed states)",
    413: "body too large",
    415: "not CSV or XLSX",
    422: "a field is invalid (named in `field`)",
    426: "not a WebSocket upgrade",
}


def _ref(shape: Schema | Reply) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{shape.name}"}


def _response(status: int, spec: Reply | str) -> dict[str, Any]:
    out: dict[str, Any] = {"description": _DESCRIPTIONS.get(status, "response")}
    if isinstance(spec, Reply):
        out["content"] = {"application/json": {"schema": _ref(spec)}}
    elif spec == "problem":
        out["content"] = {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    elif spec == "file":
        binary = {"type": "string", "format": "binary"}
        types = {t.split(";")[0] for t in CONTENT_TYPES.values()}
        out["content"] = {t: {"schema": binary} for t in sorted(types)}
    return out


def _responses(route: Route) -> dict[str, Any]:
    replies: dict[int, Reply | str] = {
        401: "problem",
        403: "problem",
        503: "problem",
        **route.replies,
    }
    if route.body is not None or route.query or route.upload:
        replies.setdefault(422, "problem")
    if route.body is not None:
        replies.setdefault(413, "problem")
    if route.ids or route.names:
        replies.setdefault(404, "problem")
    out = {str(s): _response(s, spec) for s, spec in sorted(replies.items())}
    if route.socket:

        def refs(names: tuple[str, ...]) -> dict[str, Any]:
            return {"oneOf": [{"$ref": f"#/components/schemas/{name}"} for name in names]}

        out = {
            "101": {
                "description": "Switching Protocols: the WebSocket stream, JSON text messages "
                "(x-messages: what the server sends, what the client may send)",
                "x-messages": {"server": refs(route.sends), "client": refs(route.receives)},
            },
            **out,
        }
    return out


def _name_schema(route: Route, name: str) -> dict[str, Any]:
    rule = route.name_rules.get(name)
    if rule is None:
        return {"schema": {"type": "string", "pattern": NAME_PATTERN, "maxLength": 80}}
    schema = {"type": "string", "pattern": rule.pattern, "maxLength": rule.max_length}
    return {"description": rule.description, "schema": schema}


def _parameters(route: Route) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
        }
        for name in route.ids
    ]
    params.extend(
        {
            "name": name,
            "in": "path",
            "required": True,
            **_name_schema(route, name),
        }
        for name in route.names
    )
    params.extend(
        {"name": f.name, "in": "query", "required": f.required, "schema": f.json_schema()}
        for f in route.query
    )
    if route.socket:
        params.append(
            {
                "name": "Last-Event-ID",
                "in": "header",
                "required": False,
                "description": "as ?after= (the query wins)",
                "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
            }
        )
    return params


def _upload_body() -> dict[str, Any]:
    binary = {"type": "string", "format": "binary"}
    content: dict[str, Any] = {"text/csv": {"schema": {"type": "string"}}}
    content.update({t: {"schema": binary} for t in sorted(XLSX_TYPES)})
    content["multipart/form-data"] = {
        "schema": {"type": "object", "properties": {"file": binary}, "required": ["file"]}
    }
    return {"required": True, "content": content}


def operation(route: Route) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": f"{route.method.lower()}_{route.path.strip('/').replace('/', '_')}".replace(
            "{", ""
        )
        .replace("}", "")
        .replace("-", "_"),
        "summary": route.summary,
        **({"description": route.description} if route.description else {}),
        "tags": [route.tag],
        "security": [{"bearer": []}],
        "x-permission": str(route.permission),
        "responses": _responses(route),
    }
    params = _parameters(route)
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {
            "required": body_required(route),
            "content": {"application/json": {"schema": _ref(route.body)}},
        }
    elif route.upload:
        op["requestBody"] = _upload_body()
    return op


def _add(found: dict[str, dict[str, Any]], name: str, schema: dict[str, Any]) -> bool:
    """Keep ``schema`` as component ``name``; False if it was there already."""
    seen = found.setdefault(name, schema)
    if seen != schema:
        raise ValueError(f"two different schemas are named {name}")
    return seen is schema


def _shape(shape: Schema | Reply, found: dict[str, dict[str, Any]]) -> None:
    """``shape`` and every named shape and enum reachable from it, by name."""
    if _add(found, shape.name, shape.json_schema()):
        _fields(shape.fields, found)


def _enum(f: Field) -> dict[str, Any]:
    """A named enum; a long one (hundreds of names from a library) as its ``format``, with the
    library it comes from in the description: a list of that size helps no client."""
    assert f.enum is not None
    if f.fmt is None:
        return {"type": "string", "enum": list(f.enum)}
    return {"type": "string", "format": f.fmt, "description": _FORMATS[f.fmt]}


def _fields(fields: Iterable[Field], found: dict[str, dict[str, Any]]) -> None:
    for f in fields:
        if f.enum is not None and f.enum_name is not None:
            _add(found, f.enum_name, _enum(f))
        if f.shape is not None:
            _shape(f.shape, found)


def components(routes: Iterable[Route]) -> dict[str, Any]:
    """The shared schemas: ``Problem``, every body and reply, and the shapes and enums they
    refer to (each once, by name)."""
    found: dict[str, dict[str, Any]] = {}
    for route in routes:
        _fields(route.query, found)
        if route.body is not None:
            _shape(route.body, found)
        for name, schema in route.messages:
            _add(found, name, dict(schema))
        for spec in route.replies.values():
            if isinstance(spec, Reply):
                _shape(spec, found)
    schemas: dict[str, Any] = {"Problem": PROBLEM_SCHEMA}
    schemas.update({name: found[name] for name in sorted(found)})
    return schemas


def document(routes: Iterable[Route], version: str) -> dict[str, Any]:
    routes = tuple(routes)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Dialer control API", "version": version},
        "servers": [{"url": "/v1"}],
        "paths": paths,
        "components": {
            "schemas": components(routes),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
