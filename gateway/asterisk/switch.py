"""The runner's Asterisk port, implemented over the :class:`gateway.asterisk.dialing.Dialer`.

Translates between the pacing core's vocabulary (:mod:`pacing.ports`, :mod:`pacing.snapshot`)
and the gateway's (orders → ``OriginateRequest``, queue members → pacing agents, gateway
refusals → :class:`pacing.ports.PlaceRefused`). It holds no state of its own and never awaits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from gateway.asterisk.agents import AgentStatus, AgentView
from gateway.asterisk.calls.model import OriginateRequest
from gateway.asterisk.calls.state import phase_of
from gateway.asterisk.dialing import Dialer
from gateway.asterisk.errors import GatewayError, InvalidValue, NoCapacity
from pacing.calls import CallPhase
from pacing.ports import CallOrder, PlaceRefused
from pacing.snapshot import Agent, AgentState

_STATE = {
    AgentStatus.FREE: AgentState.FREE,
    AgentStatus.RINGING: AgentState.BUSY,  # being connected to a call
    AgentStatus.ON_CALL: AgentState.BUSY,
    AgentStatus.WRAPUP: AgentState.WRAP,
    AgentStatus.PAUSED: AgentState.PAUSED,
}


def pacing_agent(view: AgentView, now: float, wrap_s: float) -> Agent | None:
    """The pacing core's view of one queue member (``None``: not available at all)."""
    state = _STATE.get(view.status)
    if state is None:
        return None
    since = now
    if state is AgentState.BUSY and view.since is not None:
        since = view.since
    elif state is AgentState.WRAP and view.wrapup_until is not None:
        since = view.wrapup_until - wrap_s
    return Agent(view.interface, state, min(since, now))


class DialerSwitch:
    """:class:`pacing.ports.Switch` over a running :class:`Dialer`."""

    def __init__(
        self,
        dialer: Dialer,
        *,
        wrap_s: float = 10.0,
        on_placed: Callable[[CallOrder, str], None] = lambda _order, _server: None,
    ) -> None:
        self._dialer = dialer
        self._on_placed = on_placed
        self._wrap_s = wrap_s
        self._watched: set[str] = set()

    def place(self, order: CallOrder) -> str:
        interface = ""
        if order.agent is not None:  # an agent-only callback: to that member's interface
            found = self._dialer.member_interface(order.queue, order.agent)
            if found is None:  # logged out since the lease: back to the queue, leased again
                raise PlaceRefused(f"agent {order.agent!r} is not logged in", retry=True)
            interface = found
        request = OriginateRequest(
            attempt_id=order.attempt_id,
            campaign_id=order.campaign_id,
            record_id=order.record_id,
            number=order.number,
            caller_id_number=order.caller_id_number,
            caller_id_name=order.caller_id_name,
            queue=order.queue,
            ring_timeout_s=order.ring_timeout_s,
            amd=order.amd,
            agent_interface=interface,
        )
        try:
            server = self._dialer.originate(request)
        except NoCapacity as exc:
            raise PlaceRefused(str(exc), retry=True) from exc
        except InvalidValue as exc:
            raise PlaceRefused(str(exc), retry=False) from exc
        self._on_placed(order, server)
        return server

    async def watch(self, queue: str) -> None:
        """Follow ``queue``'s agents from now on, with a QueueStatus resync right away.

        Agents are known from queue events and QueueStatus resyncs of watched queues; a campaign
        must see its agents before its first call, not a resync interval after it.
        """
        for server in self._dialer.capacity().servers:
            runtime = self._dialer.runtime(server.name)
            runtime.watch_queue(queue)
            if server.healthy:
                with contextlib.suppress(GatewayError, TimeoutError):
                    async with asyncio.timeout(5.0):
                        await runtime.resync_queues()
        self._watched.add(queue)

    def agents(self, queue: str, now: float) -> tuple[Agent, ...]:
        if queue not in self._watched:
            for server in self._dialer.capacity().servers:
                self._dialer.runtime(server.name).watch_queue(queue)
            self._watched.add(queue)
        snapshot = self._dialer.agents(queue)
        agents = (pacing_agent(view, now, self._wrap_s) for view in snapshot.agents)
        return tuple(agent for agent in agents if agent is not None)

    def free_channels(self) -> int | None:
        return self._dialer.capacity().room

    def phase(self, attempt_id: str) -> CallPhase | None:
        state = self._dialer.state_of(attempt_id)
        return None if state is None else phase_of(state)

    def links(self) -> tuple[int, int]:
        capacity = self._dialer.capacity()
        return capacity.healthy, len(capacity.servers)
