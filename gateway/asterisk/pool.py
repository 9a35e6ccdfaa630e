"""The server pool: server configuration, per-server budgets, and which server gets a call.

Design. Each Asterisk server has a channel capacity and an originate-rate limit. The rate limit
is a token bucket (refilled from the monotonic clock passed in, burst of a tenth of a second's
worth, at least one). :func:`choose` is a pure function of per-server views: among healthy
servers with a free channel and little send backlog, it picks the one with the most free
channels (ties by name, so the choice is deterministic). A server whose link is down is not
healthy and gets nothing. No I/O and no clock reads happen here; the runtime passes ``now``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from gateway.asterisk import validate
from gateway.asterisk.errors import InvalidValue
from gateway.settings import AsteriskServer

Driver = Literal["ami", "ari"]


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """One Asterisk server; the AMI secret and ARI password never appear in ``repr``."""

    name: str
    host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_username: str = "dialer"
    ami_secret: str = field(default="", repr=False)
    ari_port: int = 8088
    ari_username: str = "dialer"
    ari_password: str = field(default="", repr=False)
    ari_app: str = "dialer"
    driver: Driver = "ami"
    channels: int = 200
    originate_rate: float = 50.0  # originates per second
    trunk: str = "PJSIP/{number}@carrier"
    # Each queue's queue-level wrapuptime as queues.conf sets it: used when AMI GetConfig of
    # queues.conf is refused (QueueStatus says Wrapuptime: 0 for it; gateway.asterisk.queuesync).
    queue_wrapup: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        validate.name("server name", self.name)
        validate.name("ari_app", self.ari_app)
        validate.text("ami_username", self.ami_username, max_len=64)
        validate.text("ami_secret", self.ami_secret, max_len=128)
        validate.text("ari_username", self.ari_username, max_len=64)
        validate.text("ari_password", self.ari_password, max_len=128)
        validate.dial_string(self.trunk, "+15550000000")
        if self.driver not in ("ami", "ari"):
            raise InvalidValue("driver", f"must be 'ami' or 'ari', got {self.driver!r}")
        if self.channels < 1 or self.originate_rate <= 0:
            raise InvalidValue("capacity", "channels and originate_rate must be positive")

    @classmethod
    def from_settings(cls, s: AsteriskServer) -> ServerConfig:
        return cls(
            name=s.name, host=s.host, ami_port=s.ami_port, ami_username=s.ami_username,
            ami_secret=s.ami_secret.reveal(), ari_port=s.ari_port, ari_username=s.ari_username,
            ari_password=s.ari_password.reveal(), ari_app=s.ari_app, driver=s.driver,
            channels=s.channels, originate_rate=s.originate_rate, trunk=s.trunk,
            queue_wrapup=s.queue_wrapup,
        )  # fmt: skip


class TokenBucket:
    """Originate-rate budget: ``rate`` tokens per second, ``burst`` at most."""

    __slots__ = ("_last", "burst", "rate", "tokens")

    def __init__(self, rate: float, now: float, burst: float | None = None) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate / 10.0)
        self.tokens = self.burst
        self._last = now

    def refill(self, now: float) -> None:
        if now > self._last:
            self.tokens = min(self.burst, self.tokens + (now - self._last) * self.rate)
        self._last = now

    def take(self, now: float) -> bool:
        self.refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def wait_s(self, now: float) -> float:
        """Seconds until one token is available."""
        self.refill(now)
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate


@dataclass(frozen=True, slots=True)
class ServerView:
    """What :func:`choose` needs to know about one server."""

    name: str
    healthy: bool
    channels: int
    used: int  # calls in flight plus calls waiting to be sent
    backlog: int  # calls waiting to be sent (rate-limited)
    rate: float

    @property
    def free(self) -> int:
        return max(0, self.channels - self.used)

    @property
    def room(self) -> int:
        """Calls :func:`choose` would still give this server now: free channels and send room."""
        if not self.healthy:
            return 0
        return max(0, min(self.free, math.ceil(backlog_limit(self.rate)) - self.backlog))


@dataclass(frozen=True, slots=True)
class ServerCapacity:
    name: str
    healthy: bool
    driver: str
    channels: int
    used: int
    free: int
    backlog: int
    originate_rate: float
    ami_state: str
    ari_state: str | None
    room: int = 0  # calls it takes now (see ServerView.room)


@dataclass(frozen=True, slots=True)
class PoolSnapshot:
    servers: tuple[ServerCapacity, ...]

    @property
    def free(self) -> int:
        return sum(s.free for s in self.servers if s.healthy)

    @property
    def healthy(self) -> int:
        return sum(1 for s in self.servers if s.healthy)

    @property
    def room(self) -> int:
        """Calls the pool takes right now without refusing one (``NoCapacity``)."""
        return sum(s.room for s in self.servers)


MAX_BACKLOG_S = 1.0  # a server whose send queue needs longer than this gets no more calls


def backlog_limit(rate: float) -> float:
    """The send backlog at which a server gets no more calls."""
    return max(1.0, rate * MAX_BACKLOG_S)


def choose(servers: Sequence[ServerView]) -> str | None:
    """The server for the next call, or ``None`` when none is healthy with room."""
    best: ServerView | None = None
    for s in servers:
        if not s.healthy or s.free <= 0 or s.backlog >= backlog_limit(s.rate):
            continue
        if best is None or (s.free, best.name) > (best.free, s.name):
            best = s
    return None if best is None else best.name
