"""What one AMI link is given (:class:`AmiEndpoint`, :class:`LinkTiming`) and what it reports
(:class:`LinkStats`). Plain frozen data: no I/O, no behaviour; :mod:`gateway.asterisk.ami.adapter`
re-exports all three, and that is where callers import them from.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class AmiEndpoint:
    """Where and as whom to log in; the secret never appears in ``repr``."""

    server: str
    host: str
    port: int
    username: str
    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class LinkTiming:
    """Seconds: timeouts, the keep-alive, and the reconnect backoff (base and cap)."""

    connect_timeout: float = 5.0
    action_timeout: float = 5.0
    ping_interval: float = 5.0
    ping_timeout: float = 5.0
    idle_timeout: float = 20.0  # no bytes at all for this long: the peer is gone
    backoff_base: float = 0.5
    backoff_cap: float = 3.0  # a link that returns is retried within 3 s: dialling resumes in <5 s


@dataclass(frozen=True, slots=True)
class LinkStats:
    """Per-link figures for the metrics layer."""

    server: str
    link: str  # "ami" | "ari"
    state: str
    reconnects: int
    ping_rtt_s: float | None
    events: int
    bytes_in: int
    originates_written: int
