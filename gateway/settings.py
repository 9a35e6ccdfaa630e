"""Settings: one frozen tree, built once at start from the environment and an optional TOML file.

Precedence, highest first: ``DIALER_*`` environment variables, the TOML file given with
``--config``, the defaults below. Every setting is declared once in :data:`FIELDS` (name, TOML
path, parser, default, documentation); the README's configuration table is that list.

A missing, malformed or unknown setting raises :class:`SettingsError` naming it; the CLI turns
that into a one-line message and exit code 2. Unknown means: a TOML key no field declares
(``http_port = 1``, ``[http] prot``, ``[log] formt``), or a ``DIALER_*`` variable that is no
setting (``DIALER_TEST_*`` belong to the test harness and are left alone). A server needs its
``ami_secret`` (and ``ari_password`` with the ARI driver); both may come from the environment as
``DIALER_SERVER_<NAME>_AMI_SECRET`` / ``..._ARI_PASSWORD``, so a secret lives in one place.

Secrets (passwords, tokens, database URLs that may carry a password) are wrapped in
:class:`Secret`, whose ``repr`` and ``str`` never show the value, so a settings tree can be
logged or printed safely.

This module reads no environment itself: the mapping is passed in (``os.environ`` by the CLI, a
plain dict in tests).
"""

from __future__ import annotations

import difflib
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gateway.settings_fields import (
    FIELDS,
    IGNORED_ENV_PREFIX,
    SERVER_ENV_KEYS,
    SERVER_PARSERS,
    Field,
    Secret,
    SettingsError,
    server_env,
)

__all__ = ["FIELDS", "Field", "Secret", "SettingsError", "load_settings"]

ENV_PREFIX = "DIALER_"


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
class AgentEventSettings:
    buffer: int = 10_000  # events kept for replay (gateway.agentevents)
    replay_s: int = 600  # ... and none older than this
    client_queue: int = 1_000  # events queued for one WebSocket client before it is dropped


@dataclass(frozen=True, slots=True)
class AsteriskServer:
    """One Asterisk server the gateway drives (AMI on TCP, ARI over HTTP + WebSocket)."""

    name: str
    host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_username: str = "dialer"
    ami_secret: Secret = Secret("")  # noqa: RUF009 - frozen, immutable
    ari_port: int = 8088
    ari_username: str = "dialer"
    ari_password: Secret = Secret("")  # noqa: RUF009 - frozen, immutable
    ari_app: str = "dialer"
    driver: Driver = "ami"
    channels: int = 200
    originate_rate: float = 50.0
    trunk: str = "PJSIP/{number}@carrier-a"
    # each queue's queue-level wrapuptime, used when AMI GetConfig of queues.conf is refused
    queue_wrapup: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path(".dialer")
    http: HttpSettings = HttpSettings()
    database: DatabaseSettings = DatabaseSettings()
    log: LogSettings = LogSettings()
    agent_events: AgentEventSettings = AgentEventSettings()
    servers: tuple[AsteriskServer, ...] = ()
    tick_interval_s: float = 0.25
    link_outage_limit_s: float = 60.0
    takeover_after_s: float = 30.0
    pacer_lease_s: float = 4.0
    wrapup_limit_s: int = 0
    default_disposition: str | None = None
    api_token: Secret | None = None  # bootstrap admin token accepted by the control API
    instance_id: str = field(default_factory=socket.gethostname)

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"


def load_settings(env: Mapping[str, str], config_file: Path | None = None) -> Settings:
    """Build the settings tree; raise :class:`SettingsError` naming the first bad setting."""
    document = _read_toml(config_file) if config_file is not None else {}
    _refuse_unknown_keys(document, config_file)
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
    servers = _servers(document.get("servers", []), config_file, env)
    _refuse_unknown_env(env, servers)
    return _assemble(values, servers)


def _known_keys() -> dict[str, set[str]]:
    """TOML keys by table ("" is the top level), from :data:`FIELDS`."""
    known: dict[str, set[str]] = {"": {"servers"}}
    for spec in FIELDS:
        if len(spec.path) == 1:
            known[""].add(spec.path[0])
        else:
            known[""].add(spec.path[0])
            known.setdefault(spec.path[0], set()).add(spec.path[1])
    return known


def _unknown(where: str, key: str, known: set[str]) -> SettingsError:
    close = difflib.get_close_matches(key, sorted(known), n=1)
    hint = f"; did you mean {close[0]}?" if close else f"; known: {', '.join(sorted(known))}"
    return SettingsError(where, f"unknown setting{hint}")


def _refuse_unknown_keys(document: Mapping[str, Any], config_file: Path | None) -> None:
    known = _known_keys()
    for key, value in document.items():
        if key not in known[""]:
            raise _unknown(f"{config_file}: {key}", key, known[""])
        if key in known and key != "":
            if not isinstance(value, Mapping):
                raise SettingsError(f"{config_file}: {key}", "expected a table")
            for inner in value:
                if inner not in known[key]:
                    raise _unknown(f"{config_file}: {key}.{inner}", inner, known[key])
        elif key != "servers" and isinstance(value, Mapping):
            raise SettingsError(f"{config_file}: {key}", "expected a value, not a table")


def _refuse_unknown_env(env: Mapping[str, str], servers: tuple[AsteriskServer, ...]) -> None:
    known = {spec.env for spec in FIELDS}
    known |= {server_env(s.name, key) for s in servers for key in SERVER_ENV_KEYS}
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or name.startswith(IGNORED_ENV_PREFIX):
            continue
        if name not in known:
            raise _unknown(name, name, known)


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
        agent_events=AgentEventSettings(**section("agent_events")),
        servers=servers,
        **top,
    )


def _servers(
    raw: object, config_file: Path | None, env: Mapping[str, str]
) -> tuple[AsteriskServer, ...]:
    if not isinstance(raw, list):
        raise SettingsError(f"{config_file}: servers", "expected an array of tables [[servers]]")
    servers = tuple(_server(table, f"{config_file}: servers[{i}]", env) for i, table in
                    enumerate(raw))  # fmt: skip
    names = [s.name for s in servers]
    if len(set(names)) != len(names):
        raise SettingsError(f"{config_file}: servers", "server names must be unique")
    return servers


def _server(table: object, where: str, env: Mapping[str, str]) -> AsteriskServer:
    if not isinstance(table, dict):
        raise SettingsError(where, "expected a table")
    kwargs: dict[str, Any] = {}
    for key, value in table.items():
        parser = SERVER_PARSERS.get(key)
        if parser is None:
            raise _unknown(f"{where}.{key}", key, set(SERVER_PARSERS))
        try:
            kwargs[key] = parser(str(value))
        except ValueError as exc:
            raise SettingsError(f"{where}.{key}", str(exc)) from None
    if "name" not in kwargs:
        raise SettingsError(f"{where}.name", "missing")
    for key in SERVER_ENV_KEYS:
        variable = server_env(kwargs["name"], key)
        if variable in env:
            try:
                kwargs[key] = SERVER_PARSERS[key](env[variable])
            except ValueError as exc:
                raise SettingsError(variable, str(exc)) from None
    required = ["ami_secret"] + (["ari_password"] if kwargs.get("driver") == "ari" else [])
    for key in required:
        if key not in kwargs:
            variable = server_env(kwargs["name"], key)
            raise SettingsError(f"{where}.{key}", f"missing (set it here or in {variable})")
    return AsteriskServer(**kwargs)


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
