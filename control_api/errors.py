"""Errors of the control API; each becomes one RFC 9457 problem document.

ApiError                  root: HTTP status, title, detail and extra members of the problem
├── Unauthorized   401    no bearer token, or an unknown or revoked one
├── Forbidden      403    the token's role may not do this
├── NotFound       404    no such campaign, record, token, webhook or number
├── Conflict       409    the resource is not in a state that allows this (lifecycle, version)
├── PayloadTooLarge 413   an upload over the configured size limit
├── UnsupportedMedia 415  an upload that is not CSV or XLSX
├── Invalid        422    a request field is malformed; ``field`` names it
└── ServiceUnavailable 503 the database is out of reach right now (pool exhausted, timed out,
                          connection lost); the problem carries ``retry_after_s``

:class:`pacing.lifecycle.OperationRefused` is translated to a 409 naming the current state and
the allowed states by the one problem middleware (``control_api.http``), and so are database
unavailability errors (:func:`control_api.availability.unavailable`) to a 503; nothing else
turns exceptions into responses.
"""

from __future__ import annotations

from collections.abc import Mapping


class ApiError(Exception):
    """An error with an HTTP status; rendered as ``application/problem+json``."""

    status = 500
    title = "Internal Server Error"

    def __init__(self, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra: Mapping[str, object] = extra


class Unauthorized(ApiError):
    status = 401
    title = "Unauthorized"


class Forbidden(ApiError):
    status = 403
    title = "Forbidden"


class NotFound(ApiError):
    status = 404
    title = "Not Found"


class Conflict(ApiError):
    status = 409
    title = "Conflict"


class PayloadTooLarge(ApiError):
    status = 413
    title = "Payload Too Large"


class UnsupportedMedia(ApiError):
    status = 415
    title = "Unsupported Media Type"


class Invalid(ApiError):
    """A request field is malformed; the problem names ``field``."""

    status = 422
    title = "Unprocessable Content"

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}", field=field)
        self.field = field


class ServiceUnavailable(ApiError):
    """The database cannot serve the request now; the client should retry later."""

    status = 503
    title = "Service Unavailable"

    def __init__(self, detail: str, retry_after_s: int = 1) -> None:
        super().__init__(detail, retry_after_s=retry_after_s)
        self.retry_after_s = retry_after_s
