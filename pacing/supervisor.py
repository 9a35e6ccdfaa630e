"""The supervisor: which running campaigns this instance paces, one runner task each.

Design. Several gateway instances may share one database. Each running campaign is paced by
exactly one instance at a time: the one holding its pacer lease in PostgreSQL. Every
``interval_s`` the supervisor lists the running campaigns, takes or renews all their leases in
one statement (renewing keeps a lease alive; an instance that dies stops renewing and another
takes the campaign over once the lease expires: ``ttl_s`` of the database's clock, 4 s by
default, the round brought forward to just after the expiry), starts a :class:`CampaignRunner`
for each campaign it holds and stops the runners of campaigns it lost or that left ``running``.

The lease is fenced by its holder (:mod:`pacing.fencing`): before each acquire the supervisor
reads its monotonic clock, and a granted lease is certainly held until that instant plus the
ttl less a safety margin (1 s). Each runner reads that deadline and, once past it, makes no
decision, leases no record and sends nothing, so a holder that stalled (frozen, or cut off from
the database while its renewals fail) has stopped itself before another instance can take the
campaign. A later successful renewal moves the deadline on; a refused one ends the runner.

``runners`` holds exactly the campaigns this instance paces now: a runner leaves it when its
campaign is paused, stopped or completed, or when another instance holds the lease, and
``on_leave(campaign_id)`` is called (the metrics forget the campaign's series, so a campaign is
exported by one instance at a time and nothing of a paused campaign stays frozen). The guard
trip that paused a campaign is kept in ``trips`` for diagnostics until it runs here again.

Runners live in a :class:`asyncio.TaskGroup` owned by :meth:`Supervisor.run`; nothing is left
behind when it is cancelled. A runner that crashes is logged and restarted on the next round
rather than taking the whole service down.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable

from pacing.calls import AttemptResult
from pacing.fencing import MARGIN_S, RENEW_S, LeaseTerms, Tenure, next_round_s
from pacing.guards import Trip
from pacing.ports import Acquired, Pacers, Store, Switch
from pacing.runner import CampaignRunner

log = logging.getLogger(__name__)


class Supervisor:
    """Starts, keeps and stops campaign runners; routes settled attempts to them."""

    def __init__(
        self,
        store: Store,
        switch: Switch,
        pacers: Pacers,
        *,
        clock: Callable[[], float],
        hold: Callable[[], str | None] = lambda: None,
        on_leave: Callable[[int], None] = lambda _campaign_id: None,
        wall: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        tick_s: float = 0.25,
        interval_s: float = RENEW_S,
        margin_s: float = MARGIN_S,
        link_outage_limit_s: float = 60.0,
    ) -> None:
        """Raises :class:`pacing.errors.LeaseTermsError` if ``pacers.ttl_s``, ``interval_s``
        and ``margin_s`` would fence a healthy holder (:class:`pacing.fencing.LeaseTerms`)."""
        self.tenure = Tenure(LeaseTerms(pacers.ttl_s, interval_s, margin_s))
        self._hold = hold
        self._link_outage_limit_s = link_outage_limit_s
        self._store = store
        self._switch = switch
        self._pacers = pacers
        self._clock = clock
        self._tick_s = tick_s
        self._interval_s = interval_s
        self.next_round_s = interval_s  # sooner when another's lease is about to expire
        self._on_leave = on_leave
        self.runners: dict[int, CampaignRunner] = {}
        self.trips: dict[int, Trip] = {}
        self.wall = wall
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._poked = asyncio.Event()

    def poke(self) -> None:
        """Run the next supervision round now (a campaign was started or resumed)."""
        self._poked.set()

    def settled(self, result: AttemptResult) -> None:
        """Route a stored outcome to its campaign's runner (if this instance runs it)."""
        runner = self.runners.get(result.campaign_id)
        if runner is not None:
            runner.settled(result)

    async def run(self) -> None:
        """Supervise until cancelled; on the way out every runner is stopped and leases freed."""
        try:
            async with asyncio.TaskGroup() as group:
                while True:
                    try:
                        await self._round(group)
                    except Exception:  # the database may be away: keep supervising
                        log.warning("supervision round failed", exc_info=True)
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.next_round_s):
                            await self._poked.wait()
                    self._poked.clear()
        finally:
            for campaign_id in list(self._tasks):
                self.tenure.lost(campaign_id)
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._pacers.release(campaign_id))

    async def _round(self, group: asyncio.TaskGroup) -> None:
        running = sorted(set(await self._pacers.running_campaigns()))
        sent_at = self._clock()  # before the statement: the leases run from no earlier
        acquired = await self._pacers.acquire(running) if running else Acquired(frozenset())
        held = acquired.held
        self.next_round_s = next_round_s(self._interval_s, acquired.others_expire_in_s)
        for campaign_id in running:
            if campaign_id not in held:
                self.tenure.lost(campaign_id)
                continue
            self.tenure.granted(campaign_id, sent_at)
            task = self._tasks.get(campaign_id)
            if task is None or task.done():
                self._tasks[campaign_id] = group.create_task(
                    self._guarded(self._runner(campaign_id))
                )
        for campaign_id, task in list(self._tasks.items()):
            if campaign_id not in held or task.done():
                task.cancel()
                del self._tasks[campaign_id]
                self.tenure.lost(campaign_id)
                await self._pacers.release(campaign_id)
        for campaign_id in [c for c in self.runners if c not in held]:
            self._leave(campaign_id)

    def _runner(self, campaign_id: int) -> CampaignRunner:
        """The campaign's runner: the one that crashed last round (state kept), or a new one."""
        runner = self.runners.get(campaign_id)
        if runner is None:
            runner = CampaignRunner(
                campaign_id,
                self._store,
                self._switch,
                clock=self._clock,
                wall=self.wall,
                hold=self._hold,
                lease_until=lambda: self.tenure.until(campaign_id),
                tick_s=self._tick_s,
                link_outage_limit_s=self._link_outage_limit_s,
            )
            self.runners[campaign_id] = runner
            self.trips.pop(campaign_id, None)
        return runner

    def _leave(self, campaign_id: int) -> None:
        """The campaign is no longer paced here (paused, stopped, completed, or paced elsewhere)."""
        runner = self.runners.pop(campaign_id)
        if runner.status.trip is not None:
            self.trips[campaign_id] = runner.status.trip
        try:
            self._on_leave(campaign_id)
        except Exception:  # a listener (the metrics) must not stop supervision
            log.warning("on_leave failed", exc_info=True)

    async def _guarded(self, runner: CampaignRunner) -> None:
        try:
            await runner.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "campaign runner failed", extra={"fields": {"campaign": runner.campaign_id}}
            )
