"""Settings: one frozen tree, built once at start from the environment and an optional TOML file.

Precedence, highest first: ``DIALER_*`` environment variables, the TOML file given with
``--config``, the defaults below. Every setting is declared once in :data:`FIELDS` (name, TOML
path, parser, default, documentation); the README's configuration table is that list.

A missing or malformed setting raises :class:`SettingsError` naming it; the CLI turns that into a
one-line message and exit code 2. Secrets (passwords, tokens, database URLs that may carry a
password) are wrapped in :class:`Secret`, whose ``repr`` and ``str`` never show the value, so a
settings tree can be logged or printed safely.

This module reads no environment itself: the mapping is passed in (``os.environ`` by the CLI, a
plain dict in tests).
"""

from __future__ import annotations

import socket
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gateway.asterisk.dialstring import check_template
from gateway.asterisk.errors import InvalidValue

ENV_PREFIX = "DIALER_"


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


Driver = Literal["ami", "ari"]
LogFormat = Literal["kv", "json"]


@dataclass(frozen=True, slots=True)
class HttpSettings:
    host: str = "127.0.0.1"
    port: int = 8080


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    url: Secret | None = None  # None: start the embedded PostgreSQL
    pool_size: int = 10
    auto_migrate: bool = True


@dataclass(frozen=True, slots=True)
class LogSettings:
    format: LogFormat = "kv"
    level: str = "INFO"


@dataclass(frozen=True, slots=True)
class AsteriskServer:
    """One Asterisk server the gateway drives (AMI on TCP, ARI over HTTP + WebSocket)."""

    name: str
    host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_username: str = "dialer"
    ami_secret: Secret = Secret("")
    ari_port: int = 8088
    ari_username: str = "dialer"
    ari_password: Secret = Secret("")
    ari_app: str = "dialer"
    driver: Driver = "ami"
    channels: int = 200
    originate_rate: float = 50.0
    trunk: str = "PJSIP/{number}@carrier-a"


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path(".dialer")
    http: HttpSettings = HttpSettings()
    database: DatabaseSettings = DatabaseSettings()
    log: LogSettings = LogSettings()
    servers: tuple[AsteriskServer, ...] = ()
    tick_interval_s: float = 0.25
    api_token: Secret | None = None  # bootstrap admin token accepted by the control API
    instance_id: str = field(default_factory=socket.gethostname)

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"


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
        "DIALER_INSTANCE_ID",
        ("instance_id",),
        _text,
        "(host name)",
        "Name of this gateway instance; keep it stable across restarts so that calls in flight "
        "at a crash are reconciled, not dialled again.",
    ),
    Field(
        "DIALER_API_TOKEN",
        ("api_token",),
        _secret,
        "(unset)",
        "Bootstrap admin bearer token for the control API (secret).",
    ),
)

_SERVER_PARSERS: dict[str, Callable[[str], Any]] = {
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
}


def load_settings(env: Mapping[str, str], config_file: Path | None = None) -> Settings:
    """Build the settings tree; raise :class:`SettingsError` naming the first bad setting."""
    document = _read_toml(config_file) if config_file is not None else {}
    values: dict[tuple[str, ...], Any] = {}
    for spec in FIELDS:
        raw = env.get(spec.env)
        source = spec.env
        if raw is None:
            found = _lookup(document, spec.path)
            if found is None:
                continue
            raw = str(found).lower() if isinstance(found, bool) else str(found)
            source = f"{config_file}: {'.'.join(spec.path)}"
        try:
            values[spec.path] = spec.parse(raw)
        except ValueError as exc:
            raise SettingsError(source, str(exc)) from None
    servers = _servers(document.get("servers", []), config_file)
    return _assemble(values, servers)


def _assemble(
    values: Mapping[tuple[str, ...], Any], servers: tuple[AsteriskServer, ...]
) -> Settings:
    def section(name: str) -> dict[str, Any]:
        return {path[1]: v for path, v in values.items() if len(path) == 2 and path[0] == name}

    top = {path[0]: v for path, v in values.items() if len(path) == 1}
    return Settings(
        http=HttpSettings(**section("http")),
        database=DatabaseSettings(**section("database")),
        log=LogSettings(**section("log")),
        servers=servers,
        **top,
    )


def _servers(raw: object, config_file: Path | None) -> tuple[AsteriskServer, ...]:
    if not isinstance(raw, list):
        raise SettingsError(f"{config_file}: servers", "expected an array of tables [[servers]]")
    servers = []
    for index, table in enumerate(raw):
        where = f"{config_file}: servers[{index}]"
        if not isinstance(table, dict):
            raise SettingsError(where, "expected a table")
        kwargs: dict[str, Any] = {}
        for key, value in table.items():
            parser = _SERVER_PARSERS.get(key)
            if parser is None:
                raise SettingsError(f"{where}.{key}", "unknown server setting")
            try:
                kwargs[key] = parser(str(value))
            except ValueError as exc:
                raise SettingsError(f"{where}.{key}", str(exc)) from None
        if "name" not in kwargs:
            raise SettingsError(f"{where}.name", "missing")
        servers.append(AsteriskServer(**kwargs))
    names = [s.name for s in servers]
    if len(set(names)) != len(names):
        raise SettingsError(f"{config_file}: servers", "server names must be unique")
    return tuple(servers)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise SettingsError("--config", f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError("--config", f"{path} is not valid TOML: {exc}") from None


def _lookup(document: Mapping[str, Any], path: tuple[str, ...]) -> object | None:
    node: object = document
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node
