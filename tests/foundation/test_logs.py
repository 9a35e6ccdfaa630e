"""Structured logging: one line per event, fields kept, ids from the context."""

from __future__ import annotations

import io
import json
import logging

from gateway.logs import call_id, configure, event, request_id
from gateway.settings import Secret


def _capture(fmt: str) -> io.StringIO:
    stream = io.StringIO()
    configure(fmt, "INFO", stream)
    return stream


def test_key_value_lines_carry_fields_and_ids() -> None:
    stream = _capture("kv")
    token = request_id.set("req-7")
    try:
        event(logging.getLogger("t"), "campaign started", campaign=42, note="two words")
    finally:
        request_id.reset(token)
    line = stream.getvalue().strip()
    assert "\n" not in line
    assert 'event="campaign started"' in line
    assert "campaign=42" in line
    assert 'note="two words"' in line
    assert "request_id=req-7" in line


def test_json_lines_parse_and_never_show_secrets() -> None:
    stream = _capture("json")
    token = call_id.set("abc123")
    try:
        event(logging.getLogger("t"), "login", secret=Secret("hunter2"))
    finally:
        call_id.reset(token)
    record = json.loads(stream.getvalue())
    assert record["event"] == "login"
    assert record["call_id"] == "abc123"
    assert record["secret"] == "***"
    assert "hunter2" not in stream.getvalue()
