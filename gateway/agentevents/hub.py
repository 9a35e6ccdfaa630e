"""The agent event hub: numbers each agent change, adds the record, keeps the replay buffer and
hands the events to the subscribers and to the webhook outbox. No HTTP here.

Flow. The dialer calls :meth:`AgentEventHub.submit` for each
:class:`~gateway.asterisk.agentfeed.AgentChange`, from its event callback: it only appends to an
in-memory inbox (with the wall-clock time) and wakes the hub's task. That task takes everything
waiting, reads the cards of the records it does not hold yet in one query, then, in arrival
order, numbers each change, appends it to the :class:`ReplayBuffer`, offers it to every
matching subscription and queues it for the webhooks. The record of a call is normally read
before any agent event: when the callee answers (:meth:`answered`, from the dialer's progress
callback), seconds ahead of the queue ringing an agent (AMD, queueing), by a loop of its own
that never holds events up; else when its first event comes (an event whose record is being
read ahead waits for that read). The connect, the screen pop, is then served from the cache. A
record that cannot be had within ``fetch_timeout_s`` (0.5 s; the database slow or away) does
not hold the stream up longer: the event goes out with the record's id only.

Subscribers. :meth:`subscribe` registers a :class:`Subscription` for one agent or one campaign
and, given ``after``, fills it with the buffered events after that id (with a
:class:`~gateway.agentevents.replay.Gap` when some are gone) in the same step, with no await in
between, so nothing can fall between the replay and the live events. Each subscription holds at
most ``client_queue`` live events: one that falls behind is dropped (:class:`TooSlow` from its
:meth:`Subscription.next`) and never slows the hub or the others; it resumes with ``after``.

Webhooks. Events are written to the outbox (``write_webhooks``, one statement per batch) by a
second loop of the same task group, so a slow database delays only the webhooks, never the
streams. Each write takes the whole backlog (up to ``WEBHOOK_BATCH`` events): a ringall queue
rings every free member for each caller, some hundreds of events a second with 150 agents, and a
write's cost is mostly its round trips, so a loaded gateway that wrote 500 at a time fell behind
for good. A failed batch is tried again a second later, in front of the events that came
meanwhile. The backlog is bounded by ``webhook_backlog`` events, apart from the replay buffer's
size: past it the oldest are dropped, each counted (``hooks_dropped``, ``on_webhooks_dropped``:
the ``dialer_agent_webhooks_dropped_total`` metric) and logged.

One writer per server. Every gateway instance connected to a server sees all its member events,
so the call-less changes (``state`` between calls) are the same in every instance: only the
server's feed owner (``owns_server``, a lease per server, :mod:`dialer.feedowner`) queues them
for the webhooks. A change tied to one of our calls is queued by the instance that placed the
call, the only one that resolves it. The streams are not affected: every instance serves its
own clients every event it has.

The hub's task is owned by the service (``run`` in its task group, cancelled at shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from gateway.agentevents.model import AgentEvent, TooSlow, event_of
from gateway.agentevents.replay import Gap, ReplayBuffer
from gateway.asterisk.agentfeed import AgentChange
from gateway.asterisk.calls.model import CallProgress
from gateway.campaigns.cards import RecordCard
from gateway.logs import event as log_event

log = logging.getLogger(__name__)

CardReader = Callable[[Collection[int]], Awaitable[Mapping[int, RecordCard]]]
WebhookWriter = Callable[[Sequence[AgentEvent]], Awaitable[int]]
WEBHOOK_BATCH = 5_000  # events in one outbox statement, at most
K = TypeVar("K", str, int)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Subscription:
    """One subscriber's view: the replay first, then the live events, at most ``limit`` queued."""

    def __init__(
        self,
        hub: AgentEventHub,
        agent: str | None,
        campaign_id: int | None,
        gap: Gap | None,
        backlog: list[AgentEvent],
        limit: int,
    ) -> None:
        self.agent = agent
        self.campaign_id = campaign_id
        self.gap = gap
        self.dropped = False
        self._hub = hub
        self._backlog = deque(backlog)
        self._live: deque[AgentEvent] = deque()
        self._limit = limit
        self._wake = asyncio.Event()
        self._gone = asyncio.Event()

    async def wait_dropped(self) -> None:
        """Returns once the subscriber was dropped for falling behind."""
        await self._gone.wait()

    def offer(self, event: AgentEvent) -> bool:
        """Queue a live event; False (and dropped) when the queue is full."""
        if len(self._live) >= self._limit:
            self.dropped = True
            self._wake.set()
            self._gone.set()
            return False
        self._live.append(event)
        self._wake.set()
        return True

    @property
    def pending(self) -> int:
        """Events queued for this subscriber and not taken yet."""
        return len(self._backlog) + len(self._live)

    async def next(self) -> AgentEvent:
        """The next event; raises :class:`TooSlow` once the subscriber was dropped."""
        while True:
            if self.dropped:
                raise TooSlow(f"more than {self._limit} events were waiting for this client")
            if self._backlog:
                return self._backlog.popleft()
            if self._live:
                return self._live.popleft()
            self._wake.clear()
            await self._wake.wait()

    def close(self) -> None:
        self._hub.unsubscribe(self)


class _Cache:
    """Record cards by id, each kept ``ttl_s`` seconds, at most ``size`` (oldest out first)."""

    def __init__(self, size: int, ttl_s: float, clock: Callable[[], float]) -> None:
        self._size = size
        self._ttl_s = ttl_s
        self._clock = clock
        self._cards: OrderedDict[int, tuple[RecordCard, float]] = OrderedDict()

    def get(self, record_id: int) -> RecordCard | None:
        found = self._cards.get(record_id)
        if found is None:
            return None
        if found[1] < self._clock():
            del self._cards[record_id]
            return None
        return found[0]

    def __len__(self) -> int:
        return len(self._cards)

    def put(self, card: RecordCard) -> None:
        """Hold ``card``; the expired ones go first. Every card is kept ``ttl_s`` from its put
        and a put moves it last, so they are in expiry order: the oldest lead."""
        now = self._clock()
        while self._cards and next(iter(self._cards.values()))[1] < now:
            self._cards.popitem(last=False)
        self._cards[card.id] = (card, now + self._ttl_s)
        self._cards.move_to_end(card.id)
        while len(self._cards) > self._size:
            self._cards.popitem(last=False)


class AgentEventHub:
    """Agent changes in, numbered events with their record out (streams and webhooks)."""

    def __init__(
        self,
        read_cards: CardReader,
        *,
        write_webhooks: WebhookWriter | None = None,
        on_webhooks_queued: Callable[[], None] | None = None,
        on_webhooks_dropped: Callable[[int], None] | None = None,
        owns_server: Callable[[str], bool] = lambda server: True,
        wall: Callable[[], datetime] = _utc_now,
        clock: Callable[[], float] = time.monotonic,
        buffer: int = 10_000,
        buffer_age_s: float | None = 600.0,
        client_queue: int = 1_000,
        webhook_backlog: int = 50_000,
        fetch_timeout_s: float = 0.5,
        read_ahead_timeout_s: float = 5.0,
        cache_ttl_s: float = 60.0,
    ) -> None:
        self._read_cards = read_cards
        self._write_webhooks = write_webhooks
        self._on_webhooks_queued = on_webhooks_queued
        self._on_webhooks_dropped = on_webhooks_dropped
        self._owns_server = owns_server
        self._wall = wall
        self._fetch_timeout_s = fetch_timeout_s
        self._read_ahead_timeout_s = read_ahead_timeout_s
        self._client_queue = client_queue
        self._buffer = ReplayBuffer(
            buffer,
            int(wall().timestamp() * 1_000_000) + 1,
            None if buffer_age_s is None else timedelta(seconds=buffer_age_s),
        )
        self._cache = _Cache(max(buffer, 1_000), cache_ttl_s, clock)
        self._inbox: deque[tuple[AgentChange, datetime]] = deque()
        self._ahead: set[int] = set()  # records of answered calls, to read before the connect
        self._ahead_wake = asyncio.Event()
        self._reading: dict[int, asyncio.Future[None]] = {}  # read ahead right now, by record
        self._wake = asyncio.Event()
        self._hooks: deque[AgentEvent] = deque()
        self._hooks_limit = max(webhook_backlog, 1)
        self._hooks_wake = asyncio.Event()
        self._by_agent: dict[str, set[Subscription]] = {}
        self._by_campaign: dict[int, set[Subscription]] = {}
        self.hooks_dropped = 0
        self.read_late = 0  # records read only when an agent event came, not ahead at answer

    def on_webhooks_queued(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (it must only enqueue) after agent webhooks were queued."""
        self._on_webhooks_queued = listener

    # --- in ------------------------------------------------------------------------------

    def submit(self, change: AgentChange) -> None:
        """Take one change (the dialer's callback): only enqueues, never blocks."""
        self._inbox.append((change, self._wall()))
        self._wake.set()

    def answered(self, progress: CallProgress) -> None:
        """A call's progress (the dialer's callback): when the callee answered and no agent has
        it yet, read its record now, seconds before the queue rings an agent (AMD, queueing),
        so that neither the ringing nor the connect waits for the database."""
        record_id = progress.record_id
        if progress.answered_at is None or progress.connected_at is not None or not record_id:
            return
        if self._cache.get(record_id) is None and record_id not in self._reading:
            self._ahead.add(record_id)
            self._ahead_wake.set()

    # --- subscribers -----------------------------------------------------------------------

    @property
    def last_id(self) -> int:
        return self._buffer.last_id

    @property
    def oldest_id(self) -> int:
        return self._buffer.oldest_id

    def subscribe(
        self, *, agent: str | None = None, campaign_id: int | None = None, after: int | None = None
    ) -> Subscription:
        """Follow one agent or one campaign; with ``after``, replay the held events after it."""
        if (agent is None) == (campaign_id is None):
            raise ValueError("subscribe to one agent or one campaign")
        gap: Gap | None = None
        backlog: list[AgentEvent] = []
        if after is not None:
            gap, held = self._buffer.since(after)
            if agent is not None:
                backlog = [e for e in held if e.agent == agent]
            else:
                backlog = [e for e in held if e.campaign_id == campaign_id]
        sub = Subscription(self, agent, campaign_id, gap, backlog, self._client_queue)
        if agent is not None:
            self._by_agent.setdefault(agent, set()).add(sub)
        elif campaign_id is not None:
            self._by_campaign.setdefault(campaign_id, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub.agent is not None:
            self._discard(self._by_agent, sub.agent, sub)
        elif sub.campaign_id is not None:
            self._discard(self._by_campaign, sub.campaign_id, sub)

    @staticmethod
    def _discard(index: dict[K, set[Subscription]], key: K, sub: Subscription) -> None:
        subs = index.get(key)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del index[key]

    @property
    def subscribers(self) -> int:
        return sum(len(s) for s in self._by_agent.values()) + sum(
            len(s) for s in self._by_campaign.values()
        )

    # --- the task ------------------------------------------------------------------------

    async def run(self) -> None:
        """The hub's loops (events; webhooks); runs until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._pump(), name="agent-events")
            group.create_task(self._read_ahead(), name="agent-records-ahead")
            if self._write_webhooks is not None:
                group.create_task(self._webhooks(self._write_webhooks), name="agent-webhooks")

    async def _pump(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._inbox:
                batch = list(self._inbox)
                self._inbox.clear()
                await self._cards_for(batch)
                for change, at in batch:
                    try:
                        self._publish(change, at)
                    except Exception as exc:  # one bad change must not end the stream
                        log_event(log, "agent event dropped", logging.ERROR, agent=change.agent,
                                  kind=str(change.kind), error=repr(exc))  # fmt: skip

    async def _read_ahead(self) -> None:
        """Read the records of answered calls, beside the events (never holding them up)."""
        while True:
            await self._ahead_wake.wait()
            self._ahead_wake.clear()
            while self._ahead:
                ids, self._ahead = self._ahead, set()
                done = asyncio.get_running_loop().create_future()
                self._reading.update(dict.fromkeys(ids, done))
                try:
                    await self._read(ids, self._read_ahead_timeout_s)
                finally:
                    for record_id in ids:
                        self._reading.pop(record_id, None)
                    done.set_result(None)

    async def _cards_for(self, batch: list[tuple[AgentChange, datetime]]) -> None:
        """Have the cards of the batch's calls in the cache: those being read ahead are awaited,
        the others read now, all within ``fetch_timeout_s``."""
        wanted = {
            change.call.record_id
            for change, _ in batch
            if change.call is not None and self._cache.get(change.call.record_id) is None
        }
        pending = {self._reading[i] for i in wanted if i in self._reading}
        missing = {i for i in wanted if i not in self._reading}
        if not (pending or missing):
            return
        self.read_late += len(missing)
        waits: set[asyncio.Future[Any]] = set(pending)
        if missing:
            waits.add(asyncio.ensure_future(self._read(missing, self._fetch_timeout_s)))
        _, late = await asyncio.wait(waits, timeout=self._fetch_timeout_s)
        for task in late:
            if isinstance(task, asyncio.Task):
                task.cancel()  # a read ahead goes on; this one is given up

    async def _read(self, ids: set[int], timeout_s: float) -> None:
        try:
            async with asyncio.timeout(timeout_s):
                found = await self._read_cards(ids)
        except Exception as exc:  # the stream goes on without the cards
            log_event(log, "record cards not read", logging.WARNING, records=len(ids),
                      error=repr(exc))  # fmt: skip
            return
        for card in found.values():
            self._cache.put(card)

    def _publish(self, change: AgentChange, at: datetime) -> None:
        card = None if change.call is None else self._cache.get(change.call.record_id)
        event = event_of(change, self._buffer.next_id, at, card)
        self._buffer.append(event)
        subs = list(self._by_agent.get(event.agent, ()))
        if event.campaign_id is not None:
            subs.extend(self._by_campaign.get(event.campaign_id, ()))
        for sub in subs:
            if not sub.offer(event):
                self.unsubscribe(sub)
        if self._write_webhooks is not None and (
            change.call is not None or self._owns_server(change.server)
        ):
            self._hooks.append(event)
            self._trim_hooks()
            self._hooks_wake.set()

    def _trim_hooks(self) -> None:
        """Drop the oldest webhook events past the backlog's bound, counted and logged."""
        over = len(self._hooks) - self._hooks_limit
        if over <= 0:
            return
        for _ in range(over):
            self._hooks.popleft()
        before, self.hooks_dropped = self.hooks_dropped, self.hooks_dropped + over
        if before // 1000 != self.hooks_dropped // 1000 or before == 0:
            log_event(log, "agent webhooks dropped", logging.WARNING, dropped=self.hooks_dropped,
                      backlog=self._hooks_limit)  # fmt: skip
        if self._on_webhooks_dropped is not None:
            with contextlib.suppress(Exception):
                self._on_webhooks_dropped(over)

    async def _webhooks(self, write: WebhookWriter) -> None:
        while True:
            await self._hooks_wake.wait()
            self._hooks_wake.clear()
            while self._hooks:
                batch = [self._hooks.popleft() for _ in range(min(WEBHOOK_BATCH, len(self._hooks)))]
                try:
                    queued = await write(batch)
                except Exception as exc:  # kept and tried again; the streams are not affected
                    log_event(log, "agent webhooks not queued", logging.WARNING,
                              events=len(batch), error=repr(exc))  # fmt: skip
                    self._hooks.extendleft(reversed(batch))  # in front of the newer ones
                    self._trim_hooks()
                    await asyncio.sleep(1.0)  # the retry interval of a failed batch
                    continue
                if queued and self._on_webhooks_queued is not None:
                    with contextlib.suppress(Exception):
                        self._on_webhooks_queued()
