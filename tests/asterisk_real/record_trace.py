"""Record a raw AMI trace from the real Asterisk 22 of the tier, for the tests to replay.

    .venv/bin/python -m tests.asterisk_real.record_trace [--fault restart|kill] NAME NUMBER …

starts the tier's Asterisk (tests/asterisk_real/pbx.py), logs in over a raw socket, sends one
Originate per number at once (Local trunk, ChannelId/OtherChannelId set, into
``dialer-outbound``) and writes what Asterisk sent to ``traces/NAME.txt`` and what was sent to
``traces/NAME.sent.txt`` (the format of the shared recorded traces).

With ``--fault``, 2 s after the Originates Asterisk is restarted (``core restart now``) or killed
(kill -9, then started again); the first session is recorded until Asterisk closes it, and a
second session (a login right after Asterisk listens again) goes to ``traces/NAME.after.txt``.
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


async def _read_until(reader: asyncio.StreamReader, seconds: float) -> bytes:
    received = b""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        try:
            chunk = await asyncio.wait_for(reader.read(65536), left)
        except (TimeoutError, ConnectionError):
            break
        if not chunk:
            break
        received += chunk
    return received


async def _after(pbx: RealAsterisk, seconds: float) -> bytes:
    """Log in again as soon as Asterisk listens (it may not have booted yet) and record."""
    async with asyncio.timeout(60):
        while True:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", pbx.ami_port)
                break
            except OSError:
                await asyncio.sleep(0.05)
    writer.write(_action([("Action", "Login"), ("ActionID", "login"), ("Username", AMI_USER),
                          ("Secret", AMI_SECRET)]))  # fmt: skip
    writer.write(_action([("Action", "QueueStatus"), ("ActionID", "qs")]))
    await writer.drain()
    received = await _read_until(reader, seconds)
    writer.close()
    return received


async def record(
    name: str, numbers: list[str], seconds: float = 6.0, fault: str | None = None
) -> None:
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
        after = b""
        if fault is None:
            received = await _read_until(reader, seconds)
        else:
            received = await _read_until(reader, 2.0)
            if fault == "restart":
                await pbx.cli("core restart now")
                received += await _read_until(reader, 30.0)  # until Asterisk closes it
            else:
                await pbx.kill()
                received += await _read_until(reader, 5.0)
                pbx.dir.joinpath("run").mkdir(exist_ok=True)
                starting = asyncio.create_task(pbx.start())
            after = await _after(pbx, seconds)
            if fault != "restart":
                await starting
        writer.close()
        HERE.mkdir(exist_ok=True)
        if after:
            (HERE / f"{name}.after.txt").write_bytes(after)
        (HERE / f"{name}.txt").write_bytes(received)
        (HERE / f"{name}.sent.txt").write_bytes(b"".join(sent))
    finally:
        await pbx.stop()


if __name__ == "__main__":
    args = sys.argv[1:]
    how = None
    if args[:1] == ["--fault"]:
        how, args = args[1], args[2:]
    asyncio.run(record(args[0], args[1:], fault=how))
