"""The dialing facade the campaign runner uses: originate, agents, capacity, reconcile.

Small on purpose: it validates requests, picks a server (:func:`gateway.asterisk.pool.choose`) and
hands
the call to that server's :class:`~gateway.asterisk.calls.runtime.ServerRuntime`. ``originate``
never
awaits the call: it returns the server's name at once, and the outcome arrives later, exactly
once per attempt, through ``on_result``. ``on_result``, ``on_link_state`` and
``on_agent_change`` (a queue's agents changed: read :meth:`Dialer.agents`) are called from the
event loop inside the links' reader tasks: they must only record or enqueue, never block.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType

from gateway.asterisk import validate
from gateway.asterisk.agentfeed import AgentChange
from gateway.asterisk.agents import AgentView, QueueSnapshot
from gateway.asterisk.ami.adapter import LinkStats, LinkTiming
from gateway.asterisk.calls.model import (
    CallProgress,
    InFlightCall,
    OriginateRequest,
)
from gateway.asterisk.calls.runtime import ServerRuntime
from gateway.asterisk.calls.state import CallState
from gateway.asterisk.errors import InvalidValue, NoCapacity, UnknownServer
from gateway.asterisk.pool import PoolSnapshot, ServerConfig, choose
from pacing.calls import AttemptResult, CallQuality

__all__ = [
    "AttemptResult",
    "CallQuality",
    "Dialer",
    "InFlightCall",
    "OriginateRequest",
    "PoolSnapshot",
    "QueueSnapshot",
    "ServerConfig",
]


def validate_request(req: OriginateRequest) -> None:
    """Refuse any request value that must not reach Asterisk (raises :class:`InvalidValue`)."""
    validate.attempt_id(req.attempt_id)
    validate.e164("number", req.number)
    validate.e164("caller_id_number", req.caller_id_number)
    validate.caller_id_name(req.caller_id_name)
    validate.name("queue", req.queue)
    validate.ring_timeout(req.ring_timeout_s)
    if req.agent_interface:
        validate.member_interface(req.agent_interface)
    for field, value in (("campaign_id", req.campaign_id), ("record_id", req.record_id)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InvalidValue(field, f"expected a non-negative integer, got {value!r}")


class Dialer:
    """Places and tracks calls on a pool of Asterisk servers."""

    def __init__(
        self,
        servers: Sequence[ServerConfig],
        *,
        on_result: Callable[[AttemptResult], None],
        on_link_state: Callable[[str, str, str], None] | None = None,
        on_agent_change: Callable[[str], None] | None = None,
        on_agent_call: Callable[[AgentChange], None] | None = None,
        on_progress: Callable[[CallProgress], None] | None = None,
        on_sent: Callable[[str], None] | None = None,
        on_illegal: Callable[[str, str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        timing: LinkTiming | None = None,
        reconcile_wait_s: float = 30.0,
        resync_interval_s: float = 30.0,
        send_gate: Callable[[], bool] = lambda: True,
    ) -> None:
        names = [s.name for s in servers]
        if len(set(names)) != len(names):
            raise InvalidValue("servers", "server names must be unique")
        self._clock = clock
        self._on_result = on_result
        self._on_link_state = on_link_state
        self._on_agent_change = on_agent_change
        self._on_agent_call = on_agent_call
        self._on_progress = on_progress
        self._on_sent = on_sent
        self._on_illegal = on_illegal  # (state, input): a call-leg input its table refused
        self._timing = timing or LinkTiming()
        self._reconcile_wait_s = reconcile_wait_s
        self._resync_interval_s = resync_interval_s
        self._send_gate = send_gate
        self._configs = tuple(servers)
        self._runtimes: dict[str, ServerRuntime] = {}

    async def start(self) -> None:
        """Build each server's runtime and start its links (returns before they are ready)."""
        for config in self._configs:
            runtime = ServerRuntime(
                config, on_result=self._on_result, on_link_state=self._on_link_state,
                on_agent_change=self._on_agent_change, on_agent_call=self._on_agent_call,
                on_progress=self._on_progress, on_sent=self._on_sent,
                on_illegal=self._on_illegal,
                clock=self._clock, timing=self._timing,
                reconcile_wait_s=self._reconcile_wait_s,
                resync_interval_s=self._resync_interval_s, send_gate=self._send_gate)  # fmt: skip
            self._runtimes[config.name] = runtime
            await runtime.start()

    async def stop(self) -> None:
        """Stop every link and task; calls never written are settled as cancelled."""
        for runtime in self._runtimes.values():
            await runtime.stop()

    async def __aenter__(self) -> Dialer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def originate(self, req: OriginateRequest) -> str:
        """Validate, pick a server, queue the send; return the server's name at once."""
        validate_request(req)
        if any(req.attempt_id in rt.tracker for rt in self._runtimes.values()):
            raise InvalidValue("attempt_id", "already in flight: an attempt is dialled once")
        runtimes = list(self._runtimes.values())
        if req.agent_interface:  # only the server the agent is a member of can dial it
            runtimes = [rt for rt in runtimes if rt.agents.has_interface(req.agent_interface)]
        name = choose([rt.view() for rt in runtimes])
        if name is None:
            raise NoCapacity("no healthy Asterisk server has a free channel and rate budget")
        runtime = self._runtimes[name]
        dial = validate.dial_string(runtime.config.trunk, req.number)
        runtime.watch_queue(req.queue)
        runtime.submit(req, dial)
        return name

    async def hangup(self, attempt_id: str) -> bool:
        """End a call in flight (outcome ``cancelled``); ``False`` if it is not tracked."""
        for runtime in self._runtimes.values():
            if attempt_id in runtime.tracker:
                return await runtime.hangup(attempt_id)
        return False

    def agents(self, queue: str) -> QueueSnapshot:
        """Who is logged in to ``queue`` on every server, and in which state (frozen)."""
        now = self._clock()
        views: list[AgentView] = []
        for runtime in self._runtimes.values():
            views.extend(runtime.queue_snapshot(queue).agents)
        return QueueSnapshot(queue, tuple(views), now)

    def member_interface(self, queue: str, agent: str) -> str | None:
        """The interface of ``agent`` (a member name or interface) in ``queue`` on any server,
        else in any other queue it is a member of (None: not logged in anywhere)."""
        now = self._clock()
        for runtime in self._runtimes.values():
            view = runtime.agents.member(queue, agent, now)
            if view is not None:
                return view.interface
        for runtime in self._runtimes.values():
            for other in runtime.agents.queues():
                view = runtime.agents.member(other, agent, now)
                if view is not None:
                    return view.interface
        return None

    def capacity(self) -> PoolSnapshot:
        return PoolSnapshot(tuple(rt.capacity() for rt in self._runtimes.values()))

    def in_flight(self) -> Mapping[str, InFlightCall]:
        calls: dict[str, InFlightCall] = {}
        for runtime in self._runtimes.values():
            calls.update(runtime.tracker.in_flight())
        return calls

    def state_of(self, attempt_id: str) -> CallState | None:
        """Where one call in flight is (None: not tracked), without building the whole map."""
        for runtime in self._runtimes.values():
            state = runtime.tracker.state_of(attempt_id)
            if state is not None:
                return state
        return None

    def link_stats(self) -> tuple[LinkStats, ...]:
        """State, reconnects, Ping RTT and volumes of every AMI and ARI link."""
        return tuple(s for rt in self._runtimes.values() for s in rt.link_stats())

    def send_delays(self) -> list[float]:
        """Recent delays (s) from ``originate()`` to the Originate handed to the socket."""
        return [d for rt in self._runtimes.values() for d in rt.send_delays]

    async def reconcile(
        self, attempts: Sequence[tuple[str, str]], *, restarted: bool = False
    ) -> None:
        """Adopt attempts left in flight by a previous run and settle them from the servers.

        Each is tracked again by id (never originated again) and reconciled against the
        server's live channels as soon as its link is ready; anything not found ends as
        ``unknown`` (``campaign_id``/``record_id`` are 0 in those results: the caller knows them
        by ``attempt_id``). ``restarted``: they are this instance's own, left by its previous
        process (gone); one that a server keeping an outcome ledger has no channel and no line
        of is withdrawn instead (``sent`` False): Asterisk never had the call.
        """
        touched: set[str] = set()
        for attempt_id, server in attempts:
            runtime = self._runtimes.get(server)
            if runtime is None:
                raise UnknownServer(server)
            validate.attempt_id(attempt_id)
            runtime.tracker.adopt(attempt_id, restarted=restarted)
            touched.add(server)
        for server in touched:
            await self._runtimes[server].reconcile_now()

    def unsent(self) -> list[str]:
        """Attempts handed to the dialer whose Originate was not written yet."""
        return [a for rt in self._runtimes.values() for a in rt.unsent()]

    def drop_unsent(self, attempt_ids: Sequence[str]) -> int:
        """Never send these queued attempts (another instance owns them now)."""
        ids = set(attempt_ids)
        return sum(rt.drop_unsent(ids) for rt in self._runtimes.values())

    def wake_senders(self) -> None:
        for runtime in self._runtimes.values():
            runtime.wake()

    def runtimes(self) -> tuple[ServerRuntime, ...]:
        """Every server's runtime, in configuration order (agent control sends through them)."""
        return tuple(self._runtimes.values())

    def runtime(self, server: str) -> ServerRuntime:
        """The runtime of one server (tests and the bench read its tracker and links)."""
        try:
            return self._runtimes[server]
        except KeyError:
            raise UnknownServer(server) from None
