"""The agent event hub and its replay buffer: numbering, records, resume, gaps, slow clients."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta

import pytest

from gateway.agentevents.hub import AgentEventHub, Subscription, _Cache
from gateway.agentevents.model import AgentEvent, EventType, TooSlow
from gateway.agentevents.replay import Gap, ReplayBuffer
from gateway.asterisk.agentfeed import AgentChange, CallRef, ChangeKind
from gateway.asterisk.agents import AgentStatus
from gateway.asterisk.calls.model import CallProgress
from gateway.campaigns import outbox
from gateway.campaigns.cards import RecordCard

START = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
CARD = RecordCard(42, 7, "Ada Lovelace", "+15551234567", "", {"account": "A-1"})


def _change(kind: ChangeKind, agent: str = "Agent 101", record: int = 42) -> AgentChange:
    call = CallRef("a" * 32, 7, record) if kind is not ChangeKind.STATE else None
    return AgentChange(kind, "pbx1", "sales", "PJSIP/agent-101", agent, AgentStatus.ON_CALL,
                       call, 0.0)  # fmt: skip


def _event(event_id: int, at: datetime = START) -> AgentEvent:
    return AgentEvent(event_id, EventType.STATE, at, "Agent 101", "sales", "pbx1", "free",
                      None, None, None, None)  # fmt: skip


def test_the_webhook_names_of_agent_events_are_the_event_types() -> None:
    assert tuple(EventType) == outbox.AGENT_EVENTS
    assert set(outbox.AGENT_EVENTS) < set(outbox.WEBHOOK_EVENTS)


def test_the_buffer_replays_after_an_id_and_signals_a_gap_past_its_oldest() -> None:
    buffer = ReplayBuffer(3, first_id=10)
    assert buffer.since(9) == (None, [])  # nothing handed out yet, nothing missed
    assert buffer.since(5)[0] == Gap(5, 10, 9)  # an id from before this process
    for event_id in range(10, 15):
        buffer.append(_event(event_id))
    assert [e.id for e in buffer.since(12)[1]] == [13, 14]
    assert buffer.since(14) == (None, [])
    assert buffer.since(11)[0] is None  # 11 is just before the oldest held: nothing missed
    assert [e.id for e in buffer.since(11)[1]] == [12, 13, 14]
    gap, held = buffer.since(10)  # 11 was evicted: the client missed it
    assert gap == Gap(10, 12, 14)
    assert [e.id for e in held] == [12, 13, 14]
    assert buffer.since(99)[0] == Gap(99, 12, 14)  # never handed out: not trusted
    with pytest.raises(ValueError, match="out of sequence"):
        buffer.append(_event(16))


def test_the_buffer_lets_go_of_events_older_than_its_age_bound() -> None:
    """At a few events a second 10,000 take most of an hour to gather: with the count alone the
    process grew for 40 minutes of a soak before it levelled off."""
    buffer = ReplayBuffer(1_000, first_id=1, max_age=timedelta(seconds=60))
    for event_id, second in zip(range(1, 5), (0, 30, 59, 60), strict=True):
        buffer.append(_event(event_id, START + timedelta(seconds=second)))
    assert len(buffer) == 4  # the first is exactly 60 s older than the newest: still held
    buffer.append(_event(5, START + timedelta(seconds=61)))
    assert [e.id for e in buffer.since(1)[1]] == [2, 3, 4, 5]
    assert buffer.since(0)[0] == Gap(0, 2, 5)  # the client missed the one let go
    buffer.append(_event(6, START + timedelta(seconds=500)))  # a quiet spell: only the newest
    assert [e.id for e in buffer.since(5)[1]] == [6]
    assert buffer.since(4)[0] == Gap(4, 6, 6)
    with pytest.raises(ValueError, match="positive"):
        ReplayBuffer(10, first_id=1, max_age=timedelta(0))


def test_the_card_cache_lets_go_of_expired_cards_without_being_asked_for_them() -> None:
    """A card is read for each answered call and rarely asked for again past its ttl: held
    until 10,000 newer ones pushed it out, the cache grew for over an hour of a soak."""
    now = [0.0]
    cache = _Cache(10_000, 60.0, lambda: now[0])
    for record_id in range(100):
        cache.put(RecordCard(record_id, 7, "", "+15551234567", "", {}))
    now[0] = 30.0
    cache.put(RecordCard(100, 7, "", "+15551234567", "", {}))
    assert len(cache) == 101  # none expired yet
    now[0] = 61.0
    cache.put(RecordCard(101, 7, "", "+15551234567", "", {}))
    assert len(cache) == 2  # the first hundred expired; 100 (put at 30 s) and 101 are held
    assert cache.get(0) is None
    assert cache.get(100) is not None
    now[0] = 95.0
    cache.put(RecordCard(100, 7, "", "+15551234567", "", {}))  # put again: held from now on
    now[0] = 125.0
    cache.put(RecordCard(102, 7, "", "+15551234567", "", {}))
    assert len(cache) == 2  # 101 (put at 61 s) expired, 100 (put again at 95 s) is held
    assert cache.get(101) is None
    assert cache.get(100) is not None


class Cards:
    """Record cards as the database would answer, counting the look-ups."""

    def __init__(
        self, cards: Mapping[int, RecordCard], delay_s: float = 0.0, slow: Collection[int] = ()
    ) -> None:
        self.cards = dict(cards)
        self.delay_s = delay_s
        self.slow = set(slow)  # reads naming one of these take 5 s
        self.queries: list[set[int]] = []
        self.asked = asyncio.Event()

    async def __call__(self, ids: Collection[int]) -> Mapping[int, RecordCard]:
        self.queries.append(set(ids))
        self.asked.set()
        await asyncio.sleep(5.0 if self.slow & set(ids) else self.delay_s)
        return {i: self.cards[i] for i in ids if i in self.cards}


def _start(tasks: list[asyncio.Task[None]], cards: Cards, **kw: object) -> AgentEventHub:
    hub = AgentEventHub(cards, wall=lambda: START, **kw)  # type: ignore[arg-type]
    tasks.append(asyncio.create_task(hub.run()))
    return hub


async def _take(sub: Subscription, n: int) -> list[AgentEvent]:
    async with asyncio.timeout(5):
        return [await sub.next() for _ in range(n)]


async def test_events_are_numbered_in_order_with_the_record_read_once(
    hub_of: list[asyncio.Task[None]],
) -> None:
    cards = Cards({42: CARD})
    hub = _start(hub_of, cards)
    first = hub.last_id + 1
    assert first == int(START.timestamp() * 1_000_000) + 1  # ids start at the start time in µs
    agent = hub.subscribe(agent="Agent 101")
    campaign = hub.subscribe(campaign_id=7)
    other = hub.subscribe(agent="Agent 102")
    for kind in (ChangeKind.RINGING, ChangeKind.CONNECTED, ChangeKind.ENDED, ChangeKind.STATE):
        hub.submit(_change(kind))
    got = await _take(agent, 4)
    assert [e.id for e in got] == [first, first + 1, first + 2, first + 3]
    assert [e.type for e in got] == [EventType.RINGING, EventType.CONNECTED, EventType.ENDED,
                                     EventType.STATE]  # fmt: skip
    assert [e.id for e in await _take(campaign, 3)] == [first, first + 1, first + 2]
    doc = json.loads(got[1].wire)
    assert doc["record"] == {"id": 42, "name": "Ada Lovelace", "phone": "+15551234567",
                             "skill": "", "custom": {"account": "A-1"}}  # fmt: skip
    assert doc["at"] == "2026-12-02T12:00:00.000000Z"
    assert (doc["campaign_id"], doc["attempt_id"], doc["agent"]) == (7, "a" * 32, "Agent 101")
    assert json.loads(got[3].wire)["record"] is None
    assert cards.queries == [{42}]  # one look-up, then the cache
    assert other.pending == 0


async def test_a_resume_replays_exactly_the_missed_events_and_a_gap_when_evicted(
    hub_of: list[asyncio.Task[None]],
) -> None:
    hub = _start(hub_of, Cards({42: CARD}), buffer=4)
    watch = hub.subscribe(agent="Agent 101")
    for _ in range(3):
        hub.submit(_change(ChangeKind.RINGING))
    seen = await _take(watch, 3)
    resumed = hub.subscribe(agent="Agent 101", after=seen[0].id)
    assert resumed.gap is None
    assert [e.id for e in await _take(resumed, 2)] == [seen[1].id, seen[2].id]
    for _ in range(3):
        hub.submit(_change(ChangeKind.CONNECTED))
    await _take(watch, 3)
    late = hub.subscribe(agent="Agent 101", after=seen[0].id)  # the buffer holds 4 of 6
    assert late.gap == Gap(seen[0].id, seen[2].id, seen[2].id + 3)
    assert [e.id for e in await _take(late, 4)] == list(range(seen[2].id, seen[2].id + 4))


async def test_a_slow_client_is_dropped_and_the_others_keep_their_events(
    hub_of: list[asyncio.Task[None]],
) -> None:
    hub = _start(hub_of, Cards({42: CARD}), client_queue=10)
    slow = hub.subscribe(campaign_id=7)
    fast = hub.subscribe(campaign_id=7)
    got: list[AgentEvent] = []
    for _ in range(25):
        hub.submit(_change(ChangeKind.RINGING))
        await asyncio.sleep(0)  # the hub's task runs between two changes
        got += await _take(fast, 1)
    assert len(got) == 25
    with pytest.raises(TooSlow):
        await _take(slow, 1)
    assert hub.subscribers == 1  # the slow one was let go at once


async def test_a_record_that_cannot_be_read_in_time_does_not_hold_the_stream(
    hub_of: list[asyncio.Task[None]],
) -> None:
    hub = _start(hub_of, Cards({42: CARD}, delay_s=5.0), fetch_timeout_s=0.05)
    watch = hub.subscribe(agent="Agent 101")
    hub.submit(_change(ChangeKind.CONNECTED))
    (event,) = await _take(watch, 1)
    assert json.loads(event.wire)["record"] == {"id": 42}


async def test_an_answered_call_has_its_record_read_before_an_agent_has_it(
    hub_of: list[asyncio.Task[None]],
) -> None:
    cards = Cards({42: CARD})
    hub = _start(hub_of, cards)
    watch = hub.subscribe(agent="Agent 101")
    hub.answered(CallProgress("a" * 32, None, None, None, None, 42))  # still ringing the callee
    hub.answered(CallProgress("a" * 32, START, START, "Agent 101", None, 42))  # already connected
    assert cards.queries == []
    hub.answered(CallProgress("a" * 32, START, None, None, None, 42))
    async with asyncio.timeout(5):
        await cards.asked.wait()
    assert cards.queries == [{42}]
    hub.submit(_change(ChangeKind.RINGING))
    hub.submit(_change(ChangeKind.CONNECTED))
    got = await _take(watch, 2)
    assert [e.record for e in got] == [CARD, CARD]
    assert cards.queries == [{42}]  # nothing was read at ringing or connect


async def test_a_slow_read_ahead_never_holds_up_other_events(
    hub_of: list[asyncio.Task[None]],
) -> None:
    other = RecordCard(43, 7, "Grace Hopper", "+15557654321", "", {})
    cards = Cards({42: CARD, 43: other}, slow={43})
    hub = _start(hub_of, cards, fetch_timeout_s=0.2)
    watch = hub.subscribe(campaign_id=7)
    hub.answered(CallProgress("b" * 32, START, None, None, None, 43))  # this read takes 5 s
    async with asyncio.timeout(5):
        await cards.asked.wait()
    hub.submit(_change(ChangeKind.CONNECTED, record=42))  # another call: read at once
    async with asyncio.timeout(1):  # well before the slow read ends
        (first,) = await _take(watch, 1)
    assert first.record == CARD
    hub.submit(_change(ChangeKind.CONNECTED, record=43))  # waits for the read ahead, 0.2 s
    async with asyncio.timeout(1):
        (second,) = await _take(watch, 1)
    assert (second.record, second.record_id) == (None, 43)
    assert json.loads(second.wire)["record"] == {"id": 43}
