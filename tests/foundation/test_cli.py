"""The ``dialer`` command as a user runs it: a real process, real signals, real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import psutil
import pytest

from dialer.cli import build_parser, main

DIALER = [sys.executable, "-m", "dialer.cli"]


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert "dialer 0.1.0" in capsys.readouterr().out
    help_text = build_parser().format_help()
    for command in ("serve", "db", "bench"):
        assert command in help_text


async def _run(env: dict[str, str], *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *DIALER, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_a_bad_setting_stops_the_start_with_exit_2() -> None:
    env = {**os.environ, "DIALER_HTTP_PORT": "abc"}
    code, out = await _run(env, "serve")
    assert code == 2
    lines = out.strip().splitlines()
    assert len(lines) == 1
    assert "DIALER_HTTP_PORT" in lines[0]


@pytest.mark.parametrize("where", ["before", "after"])
async def test_config_is_taken_before_or_after_the_command(tmp_path: Path, where: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[bogus]\nx = 1\n")
    args = ("--config", str(bad), "serve") if where == "before" else ("serve", "--config", str(bad))
    code, out = await _run(dict(os.environ), *args)
    assert code == 2
    (line,) = out.strip().splitlines()
    assert line.startswith(f"dialer: error: setting {bad}: bogus: unknown setting; known: ")


async def _wait_for_port(proc: asyncio.subprocess.Process) -> int:
    assert proc.stdout is not None
    async with asyncio.timeout(60):
        while True:
            line = (await proc.stdout.readline()).decode()
            if not line:
                raise AssertionError("dialer serve exited before serving")
            if line.startswith("dialer: serving on "):
                return int(line.rsplit(":", 1)[1])


async def _serve_and_stop(env: dict[str, str]) -> tuple[int, dict[str, int], str, list[int]]:
    proc = await asyncio.create_subprocess_exec(
        *DIALER, "serve", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        port = await _wait_for_port(proc)
        statuses: dict[str, int] = {}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            for path in ("/healthz", "/readyz", "/metrics"):
                async with http.get(f"http://127.0.0.1:{port}{path}") as resp:
                    statuses[path] = resp.status
                    if path == "/metrics":
                        content_type = resp.headers["Content-Type"]
        children = [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 5)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return code, statuses, content_type, children


@pytest.mark.db
async def test_serve_on_embedded_postgres_answers_and_stops_cleanly(scratch_dir: Path) -> None:
    env = {**os.environ, "DIALER_HTTP_PORT": "0", "DIALER_DATA_DIR": str(scratch_dir / "state")}
    env.pop("DIALER_DATABASE_URL", None)
    code, statuses, content_type, _ = await _serve_and_stop(env)
    assert code == 0
    assert statuses == {"/healthz": 200, "/readyz": 200, "/metrics": 200}
    assert content_type.startswith("text/plain")
    pgdata = str((scratch_dir / "state" / "pgdata").resolve())
    leftovers = [
        p for p in psutil.process_iter(["cmdline"]) if pgdata in " ".join(p.info["cmdline"] or [])
    ]
    assert leftovers == []
    assert (scratch_dir / "state" / "pgdata" / "PG_VERSION").exists()


@pytest.mark.db
async def test_serve_with_an_external_database_starts_no_embedded_one(
    tmp_path: Path, database_url: str
) -> None:
    env = {
        **os.environ,
        "DIALER_HTTP_PORT": "0",
        "DIALER_DATA_DIR": str(tmp_path / "state"),
        "DIALER_DATABASE_URL": database_url,
    }
    code, statuses, _, children = await _serve_and_stop(env)
    assert code == 0
    assert statuses["/readyz"] == 200
    assert not (tmp_path / "state" / "pgdata").exists()
    assert all(
        "postgres" not in psutil.Process(pid).name() for pid in children if psutil.pid_exists(pid)
    )
