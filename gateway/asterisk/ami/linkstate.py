"""The state machine of one Asterisk link (AMI or ARI) and its reconnect backoff. Pure.

Design. A link is ``disconnected`` until its owner starts it, then cycles
``connecting → authenticating → ready`` and, on any failure, ``backoff`` before the next
``connecting``. ``closed`` is terminal (the owner stopped it). The states are exported as a
gauge by the metrics layer, so every transition goes through :func:`apply`, which is the one
place that raises :class:`IllegalTransition` for a transition the table does not list.

The backoff is exponential with jitter: attempt *n* waits ``min(cap, base·2ⁿ)`` scaled by a
random factor in ``[0.5, 1.0]``, so a fleet of gateways does not reconnect in lock-step after an
Asterisk restart, and the wait never exceeds ``cap`` (the bound the fault tests check).
ARI links reuse this module: the states are the same.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from gateway.asterisk.errors import IllegalTransition


class LinkState(enum.StrEnum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    AUTHENTICATING = "authenticating"
    READY = "ready"
    BACKOFF = "backoff"
    CLOSED = "closed"


class LinkInput(enum.StrEnum):
    START = "start"
    CONNECTED = "connected"  # TCP/WebSocket up, credentials being checked
    AUTHENTICATED = "authenticated"
    FAILED = "failed"  # any error: refused, timeout, auth, dropped
    RETRY = "retry"  # the backoff wait is over
    STOP = "stop"


L, In = LinkState, LinkInput
LINK_TRANSITIONS: dict[tuple[LinkState, LinkInput], LinkState] = {
    (L.DISCONNECTED, In.START): L.CONNECTING,
    (L.CONNECTING, In.CONNECTED): L.AUTHENTICATING,
    (L.AUTHENTICATING, In.AUTHENTICATED): L.READY,
    (L.CONNECTING, In.FAILED): L.BACKOFF,
    (L.AUTHENTICATING, In.FAILED): L.BACKOFF,
    (L.READY, In.FAILED): L.BACKOFF,
    (L.BACKOFF, In.RETRY): L.CONNECTING,
    **{(s, In.STOP): L.CLOSED for s in L if s is not L.CLOSED},
}


def apply(name: str, state: LinkState, event: LinkInput) -> LinkState:
    """The next state, or :class:`IllegalTransition` (the state is unchanged)."""
    nxt = LINK_TRANSITIONS.get((state, event))
    if nxt is None:
        raise IllegalTransition(f"link={name}", state, event)
    return nxt


def backoff_delay(attempt: int, *, base: float, cap: float, rand: Callable[[], float]) -> float:
    """Seconds to wait before reconnect ``attempt`` (0-based): exponential, jittered, capped."""
    ceiling = min(cap, base * (2.0 ** min(attempt, 30)))
    return ceiling * (0.5 + 0.5 * rand())
