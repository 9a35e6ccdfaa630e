"""A minimal raw AMI client for the simulator tests (real TCP, the sim's own pure parser).

It keeps every received message in order, so tests can assert on sequences, and offers
``wait_for`` (a predicate over messages, under a timeout) instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from asterisk_sim.amiproto import AmiMessage, parse_frames
from asterisk_sim.errors import FrameError

Pred = Callable[[AmiMessage], bool]


class AmiTestClient:
    """Reads continuously in a task owned by the client (closed in ``close``)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.banner = b""
        self.messages: list[AmiMessage] = []
        self.frame_errors: list[FrameError] = []
        self.raw = bytearray()
        self.eof = asyncio.Event()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, port: int) -> AmiTestClient:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
        client = cls(reader, writer)
        client.banner = await asyncio.wait_for(reader.readline(), 5)
        client._task = asyncio.create_task(client._read())
        return client

    async def _read(self) -> None:
        buffer = b""
        while True:
            chunk = await self.reader.read(65536)
            if not chunk:
                self.eof.set()
                self._changed.set()
                return
            self.raw += chunk
            result = parse_frames(buffer + chunk)
            buffer = result.leftover
            self.frame_errors.extend(i for i in result.messages if isinstance(i, FrameError))
            self.messages.extend(i for i in result.messages if isinstance(i, AmiMessage))
            self._changed.set()

    def send(self, action: str, **headers: str | list[str]) -> None:
        lines = [f"Action: {action}"]
        for key, value in headers.items():
            lines.extend(f"{key}: {v}" for v in (value if isinstance(value, list) else [value]))
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    async def wait_for(self, pred: Pred, within: float = 10.0) -> AmiMessage:
        async def loop() -> AmiMessage:
            seen = 0
            while True:
                for msg in self.messages[seen:]:
                    if pred(msg):
                        return msg
                seen = len(self.messages)
                if self.eof.is_set():
                    raise EOFError("AMI connection closed")
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(loop(), within)

    async def response(self, action_id: str, within: float = 10.0) -> AmiMessage:
        return await self.wait_for(
            lambda m: m.has("Response") and m.get("ActionID") == action_id, within
        )

    async def login(self, user: str = "dialer", secret: str = "dialer-secret") -> AmiMessage:
        self.send("Login", ActionID="login-1", Username=user, Secret=secret)
        return await self.response("login-1")

    def events(self, name: str) -> list[AmiMessage]:
        return [m for m in self.messages if m.get("Event") == name]

    async def close(self) -> None:
        self.writer.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await self._task


def is_event(name: str, **fields: str) -> Pred:
    return lambda m: m.get("Event") == name and all(m.get(k) == v for k, v in fields.items())
