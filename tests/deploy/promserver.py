"""A real Prometheus server for tests: started on a free loopback port, stopped and awaited.

Holds :func:`running_prometheus` (an async context manager) and small HTTP API helpers. It writes
only under the temporary directory it is given and never sleeps to wait: every wait polls the
server's HTTP API under a deadline. Reusable by other tests that point Prometheus at a real gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

HTTP_TIMEOUT = aiohttp.ClientTimeout(total=5)


@dataclass(frozen=True, slots=True)
class PrometheusServer:
    """A running Prometheus: its base URL and an HTTP session to query it."""

    url: str
    session: aiohttp.ClientSession
    log_path: Path

    async def api(self, path: str, **params: str) -> Any:
        """GET ``/api/v1/<path>`` and return its ``data`` (raises on an error status)."""
        async with self.session.get(f"{self.url}/api/v1/{path}", params=params) as response:
            body = await response.json()
        if body.get("status") != "success":
            raise AssertionError(f"Prometheus {path}: {body}")
        return body["data"]

    async def alerts(self) -> list[dict[str, Any]]:
        """The active alerts (pending and firing)."""
        data = await self.api("alerts")
        alerts: list[dict[str, Any]] = data["alerts"]
        return alerts

    async def wait_for(
        self, probe: Callable[[], Any], what: str, timeout_s: float = 45.0, poll_s: float = 0.2
    ) -> Any:
        """Await ``probe()`` (an async callable) until it returns a truthy value."""
        last: Any = None
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    last = await probe()
                    if last:
                        return last
                    await asyncio.sleep(poll_s)  # polling interval of a condition, not a wait
        except TimeoutError:
            log = self.log_path.read_text(errors="replace")[-2000:]
            raise AssertionError(f"timed out waiting for {what}; last={last!r}\n{log}") from None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (Prometheus cannot report port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_config(
    directory: Path, targets: Sequence[str], rule_files: Sequence[Path], interval_s: float = 1.0
) -> Path:
    """A Prometheus config scraping ``targets`` (``host:port``) as job ``dialer-gateway``."""
    interval = f"{int(interval_s * 1000)}ms"
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [
            {
                "job_name": "dialer-gateway",
                "scrape_timeout": interval,
                "static_configs": [{"targets": list(targets)}],
            }
        ],
    }
    path = directory / "prometheus.yml"
    path.write_text(json.dumps(config, indent=2))  # JSON is YAML
    return path


@contextlib.asynccontextmanager
async def running_prometheus(
    binary: str, directory: Path, config: Path, start_timeout_s: float = 30.0
) -> AsyncIterator[PrometheusServer]:
    """Start ``binary`` with ``config``; yield once ``/-/ready`` answers; stop it on exit."""
    port = free_port()
    log_path = directory / "prometheus.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
            "--log.level=warn",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    try:
        async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as session:
            server = PrometheusServer(f"http://127.0.0.1:{port}", session, log_path)

            async def ready() -> bool:
                if process.returncode is not None:
                    raise AssertionError(
                        f"prometheus exited with {process.returncode}: {log_path.read_text()}"
                    )
                try:
                    async with session.get(f"{server.url}/-/ready") as response:
                        return response.status == 200
                except aiohttp.ClientError:
                    return False

            await server.wait_for(ready, "prometheus /-/ready", start_timeout_s)
            yield server
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                async with asyncio.timeout(10):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
