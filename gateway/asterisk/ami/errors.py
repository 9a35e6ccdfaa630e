"""Errors of the AMI edge: the tree lives in :mod:`gateway.asterisk.errors` (one root for the
gateway).

``ProtocolError`` (malformed bytes), ``LinkDown``, ``AuthenticationFailed`` and ``ActionFailed``
are the ones raised here. This module only re-exports; it must not define new roots.
"""

from __future__ import annotations

from gateway.asterisk.errors import (
    ActionFailed,
    AuthenticationFailed,
    GatewayError,
    LinkDown,
    LinkError,
    ProtocolError,
)

__all__ = [
    "ActionFailed",
    "AuthenticationFailed",
    "GatewayError",
    "LinkDown",
    "LinkError",
    "ProtocolError",
]
