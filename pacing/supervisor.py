"""The supervisor: which running campaigns this instance paces, one runner task each.

Design. Several gateway instances may share one database. Each running campaign is paced by
exactly one instance at a time: the one holding its pacer lease in PostgreSQL. Every
``interval_s`` the supervisor lists the running campaigns, takes or renews the lease of each
(renewing keeps it alive; an instance that dies stops renewing and another takes the campaign
over once the lease expires, within seconds), starts a :class:`CampaignRunner` for each campaign
it holds and stops the runners of campaigns it lost or that left ``running``.

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
from pacing.guards import Trip
from pacing.ports import Pacers, Store, Switch
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
        interval_s: float = 1.0,
        link_outage_limit_s: float = 60.0,
    ) -> None:
        self._hold = hold
        self._link_outage_limit_s = link_outage_limit_s
        self._store = store
        self._switch = switch
        self._pacers = pacers
        self._clock = clock
        self._tick_s = tick_s
        self._interval_s = interval_s
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
                        async with asyncio.timeout(self._interval_s):
                            await self._poked.wait()
                    self._poked.clear()
        finally:
            for campaign_id in list(self._tasks):
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._pacers.release(campaign_id))

    async def _round(self, group: asyncio.TaskGroup) -> None:
        running = set(await self._pacers.running_campaigns())
        held: set[int] = set()
        for campaign_id in running:
            if not await self._pacers.acquire(campaign_id):
                continue
            held.add(campaign_id)
            task = self._tasks.get(campaign_id)
            if task is None or task.done():
                self._tasks[campaign_id] = group.create_task(
                    self._guarded(self._runner(campaign_id))
                )
        for campaign_id, task in list(self._tasks.items()):
            if campaign_id not in held or task.done():
                task.cancel()
                del self._tasks[campaign_id]
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
