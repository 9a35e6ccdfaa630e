"""What ``GET /campaigns/{id}/status`` answers: fresh state, record counts from a short cache.

The reply has two halves that cost very different amounts. State, version and the controlled-
resume end are one primary-key read of ``campaigns``: it is read for every request (shared by
concurrent requests through :class:`control_api.availability.Coalescer`, never older than the
request). Records per status are a sum over the campaign's rows of ``record_counts``, which
triggers keep exact at every commit (migration 0005, :mod:`gateway.campaigns.counts`): about a
millisecond however many records the campaign has (a ``count(*)`` over a million records took
0.2–0.35 s of a database core, and the requests in flight meanwhile were the p99). They still
come through :class:`RecordCounts`, a per-campaign cache, so that polling clients cost the
database one read a second per campaign; its rules (``REFRESH_AFTER_S`` = 1 s, ``MAX_AGE_S`` =
5 s):

* a count younger than 1 s is served as it is;
* a count between 1 s and 5 s old is served, and a refresh starts in the background (one at a
  time per campaign), so the count query runs at most once a second per campaign however many
  clients poll;
* with no count, a count older than 5 s, or after :meth:`RecordCounts.invalidate`, the
  request waits for a fresh count (shared with the other requests that wait for it).

Every change the API makes to a campaign's records (import, reset, force complete, delete)
invalidates its count, so a client reads its own writes. Changes made elsewhere (the dialer
working through records, the CLI, another gateway instance) show within about a second while
someone polls, and never later than 5 s. The reply's
``records_as_of`` is the database time at which the counted snapshot was taken.

Refresh tasks are owned by the cache: :meth:`RecordCounts.close` cancels and awaits them (the
application calls it on cleanup). The queries take an engine; the cache takes a loader and a
monotonic clock, so it is tested without a database. The reply body is written from these by
``control_api.routes_campaigns.status_body``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.campaigns import campaigns
from gateway.campaigns import counts as counts_table
from gateway.campaigns.errors import NotFound
from gateway.campaigns.typed import row_of
from gateway.db.models import RecordStatus
from gateway.logs import event

log = logging.getLogger(__name__)
REFRESH_AFTER_S = 1.0
MAX_AGE_S = 5.0

_STATE = text("SELECT id, state, version, controlled_until FROM campaigns WHERE id = :cid")


@dataclass(frozen=True, slots=True)
class Counts:
    """Records per status (every status present) as of ``as_of`` (database time)."""

    records: Mapping[str, int]
    as_of: datetime


Loader = Callable[[int], Awaitable[Counts]]


@dataclass(slots=True)
class _Slot:
    """One campaign's cached count and the refresh in flight, if any."""

    generation: int = 0  # bumped by invalidate(); a refresh of an older one is not kept
    counts: Counts | None = None
    taken: float = 0.0  # monotonic time at which the cached count's query started
    refresh: asyncio.Task[Counts] | None = None
    refresh_generation: int = -1


@dataclass(slots=True)
class RecordCounts:
    """Per-campaign record counts, refreshed on demand at most every ``refresh_after_s``."""

    load: Loader
    refresh_after_s: float = REFRESH_AFTER_S
    max_age_s: float = MAX_AGE_S
    clock: Callable[[], float] = time.monotonic
    _slots: dict[int, _Slot] = field(default_factory=dict)
    _tasks: set[asyncio.Task[Counts]] = field(default_factory=set)

    async def get(self, campaign_id: int) -> Counts:
        slot = self._slots.setdefault(campaign_id, _Slot())
        if slot.counts is not None:
            age = self.clock() - slot.taken
            if age <= self.max_age_s:
                if age > self.refresh_after_s and slot.refresh is None:
                    self._start(campaign_id, slot)
                return slot.counts
        if slot.refresh is None or slot.refresh_generation != slot.generation:
            self._start(campaign_id, slot)
        assert slot.refresh is not None
        return await asyncio.shield(slot.refresh)  # a cancelled request leaves it running

    def invalidate(self, campaign_id: int) -> None:
        """The campaign's records changed: the next request waits for a fresh count."""
        slot = self._slots.get(campaign_id)
        if slot is not None:
            slot.generation += 1
            slot.counts = None

    async def close(self) -> None:
        """Cancel and await every refresh in flight."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._slots.clear()

    def _start(self, campaign_id: int, slot: _Slot) -> None:
        task = asyncio.get_running_loop().create_task(
            self._refresh(campaign_id, slot, slot.generation)
        )
        slot.refresh, slot.refresh_generation = task, slot.generation
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    async def _refresh(self, campaign_id: int, slot: _Slot, generation: int) -> Counts:
        started = self.clock()
        try:
            counts = await self.load(campaign_id)
        finally:
            if slot.refresh is asyncio.current_task():
                slot.refresh = None
        if slot.generation == generation and started >= slot.taken:
            slot.counts, slot.taken = counts, started
        return counts

    def _finished(self, task: asyncio.Task[Counts]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            # Waiting requests got it too; a background refresh is simply tried again later.
            event(log, "record count failed", logging.WARNING, error=repr(exc))


async def read_counts(engine: AsyncEngine, campaign_id: int) -> Counts:
    """Records per status of one campaign, exact now: a sum over ``record_counts`` (migration
    0005), folded first when its rows for the campaign have piled up."""
    async with engine.begin() as conn:
        found = await counts_table.read(conn, campaign_id)
        if found.pieces > counts_table.PILE:
            await counts_table.compact(conn, campaign_id)
    return Counts({str(s): found.records.get(str(s), 0) for s in RecordStatus}, found.as_of)


@dataclass(frozen=True, slots=True)
class StateNow:
    """The cheap half of a status: a campaign's state, version and controlled-resume end."""

    id: int
    state: str
    version: int
    controlled_until: datetime | None


async def read_state(engine: AsyncEngine, campaign_id: int) -> StateNow:
    """Id, state, version and controlled-resume end, read now; :class:`NotFound` if absent."""
    async with engine.connect() as conn:
        row = (
            (await conn.execute(_STATE, {"cid": campaigns.valid_id(campaign_id)}))
            .mappings()
            .first()
        )
    if row is None:
        raise NotFound(f"campaign {campaign_id} does not exist")
    return row_of(StateNow, row)
