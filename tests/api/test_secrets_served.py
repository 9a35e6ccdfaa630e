"""Secrets never in the log or the replies of a real ``dialer serve``: oversized and malformed
headers carrying the bootstrap token, sent over raw TCP; the process's whole output (DEBUG log)
and every reply are searched for the token and its start."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.api.test_secrets import _cases

pytestmark = pytest.mark.db

DIALER = [sys.executable, "-m", "dialer.cli"]
TOKEN = "served-secret-4f0c2a9e7b1d43c8a6e5"


async def _send(port: int, head: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    try:
        writer.write(head + b"\r\n\r\n")
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    top, _, _ = data.partition(b"\r\n")
    return int(top.split()[1]), data


async def test_a_served_process_never_logs_or_echoes_the_token(
    tmp_path: Path, database_url: str
) -> None:
    env = {
        **os.environ,
        "DIALER_HTTP_PORT": "0",
        "DIALER_DATA_DIR": str(tmp_path / "state"),
        "DIALER_DATABASE_URL": database_url,
        "DIALER_API_TOKEN": TOKEN,
        "DIALER_LOG_LEVEL": "DEBUG",
    }
    proc = await asyncio.create_subprocess_exec(
        *DIALER, "serve", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    assert proc.stdout is not None
    output: list[bytes] = []
    try:
        async with asyncio.timeout(60):
            while not (line := await proc.stdout.readline()).startswith(b"dialer: serving on "):
                assert line, b"".join(output).decode()
                output.append(line)
        port = int(line.rsplit(b":", 1)[1])
        replies = []
        for label, header, expected in _cases(TOKEN):
            status, reply = await _send(port, b"GET /v1/campaigns HTTP/1.1\r\nHost: x\r\n" + header)
            assert status == expected, label
            replies.append((label, reply))
        proc.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(proc.communicate(), 15)
        output.append(rest)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    log = b"".join(output).decode("latin-1")
    assert "refused a malformed request" in log  # the log saw the requests ...
    assert TOKEN[:12] not in log  # ... but never the token, not even its start
    for label, reply in replies:
        text = reply.decode("latin-1")
        assert TOKEN[:12] not in text, label
        assert json.loads(reply.partition(b"\r\n\r\n")[2])["detail"], label
