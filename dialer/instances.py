"""Gateway instances on one database: heartbeats, fencing, adopting a dead instance's calls.

Every instance writes a heartbeat to ``service_instances`` every few seconds. Campaign pacing
moves to a surviving instance by itself (the pacer lease expires); what this module adds is the
calls a dead instance left in flight, and the fence that keeps a live one from fighting over them.

Adoption is fenced on both sides:

* **The adopter** adopts an instance's attempts only when it has itself *watched* that
  instance's heartbeat stay unchanged for the whole takeover period while its own database
  contact never failed (every round answered, no gap longer than a few beats). An adopter that
  was cut off from the database, frozen, or just started has watched nothing: after an outage
  that silenced both instances, the one that reconnects first starts watching afresh, and the
  other's next heartbeat ends the watch. The take-over itself is one ``UPDATE`` that re-checks
  the heartbeat is still stale (row locks make two survivors take disjoint sets); the attempts
  go to the dialer for reconciliation: followed from Asterisk's channels and events, settled as
  ``unknown`` if not found (a real outcome arriving later still replaces it), never originated
  again.
* **The owner** that finds its own heartbeat older than half the takeover period (a freeze such
  as SIGSTOP, a database outage) is *fenced*: its senders write no Originate and its runners
  place nothing until a heartbeat has been written again and every attempt still waiting in a
  send queue has been re-checked in the database. Attempts another instance adopted meanwhile
  are dropped from the queue, never sent (their records are the adopter's to settle); the rest
  are sent.

Time: the monotonic clock for periods, the wall clock only for the stored heartbeat.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.logs import event

log = logging.getLogger(__name__)

_BEAT = text(
    "INSERT INTO service_instances (id, hostname, started_at, heartbeat_at) "
    "VALUES (:id, :host, :now, :now) "
    "ON CONFLICT (id) DO UPDATE SET heartbeat_at = :now, hostname = :host"
)
_OTHERS = text("SELECT id, heartbeat_at FROM service_instances WHERE id <> :me")
_ADOPT = text(
    "UPDATE attempts SET instance_id = :me WHERE status = 'dialing' "
    "AND instance_id = ANY(:dead) AND originated_at < :cutoff AND instance_id IN "
    "(SELECT id FROM service_instances WHERE id = ANY(:dead) AND heartbeat_at < :cutoff) "
    "RETURNING id, server, instance_id"
)
_STILL_MINE = text(
    "SELECT id FROM attempts WHERE id = ANY(:ids) AND instance_id = :me AND status = 'dialing'"
)

Reconcile = Callable[[Sequence[tuple[str, str]]], Awaitable[None]]


class SendQueues(Protocol):
    """The dialer's send queues, as the fence needs them."""

    def unsent(self) -> list[str]: ...  # attempt ids waiting to be sent
    def drop_unsent(self, attempt_ids: Sequence[str]) -> int: ...  # never send these
    def wake_senders(self) -> None: ...


class Instances:
    """This instance's heartbeat and fence, and the adoption of dead instances' attempts."""

    def __init__(
        self,
        engine: AsyncEngine,
        instance_id: str,
        reconcile: Reconcile,
        *,
        wall: Callable[[], dt.datetime],
        fallback_server: str | None,
        dead_after_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        queues: SendQueues | None = None,
    ) -> None:
        self._engine = engine
        self._id = instance_id
        self._reconcile = reconcile
        self._wall = wall
        self._clock = clock
        self._queues = queues
        self._fallback = fallback_server
        self._dead_after_s = dead_after_s
        self._dead_after = dt.timedelta(seconds=dead_after_s)
        self.beat_interval_s = min(5.0, dead_after_s / 6.0)
        self._fence_after_s = dead_after_s / 2.0
        self._beat_ok_at: float | None = None  # monotonic time of the last heartbeat written
        self._rechecked = True  # every queued attempt was re-checked since the last expiry
        self._watch_since: float | None = None  # database contact unbroken since (monotonic)
        self._last_round: float | None = None
        self._seen: dict[str, tuple[dt.datetime, float]] = {}  # heartbeat value, first seen
        self.adopted = 0
        self.dropped = 0  # queued attempts never sent because another instance adopted them

    # --- the fence -------------------------------------------------------------------------

    def fenced(self) -> bool:
        """True while this instance must send nothing: heartbeat expired, or not re-checked."""
        if self._beat_ok_at is None:
            return False  # not started yet: nothing of ours can have been adopted
        return not self._rechecked or self._clock() - self._beat_ok_at >= self._fence_after_s

    def hold(self) -> str | None:
        """Why the runners must place nothing now (None: they may)."""
        if self.fenced():
            return "own heartbeat expired: calls held until ownership is re-checked"
        return None

    # --- the loop --------------------------------------------------------------------------

    async def run(self) -> None:
        """Beat, re-check after an expiry, adopt — every ``beat_interval_s`` until cancelled."""
        while True:
            try:
                async with asyncio.timeout(max(1.0, self.beat_interval_s)):
                    await self.round()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: watch nothing, keep beating
                self._lost_contact()
                event(log, "heartbeat failed", logging.WARNING,
                      error=f"{type(exc).__name__}: {exc}"[:200])  # fmt: skip
            await asyncio.sleep(self.beat_interval_s)

    async def round(self) -> None:
        """One heartbeat, the ownership re-check it may need, and the adoption check."""
        now = self._clock()
        gap = None if self._last_round is None else now - self._last_round
        if gap is not None and gap > 3 * self.beat_interval_s + 1.0:
            self._lost_contact()  # frozen or starved: what was watched before proves nothing
        if self.fenced():
            self._rechecked = False
        await self.beat()
        if not self._rechecked:
            await self.recheck()
        self._last_round = self._clock()
        if self._watch_since is None:
            self._watch_since = self._last_round
        await self.adopt_orphans()

    def _lost_contact(self) -> None:
        self._watch_since = None
        self._last_round = None
        self._seen.clear()

    async def beat(self) -> None:
        async with self._engine.begin() as conn:
            params = {"id": self._id, "host": socket.gethostname(), "now": self._wall()}
            await conn.execute(_BEAT, params)
        self._beat_ok_at = self._clock()

    async def recheck(self) -> None:
        """After an expiry: drop queued attempts that are no longer ours, then send again."""
        if self._queues is not None:
            queued = self._queues.unsent()
            if queued:
                async with self._engine.connect() as conn:
                    rows = await conn.execute(_STILL_MINE, {"ids": queued, "me": self._id})
                    mine = {str(i) for i in rows.scalars()}
                lost = [a for a in queued if a not in mine]
                if lost:
                    self.dropped += self._queues.drop_unsent(lost)
                    event(log, "queued calls adopted by another instance: never sent",
                          logging.WARNING, count=len(lost))  # fmt: skip
        self._rechecked = True
        event(log, "own heartbeat written again; ownership re-checked")
        if self._queues is not None:
            self._queues.wake_senders()

    # --- adoption --------------------------------------------------------------------------

    async def adopt_orphans(self) -> int:
        """Take over the attempts of instances watched silent for the takeover period."""
        if self.fenced() or self._watch_since is None:
            return 0
        now, wall = self._clock(), self._wall()
        async with self._engine.connect() as conn:
            rows = (await conn.execute(_OTHERS, {"me": self._id})).all()
        dead = []
        for iid, beat_at in rows:
            seen = self._seen.get(str(iid))
            if seen is None or seen[0] != beat_at:
                seen = (beat_at, now)
                self._seen[str(iid)] = seen
            watched = now - max(seen[1], self._watch_since)
            if watched >= self._dead_after_s and wall - beat_at >= self._dead_after:
                dead.append(str(iid))
        if not dead:
            return 0
        return await self._adopt(dead, wall - self._dead_after)

    async def _adopt(self, dead: list[str], cutoff: dt.datetime) -> int:
        async with self._engine.begin() as conn:
            params = {"me": self._id, "dead": dead, "cutoff": cutoff}
            rows = (await conn.execute(_ADOPT, params)).all()
        if not rows:
            return 0
        pairs = [(str(r.id), self._server(str(r.server))) for r in rows]
        silent = sorted({str(r.instance_id) for r in rows})
        event(log, "adopting calls of a silent instance", logging.WARNING,
              count=len(pairs), instances=",".join(silent), adopter=self._id)  # fmt: skip
        await self._reconcile(pairs)
        self.adopted += len(pairs)
        return len(pairs)

    def _server(self, server: str) -> str:
        if server == "pending" and self._fallback is not None:
            return self._fallback
        return server
