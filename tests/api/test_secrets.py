"""Secrets never in logs or replies: oversized and malformed headers carrying a real token are
refused with a problem document that quotes nothing, and the captured log never holds the token.
Also: strict bearer parsing, ``WWW-Authenticate`` on 401, ``Allow`` on every 405.
"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from control_api.serving import parse_error_reply
from gateway.db.models import Role
from tests.api.conftest import Api


async def raw(api: Api, head: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``head`` (request line and headers, no body) over a fresh TCP connection."""
    port = api.client.server.port
    assert port is not None
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    try:
        writer.write(head + b"\r\n\r\n")
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    top, _, body = data.partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def _oversized(token: str) -> bytes:
    return f"Authorization: Bearer {token}".encode() + b"A" * 9000


def _cases(token: str) -> list[tuple[str, bytes, int]]:
    tok = token.encode()
    return [
        ("value over 8 KiB", _oversized(token), 431),
        ("token after 8 KiB of padding", b"Authorization: Bearer " + b"A" * 9000 + tok, 431),
        ("control character", b"Authorization: Bearer " + tok[:5] + b"\x01" + tok[5:], 400),
        ("bad header name", b"Authori zation: Bearer " + tok, 400),
        ("header name over 8 KiB", b"X-" + tok + b"B" * 9000 + b": 1", 431),
        ("too many headers", b"".join(b"X-%d: %s\r\n" % (i, tok) for i in range(200))[:-2], 431),
        ("NUL in value", b"Authorization: Bearer " + tok + b"\x00", 400),
    ]


async def test_malformed_headers_are_refused_without_echoing_the_token(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = api.tokens[Role.ADMIN]
    for label, header, expected in _cases(token):
        status, headers, body = await raw(
            api, b"GET /v1/campaigns HTTP/1.1\r\nHost: x\r\n" + header
        )
        assert status == expected, label
        assert headers["Content-Type"].startswith("application/problem+json"), label
        problem = json.loads(body)
        assert problem["status"] == expected, label
        assert token not in body.decode("latin-1"), label
        assert token[:20] not in body.decode("latin-1"), label
        assert "AAAA" not in body.decode("latin-1"), label
    logged = caplog.text + "".join(str(r.exc_info) for r in caplog.records)
    assert "refused a malformed request" in logged  # the log saw the requests ...
    assert token[:12] not in logged  # ... but never the token, not even its start
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_long_request_line_is_refused_without_echo(api: Api) -> None:
    token = api.tokens[Role.ADMIN]
    status, _, body = await raw(api, f"GET /v1/campaigns?t={token}{'x' * 9000} HTTP/1.1".encode())
    assert status == 431
    assert token not in body.decode()


@pytest.mark.parametrize(
    "header",
    [
        "Basic {t}",
        "Bearer",
        "Bearer ",
        "Bearer {t} extra",
        "Bearer {t},",
        "Token {t}",
        "Bearer {t}\u00e9",
        "bearer {t}x",
        "Bearer " + "a" * 600,
    ],
)
async def test_strict_bearer_parsing_401_with_challenge(
    api: Api, caplog: pytest.LogCaptureFixture, header: str
) -> None:
    caplog.set_level(logging.DEBUG)
    token = api.tokens[Role.ADMIN]
    value = header.format(t=token)
    response = await api.client.get(
        "/v1/campaigns", headers={"Authorization": value.encode("utf-8").decode("latin-1")}
    )
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    text = await response.text()
    assert token not in text
    assert token[:12] not in caplog.text


async def test_bearer_scheme_is_case_insensitive(api: Api) -> None:
    token = api.tokens[Role.ADMIN]
    response = await api.client.get("/v1/campaigns", headers={"Authorization": f"bearer {token}"})
    assert response.status == 200


async def test_missing_token_gets_a_challenge(api: Api) -> None:
    response = await api.client.get("/v1/campaigns")
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/v1/campaigns", {"GET", "POST"}),
        ("POST", "/v1/campaigns/1/status", {"GET"}),
        ("GET", "/v1/campaigns/1/start", {"POST"}),
        ("PATCH", "/v1/tokens", {"GET", "POST"}),
        ("POST", "/v1/openapi.json", {"GET"}),
    ],
)
async def test_every_405_names_the_allowed_methods(
    api: Api, method: str, path: str, allowed: set[str]
) -> None:
    response = await api.client.request(method, path, headers=api.auth(Role.ADMIN))
    assert response.status == 405
    assert response.content_type == "application/problem+json"
    assert set(response.headers["Allow"].split(",")) - {"HEAD"} == allowed


def test_parse_error_reply_table() -> None:
    from aiohttp.http_exceptions import BadHttpMessage, InvalidHeader, LineTooLong

    assert parse_error_reply(LineTooLong("secret", 10), 400)[0] == 431
    assert parse_error_reply(BadHttpMessage("Too many headers"), 400)[0] == 431
    status, _, detail = parse_error_reply(InvalidHeader(b"Bearer secret"), 400)
    assert (status, "secret" in detail) == (400, False)
    assert parse_error_reply(None, 500)[:2] == (500, "Internal Server Error")
