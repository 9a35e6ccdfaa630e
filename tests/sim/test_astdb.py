"""The simulator's AstDB answers DBGet exactly as the recorded Asterisk 22.10.1 trace does."""

from __future__ import annotations

import asyncio
from pathlib import Path

from asterisk_sim import SimAsterisk
from asterisk_sim.amiproto import AmiMessage, parse_frames
from tests.sim.amiclient import AmiTestClient

TRACE = Path(__file__).resolve().parents[1] / "asterisk_real" / "traces" / "ami-dbget.txt"


def _recorded() -> list[tuple[tuple[str, str], ...]]:
    text = "".join(line for line in TRACE.read_text().splitlines(True) if not line.startswith(";"))
    result = parse_frames((text.rstrip("\n") + "\n\n").replace("\n", "\r\n").encode())
    return [m.headers for m in result.messages if isinstance(m, AmiMessage)]


async def test_dbget_found_and_not_found_match_the_trace(
    sim: SimAsterisk, ami: AmiTestClient
) -> None:
    sim.world.astdb.put("dialer-outcome/2026120220", "abc", "v1&c:16&m:Agent 1")
    seen = len(ami.messages)
    ami.send("DBGet", ActionID="g1", Family="dialer-outcome/2026120220", Key="abc")
    ami.send("DBGet", ActionID="g2", Family="dialer-outcome/2026120221", Key="abc")
    await ami.response("g2")
    await asyncio.sleep(0.05)
    got = [m.headers for m in ami.messages[seen:]]
    assert got == _recorded()


async def test_dbput_is_refused_without_the_system_privilege(ami: AmiTestClient) -> None:
    ami.send("DBPut", ActionID="p1", Family="dialer-outcome/x", Key="k", Val="1")
    reply = await ami.response("p1")
    assert (reply.get("Response"), reply.get("Message")) == ("Error", "Permission denied")
