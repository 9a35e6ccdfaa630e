"""Which servers' call-less agent changes this instance writes to the webhook outbox.

Several gateway instances on one database may be connected to the same Asterisk server; each
sees every queue member event and reports the same member state changes. A change tied to one
of our calls is the placing instance's alone (no other resolves its caller), but a call-less one
(``agent.state`` between calls) would be queued once per instance. :class:`FeedOwners` keeps,
for every configured server, the lease of :mod:`gateway.campaigns.feedowners`: taken when free
or expired, renewed every ``every_s`` (1 s) for ``ttl_s`` (3 s), so a dead owner's servers are
taken over within about ``ttl_s + every_s``. It takes a server only while its AMI link is up
(``eligible``) and keeps it through a cut shorter than ``hold_down_s`` (30 s): the changes made
while the link was down are said once it is back (the feed's resync, published at link-up, before
a released lease could be taken again), so a short cut loses none of them. An instance whose link
stays down longer lets the lease go, for another instance that hears the server to write.

:meth:`owns` is what the agent event hub asks for each call-less change: true only until the
local deadline of the last successful take or renewal, measured on the monotonic clock from
*before* the statement was sent less a margin (``margin_s``, 1 s: a change allowed just before
the deadline is still being written), on the pacer lease's terms
(:class:`pacing.fencing.LeaseTerms`). So it ends before the row's expiry in the database and two
instances never both write a server's changes, not even after the owner stalled (SIGSTOP, a
swap storm). The changes of a gap between an owner's death and its takeover (at most ``ttl_s``)
are written by nobody; a stopped owner releases its rows on the way out, so a graceful stop
leaves no gap beyond one ``every_s``.

``on_owner(server, owned)`` is told each round what this instance holds (the
``dialer_agent_feed_owner`` gauge: summed over the instances, 1 per server, and 0 while nobody
writes that server's changes).

The task is owned by the service (``run`` in its task group, cancelled at shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.campaigns import feedowners
from gateway.logs import event
from pacing.fencing import MARGIN_S, LeaseTerms

log = logging.getLogger(__name__)


class FeedOwners:
    """This instance's agent feed leases, one per server it may write for."""

    def __init__(
        self,
        engine: AsyncEngine,
        instance_id: str,
        servers: Sequence[str],
        *,
        eligible: Callable[[str], bool],
        clock: Callable[[], float],
        ttl_s: float = 3.0,
        every_s: float = 1.0,
        hold_down_s: float = 30.0,
        margin_s: float = MARGIN_S,
        on_owner: Callable[[str, bool], None] = lambda _server, _owned: None,
    ) -> None:
        self._engine = engine
        self._instance = instance_id
        self._servers = tuple(servers)
        self._eligible = eligible
        self._clock = clock
        self._terms = LeaseTerms(ttl_s, every_s, margin_s)  # refuses terms that would flap
        self._ttl_s = ttl_s
        self._every_s = every_s
        self._hold_down_s = hold_down_s
        self._on_owner = on_owner
        self._up_at: dict[str, float] = {}  # server -> when its link was last seen up
        self._until: dict[str, float] = {}  # server -> monotonic deadline of the lease

    def owns(self, server: str) -> bool:
        """True while this instance holds ``server``'s feed lease."""
        until = self._until.get(server)
        return until is not None and self._clock() < until

    @property
    def owned(self) -> list[str]:
        return [s for s in self._servers if self.owns(s)]

    async def run(self) -> None:
        """Keep the leases until cancelled; the held ones are released on the way out."""
        try:
            while True:
                for server in self._servers:
                    await self._keep(server)
                    self._on_owner(server, self.owns(server))
                await asyncio.sleep(self._every_s)
        finally:
            await self._release_all()

    async def _keep(self, server: str) -> None:
        held = self.owns(server)
        started = self._clock()
        if self._eligible(server):
            self._up_at[server] = started
        elif not held:
            return  # a server this instance does not hear is not taken
        elif started - self._up_at.get(server, started) >= self._hold_down_s:
            await self._give_up(server, "link down")
            return
        try:
            async with asyncio.timeout(self._ttl_s):
                if held:
                    ok = await feedowners.renew_feed(
                        self._engine, server, self._instance, self._ttl_s
                    )
                else:
                    ok = await feedowners.acquire_feed(
                        self._engine, server, self._instance, self._ttl_s
                    )
        except Exception as exc:  # the database away: the lease runs out by itself
            if server in self._until and not self.owns(server):
                self._lost(server, repr(exc))
            return
        if ok:
            self._until[server] = self._terms.held_until(started)
            if not held:
                event(log, "agent feed owner", server=server, instance=self._instance)
        elif server in self._until:
            self._lost(server, "taken by another instance")

    def _lost(self, server: str, why: str) -> None:
        self._until.pop(server, None)
        event(log, "agent feed lost", logging.WARNING, server=server, reason=why)

    async def _give_up(self, server: str, why: str) -> None:
        self._until.pop(server, None)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self._ttl_s):
                await feedowners.release_feed(self._engine, server, self._instance)
        event(log, "agent feed released", server=server, reason=why)

    async def _release_all(self) -> None:
        held = [s for s in self._servers if s in self._until]
        for server in held:
            await self._give_up(server, "stopping")
            self._on_owner(server, False)
