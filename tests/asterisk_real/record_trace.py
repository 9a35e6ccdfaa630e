"""Record a raw AMI trace from the real Asterisk 22 of the tier, for the tests to replay.

    .venv/bin/python -m tests.asterisk_real.record_trace NAME NUMBER [NUMBER …]

starts the tier's Asterisk (tests/asterisk_real/pbx.py), logs in over a raw socket, sends one
Originate per number at once (Local trunk, ChannelId/OtherChannelId set, into
``dialer-outbound``) and writes what Asterisk sent to ``traces/NAME.txt`` and what was sent to
``traces/NAME.sent.txt`` (the format of the shared recorded traces).
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

from tests.asterisk_real.pbx import AMI_SECRET, AMI_USER, RealAsterisk, find_build

HERE = Path(__file__).resolve().parent / "traces"


def _action(fields: list[tuple[str, str]]) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in fields).encode() + b"\r\n"


async def record(name: str, numbers: list[str], seconds: float = 6.0) -> None:
    home = find_build()
    if home is None:
        raise SystemExit("record_trace: no Asterisk build (DIALER_ASTERISK_HOME)")
    pbx = RealAsterisk(home)
    await pbx.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", pbx.ami_port)
        sent = [_action([("Action", "Login"), ("ActionID", "login"), ("Username", AMI_USER),
                         ("Secret", AMI_SECRET)])]  # fmt: skip
        for number in numbers:
            aid = uuid.uuid4().hex
            sent.append(_action([
                ("Action", "Originate"), ("ActionID", aid),
                ("Channel", f"Local/{number.lstrip('+')}@dialer-test-carrier"),
                ("Context", "dialer-outbound"), ("Exten", "s"), ("Priority", "1"),
                ("Timeout", "15000"), ("Async", "true"), ("ChannelId", aid),
                ("OtherChannelId", f"{aid}-2"), ("Variable", f"DIALER_ATTEMPT_ID={aid}"),
                ("Variable", "DIALER_AMD=1"), ("Variable", "DIALER_QUEUE=sales"),
                ("Variable", "DIALER_CONNECT_TIMEOUT=2"),
            ]))  # fmt: skip
        for data in sent:
            writer.write(data)
        await writer.drain()
        received = b""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while (left := end - loop.time()) > 0:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), left)
            except TimeoutError:
                break
            if not chunk:
                break
            received += chunk
        writer.close()
        HERE.mkdir(exist_ok=True)
        (HERE / f"{name}.txt").write_bytes(received)
        (HERE / f"{name}.sent.txt").write_bytes(b"".join(sent))
    finally:
        await pbx.stop()


if __name__ == "__main__":
    asyncio.run(record(sys.argv[1], sys.argv[2:]))
