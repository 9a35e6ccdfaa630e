"""Faults on command: what a flaky network or a crashing Asterisk does to the gateway's links.

:class:`Faults` is reached as ``sim.faults`` and from the admin HTTP endpoint
(``POST /sim/faults/<kind>`` on the ARI port). It owns the one timer that ends a stall and
cancels it at stop. It must not change call state except through ``World.restart``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from asterisk_sim.sim import SimAsterisk

MALFORMED_AMI = b"Event: Newchannel\r\nthis line has no colon\r\nUniqueid\r\n\r\n"
MALFORMED_ARI = '{"type": "ChannelStateChange", "timestamp": '


class Faults:
    """Drop links, stall, restart, delay responses, emit a malformed frame."""

    def __init__(self, sim: SimAsterisk) -> None:
        self._sim = sim
        self.response_delay = 0.0
        self._stall_timer: asyncio.TimerHandle | None = None
        self.log: list[str] = []

    async def drop_ami(self) -> int:
        """Abort every AMI connection (as a network cut would). Returns how many."""
        sessions = list(self._sim.ami_sessions)
        for session in sessions:
            session.close(abort=True)
        self.log.append("drop_ami")
        return len(sessions)

    async def drop_ari(self) -> int:
        """Close every ARI WebSocket. Returns how many."""
        self.log.append("drop_ari")
        return await self._sim.ari_hub.drop_all()

    def stall(self, seconds: float) -> None:
        """Stop answering for ``seconds`` (wall seconds): no replies, no events, no HTTP."""
        self.log.append(f"stall {seconds}")
        self._sim.ami_hub.stalled = True
        self._sim.ari_hub.stall()
        if self._stall_timer is not None:
            self._stall_timer.cancel()
        self._stall_timer = asyncio.get_running_loop().call_later(seconds, self.unstall)

    def unstall(self) -> None:
        self._stall_timer = None
        self._sim.ami_hub.stalled = False
        self._sim.ari_hub.unstall()
        for session in list(self._sim.ami_sessions):
            session.unstall()

    async def restart(self) -> None:
        """A restart: every link drops, every channel vanishes without events."""
        self.log.append("restart")
        await self.drop_ami()
        await self.drop_ari()
        self._sim.restart_world()

    def delay_responses(self, seconds: float) -> None:
        """Delay every AMI action response and ARI HTTP response by ``seconds`` (0 ends it)."""
        self.log.append(f"delay {seconds}")
        self.response_delay = max(seconds, 0.0)

    async def malformed_frame(self) -> None:
        """Send one malformed AMI message to every session and one bad ARI text frame."""
        self.log.append("malformed")
        for session in list(self._sim.ami_sessions):
            session.write_now(MALFORMED_AMI)
        self._sim.ari_hub.broadcast_raw(MALFORMED_ARI)

    def close(self) -> None:
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None
