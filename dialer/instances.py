"""Gateway instances sharing one database: heartbeats, and adopting a dead instance's calls.

Every instance writes a heartbeat to ``service_instances`` every few seconds. Campaign pacing
moves to a surviving instance by itself (the pacer lease expires); what this module adds is the
calls a dead instance left in flight: attempts still ``dialing`` under an instance whose
heartbeat is older than ``dead_after_s`` are taken over by one survivor in a single ``UPDATE``
(row locks make two survivors take disjoint sets) and handed to its dialer for reconciliation:
followed from Asterisk's channels and events, settled as ``unknown`` if not found, and never
originated again.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.logs import event

log = logging.getLogger(__name__)

_BEAT = text(
    "INSERT INTO service_instances (id, hostname, started_at, heartbeat_at) "
    "VALUES (:id, :host, :now, :now) "
    "ON CONFLICT (id) DO UPDATE SET heartbeat_at = :now, hostname = :host"
)
_ADOPT = text(
    "UPDATE attempts SET instance_id = :me WHERE status = 'dialing' AND instance_id <> :me "
    "AND originated_at < :cutoff AND instance_id NOT IN "
    "(SELECT id FROM service_instances WHERE heartbeat_at >= :cutoff) "
    "RETURNING id, server, instance_id"
)

Reconcile = Callable[[Sequence[tuple[str, str]]], Awaitable[None]]


class Instances:
    """This instance's heartbeat and the adoption of dead instances' attempts."""

    def __init__(
        self,
        engine: AsyncEngine,
        instance_id: str,
        reconcile: Reconcile,
        *,
        wall: Callable[[], dt.datetime],
        fallback_server: str | None,
        dead_after_s: float = 30.0,
    ) -> None:
        self._engine = engine
        self._id = instance_id
        self._reconcile = reconcile
        self._wall = wall
        self._fallback = fallback_server
        self._dead_after = dt.timedelta(seconds=dead_after_s)
        self.adopted = 0

    async def beat(self) -> None:
        async with self._engine.begin() as conn:
            params = {"id": self._id, "host": socket.gethostname(), "now": self._wall()}
            await conn.execute(_BEAT, params)

    async def adopt_orphans(self) -> int:
        """Take over the attempts of instances silent for ``dead_after_s``; reconcile them."""
        cutoff = self._wall() - self._dead_after
        async with self._engine.begin() as conn:
            rows = (await conn.execute(_ADOPT, {"me": self._id, "cutoff": cutoff})).all()
        if not rows:
            return 0
        pairs = [(str(r.id), self._server(str(r.server))) for r in rows]
        dead = sorted({str(r.instance_id) for r in rows})
        event(log, "adopting calls of a silent instance", logging.WARNING,
              count=len(pairs), instances=",".join(dead))  # fmt: skip
        await self._reconcile(pairs)
        self.adopted += len(pairs)
        return len(pairs)

    def _server(self, server: str) -> str:
        if server == "pending" and self._fallback is not None:
            return self._fallback
        return server
