"""The progress writer: what decides a live call's outcome reaches the database within a second.

Design. The tracker reports a call's progress — answered, connected to an agent (with the
agent), the AMD result — through a synchronous callback as it happens; the writer keeps the
latest report per attempt (each report carries everything known so far) and one task writes
what it holds every ``interval_s`` (0.25 s by default) in one set-based statement. So after a
kill -9 of the gateway, at most the last ``interval_s`` (plus one write) of progress is lost,
and the attempt settled ``unknown`` by the restarted instance is decided from what was stored:
an attempt that reached an agent is ``answered``.

A failed write keeps its reports (newer ones for the same attempt win) and is retried with
capped backoff; progress is evidence, not an outcome, so a database outage never holds calls
here (the result writer does that). Nothing here knows SQL: ``persist`` is injected.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from gateway.asterisk.calls.model import CallProgress
from gateway.logs import event

log = logging.getLogger(__name__)

PersistProgress = Callable[[Sequence[CallProgress]], Awaitable[object]]


class ProgressWriter:
    """Gather progress reports and store them in batches, at most ``interval_s`` late."""

    def __init__(
        self,
        persist: PersistProgress,
        *,
        interval_s: float = 0.25,
        max_backoff_s: float = 5.0,
    ) -> None:
        self._persist = persist
        self._interval_s = interval_s
        self._max_backoff_s = max_backoff_s
        self._pending: dict[str, CallProgress] = {}
        self._wake = asyncio.Event()
        self._failing = False
        self.stored = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def submit(self, progress: CallProgress) -> None:
        """Keep the latest report of an attempt (the tracker's callback; never blocks)."""
        self._pending[progress.attempt_id] = progress
        self._wake.set()

    async def run(self) -> None:
        """Write every ``interval_s`` while there is something to write; until cancelled."""
        backoff = self._interval_s
        while True:
            if not self._pending:
                self._wake.clear()
                await self._wake.wait()
            await asyncio.sleep(self._interval_s)  # gather a batch, bounded delay
            if await self.flush():
                backoff = self._interval_s
            else:
                await asyncio.sleep(backoff)
                backoff = min(self._max_backoff_s, backoff * 2)

    async def flush(self) -> bool:
        """Write what is held now; False (reports kept) if the database refused."""
        batch, self._pending = self._pending, {}
        if not batch:
            return True
        try:
            await self._persist(list(batch.values()))
        except asyncio.CancelledError:
            self._keep(batch)
            raise
        except Exception as exc:
            self._keep(batch)
            if not self._failing:
                event(log, "call progress cannot be written", logging.ERROR,
                      error=f"{type(exc).__name__}: {exc}"[:300], pending=self.pending)  # fmt: skip
            self._failing = True
            return False
        if self._failing:
            event(log, "call progress written again", pending=self.pending)
        self._failing = False
        self.stored += len(batch)
        return True

    def _keep(self, batch: dict[str, CallProgress]) -> None:
        for attempt_id, progress in batch.items():
            self._pending.setdefault(attempt_id, progress)  # a newer report wins
