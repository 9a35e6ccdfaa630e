"""The agents' wrap-up as the gateway holds it: paused after a call until a disposition comes,
for at most the campaign's wrap-up limit, then the default disposition.

Why a pause. Asterisk's own wrap-up (a member's ``wrapuptime``) runs from the member's last call
and nothing in AMI ends it early (unpausing does not touch it, ``QueueReset`` clears the whole
queue's statistics). So a campaign whose wrap-up ends with a disposition has members without a
``wrapuptime`` and a wrap-up limit (``dispositions.wrapup_limit_s``, else ``DIALER_WRAPUP_LIMIT``):
when a call of ours ends at an agent (``AgentComplete``) the keeper sends ``QueuePause
Paused: true Reason: wrapup`` for that member; a disposition (the API's ``disposed`` hook) sends
``QueuePause Paused: false``, and Asterisk's ``QueueMemberPause`` shows the agent free to the
agent board, so pacing counts the agent at once. When the limit passes first the campaign's
default code is set as the disposition (actor ``system``) and the agent is unpaused all the
same. With a limit of 0 the keeper holds nothing: a disposition is recorded and counted, and the
wrap-up is Asterisk's.

Ownership: ``disposed`` and ``on_agent_call`` are called from a request handler and the links'
reader tasks; they only enqueue. :meth:`WrapupKeeper.run` is one task of the service's task
group, the only one that sends the actions and writes default dispositions. Holds live in
memory; when the keeper starts it reads back the holds this instance left (a restart), so an
agent is not left paused.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.asterisk.agentfeed import AgentChange, ChangeKind
from gateway.asterisk.dialing import Dialer
from gateway.asterisk.errors import GatewayError
from gateway.campaigns import dispositions
from gateway.campaigns.dispositions import Disposed
from gateway.campaigns.errors import CampaignError
from gateway.logs import event
from gateway.metrics import Metrics
from pacing.dispositions import DispositionSet

log = logging.getLogger(__name__)
SYSTEM = "system"
WRAPUP_REASON = "wrapup"  # the pause reason of a held wrap-up (a metric label: a fixed code)
_CODES = text("SELECT dispositions FROM campaigns WHERE id = :cid")
_CACHE_S = 10.0
_REMEMBER = 10_000
_RECOVER_LATE_S = 600.0
_OPEN_HOLDS = text("""
SELECT a.id AS attempt_id, a.campaign_id, a.server, a.agent, a.settled_at, c.queue,
       c.dispositions
FROM attempts a JOIN campaigns c ON c.id = a.campaign_id
WHERE a.instance_id = :iid AND a.originated_at > :since AND a.status = 'settled'
  AND a.agent_connected_at IS NOT NULL AND a.agent IS NOT NULL AND a.disposition IS NULL
  AND a.settled_at > :since
""")


@dataclass(frozen=True, slots=True)
class Held:
    """A member the keeper paused after a call, until ``deadline`` (monotonic)."""

    attempt_id: str
    campaign_id: int
    server: str
    queue: str
    interface: str  # "": found by the agent's name when needed (a hold recovered at start)
    deadline: float
    agent: str = ""


class WrapupKeeper:
    """Pauses agents in wrap-up and unpauses them on a disposition or at the limit."""

    def __init__(
        self,
        engine: AsyncEngine,
        dialer: Dialer,
        metrics: Metrics,
        *,
        wall: Callable[[], datetime],
        wrapup_limit_s: int = 0,
        default_code: str | None = None,
        instance_id: str = "",
        clock: Callable[[], float] = time.monotonic,
        action_timeout_s: float = 5.0,
    ) -> None:
        self._engine = engine
        self._dialer = dialer
        self._metrics = metrics
        self._wall = wall
        self._limit_s = wrapup_limit_s
        self._instance = instance_id
        self._default = default_code
        self._clock = clock
        self._timeout_s = action_timeout_s
        self._jobs: asyncio.Queue[AgentChange | Disposed] = asyncio.Queue()
        self._held: dict[str, Held] = {}
        self._disposed: OrderedDict[str, None] = OrderedDict()
        self._sets: dict[int, tuple[float, DispositionSet]] = {}

    @property
    def held(self) -> list[Held]:
        return list(self._held.values())

    # --- called from handlers and reader tasks: enqueue only ----------------------------------

    def disposed(self, done: Disposed) -> None:
        self._metrics.disposition(str(done.campaign_id), done.code)
        self._remember(done.attempt_id)
        self._jobs.put_nowait(done)

    def on_agent_call(self, change: AgentChange) -> None:
        call = change.call
        if call is None or change.kind not in (ChangeKind.CONNECTED, ChangeKind.ENDED):
            return
        if change.kind is ChangeKind.ENDED and call.attempt_id in self._disposed:
            return  # disposed during the call: its wrap-up is already over
        if change.kind is ChangeKind.ENDED:
            cached = self._sets.get(call.campaign_id)
            if cached is not None and cached[1].wrapup_limit.total_seconds() > 0:
                # paused on the board at once, so no pacing tick offers the agent a call before
                # the QueuePause is sent and Asterisk's QueueMemberPause confirms it
                board = self._dialer.runtime(change.server).agents
                board.hold(change.queue, change.interface, WRAPUP_REASON)
        self._jobs.put_nowait(change)

    def _remember(self, attempt_id: str) -> None:
        self._disposed[attempt_id] = None
        while len(self._disposed) > _REMEMBER:
            self._disposed.popitem(last=False)

    # --- the task -----------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            await self._recover()
        except Exception as exc:  # the keeper still serves new calls
            event(log, "wrap-up holds not recovered", logging.WARNING, error=repr(exc))
        while True:
            job: AgentChange | Disposed | None = None
            try:
                async with asyncio.timeout(self._wait_s()):
                    job = await self._jobs.get()
            except TimeoutError:
                pass
            try:
                if isinstance(job, Disposed):
                    await self._release(job.attempt_id)
                elif job is not None and job.kind is ChangeKind.CONNECTED:
                    assert job.call is not None
                    await self._codes(job.call.campaign_id)  # ready when the call ends
                elif job is not None:
                    await self._hold(job)
                await self._expire()
            except Exception as exc:  # one bad job must not end the keeper
                event(log, "wrap-up job failed", logging.WARNING, error=repr(exc))

    async def _recover(self) -> None:
        """Holds this instance left when it stopped: calls of ours settled at an agent with no
        disposition yet, in a campaign that holds the wrap-up. Each is held again until its
        limit (from the call's end); one whose limit passed while the gateway was down, at most
        :data:`_RECOVER_LATE_S` ago, gets its default and is unpaused now. Older ones are left
        alone: their agent may have paused on purpose since."""
        now_wall, now = self._wall(), self._clock()
        params = {"iid": self._instance, "since": now_wall - timedelta(days=1)}
        async with self._engine.connect() as conn:
            rows = (await conn.execute(_OPEN_HOLDS, params)).mappings().all()
        for row in rows:
            codes = dispositions.parse(
                row["dispositions"] or {}, wrapup_limit_s=self._limit_s, default_code=self._default
            )
            limit = codes.wrapup_limit.total_seconds()
            left = (row["settled_at"] - now_wall).total_seconds() + limit
            if limit <= 0 or left < -_RECOVER_LATE_S or row["attempt_id"] in self._disposed:
                continue
            self._sets[int(row["campaign_id"])] = (now, codes)
            self._held[row["attempt_id"]] = Held(
                row["attempt_id"], int(row["campaign_id"]), str(row["server"]),
                str(row["queue"]), "", now + max(left, 0.0), str(row["agent"]))  # fmt: skip
        if self._held:
            event(log, "wrap-up holds recovered", count=len(self._held))

    def _wait_s(self) -> float | None:
        if not self._held:
            return None
        return max(0.0, min(h.deadline for h in self._held.values()) - self._clock())

    async def _hold(self, change: AgentChange) -> None:
        """Pause the member (a disposition that came meanwhile is handled after: FIFO)."""
        call = change.call
        assert call is not None
        if call.attempt_id in self._held:
            return
        codes = await self._codes(call.campaign_id)
        limit = codes.wrapup_limit.total_seconds()
        if limit <= 0:
            return
        held = Held(call.attempt_id, call.campaign_id, change.server, change.queue,
                    change.interface, change.at + limit)  # fmt: skip
        self._held[call.attempt_id] = held
        await self._pause(held, True)

    async def _release(self, attempt_id: str) -> None:
        held = self._held.pop(attempt_id, None)
        if held is not None:
            await self._pause(held, False)

    async def _expire(self) -> None:
        now = self._clock()
        for held in [h for h in self._held.values() if h.deadline <= now]:
            self._held.pop(held.attempt_id, None)
            codes = await self._codes(held.campaign_id)
            if codes.default_code is not None:
                await self._default_disposition(held, codes.default_code)
            await self._pause(held, False)

    async def _default_disposition(self, held: Held, code: str) -> None:
        request = dispositions.Request(code, "wrap-up limit reached")
        try:
            done = await dispositions.dispose(
                self._engine, SYSTEM, held.attempt_id, request, self._wall()
            )
        except CampaignError as exc:  # disposed meanwhile elsewhere, or the code went away
            event(log, "default disposition not set", attempt=held.attempt_id, why=exc.detail)
            return
        self._metrics.disposition(str(done.campaign_id), done.code)
        event(log, "default disposition set", attempt=held.attempt_id, code=code)

    def _interface(self, held: Held) -> str | None:
        if held.interface:
            return held.interface
        views = self._dialer.runtime(held.server).queue_snapshot(held.queue).agents
        return next((a.interface for a in views if a.name == held.agent), None)

    async def _pause(self, held: Held, paused: bool) -> None:
        interface = self._interface(held)
        if interface is None:
            event(log, "wrap-up pause not sent: agent not in the queue", logging.WARNING,
                  attempt=held.attempt_id, agent=held.agent, queue=held.queue)  # fmt: skip
            return
        headers = [("Action", "QueuePause"), ("Interface", interface),
                   ("Queue", held.queue), ("Paused", "true" if paused else "false")]  # fmt: skip
        if paused:
            headers.append(("Reason", WRAPUP_REASON))
        try:
            link = self._dialer.runtime(held.server).ami
            await link.action(headers, wait_s=self._timeout_s)
        except GatewayError as exc:
            event(log, "wrap-up pause not sent", logging.WARNING, attempt=held.attempt_id,
                  paused=paused, error=repr(exc))  # fmt: skip
            return
        event(log, "wrap-up " + ("held" if paused else "ended"), attempt=held.attempt_id,
              interface=interface, queue=held.queue)  # fmt: skip

    async def _codes(self, campaign_id: int) -> DispositionSet:
        cached = self._sets.get(campaign_id)
        now = self._clock()
        if cached is not None and now - cached[0] < _CACHE_S:
            return cached[1]
        async with self._engine.connect() as conn:
            document = (await conn.execute(_CODES, {"cid": campaign_id})).scalar_one_or_none()
        parsed = dispositions.parse(
            document or {}, wrapup_limit_s=self._limit_s, default_code=self._default
        )
        self._sets[campaign_id] = (now, parsed)
        return parsed
