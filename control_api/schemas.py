"""Request and response schemas: one definition gives both the parser and the JSON Schema.

A :class:`Schema` is a tuple of :class:`Field`; ``parse`` validates a decoded JSON body and
raises :class:`control_api.errors.Invalid` naming the first bad field, ``json_schema`` renders
the same rules for the OpenAPI document, so the documentation cannot disagree with the checks.
Strings refuse control characters (PostgreSQL cannot store NUL, and CR/LF would corrupt exports);
integers have bounds that fit their columns. :func:`document` renders the domain's typed rows
(frozen dataclasses) as JSON objects. No I/O here.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from control_api.errors import Invalid
from gateway.campaigns.audit import jsonable

Kind = Literal[
    "string", "integer", "number", "boolean", "object", "array", "datetime", "date", "json"
]
NO_CONTROL = r"^[^\u0000-\u001f\u007f]*$"
INT32 = 2**31 - 1
#: The JSON Schema of the kinds that take no bounds.
_FIXED: dict[str, dict[str, Any]] = {
    "datetime": {"type": "string", "format": "date-time"},
    "date": {"type": "string", "format": "date"},
    "json": {},  # any JSON value
}


def _has_control(value: str) -> bool:
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in value)


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    kind: Kind
    required: bool = False
    nullable: bool = False
    minimum: float | None = None
    maximum: float | None = None
    exclusive: bool = False  # the bounds themselves are refused (an open interval)
    max_length: int | None = None
    min_length: int = 0
    enum: tuple[str, ...] | None = None
    items: Kind = "string"
    description: str = ""
    pattern: str | None = None  # a JSON-Schema (ECMA and Python) regular expression, anchored
    shape: Schema | Reply | None = None  # the members of an object (or of an array's items)
    enum_name: str | None = None  # the enum is the shared component of that name
    values: Kind | None = None  # an object mapping free keys to values of this kind
    fmt: str | None = None  # a string's JSON-Schema ``format`` (documentation and generators)
    keys: str | None = None  # with ``values``: the pattern every key matches

    def json_schema(self) -> dict[str, Any]:
        schema = self._base()
        if self.description:
            schema["description"] = self.description
        if self.nullable:
            return {"anyOf": [schema, {"type": "null"}]}
        return schema

    def _base(self) -> dict[str, Any]:
        if self.kind == "array":  # an enum, a shape and bounds are those of its items
            item = self._item("item")._base()
            return {"type": "array", "items": item, "maxItems": 100}
        if self.enum is not None and self.enum_name is not None:
            return {"$ref": f"#/components/schemas/{self.enum_name}"}
        if self.enum is not None:
            return {"type": "string", "enum": list(self.enum)}
        if self.kind in _FIXED:
            return dict(_FIXED[self.kind])
        if self.shape is not None and self.kind == "object":
            return {"$ref": f"#/components/schemas/{self.shape.name}"}
        if self.kind == "string":
            return self._string()
        if self.kind in ("integer", "number"):
            return self._number()
        if self.kind == "object" and self.values is not None:
            return self._map()
        return {"type": self.kind}

    def _map(self) -> dict[str, Any]:
        """An object of free keys (matching ``keys``) to values of one kind (and ``pattern``);
        ``max_length`` bounds the number of members."""
        assert self.values is not None
        value = Field("value", self.values, pattern=self.pattern)._base()
        schema: dict[str, Any] = {"type": "object", "additionalProperties": value}
        if self.keys is not None:
            schema["propertyNames"] = {"pattern": self.keys}
        if self.max_length is not None:
            schema["maxProperties"] = self.max_length
        return schema

    def _string(self) -> dict[str, Any]:
        if self.fmt is not None:
            # The format says it all (the pattern and lengths it implies are in the description):
            # a generator that knows the format makes only values the server accepts.
            return {"type": "string", "format": self.fmt}
        schema: dict[str, Any] = {"type": "string", "pattern": self.pattern or NO_CONTROL}
        if self.min_length:
            schema["minLength"] = self.min_length
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        return schema

    def _number(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": self.kind}
        low, high = ("exclusiveMinimum", "exclusiveMaximum") if self.exclusive else (
            "minimum", "maximum")  # fmt: skip
        if self.minimum is not None:
            schema[low] = self.minimum
        if self.maximum is not None:
            schema[high] = self.maximum
        return schema

    def _item(self, name: str) -> Field:
        """An array's item: the array's length and bounds apply to each item."""
        return Field(
            name,
            self.items,
            max_length=self.max_length,
            minimum=self.minimum,
            maximum=self.maximum,
            exclusive=self.exclusive,
            pattern=self.pattern,
            shape=self.shape,
            enum=self.enum,
            enum_name=self.enum_name,
        )

    def parse(self, value: object) -> object:
        if value is None:
            if self.nullable:
                return None
            raise Invalid(self.name, "must not be null")
        if self.enum is not None and self.kind != "array":
            if value not in self.enum:
                raise Invalid(self.name, f"must be one of {', '.join(self.enum)}")
            return value
        parser = _PARSERS[self.kind]
        return parser(self, value)


def _string(field: Field, value: object) -> str:
    if not isinstance(value, str):
        raise Invalid(field.name, "must be a string")
    if _has_control(value):
        raise Invalid(field.name, "must not contain control characters")
    if len(value) < field.min_length:
        raise Invalid(field.name, f"must have at least {field.min_length} characters")
    if field.max_length is not None and len(value) > field.max_length:
        raise Invalid(field.name, f"must have at most {field.max_length} characters")
    if field.pattern is not None and re.fullmatch(field.pattern, value) is None:
        raise Invalid(field.name, f"must match {field.pattern}")
    return value


def _number(field: Field, value: object) -> float | int:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if field.kind == "integer":
        ok = ok and (isinstance(value, int) or (isinstance(value, float) and value.is_integer()))
    if not ok:
        raise Invalid(field.name, f"must be an {field.kind}")
    assert isinstance(value, int | float)
    number: float | int = int(value) if field.kind == "integer" else float(value)
    if not math.isfinite(number):
        raise Invalid(field.name, "must be a finite number")
    if field.exclusive:
        if field.minimum is not None and number <= field.minimum:
            raise Invalid(field.name, f"must be greater than {field.minimum}")
        if field.maximum is not None and number >= field.maximum:
            raise Invalid(field.name, f"must be less than {field.maximum}")
        return number
    if field.minimum is not None and number < field.minimum:
        raise Invalid(field.name, f"must be at least {field.minimum}")
    if field.maximum is not None and number > field.maximum:
        raise Invalid(field.name, f"must be at most {field.maximum}")
    return number


def _boolean(field: Field, value: object) -> bool:
    if not isinstance(value, bool):
        raise Invalid(field.name, "must be a boolean")
    return value


def _object(field: Field, value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(field.name, "must be an object")
    if isinstance(field.shape, Schema):
        try:
            return field.shape.parse(value)
        except Invalid as exc:
            raise Invalid(f"{field.name}.{exc.field}", exc.reason) from None
    if _has_nul(value):
        raise Invalid(field.name, "must not contain NUL characters")
    return value


def _has_nul(value: object) -> bool:
    """PostgreSQL's JSONB cannot store U+0000 in a key or a string."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _array(field: Field, value: object) -> list[object]:
    if not isinstance(value, list) or len(value) > 100:
        raise Invalid(field.name, "must be an array of at most 100 items")
    item = field._item(field.name)
    return [item.parse(v) for v in value]


def _date(field: Field, value: object) -> str:
    """A calendar date, kept as its ``YYYY-MM-DD`` text (it is stored in a JSON document)."""
    if not isinstance(value, str) or len(value) != 10:
        raise Invalid(field.name, "must be a YYYY-MM-DD date")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise Invalid(field.name, "must be a YYYY-MM-DD date") from None
    return value


def _json(field: Field, value: object) -> object:
    if _has_nul(value):
        raise Invalid(field.name, "must not contain NUL characters")
    return value


def _datetime(field: Field, value: object) -> datetime:
    if not isinstance(value, str):
        raise Invalid(field.name, "must be a date-time string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(field.name, "must be an RFC 3339 date-time") from None
    if parsed.tzinfo is None:
        raise Invalid(field.name, "must carry a UTC offset")
    return parsed


_PARSERS = {
    "string": _string,
    "integer": _number,
    "number": _number,
    "boolean": _boolean,
    "object": _object,
    "array": _array,
    "datetime": _datetime,
    "date": _date,
    "json": _json,
}


@dataclass(frozen=True, slots=True)
class Schema:
    """A JSON object of named fields (unknown members refused)."""

    name: str
    fields: tuple[Field, ...]
    example: Mapping[str, Any] | None = None  # a body the server accepts (the document's)
    #: JSON Schema rules that tie fields together (``allOf``), stated so that a client or a
    #: generator knows them; :meth:`parse` leaves them to the service that enforces them.
    rules: tuple[Mapping[str, Any], ...] = ()

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {f.name: f.json_schema() for f in self.fields},
            "additionalProperties": False,
        }
        required = [f.name for f in self.fields if f.required]
        if required:
            schema["required"] = required
        if self.rules:
            schema["allOf"] = [dict(rule) for rule in self.rules]
        if self.example is not None:
            schema["examples"] = [dict(self.example)]
        return schema

    def parse(self, body: object) -> dict[str, Any]:
        if not isinstance(body, Mapping):
            raise Invalid("body", "must be a JSON object")
        known = {f.name for f in self.fields}
        for key in body:
            if key not in known:
                raise Invalid(str(key), "is not a known field")
        parsed: dict[str, Any] = {}
        for f in self.fields:
            if f.name in body:
                parsed[f.name] = f.parse(body[f.name])
            elif f.required:
                raise Invalid(f.name, "is required")
        return parsed


@dataclass(frozen=True, slots=True)
class Reply:
    """A response body schema, for the OpenAPI document only (every listed member is present)."""

    name: str
    fields: tuple[Field, ...]
    open: bool = False  # True: free-form extra members allowed

    def json_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {f.name: _loose(f) for f in self.fields},
            "required": [f.name for f in self.fields],
        }


def _loose(field: Field) -> dict[str, Any]:
    """Reply fields: the type only (stored data predates today's request limits)."""
    kind: dict[str, Any]
    ref = {"$ref": f"#/components/schemas/{field.shape.name}"} if field.shape else None
    if ref is not None and field.kind == "object":
        kind = dict(ref)
    elif ref is not None and field.kind == "array":
        kind = {"type": "array", "items": ref}
    elif field.kind in ("datetime", "date"):
        kind = {"type": "string"}
    elif field.kind == "json":
        kind = {}
    elif field.kind == "array":
        kind = {"type": "array", "items": {"type": _json_type(field.items)}}
    elif field.kind == "object" and field.values is not None:
        kind = {"type": "object", "additionalProperties": {"type": _json_type(field.values)}}
    else:
        kind = {"type": _json_type(field.kind)}
    if field.description:
        kind["description"] = field.description
    if field.nullable:
        return {"anyOf": [kind, {"type": "null"}]}
    return kind


def _json_type(kind: Kind) -> str:
    return "string" if kind in ("datetime", "date") else kind


def document(row: object) -> dict[str, Any]:
    """A typed row of the domain (a frozen dataclass) as a JSON object: datetimes as RFC 3339
    strings, tuples as arrays."""
    if not dataclasses.is_dataclass(row) or isinstance(row, type):
        raise TypeError(f"{type(row).__name__} is not a typed row")
    body: dict[str, Any] = jsonable(row)
    return body


def documents(rows: Iterable[object]) -> list[dict[str, Any]]:
    return [document(r) for r in rows]
