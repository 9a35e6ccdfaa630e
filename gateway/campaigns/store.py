"""The runner's database ports, implemented over ``gateway.db`` (leasing, campaigns, caller IDs).

:class:`DbStore` is :class:`pacing.ports.Store`; :class:`DbPacers` is :class:`pacing.ports.Pacers`.
Both are thin: every statement that matters for correctness (leases with ``SKIP LOCKED``,
idempotent settlement, the one-pacer lease) lives in :mod:`gateway.campaigns.leasing`; this module
adds
the few per-tick reads the runner needs and converts rows into the pacing core's types.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, date, datetime
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.campaigns import batches, governance, leasing, records
from gateway.campaigns.callerids import CallerIdBook
from gateway.db.transient import retry_transient
from gateway.logs import event
from pacing.calls import AttemptResult
from pacing.errors import ScheduleError
from pacing.lifecycle import OperationRefused
from pacing.outcomes import Outcome
from pacing.ports import Acquired, CallOrder, CampaignView, Lease
from pacing.schedule import CampaignSchedule
from pacing.schedule_doc import parse_schedule
from pacing.snapshot import ControlledResume, PacingConfig, PacingMode
from pacing.stats import DAY as DAY_S

log = logging.getLogger(__name__)

PENDING_SERVER = "pending"  # an attempt written before the switch chose its server

_CAMPAIGN = text(
    "SELECT c.id, c.name, c.state, c.queue, c.pacing_mode, c.pacing, c.abandon_target, "
    "c.controlled_until, c.controlled_max_calls, c.controlled_progressive, c.time_zone, "
    "c.schedule, (SELECT max(p.resumed_at) FROM pause_events p WHERE p.campaign_id = c.id) "
    "AS resumed_at FROM campaigns c WHERE c.id = :cid"
)
_HISTORY = text(
    "SELECT floor(extract(epoch FROM (:now - settled_at)) / 300) * 300 AS ago, outcome, "
    "count(*) AS n FROM attempts WHERE campaign_id = :cid AND status = 'settled' "
    "AND settled_at > :now - interval '30 days' AND outcome IS NOT NULL GROUP BY 1, 2"
)
WATCH_AFTER_RESUME_S = 600.0  # the first minutes after a resume are watched more tightly
_RUNNING = text("SELECT id FROM campaigns WHERE state = 'running' ORDER BY id")


class LiveCall(Protocol):
    """A live attempt's progress as the edge reports it
    (:class:`gateway.asterisk.calls.model.CallProgress` has these)."""

    @property
    def attempt_id(self) -> str: ...
    @property
    def answered_at(self) -> datetime | None: ...
    @property
    def connected_at(self) -> datetime | None: ...
    @property
    def agent(self) -> str | None: ...
    @property
    def amd_status(self) -> str | None: ...


def _wall() -> datetime:
    return datetime.now(UTC)


def _schedule(row: Any) -> CampaignSchedule | None:
    document = row.schedule or {}
    if not document:
        return None
    try:
        return parse_schedule(document, str(row.time_zone))
    except ScheduleError as exc:
        # Refused at the API; a bad stored document must not dial outside unknown hours.
        event(log, "campaign schedule unreadable; treated as closed", logging.ERROR,
              campaign=int(row.id), error=str(exc))  # fmt: skip
        return CampaignSchedule(str(row.time_zone), (), end_date=date(1970, 1, 1))


def _watch_until(row: Any, monotonic_now: float, wall_now: datetime) -> float | None:
    if row.resumed_at is None:
        return None
    remaining = WATCH_AFTER_RESUME_S - (wall_now - row.resumed_at).total_seconds()
    return monotonic_now + remaining if remaining > 0 else None


def _resumed_at(row: Any, monotonic_now: float, wall_now: datetime) -> float | None:
    """The last resume on the runner's clock (None: never, or longer ago than 24 h)."""
    if row.resumed_at is None:
        return None
    ago = (wall_now - row.resumed_at).total_seconds()
    return monotonic_now - max(0.0, ago) if ago < DAY_S else None


def campaign_view(row: Any, monotonic_now: float, wall_now: datetime) -> CampaignView:
    """A campaign row as the runner sees it (controlled resume on the runner's clock)."""
    pacing: dict[str, Any] = dict(row.pacing or {})
    config = PacingConfig(
        mode=PacingMode(row.pacing_mode),
        power_ratio=float(pacing.get("power_ratio", 2.0)),
        abandon_target=float(row.abandon_target),
        ring_timeout_s=float(pacing.get("ring_timeout_s", 25.0)),
    )
    resume = None
    if row.controlled_until is not None and row.controlled_until > wall_now:
        remaining = (row.controlled_until - wall_now).total_seconds()
        resume = ControlledResume(
            until=monotonic_now + remaining,
            max_concurrent_calls=row.controlled_max_calls,
            progressive_only=bool(row.controlled_progressive),
        )
    return CampaignView(
        campaign_id=int(row.id),
        name=str(row.name),
        state=str(row.state),
        queue=str(row.queue),
        config=config,
        caller_id_name=str(pacing.get("caller_id_name", "")),
        channels=pacing.get("max_channels"),
        amd=bool(pacing.get("amd", True)),
        resume=resume,
        schedule=_schedule(row),
        watch_until=_watch_until(row, monotonic_now, wall_now),
        resumed_at=_resumed_at(row, monotonic_now, wall_now),
        skill_queues=tuple(sorted(dict(pacing.get("skill_queues") or {}).items())),
    )


class DbStore:
    """:class:`pacing.ports.Store` over PostgreSQL."""

    def __init__(
        self,
        engine: AsyncEngine,
        instance_id: str,
        *,
        clock: Callable[[], float],
        wall: Callable[[], datetime] = _wall,
        lease_s: float = 60.0,
        free_agents: Callable[[str], Collection[str]] | None = None,
        wrapup_limit_s: float = 0.0,
    ) -> None:
        self._engine = engine
        self._wrapup_limit_s = wrapup_limit_s  # the service's, for campaigns that set none
        self._free_agents = free_agents  # a queue's free agents now (agent-only callbacks)
        self._instance = instance_id
        self._clock = clock
        self._wall = wall
        self._lease_s = lease_s
        self.caller_ids = CallerIdBook(engine, clock=clock, wall=wall)

    async def campaign(self, campaign_id: int) -> CampaignView | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(_CAMPAIGN, {"cid": campaign_id})).first()
        return None if row is None else campaign_view(row, self._clock(), self._wall())

    async def lease(
        self, campaign_id: int, limit: int, skills: Sequence[str] | None = None
    ) -> Sequence[Lease]:
        records = await leasing.lease_records(
            self._engine, campaign_id, self._instance, limit, self._wall(), self._lease_s,
            skills=skills, free_agents=self._free_agents,
        )  # fmt: skip
        return [Lease(r.id, r.phone, r.caller_id, r.callback_agent) for r in records]

    async def choose_caller_ids(
        self, campaign_id: int, leases: Sequence[Lease]
    ) -> list[str | None]:
        calls = [(lease.phone, lease.caller_id) for lease in leases]
        return [c.number for c in await self.caller_ids.pick_many(campaign_id, calls)]

    async def caller_ids_available(self, campaign_id: int) -> int:
        return await self.caller_ids.available(campaign_id)

    async def start_attempts(self, orders: Sequence[CallOrder]) -> set[str]:
        now = self._wall()
        starts = [
            leasing.AttemptStart(
                attempt_id=o.attempt_id,
                campaign_id=o.campaign_id,
                record_id=o.record_id,
                instance_id=self._instance,
                server=PENDING_SERVER,
                caller_id=o.caller_id_number,
                originated_at=now,
            )
            for o in orders
        ]
        written = await batches.start_attempts(self._engine, starts)
        if len(written) < len(orders):
            event(log, "leases lost before dialling", logging.WARNING,
                  lost=len(orders) - len(written))  # fmt: skip
        return written

    async def placed(self, servers: Sequence[tuple[str, str]]) -> None:
        """Record which server each attempt went to: ``(attempt_id, server)`` pairs."""
        if servers:
            await retry_transient(lambda: batches.place_attempts(self._engine, servers))

    async def release(self, campaign_id: int, record_ids: Sequence[int]) -> None:
        del campaign_id
        await leasing.release_records(self._engine, self._instance, record_ids)

    async def fail_attempt(self, order: CallOrder, outcome: Outcome, detail: str) -> None:
        now = self._wall()
        await leasing.settle_attempt(
            self._engine, leasing.AttemptRow(order.attempt_id, outcome, now, hangup_at=now)
        )
        event(log, "attempt refused before dialling", attempt=order.attempt_id,
              outcome=outcome.value, detail=detail)  # fmt: skip

    async def withdraw_attempts(self, withdrawals: Sequence[tuple[CallOrder, str]]) -> None:
        """Attempts never sent: not counted, their records back in the queue (one statement)."""
        await self._withdraw({order.attempt_id: detail for order, detail in withdrawals})

    async def _withdraw(self, details: dict[str, str]) -> None:
        if not details:
            return
        withdrawn = await batches.withdraw_attempts(
            self._engine, list(details), self._instance, self._wall()
        )
        reasons = sorted(set(details.values()))
        event(log, "attempts withdrawn: never sent", count=len(details), withdrawn=len(withdrawn),
              detail="; ".join(reasons)[:300])  # fmt: skip

    async def pause(self, campaign_id: int, category: str, text_: str) -> None:
        """A guard's pause: recorded, audited and announced to owners like an operator's."""
        try:
            await governance.pause(
                self._engine, "guard:pacing", campaign_id, category, text_, self._wall()
            )
        except OperationRefused:
            return  # no longer running: someone paused or stopped it first
        event(log, "campaign paused by guard", logging.WARNING, campaign=campaign_id,
              category=category, text=text_)  # fmt: skip

    async def complete_if_exhausted(self, campaign_id: int) -> bool:
        try:
            return await records.complete_if_exhausted(
                self._engine, "pacing", campaign_id, self._wrapup_limit_s
            )
        except OperationRefused:
            return False

    async def history(self, campaign_id: int) -> Sequence[tuple[float, Outcome, int]]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(_HISTORY, {"cid": campaign_id, "now": self._wall()})).all()
        return [(float(ago), Outcome(outcome), int(n)) for ago, outcome, n in rows]

    async def save_progress(self, progress: Sequence[LiveCall]) -> int:
        """Store what decides live attempts' outcomes (the progress writer's ``persist``)."""
        return await batches.save_progress(
            self._engine,
            [
                batches.Progress(p.attempt_id, p.answered_at, p.connected_at, p.agent, p.amd_status)
                for p in progress
            ],
        )

    async def settle(self, results: Sequence[AttemptResult]) -> None:
        """Persist settled attempts (the result writer's ``persist``): one transaction per batch,
        all or nothing, idempotent (a batch whose commit outcome was unknown can be repeated).

        An attempt that was never sent is withdrawn instead: it does not count and its record
        goes back to the queue.
        """
        await self._withdraw({r.attempt_id: r.detail or "not sent" for r in results if not r.sent})
        sent = [r for r in results if r.sent]
        if sent:
            await batches.settle_attempts(
                self._engine, [db_result(r) for r in sent], [r.server or "" for r in sent]
            )


def db_result(result: AttemptResult) -> leasing.AttemptRow:
    """A settled attempt as the database stores it (the one mapping to the row)."""
    return leasing.AttemptRow(
        attempt_id=result.attempt_id,
        outcome=result.outcome,
        settled_at=result.ended_at,
        q850_cause=result.cause,
        first_ring_at=result.rang_at,
        answered_at=result.answered_at,
        agent_connected_at=result.connected_at,
        hangup_at=result.ended_at,
        agent=result.agent,
        server=result.server or None,
        fault=result.fault,
    )


class DbPacers:
    """:class:`pacing.ports.Pacers` over the ``campaign_pacers`` lease table.

    ``ttl_s`` is how long one acquire holds the lease, on the database's clock; the supervisor
    counts its own deadline from it (:mod:`pacing.supervisor`).
    """

    def __init__(self, engine: AsyncEngine, instance_id: str, *, ttl_s: float = 4.0) -> None:
        self._engine = engine
        self._instance = instance_id
        self._ttl = ttl_s

    @property
    def ttl_s(self) -> float:
        return self._ttl

    async def running_campaigns(self) -> Sequence[int]:
        async with self._engine.connect() as conn:
            return [int(i) for i in (await conn.execute(_RUNNING)).scalars().all()]

    async def acquire(self, campaign_ids: Sequence[int]) -> Acquired:
        return await leasing.acquire_pacers(self._engine, campaign_ids, self._instance, self._ttl)

    async def release(self, campaign_id: int) -> None:
        await leasing.release_pacer(self._engine, campaign_id, self._instance)
