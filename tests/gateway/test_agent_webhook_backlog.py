"""The agent event hub's webhook backlog: whole-backlog writes, a failed write kept in order, and
every event either written or counted as dropped (never lost silently)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from gateway.agentevents.hub import AgentEventHub
from gateway.agentevents.model import AgentEvent
from gateway.asterisk.agentfeed import AgentChange, CallRef, ChangeKind
from gateway.asterisk.agents import AgentStatus
from gateway.campaigns.cards import RecordCard
from gateway.metrics import Metrics

START = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _state(n: int) -> AgentChange:
    status = AgentStatus.RINGING if n % 2 else AgentStatus.FREE
    return AgentChange(ChangeKind.STATE, "pbx1", "sales", f"PJSIP/agent-{n % 150}",
                       f"Agent {n % 150}", status, None, 0.0)  # fmt: skip


async def _no_cards(ids: Collection[int]) -> Mapping[int, RecordCard]:
    return {}


class Outbox:
    """The webhook writer: holds a write until released; the first ``failures`` writes fail."""

    def __init__(self, failures: int = 0) -> None:
        self.batches: list[list[int]] = []
        self.failures = failures
        self.called = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, batch: Sequence[AgentEvent]) -> int:
        self.called.set()
        await self.release.wait()
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database away")
        self.batches.append([e.id for e in batch])
        return len(batch)

    @property
    def written(self) -> list[int]:
        return [i for batch in self.batches for i in batch]


def _hub(running: list[asyncio.Task[None]], outbox: Outbox, **kw: object) -> AgentEventHub:
    hub = AgentEventHub(_no_cards, write_webhooks=outbox, wall=lambda: START, **kw)  # type: ignore[arg-type]
    running.append(asyncio.create_task(hub.run()))
    return hub


async def _until(check: Callable[[], bool]) -> None:
    for _ in range(500):  # 5 s at most
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not within 5 s")


async def test_a_write_takes_the_whole_backlog_so_a_ringall_burst_is_kept_up_with(
    hub_of: list[asyncio.Task[None]],
) -> None:
    # 150 members rung for each caller: thousands of events while one write is under way
    outbox = Outbox()
    hub = _hub(hub_of, outbox)  # the default bounds, as the service runs it
    first = hub.last_id + 1
    hub.submit(_state(0))
    async with asyncio.timeout(5):
        await outbox.called.wait()
    for n in range(1, 12_000):  # more than the replay buffer (10 000) while the write hangs
        hub.submit(_state(n))
    outbox.release.set()
    await _until(lambda: len(outbox.written) == 12_000)
    assert [len(b) for b in outbox.batches] == [1, 5_000, 5_000, 1_999]
    assert outbox.written == list(range(first, first + 12_000))
    assert hub.hooks_dropped == 0


async def test_a_failed_write_stays_ahead_of_newer_events_and_every_drop_is_counted(
    hub_of: list[asyncio.Task[None]],
) -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry, process=False)
    outbox = Outbox(failures=1)
    hub = _hub(hub_of, outbox, buffer=10, webhook_backlog=10,
               on_webhooks_dropped=metrics.agent_webhooks_dropped)  # fmt: skip
    first = hub.last_id + 1
    hub.submit(_state(0))
    async with asyncio.timeout(5):
        await outbox.called.wait()  # the write of the first event hangs, then fails
    for n in range(1, 13):
        hub.submit(_state(n))
    await _until(lambda: hub.hooks_dropped == 2)  # 12 waiting, 10 kept: the 2 oldest dropped
    outbox.release.set()
    await _until(lambda: len(outbox.written) == 10)  # tried again 1 s later
    assert outbox.written == list(range(first + 3, first + 13))  # the newest 10, in order
    assert hub.hooks_dropped == 3  # the failed one was the oldest: none lost without a count
    assert registry.get_sample_value("dialer_agent_webhooks_dropped_total") == 3


async def test_only_the_feed_owner_of_a_server_queues_its_call_less_changes(
    hub_of: list[asyncio.Task[None]],
) -> None:
    """The streams get every event; the webhooks get a server's call-less changes only from its
    feed owner, and a change of one of our calls always (only we resolve it)."""
    outbox = Outbox()
    outbox.release.set()
    hub = _hub(hub_of, outbox, owns_server=lambda server: server == "pbx1")
    sub = hub.subscribe(agent="Agent 1")
    ours = CallRef("a" * 32, 7, 42)
    changes = [
        AgentChange(ChangeKind.STATE, "pbx1", "sales", "PJSIP/agent-1", "Agent 1",
                    AgentStatus.PAUSED, None, 0.0),  # owned server: written
        AgentChange(ChangeKind.STATE, "pbx2", "sales", "PJSIP/agent-1", "Agent 1",
                    AgentStatus.FREE, None, 0.0),  # another instance writes pbx2's
        AgentChange(ChangeKind.RINGING, "pbx2", "sales", "PJSIP/agent-1", "Agent 1",
                    AgentStatus.RINGING, ours, 0.0),  # our call: written
    ]  # fmt: skip
    first = hub.last_id + 1
    for change in changes:
        hub.submit(change)
    async with asyncio.timeout(5):
        streamed = [await sub.next() for _ in changes]
    assert [e.id for e in streamed] == [first, first + 1, first + 2]
    await _until(lambda: len(outbox.written) == 2)
    await asyncio.sleep(0.05)  # nothing else follows
    assert outbox.written == [first, first + 2]
