"""Faults on command: what a flaky network or a crashing Asterisk does to the gateway's links.

:class:`Faults` is reached as ``sim.faults`` and from the admin HTTP endpoint
(``POST /sim/faults/<kind>`` on the ARI port). It owns the one timer that ends a stall and
cancels it at stop. It must not change call state except through ``World.restart`` and
``World.hang_up_everything``.

Restart and crash follow the real Asterisk 22.10.1 (tests/asterisk_real/traces/ami-core-restart*
and ami-kill-9*): ``core restart now`` refuses every AMI action from then on ("Asterisk is
shutting down", Login included), hangs every channel up with no cause, sends ``Shutdown`` about a
second later and closes every session; kill -9 drops the sessions with nothing sent.
Either way Asterisk then takes logins before it has booted (no ``FullyBooted`` at login,
``QueueStatus`` an unknown command) and sends ``FullyBooted`` (``Uptime: 0``) once it has.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from asterisk_sim.sim import SimAsterisk

MALFORMED_AMI = b"Event: Newchannel\r\nthis line has no colon\r\nUniqueid\r\n\r\n"
MALFORMED_ARI = '{"type": "ChannelStateChange", "timestamp": '
SHUTDOWN_AFTER_S = 1.0  # Asterisk sleeps 1 s after the last channel is gone, then says Shutdown
DOWN_S = 1.0  # no process: connections refused (an Asterisk takes over a second to start)
BOOT_S = 0.5  # from taking logins again to FullyBooted (wall seconds)


class Faults:
    """Drop links, stall, restart, delay responses, emit a malformed frame."""

    def __init__(self, sim: SimAsterisk) -> None:
        self._sim = sim
        self.response_delay = 0.0
        self._stall_timer: asyncio.TimerHandle | None = None
        self._boot_timer: asyncio.TimerHandle | None = None
        self.booted = asyncio.Event()  # cleared by a restart or crash until FullyBooted
        self.booted.set()
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
        """``core restart now``: channels hung up, ``Shutdown``, sessions closed, a new boot."""
        self.log.append("restart")
        sim = self._sim
        sim.shutting_down = True
        sim.hang_up_everything()
        await asyncio.sleep(SHUTDOWN_AFTER_S)  # the fault's own timeline, not a wait on a state
        sim.shutdown_event(restart=True)
        for session in list(sim.ami_sessions):
            session.close()  # the process exec()s itself: the sockets close, no reset
        await self.drop_ari()
        self._reboot()

    async def crash(self) -> None:
        """kill -9 and a start: every link drops, every channel vanishes without events."""
        self.log.append("crash")
        await self.drop_ami()
        await self.drop_ari()
        self._reboot()

    def _reboot(self) -> None:
        sim = self._sim
        sim.restart_world()
        sim.down = True
        self.booted.clear()
        if self._boot_timer is not None:
            self._boot_timer.cancel()
        self._boot_timer = asyncio.get_running_loop().call_later(DOWN_S, self._up)

    def _up(self) -> None:
        """A new process listens: it takes logins but has not booted yet."""
        self._sim.come_up()
        self._boot_timer = asyncio.get_running_loop().call_later(BOOT_S, self._booted)

    def _booted(self) -> None:
        self._boot_timer = None
        self._sim.fully_booted()
        self.booted.set()

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
        if self._boot_timer is not None:
            self._boot_timer.cancel()
            self._boot_timer = None
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None
