"""The observer: turns the running system's state into metrics, and outages into pauses.

Once a second it reads each runner's status, rolling statistics and agents, and the dialer's
link statistics, and sets the matching gauges; every stored attempt result updates the call
counters and histograms (:meth:`Observer.settled`, a result-writer listener). Only the campaigns
this instance paces (the supervisor's runners) are exported, however many the database holds;
the supervisor forgets a campaign's series when its runner leaves, and a result that settles
after that is not exported (it would bring a frozen series back). One exception: a campaign a
guard paused here keeps its 24 h and 30 d abandon rates, recomputed from the database every
10 s while it stays paused, so the abandon alert pages on the breach that paused it. The number
of campaigns per state comes from the database, without a campaign label. When the result
writer recovers from an outage, every campaign this instance paces is paused with the reason
category ``logging`` (what happened, how long, how many results were held and then written),
as the guards require: the pause could not be written while the database was away, but no
call was placed meanwhile (the runners are held while the writer is unhealthy).

It reads state and writes metrics and pause records; it never decides how many calls to place.
"""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dialer.results import Outage, ResultWriter
from gateway.asterisk.agents import AgentStatus
from gateway.asterisk.dialing import Dialer
from gateway.campaigns import counts as record_counts
from gateway.campaigns.store import DbStore
from gateway.metrics import Metrics
from pacing.calls import AttemptResult
from pacing.snapshot import AgentState
from pacing.stats import AbandonWindows
from pacing.supervisor import Supervisor

log = logging.getLogger(__name__)

_BY_STATE = text("SELECT state, count(*) FROM campaigns GROUP BY state")
_PACED = text(
    "SELECT id, name, state, queue, pacing -> 'skill_queues' AS skill_queues FROM campaigns "
    "WHERE id = ANY(:ids)"
)
_TRIPPED = text("SELECT id, state, abandon_target FROM campaigns WHERE id = ANY(:ids)")
_TRIPPED_EVERY_S = 10.0  # how often a guard-paused campaign's abandon rates are read again
_NUMBERS = text(
    "SELECT cn.campaign_id, n.status, count(*) FROM campaign_numbers cn "
    "JOIN callerid_numbers n ON n.id = cn.number_id WHERE cn.campaign_id = ANY(:ids) "
    "GROUP BY cn.campaign_id, n.status"
)


class Observer:
    """Metrics from state; pauses after a logging outage."""

    def __init__(
        self,
        metrics: Metrics,
        supervisor: Supervisor,
        dialer: Dialer,
        writer: ResultWriter,
        store: DbStore,
        recoveries: list[Outage],
        engine: AsyncEngine,
        *,
        interval_s: float = 1.0,
    ) -> None:
        self._engine = engine
        self._metrics = metrics
        self._supervisor = supervisor
        self._dialer = dialer
        self._writer = writer
        self._store = store
        self._recoveries = recoveries
        self._interval_s = interval_s
        self._reconnects: dict[tuple[str, str], int] = {}
        self._trips: dict[int, object] = {}  # the last trip counted per campaign
        self._rested_at = 0.0
        self._compacted_at = -1e18
        self._tripped_at = -1e18
        self._tripped: set[int] = set()  # guard-paused campaigns whose abandon rates are shown

    def settled(self, result: AttemptResult) -> None:
        """A stored attempt result: call counters, histograms and call quality."""
        campaign = str(result.campaign_id)
        if not result.sent:
            return  # withdrawn: no call was placed
        if result.campaign_id not in self._supervisor.runners:
            return  # not paced here (any more), or reconciled after a restart (id 0)
        connect = result.hold_s
        self._metrics.call_finished(
            campaign,
            result.server,
            result.outcome,
            cause=result.cause,
            pdd_s=result.post_dial_delay_s,
            ring_s=result.ring_s,
            connect_s=connect,
            talk_s=result.talk_s,
        )
        quality = result.quality
        if quality is not None and quality.reports:
            mos = self._metrics.rtcp(
                campaign,
                result.server,
                quality.jitter_ms / 1000.0,
                quality.fraction_lost,
                quality.rtt_ms / 1000.0,
            )
            runner = self._supervisor.runners.get(result.campaign_id)
            if runner is not None:
                runner.record_mos(mos)

    async def run(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self._pause_after_outages()
                await self._rest_collapsed_numbers()
                await self._compact_counts()
                await self._observe_campaigns()
                self._observe()
                await self._observe_tripped()
            except Exception:  # metrics must never take the service down
                log.warning("observation failed", exc_info=True)
            self._metrics.pacing_tick(self._last_tick_unix(), time.monotonic() - started)
            await asyncio.sleep(self._interval_s)

    async def _rest_collapsed_numbers(self) -> None:
        """Once a minute, rest the caller IDs whose answer rate collapsed (recorded reason)."""
        if time.monotonic() - self._rested_at < 60.0:
            return
        self._rested_at = time.monotonic()
        for campaign_id in list(self._supervisor.runners):
            await self._store.caller_ids.rest_collapsed(campaign_id)

    async def _compact_counts(self) -> None:
        """Every 10 s: fold the records-per-status rows of campaigns where they piled up.

        Dialling adds a row or two per settled call to ``record_counts``; the status endpoint
        folds the rows of the campaigns it reads, this keeps the others small too.
        """
        if time.monotonic() - self._compacted_at < 10.0:
            return
        self._compacted_at = time.monotonic()
        async with self._engine.begin() as conn:
            await record_counts.compact(conn)

    def _last_tick_unix(self) -> float:
        """Wall time of the oldest runner's last decision (now when nothing is paced).

        The "pacing loop stalled" alert watches this: a runner that stops deciding ages it.
        """
        now_mono, now_unix = time.monotonic(), time.time()
        ticks = [
            r.status.last_tick for r in self._supervisor.runners.values() if r.status.last_tick
        ]
        return now_unix - (now_mono - min(ticks)) if ticks else now_unix

    async def _observe_campaigns(self) -> None:
        """Campaigns per state; state, name and caller-ID numbers of the campaigns paced here."""
        ids = list(self._supervisor.runners)
        async with self._engine.connect() as conn:
            by_state = (await conn.execute(_BY_STATE)).all()
            paced = (await conn.execute(_PACED, {"ids": ids})).all() if ids else []
            numbers = (await conn.execute(_NUMBERS, {"ids": ids})).all() if ids else []
        self._metrics.campaigns({str(state): int(n) for state, n in by_state})
        still = self._supervisor.runners  # a runner may have left while the queries ran
        for campaign_id, name, state, queue, skill_queues in paced:
            if campaign_id in still:
                self._metrics.campaign_state(str(campaign_id), str(state))
                self._metrics.campaign_info(str(campaign_id), str(name))
                queues = {str(queue)} | _queue_names(skill_queues)
                self._metrics.agents_paused(str(campaign_id), self._paused_reasons(queues))
        by_campaign: dict[int, dict[str, int]] = {}
        for campaign_id, status, count in numbers:
            by_campaign.setdefault(int(campaign_id), {})[str(status)] = int(count)
        for campaign_id, counts in by_campaign.items():
            if campaign_id in still:
                self._metrics.caller_ids(str(campaign_id), counts)

    def _paused_reasons(self, queues: set[str]) -> dict[str, int]:
        """The paused members of the campaign's queues per pause reason (each member once)."""
        paused: dict[str, str] = {}
        for queue in sorted(queues):
            for agent in self._dialer.agents(queue).agents:
                if agent.status is AgentStatus.PAUSED:
                    paused.setdefault(agent.interface, agent.paused_reason)
        reasons: dict[str, int] = {}
        for reason in paused.values():
            reasons[reason] = reasons.get(reason, 0) + 1
        return reasons

    def _observe(self) -> None:
        self._count_trips()
        for campaign_id, runner in list(self._supervisor.runners.items()):
            campaign = str(campaign_id)
            snapshot = runner.last_snapshot
            if snapshot is None:
                continue
            target = snapshot.config.abandon_target
            stats = snapshot.stats
            self._metrics.abandon_rates(
                campaign, stats.day.abandon_rate, stats.month.abandon_rate, target
            )
            counts = {state.value: snapshot.count(state) for state in AgentState}
            active = snapshot.active_agents
            working = snapshot.count(AgentState.BUSY) + snapshot.count(AgentState.WRAP)
            self._metrics.agents(campaign, counts, working / active if active else 0.0)
            level = len(snapshot.calls) / active if active else 0.0
            self._metrics.pacing(campaign, level, len(snapshot.calls))
        for link in self._dialer.link_stats():
            self._metrics.link_state(link.server, link.link, link.state)
            key = (link.server, link.link)
            for _ in range(link.reconnects - self._reconnects.get(key, 0)):
                self._metrics.link_reconnected(link.server, link.link)
            self._reconnects[key] = link.reconnects
            if link.ping_rtt_s is not None:
                self._metrics.link_rtt(link.server, link.link, link.ping_rtt_s)

    async def _observe_tripped(self) -> None:
        """A campaign a guard paused here keeps its abandon rates, read from its history.

        Its runner left, so its series were forgotten; but the breach that paused it is what the
        NOC must see (the abandon alert pages on it), and the rolling windows still move while it
        is paused. Every 10 s (and at once for a new trip) the 24 h and 30 d rates of the paused
        campaigns tripped here are computed from the database, until the campaign runs again
        (its runner exports them) or leaves ``paused``.
        """
        supervisor = self._supervisor
        ids = sorted(c for c in supervisor.trips if c not in supervisor.runners)
        fresh = any(c not in self._tripped for c in ids)
        if not fresh and time.monotonic() - self._tripped_at < _TRIPPED_EVERY_S:
            return
        self._tripped_at = time.monotonic()
        shown: set[int] = set()
        if ids:
            async with self._engine.connect() as conn:
                rows = (await conn.execute(_TRIPPED, {"ids": ids})).all()
            for campaign_id, state, target in rows:
                if state != "paused":
                    continue
                windows = AbandonWindows()
                for seconds_ago, outcome, count in await self._store.history(campaign_id):
                    for _ in range(count):
                        windows.add(-seconds_ago, outcome)
                if campaign_id in supervisor.runners:
                    continue  # resumed meanwhile: its runner exports them
                stats = windows.read(0.0)
                self._metrics.abandon_rates(
                    str(campaign_id), stats.day.abandon_rate, stats.month.abandon_rate, target
                )
                shown.add(campaign_id)
        for campaign_id in self._tripped - shown:
            if campaign_id not in supervisor.runners:
                self._metrics.forget_campaign(str(campaign_id))
        self._tripped = shown

    def _count_trips(self) -> None:
        """Count each guard trip once, also one whose runner left before this round saw it."""
        trips = dict(self._supervisor.trips)
        for campaign_id, runner in self._supervisor.runners.items():
            if runner.status.trip is not None:
                trips[campaign_id] = runner.status.trip
        for campaign_id, trip in trips.items():
            if self._trips.get(campaign_id) is not trip:
                self._trips[campaign_id] = trip
                self._metrics.guard_tripped(trip.guard)
        for campaign_id in set(self._trips) - set(trips):
            del self._trips[campaign_id]

    async def _pause_after_outages(self) -> None:
        while self._recoveries:
            outage = self._recoveries[0]
            seconds = outage.ended - outage.started
            text = (
                f"attempt results could not be written for {seconds:.0f} s ({outage.error}); "
                f"{outage.held} results were held in memory and written when the database "
                "returned; no call was placed meanwhile"
            )
            for campaign_id in list(self._supervisor.runners):
                await self._store.pause(campaign_id, "logging", text)
                self._metrics.guard_tripped("logging")
            self._recoveries.pop(0)


def _queue_names(skill_queues: object) -> set[str]:
    """The queues of a campaign's ``pacing.skill_queues`` (as stored: a JSON object, or null)."""
    if not isinstance(skill_queues, dict):
        return set()
    return {str(q) for q in skill_queues.values()}
