"""Serving the HTTP application with bounded headers and replies that never echo the request.

aiohttp's own answer to a request it cannot parse (a header over its size limit, a control
character in a header, a bad request line) is a ``text/plain`` 400 that quotes the offending
bytes, and it logs the same bytes at ERROR with a traceback. When the offending header is
``Authorization`` that is the bearer token, in the reply and in the log. :class:`ApiRunner`
serves an application like :class:`aiohttp.web.AppRunner` but with explicit limits
(:data:`LIMITS`) and a request handler whose parse-error path answers with an RFC 9457 problem
document (431 for a header or line over the limit, 400 otherwise) naming only the kind of error,
and logs one WARNING line with the error's class — never the request's bytes.

This module is the one place that reaches into aiohttp's server internals (``_make_server``,
``Server._kwargs``); ``tests/api/test_secrets.py`` pins the behaviour at the socket, so an
aiohttp upgrade that changes them fails a test instead of leaking. No route logic here.
"""

from __future__ import annotations

import asyncio
import json
import logging
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMethod, HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

log = logging.getLogger(__name__)

MAX_LINE = 8190  # request line and each header line, in bytes
MAX_FIELD = 8190  # one header field (name or value), in bytes
MAX_HEADERS = 64
LIMITS: dict[str, int] = {
    "max_line_size": MAX_LINE,
    "max_field_size": MAX_FIELD,
    "max_headers": MAX_HEADERS,
}


def parse_error_reply(exc: BaseException | None, status: int) -> tuple[int, str, str]:
    """(status, title, detail) for a request aiohttp could not handle; pure, echoes nothing."""
    if isinstance(exc, LineTooLong) or "too many headers" in str(exc).lower():
        return (
            431,
            "Request Header Fields Too Large",
            f"a header or the request line is over {MAX_FIELD} bytes, or there are more than "
            f"{MAX_HEADERS} headers",
        )
    if isinstance(exc, HttpProcessingError):
        kind = type(exc).__name__
        return 400, "Bad Request", f"the request is not valid HTTP ({kind})"
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return status, phrase, "the request failed; see the server log"


class _GuardedHandler(RequestHandler):
    """aiohttp's request handler, with a parse-error path that neither logs nor echoes input."""

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        del message  # aiohttp's message quotes the request's bytes
        code, title, detail = parse_error_reply(exc, status)
        if isinstance(exc, HttpProcessingError):
            level = logging.DEBUG if isinstance(exc, BadHttpMethod) else logging.WARNING
            log.log(level, "refused a malformed request: %s -> %d", type(exc).__name__, code)
        else:
            log.error("request failed: %s", type(exc).__name__ if exc else status, exc_info=exc)
        if request.writer.output_size > 0:
            raise ConnectionError("the response has started; cannot send an error reply")
        body = {"type": "about:blank", "title": title, "status": code, "detail": detail}
        response = web.Response(
            status=code, text=json.dumps(body), content_type="application/problem+json"
        )
        response.force_close()
        return response


class _GuardedServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _GuardedHandler(self, loop=self._loop, **self._kwargs)


class ApiRunner(web.AppRunner):
    """An :class:`aiohttp.web.AppRunner` with :data:`LIMITS` and the guarded parse-error path."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        super().__init__(app, **{**LIMITS, **kwargs})

    async def _make_server(self) -> web.Server:
        made = await super()._make_server()
        return _GuardedServer(
            made.request_handler,
            request_factory=made.request_factory,
            handler_cancellation=made.handler_cancellation,
            loop=asyncio.get_running_loop(),
            **made._kwargs,
        )
