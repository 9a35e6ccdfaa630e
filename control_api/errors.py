"""Errors of the control API; each becomes one RFC 9457 problem document.

Two roots. The domain's refusals (:mod:`gateway.campaigns.errors`, re-exported here because the
HTTP layer raises them too, e.g. a malformed field) get their status from :data:`STATUS`:

CampaignError             (gateway.campaigns.errors)
├── Forbidden      403    the token's role, or this caller, may not do this
├── NotFound       404    no such campaign, record, token, webhook or number
├── Conflict       409    the resource is not in a state that allows this (lifecycle, version)
└── Invalid        422    a request field is malformed; ``field`` names it

ApiError                  errors only HTTP knows: status, title, detail and extra members
├── Unauthorized   401    no bearer token, or an unknown or revoked one
├── PayloadTooLarge 413   an upload over the configured size limit
├── UnsupportedMedia 415  an upload that is not CSV or XLSX
├── UpgradeRequired 426   a plain GET on a WebSocket stream (``Upgrade: websocket`` needed)
├── TooManyRequests 429   more uploads at once than the server takes (``Retry-After``)
└── ServiceUnavailable 503 the database is out of reach right now (pool exhausted, timed out,
                          connection lost); the problem carries ``retry_after_s``

:class:`pacing.lifecycle.OperationRefused` is translated to a 409 naming the current state and
the allowed states by the one problem middleware (``control_api.http``), and so are database
unavailability errors (:func:`control_api.availability.unavailable`) to a 503; nothing else
turns exceptions into responses.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.campaigns.errors import (
    CampaignError,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    Unavailable,
)

__all__ = [
    "STATUS",
    "ApiError",
    "CampaignError",
    "Conflict",
    "Forbidden",
    "Invalid",
    "NotFound",
    "PayloadTooLarge",
    "ServiceUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "Unavailable",
    "UpgradeRequired",
    "status_of",
]

#: Status and title of each domain refusal.
STATUS: Mapping[type[CampaignError], tuple[int, str]] = {
    Forbidden: (403, "Forbidden"),
    NotFound: (404, "Not Found"),
    Conflict: (409, "Conflict"),
    Invalid: (422, "Unprocessable Content"),
    Unavailable: (503, "Service Unavailable"),
}


def status_of(exc: CampaignError) -> tuple[int, str]:
    """The status and title of a domain refusal (500 for a class without a row: a defect)."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500, "Internal Server Error"


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


class PayloadTooLarge(ApiError):
    status = 413
    title = "Payload Too Large"


class UnsupportedMedia(ApiError):
    status = 415
    title = "Unsupported Media Type"


class UpgradeRequired(ApiError):
    status = 426
    title = "Upgrade Required"


class TooManyRequests(ApiError):
    status = 429
    title = "Too Many Requests"


class ServiceUnavailable(ApiError):
    """The database cannot serve the request now; the client should retry later."""

    status = 503
    title = "Service Unavailable"

    def __init__(self, detail: str, retry_after_s: int = 1) -> None:
        super().__init__(detail, retry_after_s=retry_after_s)
        self.retry_after_s = retry_after_s
