"""Errors of call tracking: the tree lives in :mod:`gateway.errors`; this module re-exports.

``IllegalTransition`` is raised by :func:`gateway.calls.state.apply` and leaves the state as it
was. Nothing here may define a second root.
"""

from __future__ import annotations

from gateway.errors import GatewayError, IllegalTransition

__all__ = ["GatewayError", "IllegalTransition"]
