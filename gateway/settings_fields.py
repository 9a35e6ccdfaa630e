"""Every setting the gateway knows, declared once: parsers, :data:`FIELDS`, the server keys.

Pure declarations and ``str -> value`` parsers that raise :class:`ValueError` with a human
reason; :mod:`gateway.settings` reads the environment mapping and the TOML file with them. The
README's configuration table is :data:`FIELDS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.asterisk.dialstring import check_template
from gateway.asterisk.errors import InvalidValue
from pacing.dispositions import CODE_PATTERN
from pacing.errors import LeaseTermsError
from pacing.fencing import MARGIN_S, RENEW_S, LeaseTerms


class SettingsError(Exception):
    """A setting is missing or malformed; ``name`` says which one (the CLI exits 2)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"setting {name}: {reason}")
        self.name = name
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Secret:
    """A value that must never be printed: ``repr``/``str`` show ``'***'``."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"


# --- parsers: str -> value, raising ValueError with a human reason -------------------------


def _int_range(lo: int, hi: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"expected an integer from {lo} to {hi}, got {raw!r}") from None
        if not lo <= value <= hi:
            raise ValueError(f"expected an integer from {lo} to {hi}, got {value}")
        return value

    return parse


def _positive_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"expected a positive number, got {raw!r}") from None
    if not value > 0:
        raise ValueError(f"expected a positive number, got {value}")
    return value


def _pacer_lease(raw: str) -> float:
    """The pacer lease's ttl: long enough for the supervisor's renewals (:mod:`pacing.fencing`)."""
    value = _positive_float(raw)
    try:
        LeaseTerms(value, RENEW_S, MARGIN_S)
    except LeaseTermsError as exc:
        raise ValueError(
            f"expected at least {3 * RENEW_S:g} s (renewed every {RENEW_S:g} s, held "
            f"{MARGIN_S:g} s less than the ttl): {exc}"
        ) from None
    if value > 300:
        raise ValueError(f"expected at most 300 s, got {value:g}")
    return value


def _bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def _choice(*options: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {raw!r}")
        return raw

    return parse


def _database_url(raw: str) -> Secret:
    if not raw.startswith(("postgresql://", "postgresql+asyncpg://", "postgres://")):
        raise ValueError("expected a postgresql:// URL")
    return Secret(raw)


def _secret(raw: str) -> Secret:
    if not raw:
        raise ValueError("must not be empty")
    return Secret(raw)


def _text(raw: str) -> str:
    if not raw.strip():
        raise ValueError("must not be empty")
    return raw


def _queue_wrapup(raw: str) -> tuple[tuple[str, int], ...]:
    """``queue=seconds`` pairs, comma-separated: each queue's queue-level ``wrapuptime``."""
    pairs: list[tuple[str, int]] = []
    for part in (p.strip() for p in raw.split(",") if p.strip()):
        queue, sep, seconds = (x.strip() for x in part.partition("="))
        if not sep or not queue or not seconds.isdigit():
            raise ValueError(f"expected queue=seconds pairs (sales=5,support=10), got {part!r}")
        pairs.append((queue, int(seconds)))
    return tuple(pairs)


def _code(raw: str) -> str:
    """A disposition code (:data:`pacing.dispositions.CODE_PATTERN`)."""
    if re.fullmatch(CODE_PATTERN, raw) is None:
        raise ValueError(f"must be a disposition code ({CODE_PATTERN})")
    return raw


def _trunk(raw: str) -> str:
    """A dial-string template with one number placeholder (gateway.asterisk.dialstring)."""
    try:
        check_template(raw)
    except InvalidValue as exc:
        raise ValueError(exc.reason) from None
    return raw


@dataclass(frozen=True, slots=True)
class Field:
    """One documented setting: where it lives, how it is parsed, its default."""

    env: str
    path: tuple[str, ...]
    parse: Callable[[str], Any]
    default: str
    doc: str


FIELDS: tuple[Field, ...] = (
    Field(
        "DIALER_DATA_DIR",
        ("data_dir",),
        Path,
        ".dialer",
        "Directory for local state; the embedded PostgreSQL keeps its data in <dir>/pgdata.",
    ),
    Field(
        "DIALER_HTTP_HOST",
        ("http", "host"),
        _text,
        "127.0.0.1",
        "Address the control API, health and metrics listen on.",
    ),
    Field(
        "DIALER_HTTP_PORT",
        ("http", "port"),
        _int_range(0, 65535),
        "8080",
        "Port of the control API (0 picks a free port).",
    ),
    Field(
        "DIALER_DATABASE_URL",
        ("database", "url"),
        _database_url,
        "(unset)",
        "External PostgreSQL URL. Unset: an embedded PostgreSQL is started (secret).",
    ),
    Field(
        "DIALER_DATABASE_POOL_SIZE",
        ("database", "pool_size"),
        _int_range(1, 500),
        "10",
        "Database connection pool size.",
    ),
    Field(
        "DIALER_DATABASE_AUTO_MIGRATE",
        ("database", "auto_migrate"),
        _bool,
        "true",
        "Apply Alembic migrations when the service starts.",
    ),
    Field(
        "DIALER_LOG_FORMAT",
        ("log", "format"),
        _choice("kv", "json"),
        "kv",
        "Log line format: key=value or JSON, one line per event.",
    ),
    Field(
        "DIALER_LOG_LEVEL",
        ("log", "level"),
        _choice("DEBUG", "INFO", "WARNING", "ERROR"),
        "INFO",
        "Minimum log level.",
    ),
    Field(
        "DIALER_TICK_INTERVAL",
        ("tick_interval_s",),
        _positive_float,
        "0.25",
        "Seconds between two pacing decisions of a running campaign.",
    ),
    Field(
        "DIALER_LINK_OUTAGE_LIMIT",
        ("link_outage_limit_s",),
        _positive_float,
        "60",
        "Seconds without any Asterisk link after which a running campaign pauses; a shorter "
        "outage only holds new calls, and dialling continues once a link is back.",
    ),
    Field(
        "DIALER_TAKEOVER_AFTER",
        ("takeover_after_s",),
        _positive_float,
        "30",
        "Seconds an instance's heartbeat must stay stale, seen by a survivor that reaches the "
        "database all along, before the survivor adopts its calls; the same on every instance.",
    ),
    Field(
        "DIALER_PACER_LEASE",
        ("pacer_lease_s",),
        _pacer_lease,
        "4",
        "Seconds one renewal of a campaign's pacer lease lasts (on the database's clock; renewed "
        "every second): a dead instance's campaigns are paced by a survivor about this long "
        "after its last renewal, and a stalled holder stops itself 1 s before. From 3 to 300.",
    ),
    Field(
        "DIALER_WRAPUP_LIMIT",
        ("wrapup_limit_s",),
        _int_range(0, 86400),
        "0",
        "Seconds the gateway holds an agent paused in wrap-up after a call, until a disposition "
        "(then the default disposition applies), for campaigns that set none; 0: Asterisk's own "
        "wrap-up applies and a disposition only records.",
    ),
    Field(
        "DIALER_DEFAULT_DISPOSITION",
        ("default_disposition",),
        _code,
        "(unset)",
        "The disposition code set when none comes within the wrap-up limit, for campaigns that "
        "name none (ignored where the campaign has no such code).",
    ),
    Field(
        "DIALER_INSTANCE_ID",
        ("instance_id",),
        _text,
        "(host name)",
        "Name of this gateway instance; keep it stable across restarts so that calls in flight "
        "at a crash are reconciled, not dialled again.",
    ),
    Field(
        "DIALER_AGENT_EVENTS_BUFFER",
        ("agent_events", "buffer"),
        _int_range(100, 10_000_000),
        "10000",
        "Agent events kept for replay: a client resuming from an older event id is told it "
        "missed some (a gap message) instead of missing them silently.",
    ),
    Field(
        "DIALER_AGENT_EVENTS_REPLAY_S",
        ("agent_events", "replay_s"),
        _int_range(10, 86_400),
        "600",
        "Seconds of agent events kept for replay (at most DIALER_AGENT_EVENTS_BUFFER of them); "
        "a client away longer gets a gap message. Bounds memory at low event rates.",
    ),
    Field(
        "DIALER_AGENT_EVENTS_CLIENT_QUEUE",
        ("agent_events", "client_queue"),
        _int_range(10, 1_000_000),
        "1000",
        "Agent events queued for one WebSocket client; a client that falls further behind is "
        "disconnected (close code 1013) and resumes with after=<its last event id>.",
    ),
    Field(
        "DIALER_API_TOKEN",
        ("api_token",),
        _secret,
        "(unset)",
        "Bootstrap admin bearer token for the control API (secret).",
    ),
)

SERVER_PARSERS: dict[str, Callable[[str], Any]] = {
    "name": _text,
    "host": _text,
    "ami_port": _int_range(1, 65535),
    "ami_username": _text,
    "ami_secret": _secret,
    "ari_port": _int_range(1, 65535),
    "ari_username": _text,
    "ari_password": _secret,
    "ari_app": _text,
    "driver": _choice("ami", "ari"),
    "channels": _int_range(1, 100_000),
    "originate_rate": _positive_float,
    "trunk": _trunk,
    "queue_wrapup": _queue_wrapup,
}

# Server settings that may come from the environment, so that a secret lives in one place
# (a container's environment, an .env file) rather than in the TOML file:
# DIALER_SERVER_<NAME>_AMI_SECRET, where <NAME> is the server's name in upper case with every
# character other than a letter or a digit replaced by "_" ("asterisk-1" -> ASTERISK_1).
SERVER_ENV_KEYS = ("ami_secret", "ari_password")
SERVER_ENV_PREFIX = "DIALER_SERVER_"
# Variables of the test harness (DIALER_TEST_DATABASE_URL...): not settings, never refused.
IGNORED_ENV_PREFIX = "DIALER_TEST_"


def server_env(server_name: str, key: str) -> str:
    """The environment variable that sets ``key`` of the server named ``server_name``."""
    slug = "".join(c if c.isalnum() else "_" for c in server_name.upper())
    return f"{SERVER_ENV_PREFIX}{slug}_{key.upper()}"
