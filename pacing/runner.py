"""The campaign runner: the shell that carries out the pure pacing decisions.

Design. One :class:`CampaignRunner` per running campaign, owned by the supervisor's task group.
Every tick it gathers a :class:`~pacing.snapshot.PacingSnapshot` (agents from the switch, the
calls it has in flight, rolling statistics, the estimates of its
:class:`~pacing.learning.Learner`, caps), asks :func:`pacing.policies.decide`, and carries the
decision out: lease that many eligible records, pick each one's caller ID (in memory), write
the attempts (status *dialing*; the whole decision in one statement) and only then hand the
orders to the switch, which never makes the runner wait for the call. Writing before sending
is what makes a crash safe: an attempt that may have reached Asterisk is always in the
database, so a restarted instance reconciles it instead of dialling the record again.

The estimators learn as calls happen (:mod:`pacing.learning`): a call seen with an agent is a live
answer from that moment, agents leaving wrap-up teach the wrap-up time, and settled attempts come
back through :meth:`CampaignRunner.settled` (called by the result writer after the outcome is
stored) for the rest. The prior is the campaign's own 30-day history when it has enough attempts.

Before placing anything the runner checks the campaign's calling windows (evaluated at most every
30 s: holiday tables are not free) and the guards (:mod:`pacing.guards`: the legal abandon
limit breached, abandons pacing cannot prevent, answer-to-agent times far over the limit,
answer-rate collapse, estimated MOS too low, every Asterisk link down for
longer than the outage limit), with
the tighter thresholds during the watch window after a resume; a tripped guard pauses the
campaign with its reason. At start the rolling windows are seeded from the last 30 days of
settled attempts, so a restart does not forget the abandon history. A shorter link outage only
holds new calls (``status.held``) and dialling continues by itself once a link is back.

The runner stops placing calls the moment the campaign is no longer ``running`` (pause, stop,
force complete), and completes the campaign when nothing in it can ever be dialled again; and
past ``lease_until`` (the pacer lease not certainly held, :mod:`pacing.fencing`) it decides,
leases, writes and sends nothing (attempts written just before are withdrawn, never sent).
Nothing here decides how many calls to place; that is the policy's job.

Skills (:mod:`pacing.skills`): with a campaign's ``skill_queues`` set, each tick has one plan per
skill group, with its own snapshot (that queue's agents, the calls sent into it) and decision;
the shared room is divided among them, and each group leases only its skills' records and sends
them into its queue. The guards, metrics and diagnostics see the whole campaign.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from pacing.calls import AttemptResult, CallPhase
from pacing.fencing import fence
from pacing.guards import GuardInputs, Trip, evaluate, free_throughout, link_hold
from pacing.learning import Learner, Prior, choose_prior, history_of
from pacing.outcomes import Outcome
from pacing.policies import decide
from pacing.ports import CallOrder, CampaignView, Lease, PlaceRefused, Store, Switch
from pacing.skills import SkillGroup, groups, partition_agents, share
from pacing.snapshot import (
    Agent,
    AgentState,
    CallInFlight,
    CallingDay,
    Caps,
    Decision,
    PacingMode,
    PacingSnapshot,
    WindowCounts,
)
from pacing.stats import HOUR, AbandonWindows, DayCounter, wholly_after

log = logging.getLogger(__name__)
HISTORY_BUCKET_S = 300.0  # the store's history is counted in buckets this long
AMD_ALLOWANCE_S = 5.0  # Asterisk AMD's total analysis time: a live answer waits this long more


@dataclass(slots=True)
class RunnerStatus:
    """What the runner last did, for diagnostics and the demo view."""

    last_tick: float = 0.0
    last_decision: Decision | None = None
    placed: int = 0
    refused: int = 0
    no_records: bool = False
    no_caller_id: int = 0
    held: str | None = None  # why no call may be placed now (results unwritable, ...)
    schedule: str = ""  # the calling window's state, in words
    trip: Trip | None = None  # the guard that paused the campaign, if one did
    outcomes: dict[Outcome, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Plan:
    """One skill group's part of a tick: its queue, its records' skills, its own snapshot."""

    queue: str
    skills: tuple[str, ...] | None  # None: every record (no skill routing)
    snapshot: PacingSnapshot


class CampaignRunner:
    """Paces one campaign; see the module docstring."""

    def __init__(
        self,
        campaign_id: int,
        store: Store,
        switch: Switch,
        *,
        clock: Callable[[], float],
        wall: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        hold: Callable[[], str | None] = lambda: None,
        lease_until: Callable[[], float] = lambda: math.inf,
        tick_s: float = 0.25,
        link_outage_limit_s: float = 60.0,
        prior: Prior | None = None,
        policy: Callable[[PacingSnapshot, float], Decision] = decide,
    ) -> None:
        self.campaign_id = campaign_id
        self._policy = policy  # pacing.policies.decide; a benchmark fixes the decision's size
        self._link_outage_limit_s = link_outage_limit_s
        self._links_down_since: float | None = None  # no server has had a working link since
        self._wall = wall
        self._hold = hold
        self._lease_until = lease_until  # the pacer lease is certainly held until (clock)
        self._schedule_checked = -1e18
        self._schedule_open = True
        self._mos: deque[float] = deque(maxlen=50)
        self._seeded = False
        self._store = store
        self._switch = switch
        self._clock = clock
        self._tick_s = tick_s
        self._in_flight: dict[str, CallInFlight] = {}
        self._queue_of: dict[str, str] = {}  # attempt -> the queue it was sent into (skills)
        self._windows = AbandonWindows()
        self._day = DayCounter()  # the calling day of the schedule, for the budget controller
        self._since_resume = DayCounter()  # settled since the last resume: the guard's new evidence
        self._window: tuple[dt.datetime, dt.datetime] | None = None  # opened, closes (UTC)
        self._history: list[tuple[float, Outcome, int]] = []  # (ended at, outcome, count)
        self._prior = prior  # given: recent history of the same server or list
        self._learner = Learner(prior or choose_prior())
        self._progressive = False  # the calls being placed now do not over-dial
        self._risks: deque[float | None] = deque()  # the model's risk of each call being placed
        self.status = RunnerStatus()
        self.last_snapshot: PacingSnapshot | None = None

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def record_mos(self, mos: float) -> None:
        """The estimated MOS of one answered call of this campaign."""
        self._mos.append(mos)

    async def seed(self) -> None:
        """Load the last 30 days of outcomes into the rolling windows and the prior (once).

        The campaign's own history is the prior when it has enough attempts; else the prior the
        runner was given (the same server's or list's recent history); else the defaults.
        """
        if self._seeded:
            return
        now = self._clock()
        history = await self._store.history(self.campaign_id)
        for seconds_ago, outcome, count in history:
            self._history.append((now - seconds_ago, outcome, count))
            for _ in range(count):
                self._windows.add(now - seconds_ago, outcome)
        own = choose_prior(history_of(history))
        if own.source == "campaign" or self._prior is None:
            self._learner = Learner(own)
        self._seeded = True

    def settled(self, result: AttemptResult) -> None:
        """An attempt of this campaign has a recorded outcome (or was withdrawn, never sent)."""
        call = self._in_flight.pop(result.attempt_id, None)
        self._queue_of.pop(result.attempt_id, None)
        now = self._clock()
        if not result.sent:  # no call happened: nothing to count or learn from
            self._learner.settled(result.attempt_id, Outcome.CANCELLED, now)
            return
        self._windows.add(now, result.outcome)
        self._day.add(now, result.outcome)
        self._since_resume.add(now, result.outcome)
        agents = self.last_snapshot.agents if self.last_snapshot is not None else ()
        free = free_throughout(agents, call.answered_at if call is not None else None)
        self._learner.settled(
            result.attempt_id,
            result.outcome,
            now,
            ring_s=result.ring_s,
            talk_s=result.talk_s,
            agent_free=free and result.outcome is Outcome.ABANDONED,
        )
        counts = self.status.outcomes
        counts[result.outcome] = counts.get(result.outcome, 0) + 1

    def _calls(self, now: float) -> tuple[CallInFlight, ...]:
        """Calls that still need pacing room: ringing, or answered and waiting for an agent.

        A call connected to an agent shows as that busy agent instead; one that is over but not
        yet settled needs no room. Waiting calls keep the time they were first seen waiting.
        """
        calls = []
        for attempt_id, call in list(self._in_flight.items()):
            phase = self._switch.phase(attempt_id) or CallPhase.RINGING
            if phase is CallPhase.CONNECTED:
                self._learner.connected(attempt_id, now)  # a live answer counts now
            if not phase.in_flight:
                continue
            if phase is CallPhase.WAITING and call.phase is not CallPhase.WAITING:
                call = CallInFlight(attempt_id, call.dialled_at, CallPhase.WAITING, now)
                self._in_flight[attempt_id] = call
                self._learner.answered(attempt_id, now)
            calls.append(call)
        return tuple(calls)

    def snapshot(self, view: CampaignView, now: float) -> PacingSnapshot:
        """The policy's view of this campaign now."""
        agents = self._switch.agents(view.queue, now)
        self._learner.agents(agents)
        return self._snapshot_of(view, agents, self._calls(now), now)

    def _snapshot_of(
        self,
        view: CampaignView,
        agents: tuple[Agent, ...],
        calls: tuple[CallInFlight, ...],
        now: float,
    ) -> PacingSnapshot:
        talking = [now - a.since for a in agents if a.state is AgentState.BUSY]
        return PacingSnapshot(
            campaign_id=str(self.campaign_id),
            config=view.config,
            agents=agents,
            calls=calls,
            stats=self._windows.read(now),
            estimates=self._learner.estimates(talking),
            caps=Caps(
                campaign_channels=view.channels,
                trunk_channels_free=self._switch.free_channels(),
            ),
            resume=view.resume,
            calling_day=self._calling_day(now),
        )

    def _plans(self, view: CampaignView, now: float) -> tuple[list[_Plan], PacingSnapshot]:
        """One plan per skill group (:mod:`pacing.skills`), and the campaign's whole snapshot.

        Without skill routing: one plan, every record, the campaign's queue. With it: each
        group's snapshot has the agents of its queue (each agent counted in one group only) and
        the calls sent into it; the whole snapshot (every agent, every call) feeds the guards,
        the metrics and diagnostics.
        """
        skill_groups = groups(view.queue, dict(view.skill_queues))
        if not skill_groups:
            whole = self.snapshot(view, now)
            return [_Plan(view.queue, None, whole)], whole
        parts = partition_agents([self._switch.agents(g.queue, now) for g in skill_groups])
        every = tuple(a for part in parts for a in part)
        self._learner.agents(every)
        calls = self._calls(now)
        plans = []
        for group, agents in zip(skill_groups, parts, strict=True):
            mine = tuple(c for c in calls if self._group_of(c.attempt_id, skill_groups) == group)
            plans.append(
                _Plan(group.queue, group.skills, self._snapshot_of(view, agents, mine, now))
            )
        return plans, self._snapshot_of(view, every, calls, now)

    def _group_of(self, attempt_id: str, skill_groups: Sequence[SkillGroup]) -> SkillGroup:
        queue = self._queue_of.get(attempt_id)
        return next((g for g in skill_groups if g.queue == queue), skill_groups[0])

    def _shared_room(self, view: CampaignView, whole: PacingSnapshot, now: float) -> int | None:
        """The campaign-wide room the groups share (None: no limit)."""
        limits = [self._switch.free_channels()]
        engaged = len(whole.calls) + whole.count(AgentState.BUSY)
        if view.channels is not None:
            limits.append(view.channels - engaged)
        resume = view.resume
        if resume is not None and resume.max_concurrent_calls is not None and now < resume.until:
            limits.append(resume.max_concurrent_calls - engaged)
        known = [limit for limit in limits if limit is not None]
        return min(known) if known else None

    def _decide(
        self, view: CampaignView, plans: list[_Plan], whole: PacingSnapshot, now: float
    ) -> list[Decision]:
        """Each group's decision, the shared room divided among them."""
        decisions = [self._policy(plan.snapshot, now) for plan in plans]
        if len(plans) == 1:
            return decisions
        given = share(self._shared_room(view, whole, now), [d.calls for d in decisions])
        return [replace(d, calls=n) for d, n in zip(decisions, given, strict=True)]

    def _calling_day(self, now: float) -> CallingDay | None:
        """The schedule's current calling day: its counts so far and the time left in it."""
        if self._window is None:
            return None
        opened, closes = self._window
        wall = self._wall()
        elapsed = (wall - opened).total_seconds()
        if self._day.begin(now - elapsed):  # a new day: count what history has of it
            for at, outcome, count in self._history:
                for _ in range(count):
                    self._day.add(at, outcome)
        left = max(0.0, (closes - wall).total_seconds())
        return CallingDay(self._day.read(), max(0.0, elapsed), left)

    async def run(self) -> None:
        """Tick until the campaign leaves ``running``; cancelled by the supervisor."""
        await self.seed()
        first = await self._store.campaign(self.campaign_id)
        if first is not None:
            await self._switch.watch(first.queue)
            for queue in sorted({q for _, q in first.skill_queues} - {first.queue}):
                await self._switch.watch(queue)
        while True:
            view = await self._store.campaign(self.campaign_id)
            if view is None or view.state != "running":
                return
            await self.tick(view)
            await asyncio.sleep(self._tick_s)

    def _fenced(self) -> str | None:
        """Why nothing may be decided, leased or sent now: the pacer lease is not certainly held."""
        return fence(self._lease_until(), self._clock())

    async def tick(self, view: CampaignView) -> Decision | None:
        """One decision (one per skill group), carried out; None: no decision (lease fenced)."""
        now = self._clock()
        fenced = fence(self._lease_until(), now)
        if fenced is not None:
            self.status.last_tick = now
            self.status.held = fenced
            return None
        plans, snapshot = self._plans(view, now)
        self.last_snapshot = snapshot
        decisions = self._decide(view, plans, snapshot, now)
        placing = [d for d in decisions if d.calls > 0]
        decision = replace((placing or decisions)[0], calls=sum(d.calls for d in decisions))
        self.status.last_tick = now
        self.status.last_decision = decision
        self.status.held = self._hold() or self._closed(view)
        if self.status.held is not None:
            return decision
        inputs = self._guard_inputs(view, snapshot, now)
        trip = evaluate(inputs)
        if trip is not None:
            self.status.trip = trip
            await self._store.pause(self.campaign_id, trip.category.value,
                                    f"{trip.guard}: {trip.text}")  # fmt: skip
            return decision
        self.status.held = link_hold(inputs)  # a short outage holds; it never pauses
        if self.status.held is not None:
            return decision
        if decision.calls > 0:
            over = len(snapshot.calls) + decision.calls > snapshot.count(AgentState.FREE)
            self._progressive = not over
            for plan, part in zip(plans, decisions, strict=True):
                if part.calls > 0:
                    await self._place(view, part, plan)
        elif not self._in_flight and await self._store.complete_if_exhausted(self.campaign_id):
            log.info("campaign completed", extra={"fields": {"campaign": self.campaign_id}})
        return decision

    def _closed(self, view: CampaignView) -> str | None:
        """Why the campaign's calling windows forbid calls now (None: open)."""
        if view.schedule is None:
            self.status.schedule = "no campaign calling windows"
            return None
        now = self._clock()
        if now - self._schedule_checked >= 30.0:
            wall = self._wall()
            state = view.schedule.state(wall)
            self._schedule_checked, self._schedule_open = now, state.open
            self._window = view.schedule.open_window(wall) if state.open else None
            opens = f"; opens {state.next_open.isoformat()}" if state.next_open else ""
            self.status.schedule = state.detail + ("" if state.open else opens)
        return None if self._schedule_open else f"outside schedule: {self.status.schedule}"

    def _guard_inputs(
        self, view: CampaignView, snapshot: PacingSnapshot, now: float
    ) -> GuardInputs:
        up, total = self._switch.links()
        if total > 0 and up == 0:
            if self._links_down_since is None:
                self._links_down_since = now
        else:
            self._links_down_since = None
        down_s = 0.0 if self._links_down_since is None else now - self._links_down_since
        mos = sum(self._mos) / len(self._mos) if self._mos else None
        watching = view.watch_until is not None and now < view.watch_until
        return GuardInputs(
            stats=snapshot.stats, abandon_target=view.config.abandon_target,
            abandons=self._learner.abandons(max(now - HOUR, view.resumed_at or -HOUR)),
            waits=self._learner.waits(), since_resume=self._resumed(view.resumed_at),
            connect_limit_s=view.config.connect_limit_s,
            amd_allowance_s=AMD_ALLOWANCE_S if view.amd else 0.0, mos=mos,
            mos_samples=len(self._mos), links_up=up, links_total=total, links_down_s=down_s,
            link_outage_limit_s=self._link_outage_limit_s, watching=watching,
            policy_owns_budget=view.config.mode is not PacingMode.POWER,
        )  # fmt: skip

    def _resumed(self, resumed_at: float | None) -> WindowCounts | None:
        """The counts settled since the last resume (None: no resume within 24 h)."""
        if resumed_at is None:
            return None
        if self._since_resume.begin(resumed_at):  # a new resume: count what history has since
            for at, outcome, count in wholly_after(self._history, resumed_at, HISTORY_BUCKET_S):
                for _ in range(count):
                    self._since_resume.add(at, outcome)
        return self._since_resume.read()

    async def _place(self, view: CampaignView, decision: Decision, plan: _Plan) -> None:
        """Lease, choose caller IDs, write every attempt of the decision, then send them."""
        if await self._store.caller_ids_available(self.campaign_id) == 0:
            self.status.no_caller_id += 1  # no record is leased for nothing; diagnostics say why
            return
        if self._fenced() is not None:
            return
        if plan.skills is None:
            leases = await self._store.lease(self.campaign_id, decision.calls)
        else:
            leases = await self._store.lease(self.campaign_id, decision.calls, plan.skills)
        self.status.no_records = not leases
        if not leases and not self._in_flight:
            await self._store.complete_if_exhausted(self.campaign_id)
            return
        room = self._switch.free_channels()  # taken since the decision (another campaign)?
        fits = len(leases) if room is None else max(0, room)
        unplaced = [lease.record_id for lease in leases[fits:]]
        leases = leases[:fits]
        orders: list[CallOrder] = []
        caller_ids = await self._store.choose_caller_ids(self.campaign_id, leases)
        for lease, caller_id in zip(leases, caller_ids, strict=True):
            if caller_id is None:
                self.status.no_caller_id += 1
                unplaced.append(lease.record_id)
                continue
            orders.append(self._order(view, decision, lease, caller_id, plan.queue))
        if self._fenced() is not None:  # stalled since the lease: write nothing, give them back
            await self._store.release(self.campaign_id, unplaced + [o.record_id for o in orders])
        else:
            self._risks = deque(decision.call_risks)  # in order, as the orders are sent
            await self._write_and_send(orders, unplaced)

    async def _write_and_send(self, orders: list[CallOrder], unplaced: list[int]) -> None:
        """Write the attempts in one statement, then send them (write-before-send); past the
        lease deadline by then (stalled while writing), withdraw them all instead."""
        written = await self._store.start_attempts(orders)
        fenced = self._fenced()
        servers: list[tuple[str, str]] = []
        withdrawn: list[tuple[CallOrder, str]] = []
        for order in orders:
            if order.attempt_id not in written:
                continue  # the lease was lost: another instance holds the record now
            if fenced is not None:
                withdrawn.append((order, fenced))
                continue
            server = await self._send(order, withdrawn)
            if server is None:
                unplaced.append(order.record_id)
            else:
                servers.append((order.attempt_id, server))
        if withdrawn:  # never sent: they do not count, the records are dialable again
            await self._store.withdraw_attempts(withdrawn)
        await self._store.placed(servers)
        if unplaced:
            await self._store.release(self.campaign_id, unplaced)

    def _order(
        self, view: CampaignView, decision: Decision, lease: Lease, caller_id: str, queue: str
    ) -> CallOrder:
        return CallOrder(
            attempt_id=uuid.uuid4().hex,
            campaign_id=self.campaign_id,
            record_id=lease.record_id,
            number=lease.phone,
            caller_id_number=caller_id,
            caller_id_name=view.caller_id_name,
            queue=queue,
            ring_timeout_s=decision.ring_timeout_s,
            amd=view.amd,
            agent=lease.agent,
        )

    async def _send(self, order: CallOrder, withdrawn: list[tuple[CallOrder, str]]) -> str | None:
        """Send a written attempt: the server, or None when the record goes back (an attempt
        refused for now is added to ``withdrawn``, withdrawn with the decision's others)."""
        try:
            server = self._switch.place(order)
        except PlaceRefused as refused:
            self.status.refused += 1
            if refused.retry:
                withdrawn.append((order, refused.reason))
            else:
                await self._store.fail_attempt(order, Outcome.FAILED, refused.reason)
            return None
        self._in_flight[order.attempt_id] = CallInFlight(order.attempt_id, self._clock())
        self._queue_of[order.attempt_id] = order.queue
        risk = self._risks.popleft() if self._risks else None
        self._learner.dialled(
            order.attempt_id, self._clock(), progressive=self._progressive, risk=risk
        )
        self.status.placed += 1
        return server
