"""The runtime window of the campaign domain (:class:`gateway.campaigns.runtime.Runtime`), live.

Answers what only the live process knows: agents logged in (from the dialer's queue view),
caller-ID numbers usable now, whether a campaign's schedule is open, and why a running campaign
places no calls (from its runner's last decision and the gateway's state), with the calls in
flight and the abandon rate since the runner started (``live``). The hooks only enqueue:
``campaign_changed`` wakes the supervisor so that a start or resume is picked up at once,
``disposed`` hands a disposition to the wrap-up keeper (:mod:`dialer.wrapup`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dialer.results import ResultWriter
from dialer.wrapup import WrapupKeeper
from gateway.asterisk.agents import AgentStatus, QueueSnapshot
from gateway.asterisk.dialing import Dialer
from gateway.campaigns.callerids import CallerIdBook
from gateway.campaigns.campaigns import Campaign
from gateway.campaigns.dispositions import Disposed
from gateway.campaigns.leasing import callback_grace_s
from pacing import callbacks
from pacing.diagnostics import DiagnosticsInput, diagnose
from pacing.errors import ScheduleError
from pacing.outcomes import Outcome
from pacing.runner import RunnerStatus
from pacing.schedule import WindowState
from pacing.schedule_doc import parse_schedule
from pacing.snapshot import PacingSnapshot
from pacing.supervisor import Supervisor

_CAMPAIGN = text(
    "SELECT id, state, queue, schedule, time_zone, dispositions FROM campaigns WHERE id = :cid"
)
# Why each record is or is not dialable now, most final reason first (as leasing decides).
_WHY = """CASE
  WHEN r.status = 'dialing' THEN 'in_flight'
  WHEN r.status NOT IN ('new', 'retry', 'callback') THEN 'finished_' || r.status
  WHEN r.attempts >= c.max_attempts AND r.status <> 'callback' THEN 'exhausted_attempts'
  WHEN EXISTS (SELECT 1 FROM dnc_numbers d WHERE d.phone = r.phone) THEN 'dnc'
  WHEN r.skill <> '' AND jsonb_typeof(c.pacing -> 'skill_queues') = 'object'
       AND c.pacing -> 'skill_queues' <> CAST('{}' AS jsonb)
       AND NOT jsonb_exists(c.pacing -> 'skill_queues', r.skill) THEN 'no_queue_for_skill'
  WHEN r.lease_expires_at > :now THEN 'leased'
  WHEN r.next_attempt_at > :now AND r.disposition = 'abandoned' THEN 'abandon_holdoff'
  WHEN r.status = 'callback' AND r.callback_at > :now THEN 'callback_not_due'
  WHEN r.next_attempt_at > :now THEN 'waiting_for_retry'
  WHEN r.status = 'callback' AND r.callback_agent IS NOT NULL
       AND NOT (r.callback_agent = ANY(CAST(:free AS text[])))
       AND r.callback_at > CAST(:now AS timestamptz) - make_interval(secs => :grace)
    THEN CASE WHEN r.callback_agent = ANY(CAST(:logged_in AS text[]))
              THEN 'callback_agent_busy' ELSE 'callback_agent_logged_out' END
  WHEN EXISTS (SELECT 1 FROM unnest(CASE WHEN cardinality(r.time_zones) = 0
                                     THEN ARRAY[c.time_zone] ELSE r.time_zones END) AS z(name)
       WHERE NOT ((extract(hour FROM (CAST(:now AS timestamptz) AT TIME ZONE z.name)) * 60
                   + extract(minute FROM (CAST(:now AS timestamptz) AT TIME ZONE z.name)))
                  BETWEEN c.callee_window_start AND c.callee_window_end - 1))
    THEN 'outside_callee_window'
  ELSE 'dialable' END"""
_ELIGIBILITY = text(
    f"SELECT {_WHY} AS why, count(*) FROM records r JOIN campaigns c ON c.id = r.campaign_id "  # noqa: S608 - constant SQL
    "WHERE r.campaign_id = :cid GROUP BY 1"
)
_ONE_RECORD = text(
    f"SELECT {_WHY} AS why, r.status, r.callback_at, r.callback_agent "  # noqa: S608 - constant SQL
    "FROM records r JOIN campaigns c ON c.id = r.campaign_id "
    "WHERE r.campaign_id = :cid AND r.id = :rid"
)


class LiveRuntime:
    """:class:`gateway.campaigns.runtime.Runtime` over the dialer, supervisor and database."""

    def __init__(
        self,
        engine: AsyncEngine,
        dialer: Dialer,
        supervisor: Supervisor,
        writer: ResultWriter,
        caller_ids: CallerIdBook,
        wrapup: WrapupKeeper | None = None,
    ) -> None:
        self._wrapup = wrapup
        self._caller_ids = caller_ids
        self._engine = engine
        self._dialer = dialer
        self._supervisor = supervisor
        self._writer = writer

    async def agents_logged_in(self, queue: str) -> int:
        return self._dialer.agents(queue).logged_in

    async def asterisk_links(self) -> tuple[int, int]:
        capacity = self._dialer.capacity()
        return capacity.healthy, len(capacity.servers)

    async def schedule_open(self, campaign: Campaign) -> bool:
        if not campaign.schedule:
            return True
        try:
            schedule = parse_schedule(campaign.schedule, campaign.time_zone)
        except ScheduleError:
            return False
        return schedule.state(datetime.now(UTC)).open

    async def callerids_available(self, campaign_id: int) -> int:
        return await self._caller_ids.available(campaign_id)

    def campaign_changed(self, campaign_id: int, state: str) -> None:
        del campaign_id, state
        self._supervisor.poke()

    def disposed(self, done: Disposed) -> None:
        if self._wrapup is not None:
            self._wrapup.disposed(done)

    async def diagnostics(self, campaign_id: int, record_id: int | None) -> Mapping[str, object]:
        """Why the campaign places no calls (or fewer than its agents could take)."""
        now = datetime.now(UTC)
        async with self._engine.connect() as conn:
            campaign = (await conn.execute(_CAMPAIGN, {"cid": campaign_id})).first()
            if campaign is None:
                return {"campaign_id": campaign_id, "text": "no such campaign", "findings": []}
            queue = self._dialer.agents(str(campaign.queue))
            grace = callback_grace_s(campaign.dispositions)
            params = {"cid": campaign_id, "now": now, "rid": record_id, "grace": grace,
                      **_presence(queue)}  # fmt: skip
            counts = {str(w): int(n) for w, n in (await conn.execute(_ELIGIBILITY, params)).all()}
            record = None
            if record_id is not None:
                record = (await conn.execute(_ONE_RECORD, params)).mappings().first()
        runner = self._supervisor.runners.get(campaign_id)
        capacity = self._dialer.capacity()
        blocked = await self._caller_ids.blocked(campaign_id)
        diagnosis = diagnose(DiagnosticsInput(
            schedule=self._window(campaign, now),
            callerid_available=await self.callerids_available(campaign_id),
            callerid_blocked=blocked,
            agents_logged_in=queue.logged_in,
            agents_free=queue.free,
            agents_paused=queue.count(AgentStatus.PAUSED),
            eligibility=counts,
            guard=runner.status.trip if runner else self._supervisor.trips.get(campaign_id),
            servers_up=capacity.healthy,
            servers_total=len(capacity.servers),
            decision=runner.status.last_decision if runner else None,
        ))  # fmt: skip
        body: dict[str, object] = {"campaign_id": campaign_id, "state": str(campaign.state)}
        body.update(diagnosis.as_dict())
        if campaign.state != "running":
            reason = (
                f"the campaign is {campaign.state}: it places no calls until started or resumed"
            )
            findings = [{"blocker": "not_running", "text": reason, "data": {}}]
            findings.extend(diagnosis.as_dict()["findings"])
            body.update(text=reason, findings=findings)
        if campaign.state == "running" and runner is None:
            body["note"] = "no runner on this instance: paced by another gateway instance"
        if runner is not None:
            body["live"] = _live(runner.status, runner.last_snapshot)
        if runner is not None and runner.status.held:
            body["held"] = runner.status.held
        if not self._writer.healthy:
            body["held"] = "attempt results cannot be written to the database"
        if record_id is not None:
            body["record"] = _record_why(record_id, record, queue, grace, now)
        return body

    @staticmethod
    def _window(campaign: Any, now: datetime) -> WindowState:
        if not campaign.schedule:
            return WindowState(True, detail="no campaign calling windows")
        try:
            return parse_schedule(campaign.schedule, str(campaign.time_zone)).state(now)
        except ScheduleError as exc:
            return WindowState(False, detail=f"unreadable schedule: {exc}")


def _presence(queue: QueueSnapshot) -> dict[str, list[str]]:
    """The queue's free and logged-in agents (member names), as the diagnostics query takes them."""
    return {
        "free": sorted(a.name for a in queue.agents if a.status is AgentStatus.FREE),
        "logged_in": sorted(
            a.name for a in queue.agents if a.status is not AgentStatus.UNAVAILABLE
        ),
    }


def _record_why(
    record_id: int, row: Any, queue: QueueSnapshot, grace_s: float, now: datetime
) -> dict[str, object]:
    """One record's reason and, for a callback, whom it waits for and until when."""
    if row is None:
        return {"id": record_id, "why": "no such record in this campaign"}
    body: dict[str, object] = {"id": record_id, "why": str(row["why"])}
    if row["status"] == "callback" and row["callback_at"] is not None:
        presence = _presence(queue)
        verdict = callbacks.decide(
            row["callback_at"], row["callback_agent"], now, timedelta(seconds=grace_s),
            free=presence["free"], logged_in=presence["logged_in"],
        )  # fmt: skip
        body["callback"] = {
            "at": row["callback_at"].isoformat(),
            "agent": row["callback_agent"],
            "falls_back_at": (row["callback_at"] + timedelta(seconds=grace_s)).isoformat()
            if row["callback_agent"]
            else None,
            "dialable": verdict.dialable,
            "hold": str(verdict.hold) if verdict.hold else None,
            "until": verdict.until.isoformat() if verdict.until else None,
        }
    return body


def _live(status: RunnerStatus, snapshot: PacingSnapshot | None) -> dict[str, object]:
    """Calls in flight and the abandon rate since this runner started (the console's list)."""
    live = status.outcomes.get(Outcome.ANSWERED, 0) + status.outcomes.get(Outcome.ABANDONED, 0)
    return {
        "in_flight": len(snapshot.calls) if snapshot is not None else 0,
        "placed": status.placed,
        "live_answers": live,
        "abandon_rate": status.outcomes.get(Outcome.ABANDONED, 0) / live if live else None,
    }
