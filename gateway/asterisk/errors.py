"""The gateway's Asterisk-edge error tree: one root, every failure typed.

Holds only exception classes; it must not import anything from the gateway (every other module
imports it). Foreign exceptions (``OSError``, ``aiohttp.ClientError``, ``asyncio.TimeoutError``)
are translated into this tree at the adapters with ``raise ... from exc``.

::

    GatewayError
    ├── InvalidValue             a value for an AMI action / ARI request is refused (CR, LF, NUL…)
    ├── NoCapacity               no healthy server has a free channel and originate budget
    ├── UnknownServer            a server name that is not configured
    ├── QueueRefused             agent control: Asterisk or the board refuses a queue change
    │   ├── UnknownQueue         no server with a working link holds the queue
    │   ├── NotAMember           the agent is not logged in to the queue
    │   └── AlreadyAMember       the agent is logged in to the queue already
    ├── IllegalTransition        a call-leg or link event not allowed in the current state
    ├── ProtocolError            malformed bytes or JSON from Asterisk
    ├── LinkError                an AMI or ARI link cannot do what was asked
    │   ├── LinkDown             the link is not ready (disconnected, connecting, backoff)
    │   ├── AuthenticationFailed Asterisk refused the credentials
    │   └── ActionFailed         an AMI action answered ``Response: Error`` or timed out
    └── AriError                 an ARI REST call failed (status and message from the body)
        ├── AriBadRequest        400
        ├── AriUnauthorized      401
        ├── AriNotFound          404
        ├── AriConflict          409 / 422 (state conflicts)
        └── AriServerError       5xx (including ``{"error": "Allocation failed"}``)
"""

from __future__ import annotations


class GatewayError(Exception):
    """Root of every error raised by the gateway's Asterisk edge."""


class InvalidValue(GatewayError):
    """A value that would go into an AMI action or ARI request is refused before sending."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"invalid {field}: {reason}")
        self.field = field
        self.reason = reason


class NoCapacity(GatewayError):
    """No healthy server has both a free channel and originate budget right now."""


class UnknownServer(GatewayError):
    """The named server is not configured."""


class QueueRefused(GatewayError):
    """A queue member change (QueueAdd / QueueRemove / QueuePause) that cannot be made."""

    def __init__(self, queue: str, detail: str) -> None:
        super().__init__(detail)
        self.queue = queue
        self.detail = detail


class UnknownQueue(QueueRefused):
    """No server whose link is up holds the queue (each answered ``No such queue``)."""


class NotAMember(QueueRefused):
    """The agent is not logged in to the queue on any server."""


class AlreadyAMember(QueueRefused):
    """The agent (its interface) is logged in to the queue already."""


class IllegalTransition(GatewayError):
    """An event that the current state does not allow; the state is left unchanged."""

    def __init__(self, machine: str, state: str, event: str) -> None:
        super().__init__(f"{machine}: event {event!r} not allowed in state {state!r}")
        self.machine = machine
        self.state = state
        self.event = event


class ProtocolError(GatewayError):
    """Asterisk sent bytes or JSON that do not parse as the protocol says."""


class LinkError(GatewayError):
    """An AMI or ARI link cannot do what was asked."""


class LinkDown(LinkError):
    """The link is not in the ``ready`` state."""


class AuthenticationFailed(LinkError):
    """Asterisk refused the username/secret."""


class ActionFailed(LinkError):
    """An AMI action was answered with ``Response: Error`` (or not answered in time)."""

    def __init__(self, action: str, message: str) -> None:
        super().__init__(f"AMI {action} failed: {message}")
        self.action = action
        self.message = message


class AriError(GatewayError):
    """An ARI REST call failed; ``status`` is the HTTP status, ``message`` the body's text."""

    def __init__(self, status: int, message: str, *, method: str = "", path: str = "") -> None:
        super().__init__(f"ARI {method} {path} -> {status}: {message}".replace("  ", " "))
        self.status = status
        self.message = message


class AriBadRequest(AriError):
    """HTTP 400."""


class AriUnauthorized(AriError):
    """HTTP 401."""


class AriNotFound(AriError):
    """HTTP 404."""


class AriConflict(AriError):
    """HTTP 409 or 422."""


class AriServerError(AriError):
    """HTTP 5xx."""
