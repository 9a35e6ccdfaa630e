"""The result writer: every settled attempt reaches the database, even across an outage.

Design. The dialer reports each attempt's outcome through a synchronous callback; the writer
queues it (the callback never blocks the AMI read loop) and one task writes queued results in
batches, waiting ``gather_s`` (50 ms in the service) for a batch to fill: at thousands of
results a second a write as soon as one is queued would cost a transaction for a handful.
When a write fails the writer keeps the whole batch, reports an *outage* (the runtime stops
placing calls and the guard later records a ``logging`` pause), and retries with capped
exponential backoff until the database answers again; then it writes everything it kept, in
order, and reports the recovery with how long it lasted and how many results it held. A
transient error (a deadlock, a serialization failure, one reset connection) is not an outage:
the batch is written again after a short backoff, up to three times in a row. A result
is handed on (listeners: runners' statistics, metrics) only after it is stored, so what the
pacing core counts is what the database holds.

Nothing here knows SQL: ``persist`` is injected (``gateway.db`` settles attempts idempotently, so
a batch whose commit outcome was unknown can be written again safely).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from gateway.db.transient import is_transient
from gateway.logs import event
from pacing.calls import AttemptResult

log = logging.getLogger(__name__)

Persist = Callable[[Sequence[AttemptResult]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Outage:
    """A period when results could not be written."""

    started: float
    ended: float
    held: int  # results kept in memory and written on recovery
    error: str


class ResultWriter:
    """Queue, batch and persist attempt results; never drop one."""

    def __init__(
        self,
        persist: Persist,
        *,
        clock: Callable[[], float],
        on_outage: Callable[[str], None] = lambda _: None,
        on_recovered: Callable[[Outage], None] = lambda _: None,
        batch_size: int = 500,
        max_backoff_s: float = 5.0,
        gather_s: float = 0.0,
    ) -> None:
        self._persist = persist
        self._clock = clock
        self._listeners: list[Callable[[AttemptResult], None]] = []
        self._on_outage = on_outage
        self._on_recovered = on_recovered
        self._batch_size = batch_size
        self._max_backoff_s = max_backoff_s
        self._gather_s = gather_s  # wait this long for a batch to fill before writing it
        self._pending: deque[AttemptResult] = deque()
        self._wake = asyncio.Event()
        self._writing = asyncio.Lock()  # run() and drain() never write the same batch twice
        self._outage_started: float | None = None
        self._outage_error = ""
        self._transient = 0  # transient errors in a row; past three the database is away
        self.stored = 0
        self.transient_retries = 0

    def add_listener(self, listener: Callable[[AttemptResult], None]) -> None:
        """Call ``listener`` with every result once it is stored."""
        self._listeners.append(listener)

    @property
    def healthy(self) -> bool:
        """False while results cannot be written."""
        return self._outage_started is None

    @property
    def pending(self) -> int:
        return len(self._pending)

    def submit(self, result: AttemptResult) -> None:
        """Queue a result (the dialer's callback; never blocks)."""
        self._pending.append(result)
        self._wake.set()

    async def run(self) -> None:
        """Write until cancelled; a final drain is attempted by :meth:`drain`."""
        backoff = 0.1
        while True:
            if not self._pending:
                self._wake.clear()
                await self._wake.wait()
            if self._gather_s > 0 and len(self._pending) < self._batch_size:
                await asyncio.sleep(self._gather_s)  # a fuller batch: fewer round trips a call
            if await self._write_batch():
                backoff = 0.1
            else:
                await asyncio.sleep(backoff)
                backoff = min(self._max_backoff_s, backoff * 2)

    async def drain(self, limit_s: float) -> bool:
        """Try to write everything still queued within ``limit_s``; True when nothing is left."""
        try:
            async with asyncio.timeout(limit_s):
                while self._pending:
                    if not await self._write_batch():
                        await asyncio.sleep(0.2)
        except TimeoutError:
            event(log, "results left unwritten at shutdown", logging.ERROR, count=self.pending)
        return not self._pending

    async def _write_batch(self) -> bool:
        async with self._writing:
            return await self._write_batch_locked()

    async def _write_batch_locked(self) -> bool:
        batch = [self._pending[i] for i in range(min(self._batch_size, len(self._pending)))]
        if not batch:
            return True
        try:
            await self._persist(batch)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if self._outage_started is None and is_transient(exc) and self._transient < 3:
                self._transient += 1  # a deadlock, a serialization failure, one lost connection
                self.transient_retries += 1
                event(log, "attempt results retried after a transient error", logging.WARNING,
                      error=f"{type(exc).__name__}: {exc}"[:300])  # fmt: skip
                return False
            self._enter_outage(exc)
            return False
        self._transient = 0
        for _ in batch:
            self._pending.popleft()
        self.stored += len(batch)
        self._leave_outage(len(batch))
        for result in batch:
            for listener in self._listeners:
                listener(result)
        return True

    def _enter_outage(self, exc: Exception) -> None:
        if self._outage_started is not None:
            return
        self._outage_started = self._clock()
        self._outage_error = f"{type(exc).__name__}: {exc}"[:300]
        event(
            log,
            "attempt results cannot be written",
            logging.ERROR,
            error=self._outage_error,
            pending=self.pending,
        )
        self._on_outage(self._outage_error)

    def _leave_outage(self, written: int) -> None:
        if self._outage_started is None:
            return
        outage = Outage(
            self._outage_started, self._clock(), written + self.pending, self._outage_error
        )
        self._outage_started = None
        event(
            log,
            "attempt results written again",
            held=outage.held,
            seconds=round(outage.ended - outage.started, 1),
        )
        self._on_recovered(outage)
