"""The pacer lease fenced by its holder: terms, deadlines, the supervisor and the runner.

Pure tables first (:mod:`pacing.fencing`), then the supervisor and the runner driven with a fake
clock, an in-memory lease table (:class:`MemoryPacers`, the database's rule: a lease is taken
when free or expired, on the table's own clock) and an in-memory store and switch that record
what the runner asked of them. Stalls are the clock jumping while a statement is in flight.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from pacing.errors import LeaseTermsError
from pacing.fencing import LeaseTerms, Tenure, fence, next_round_s
from pacing.outcomes import Outcome
from pacing.ports import Acquired, CallOrder, CampaignView, Lease
from pacing.runner import CampaignRunner
from pacing.snapshot import Agent, Decision, DecisionReason, PacingConfig, PacingMode
from pacing.supervisor import Supervisor

# --- pure: terms, deadlines --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ttl", "renew", "margin", "error"),
    [
        (4.0, 1.0, 1.0, None),  # the defaults: held 3 s of every 4, renewed each 1 s
        (3.0, 1.0, 1.0, None),  # the least: held 2 renewal intervals, one renewal may fail
        (10.0, 1.0, 1.0, None),
        (2.9, 1.0, 0.5, "below 3 renewal intervals"),
        (3.0, 1.0, 1.5, "less the margin"),
        (6.0, 2.0, 2.5, "less the margin"),
        (4.0, 1.0, 0.0, "margin"),
        (4.0, 0.0, 1.0, "renewal interval"),
        (math.inf, 1.0, 1.0, "below 3 renewal"),
        (math.nan, 1.0, 1.0, "below 3 renewal"),
    ],
)
def test_lease_terms(ttl: float, renew: float, margin: float, error: str | None) -> None:
    if error is None:
        assert LeaseTerms(ttl, renew, margin).held_until(100.0) == 100.0 + ttl - margin
    else:
        with pytest.raises(LeaseTermsError, match=error):
            LeaseTerms(ttl, renew, margin)


@pytest.mark.parametrize(
    ("until", "now", "fenced"),
    [
        (3.0, 2.999, False),
        (3.0, 3.0, True),  # the deadline itself is already past
        (3.0, 3.5, True),
        (-math.inf, 0.0, True),  # never held
        (math.inf, 1e12, False),  # a runner without a supervisor
    ],
)
def test_fence(until: float, now: float, fenced: bool) -> None:
    assert (fence(until, now) is not None) is fenced


@pytest.mark.parametrize(
    ("events", "now", "until"),
    [
        ([], 0.0, -math.inf),
        ([("granted", 0.0)], 2.9, 3.0),
        ([("granted", 0.0), ("granted", 1.0)], 3.5, 4.0),  # a renewal moves it on
        ([("granted", 0.0), ("granted", 1.0), ("lost", 1.5)], 1.6, -math.inf),
        ([("granted", 0.0), ("lost", 0.5), ("granted", 5.0)], 7.0, 8.0),
    ],
)
def test_tenure(events: list[tuple[str, float]], now: float, until: float) -> None:
    tenure = Tenure(LeaseTerms(4.0, 1.0, 1.0))
    for what, at in events:
        if what == "granted":
            tenure.granted(7, at)
        else:
            tenure.lost(7)
    assert tenure.until(7) == until
    assert tenure.held(7, now) is (now < until)
    assert tenure.until(8) == -math.inf  # per campaign


# --- fakes -------------------------------------------------------------------------------------


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class MemoryPacers:
    """The ``campaign_pacers`` rule in memory, on the table's own clock; each acquire takes
    ``latency_s`` of the holder's clock (the statement in flight) before the row is written."""

    clock: Clock
    instance: str
    rows: dict[int, tuple[str, float]]  # campaign -> (holder, expires at), shared by instances
    running: list[int] = field(default_factory=lambda: [1])
    ttl_s: float = 4.0
    latency_s: float = 0.0
    down: bool = False  # the database is away: every statement fails

    async def running_campaigns(self) -> Sequence[int]:
        if self.down:
            raise ConnectionError("database away")
        return list(self.running)

    async def acquire(self, campaign_ids: Sequence[int]) -> Acquired:
        if self.down:
            raise ConnectionError("database away")
        self.clock.now += self.latency_s
        held, others = set(), []
        for campaign_id in campaign_ids:
            holder = self.rows.get(campaign_id)
            if holder is None or holder[0] == self.instance or holder[1] <= self.clock.now:
                self.rows[campaign_id] = (self.instance, self.clock.now + self.ttl_s)
                held.add(campaign_id)
            else:
                others.append(holder[1] - self.clock.now)
        return Acquired(frozenset(held), min(others, default=None))

    async def release(self, campaign_id: int) -> None:
        if self.rows.get(campaign_id, ("", 0.0))[0] == self.instance:
            del self.rows[campaign_id]


VIEW = CampaignView(1, "c", "running", "q", PacingConfig(PacingMode.POWER), "", None, False)


@dataclass
class MemoryStore:
    """The runner's store in memory: every call logged in ``calls``; ``stall`` maps a method
    name to seconds the clock jumps while that statement is in flight."""

    clock: Clock
    view: CampaignView | None = VIEW
    stall: dict[str, float] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)

    def _did(self, name: str) -> None:
        self.calls.append(name)
        self.clock.now += self.stall.get(name, 0.0)

    async def campaign(self, campaign_id: int) -> CampaignView | None:
        return self.view

    async def lease(
        self, campaign_id: int, limit: int, skills: Sequence[str] | None = None
    ) -> Sequence[Lease]:
        self._did("lease")
        return [Lease(i, f"+1212555{i:04d}", None) for i in range(limit)]

    async def choose_caller_ids(
        self, campaign_id: int, leases: Sequence[Lease]
    ) -> list[str | None]:
        self._did("choose_caller_ids")
        return ["+12125550000" for _ in leases]

    async def caller_ids_available(self, campaign_id: int) -> int:
        self._did("caller_ids_available")
        return 10

    async def start_attempts(self, orders: Sequence[CallOrder]) -> set[str]:
        self._did("start_attempts")
        return {o.attempt_id for o in orders}

    async def placed(self, servers: Sequence[tuple[str, str]]) -> None:
        self._did("placed")

    async def release(self, campaign_id: int, record_ids: Sequence[int]) -> None:
        self._did("release")
        self.released.extend(record_ids)

    async def fail_attempt(self, order: CallOrder, outcome: Outcome, detail: str) -> None:
        self._did("fail_attempt")

    async def withdraw_attempts(self, withdrawals: Sequence[tuple[CallOrder, str]]) -> None:
        self._did("withdraw_attempts")
        self.withdrawn.extend(reason for _, reason in withdrawals)

    async def pause(self, campaign_id: int, category: str, text: str) -> None:
        self._did("pause")

    async def complete_if_exhausted(self, campaign_id: int) -> bool:
        return False

    async def history(self, campaign_id: int) -> Sequence[tuple[float, Outcome, int]]:
        return []


@dataclass
class MemorySwitch:
    sent: list[str] = field(default_factory=list)

    async def watch(self, queue: str) -> None:
        return None

    def place(self, order: CallOrder) -> str:
        self.sent.append(order.attempt_id)
        return "pbx-1"

    def agents(self, queue: str, now: float) -> tuple[Agent, ...]:
        return ()

    def free_channels(self) -> int | None:
        return None

    def links(self) -> tuple[int, int]:
        return (1, 1)

    def phase(self, attempt_id: str) -> None:
        return None


def two_calls(snapshot: object, now: float) -> Decision:
    return Decision(2, DecisionReason.PLACING, "", 25.0)


def runner(clock: Clock, store: MemoryStore, switch: MemorySwitch, until: float) -> CampaignRunner:
    return CampaignRunner(
        1, store, switch, clock=clock, lease_until=lambda: until, policy=two_calls
    )


# --- the runner: nothing decided, leased, written or sent past the deadline ---------------------

DB_CALLS = ["caller_ids_available", "lease", "choose_caller_ids", "start_attempts", "placed"]


@pytest.mark.parametrize(
    ("stall", "calls", "sent", "released", "withdrawn"),
    [
        ({}, DB_CALLS, 2, 0, 0),  # held all along: two calls written, then sent
        # the holder froze while asking for caller IDs: no record is leased
        ({"caller_ids_available": 5.0}, ["caller_ids_available"], 0, 0, 0),
        # froze while leasing: the records go back, no attempt is written
        ({"lease": 5.0}, [*DB_CALLS[:3], "release"], 0, 2, 0),
        ({"choose_caller_ids": 5.0}, [*DB_CALLS[:3], "release"], 0, 2, 0),
        # froze while writing: the attempts are withdrawn, never sent
        ({"start_attempts": 5.0}, [*DB_CALLS[:4], "withdraw_attempts", "placed"], 0, 0, 2),
    ],
)
async def test_a_runner_that_stalls_past_its_deadline_sends_nothing(
    stall: dict[str, float], calls: list[str], sent: int, released: int, withdrawn: int
) -> None:
    clock = Clock(10.0)
    store, switch = MemoryStore(clock, stall=stall), MemorySwitch()
    decision = await runner(clock, store, switch, until=12.0).tick(VIEW)
    assert decision is not None
    assert decision.calls == 2
    assert store.calls == calls
    assert (len(switch.sent), len(store.released), len(store.withdrawn)) == (
        sent,
        released,
        withdrawn,
    )
    assert all("pacer lease" in reason for reason in store.withdrawn)


@pytest.mark.parametrize(("now", "decides"), [(11.9, True), (12.0, False), (50.0, False)])
async def test_no_decision_past_the_deadline(now: float, decides: bool) -> None:
    clock = Clock(now)
    store, switch = MemoryStore(clock), MemorySwitch()
    one = runner(clock, store, switch, until=12.0)
    decision = await one.tick(VIEW)
    assert (decision is not None) is decides
    assert ("lease" in store.calls) is decides
    assert (one.status.held is None) is decides
    if not decides:
        assert one.status.held is not None
        assert "pacer lease" in one.status.held
        assert one.status.last_decision is None
        assert one.status.last_tick == now


# --- the supervisor: the deadline counts from before the statement ------------------------------


def supervisor(clock: Clock, pacers: MemoryPacers) -> Supervisor:
    store = MemoryStore(clock, view=None)  # a runner started here returns at once
    return Supervisor(store, MemorySwitch(), pacers, clock=clock)


async def round_of(sup: Supervisor) -> bool:
    """One supervision round, driven by the test; False when the database was away (the
    supervisor logs it and tries again next round)."""
    async with asyncio.TaskGroup() as group:
        try:
            await sup._round(group)
        except ConnectionError:
            return False
    return True


@pytest.mark.parametrize(
    ("latency", "until"),
    [
        (0.0, 3.0),  # sent at 0: held until 0 + ttl 4 - margin 1
        (0.8, 3.0),  # a slow statement does not stretch the deadline: counted from the send
        (2.5, 3.0),
    ],
)
async def test_the_deadline_counts_from_the_clock_read_before_the_acquire(
    latency: float, until: float
) -> None:
    clock = Clock()
    rows: dict[int, tuple[str, float]] = {}
    sup = supervisor(clock, MemoryPacers(clock, "a", rows, latency_s=latency))
    await round_of(sup)
    assert sup.tenure.until(1) == until
    assert until <= rows[1][1] - 1.0  # the margin before the table's expiry, whatever the latency


async def test_a_stalled_holder_is_fenced_before_another_can_take_the_campaign() -> None:
    """Holder a renews every 0.5 s until 1.0, then is cut off (its statements fail); b tries
    every 0.5 s. a stops acting before b can take the lease, and b takes it at its expiry."""
    clock = Clock()
    rows: dict[int, tuple[str, float]] = {}
    pacers_a = MemoryPacers(clock, "a", rows)
    a, b = supervisor(clock, pacers_a), supervisor(clock, MemoryPacers(clock, "b", rows))
    timeline = []
    for step in range(40):
        clock.now = step * 0.5
        pacers_a.down = clock.now > 1.0  # cut off from the database from 1.5 s on
        assert await round_of(a) is not pacers_a.down
        assert await round_of(b)
        a_acts, b_holds = a.tenure.held(1, clock.now), b.tenure.held(1, clock.now)
        assert not (a_acts and b_holds), f"both pace at {clock.now}"
        timeline.append((clock.now, a_acts, b_holds))
    assert a.tenure.until(1) == 4.0  # its last renewal was sent at 1.0: 1 + ttl 4 - margin 1
    assert rows[1][0] == "b"
    assert [t for t, a_acts, _ in timeline if a_acts][-1] == 3.5
    assert next(t for t, _, b_holds in timeline if b_holds) == 5.0  # the table's expiry


async def test_a_refused_or_released_lease_ends_the_deadline() -> None:
    clock = Clock()
    rows: dict[int, tuple[str, float]] = {1: ("b", 100.0)}
    pacers = MemoryPacers(clock, "a", rows)
    sup = supervisor(clock, pacers)
    await round_of(sup)
    assert sup.tenure.until(1) == -math.inf  # b holds it
    rows.clear()
    await round_of(sup)
    assert sup.tenure.until(1) == 3.0
    pacers.running = []  # the campaign left running: its runner stops, the lease is freed
    await round_of(sup)
    assert sup.tenure.until(1) == -math.inf
    assert rows == {}


@pytest.mark.parametrize(
    ("others_expire_in_s", "next_s"),
    [
        (None, 1.0),  # nobody else holds a lease: the interval
        (3.2, 1.0),  # a live holder's lease: it renews before it expires
        (0.4, 0.45),  # expiring before the next round: try just after it
        (0.0, 0.05),
        (-0.2, 0.05),  # expired already (clock rounding): try at once
    ],
)
def test_next_round(others_expire_in_s: float | None, next_s: float) -> None:
    assert next_round_s(1.0, others_expire_in_s) == pytest.approx(next_s)


async def test_a_contender_tries_just_after_the_lease_it_waits_for_expires() -> None:
    clock = Clock()
    rows: dict[int, tuple[str, float]] = {1: ("a", 3.6)}  # a's last renewal; a died since
    b = supervisor(clock, MemoryPacers(clock, "b", rows))
    tries = []
    while not b.tenure.held(1, clock.now):
        await round_of(b)
        tries.append(clock.now)
        clock.now += b.next_round_s
    assert tries == pytest.approx([0.0, 1.0, 2.0, 3.0, 3.65])


def test_terms_too_short_for_the_renewals_are_refused() -> None:
    clock = Clock()
    with pytest.raises(LeaseTermsError):
        supervisor(clock, MemoryPacers(clock, "a", {}, ttl_s=2.0))
