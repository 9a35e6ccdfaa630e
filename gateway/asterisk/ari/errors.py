"""Errors of the ARI edge: the tree lives in :mod:`gateway.asterisk.errors`; this module re-exports
it
and maps an HTTP status and body to the right class (:func:`error_for`).

Bodies are usually ``{"message": "..."}`` but the 500 for an unknown channel technology is
``{"error": "Allocation failed"}``; a body that is not JSON is kept as text.
"""

from __future__ import annotations

import json

from gateway.asterisk.errors import (
    AriBadRequest,
    AriConflict,
    AriError,
    AriNotFound,
    AriServerError,
    AriUnauthorized,
)

__all__ = [
    "AriBadRequest",
    "AriConflict",
    "AriError",
    "AriNotFound",
    "AriServerError",
    "AriUnauthorized",
    "error_for",
]

_BY_STATUS: dict[int, type[AriError]] = {
    400: AriBadRequest,
    401: AriUnauthorized,
    403: AriUnauthorized,
    404: AriNotFound,
    409: AriConflict,
    422: AriConflict,
}


def message_of(body: str) -> str:
    """The human message of an ARI error body (``message`` or ``error``), else the text."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.strip()[:400]
    if isinstance(data, dict):
        for key in ("message", "error"):
            value = data.get(key)
            if isinstance(value, str):
                return value
    return body.strip()[:400]


def error_for(status: int, body: str, *, method: str = "", path: str = "") -> AriError:
    """The typed error for an ARI response with a failing status."""
    cls = _BY_STATUS.get(status) or (AriServerError if status >= 500 else AriError)
    return cls(status, message_of(body), method=method, path=path)
