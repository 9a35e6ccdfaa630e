"""Errors of call tracking: the tree lives in :mod:`gateway.asterisk.errors`; this module
re-exports.

``IllegalTransition`` is raised by :func:`gateway.asterisk.calls.state.apply` and leaves the state
as it was (:func:`gateway.asterisk.calls.machine.step` returns an ``Illegal`` command instead).
Nothing here may define a second root.
"""

from __future__ import annotations

from gateway.asterisk.errors import GatewayError, IllegalTransition

__all__ = ["GatewayError", "IllegalTransition"]
