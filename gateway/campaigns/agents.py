"""Agent control of a campaign's queue: log in, log out, pause with a reason code, unpause, list.

The changes happen in Asterisk, not in the database: this module finds the campaign's queue
(or the skill queue asked for: one of ``pacing.skill_queues``, :mod:`pacing.skills`),
asks the :class:`AgentPort` (the running gateway's queue control, ``dialer.agentport``) to make
the change, and writes the audit log entry (who, what, when: ``agent.login``, ``agent.logout``,
``agent.pause``, ``agent.unpause``, and ``agent.refused`` with the refusal's text). As the PBX
and the database share no transaction, a change is audited right after Asterisk confirmed it; a
refusal is audited too, then raised.

The port raises the domain's refusals (:mod:`gateway.campaigns.errors`): :class:`NotFound` (the
agent is not logged in to the queue), :class:`Conflict` (the queue is on no server, or not one of
the campaign's; the agent is logged in already), :class:`Unavailable` (no working link to the
Asterisk server that would take the change, with which one and why), :class:`Invalid` (a value
outside the strict grammar). It
knows no HTTP and nothing of Asterisk; it returns typed rows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.campaigns import audit
from gateway.campaigns.campaigns import get as get_campaign
from gateway.campaigns.errors import CampaignError, Conflict, NotFound, Unavailable


@dataclass(frozen=True, slots=True)
class QueueAgent:
    """One member of a campaign's queue on one server, as the gateway sees it now."""

    server: str
    queue: str
    interface: str
    name: str
    state: str  # free, ringing, on_call, wrapup, paused, unavailable
    paused_reason: str
    penalty: int


@dataclass(frozen=True, slots=True)
class AgentMove:
    """A change Asterisk confirmed: which member, in which queue, on which servers."""

    action: str  # login, logout, pause, unpause
    campaign_id: int
    queue: str
    interface: str
    name: str
    servers: tuple[str, ...]
    reason: str = ""


class AgentPort(Protocol):
    """The running gateway's queue control (implemented in ``dialer.agentport``)."""

    async def login(self, campaign_id: int, queue: str, interface: str, name: str) -> AgentMove: ...

    async def logout(self, campaign_id: int, queue: str, agent: str) -> AgentMove: ...

    async def pause(self, campaign_id: int, queue: str, agent: str, reason: str) -> AgentMove: ...

    async def unpause(self, campaign_id: int, queue: str, agent: str) -> AgentMove: ...

    def members(self, queue: str) -> list[QueueAgent]: ...


async def queues_of(engine: AsyncEngine, campaign_id: int) -> tuple[str, ...]:
    """The campaign's queue, then its skill queues (``pacing.skill_queues``), each once."""
    campaign = await get_campaign(engine, campaign_id)
    skill_queues = (campaign.pacing or {}).get("skill_queues") or {}
    extra = sorted({str(q) for q in skill_queues.values()} - {campaign.queue})
    return (campaign.queue, *extra)


async def _queue_of(engine: AsyncEngine, campaign_id: int, queue: str | None = None) -> str:
    """``queue`` if it is one of the campaign's queues (default: the campaign's own); another
    well-formed name is a :class:`Conflict` with the campaign's setup, naming its queues."""
    queues = await queues_of(engine, campaign_id)
    if queue is None:
        return queues[0]
    if queue not in queues:
        raise Conflict(
            f"queue: not one of the campaign's queues ({', '.join(queues)})",
            field="queue",
            queues=list(queues),
        )
    return queue


async def _audit(
    engine: AsyncEngine, actor: str, action: str, cid: int, after: audit.Snapshot
) -> None:
    async with engine.begin() as conn:
        await audit.record(conn, actor, action, "campaign", cid, None, after)


async def _done(engine: AsyncEngine, actor: str, move: AgentMove) -> AgentMove:
    await _audit(engine, actor, f"agent.{move.action}", move.campaign_id, move)
    return move


async def _refused(
    engine: AsyncEngine, actor: str, cid: int, what: dict[str, str], exc: CampaignError
) -> None:
    detail = exc.detail
    await _audit(engine, actor, "agent.refused", cid, {**what, "refused": detail})


async def _act(
    engine: AsyncEngine,
    actor: str,
    campaign_id: int,
    what: dict[str, str],
    move: Callable[[], Awaitable[AgentMove]],
) -> AgentMove:
    """Carry out one queue move; audit it, or its refusal (then raised again)."""
    try:
        done = await move()
    except CampaignError as exc:
        await _refused(engine, actor, campaign_id, what, exc)
        raise
    return await _done(engine, actor, done)


async def login(
    engine: AsyncEngine,
    port: AgentPort,
    actor: str,
    campaign_id: int,
    interface: str,
    name: str,
    queue: str | None = None,
) -> AgentMove:
    """Log ``interface`` in as ``name`` to the campaign's queue (or one of its skill queues)."""
    q = await _queue_of(engine, campaign_id, queue)
    what = {"action": "login", "queue": q, "interface": interface, "name": name}
    return await _act(engine, actor, campaign_id, what,
                      lambda: port.login(campaign_id, q, interface, name))  # fmt: skip


async def logout(
    engine: AsyncEngine,
    port: AgentPort,
    actor: str,
    campaign_id: int,
    agent: str,
    queue: str | None = None,
) -> AgentMove:
    q = await _queue_of(engine, campaign_id, queue)
    what = {"action": "logout", "queue": q, "agent": agent}
    return await _act(engine, actor, campaign_id, what,
                      lambda: port.logout(campaign_id, q, agent))  # fmt: skip


async def pause(
    engine: AsyncEngine,
    port: AgentPort,
    actor: str,
    campaign_id: int,
    agent: str,
    reason: str,
    queue: str | None = None,
) -> AgentMove:
    q = await _queue_of(engine, campaign_id, queue)
    what = {"action": "pause", "queue": q, "agent": agent, "reason": reason}
    return await _act(engine, actor, campaign_id, what,
                      lambda: port.pause(campaign_id, q, agent, reason))  # fmt: skip


async def unpause(
    engine: AsyncEngine,
    port: AgentPort,
    actor: str,
    campaign_id: int,
    agent: str,
    queue: str | None = None,
) -> AgentMove:
    q = await _queue_of(engine, campaign_id, queue)
    what = {"action": "unpause", "queue": q, "agent": agent}
    return await _act(engine, actor, campaign_id, what,
                      lambda: port.unpause(campaign_id, q, agent))  # fmt: skip


async def listing(engine: AsyncEngine, port: AgentPort, campaign_id: int) -> list[QueueAgent]:
    """The members of the campaign's queues (its own, then its skill queues), with their state."""
    return [m for queue in await queues_of(engine, campaign_id) for m in port.members(queue)]


@dataclass(slots=True)
class StaticAgents:
    """An in-memory :class:`AgentPort` (the API's tests; as :class:`StaticRuntime` is).

    Keeps members per queue and refuses as the live port does: a queue in ``missing`` is on no
    server (Conflict), ``down`` set is a PBX link down (Unavailable, with its text), a second
    login is a Conflict and an unknown agent a NotFound.
    """

    members_by_queue: dict[str, dict[str, QueueAgent]] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)
    down: str = ""

    def _check(self, queue: str) -> dict[str, QueueAgent]:
        if self.down:
            raise Unavailable(self.down)
        if queue in self.missing:
            raise Conflict(f"no Asterisk server has a queue named {queue!r}", queue=queue)
        return self.members_by_queue.setdefault(queue, {})

    def _find(self, queue: str, agent: str) -> QueueAgent:
        for member in self._check(queue).values():
            if agent in (member.interface, member.name):
                return member
        raise NotFound(f"{agent} is not logged in to queue {queue}", queue=queue)

    def _set(self, member: QueueAgent, state: str, reason: str) -> None:
        self.members_by_queue[member.queue][member.interface] = replace(
            member, state=state, paused_reason=reason
        )

    async def login(self, campaign_id: int, queue: str, interface: str, name: str) -> AgentMove:
        members = self._check(queue)
        if interface in members:
            raise Conflict(f"{interface} is logged in to queue {queue} already", queue=queue)
        members[interface] = QueueAgent("static", queue, interface, name, "free", "", 0)
        return AgentMove("login", campaign_id, queue, interface, name, ("static",))

    async def logout(self, campaign_id: int, queue: str, agent: str) -> AgentMove:
        member = self._find(queue, agent)
        del self.members_by_queue[queue][member.interface]
        return AgentMove("logout", campaign_id, queue, member.interface, member.name, ("static",))

    async def pause(self, campaign_id: int, queue: str, agent: str, reason: str) -> AgentMove:
        member = self._find(queue, agent)
        self._set(member, "paused", reason)
        return AgentMove(
            "pause", campaign_id, queue, member.interface, member.name, ("static",), reason
        )

    async def unpause(self, campaign_id: int, queue: str, agent: str) -> AgentMove:
        member = self._find(queue, agent)
        self._set(member, "free", "")
        return AgentMove("unpause", campaign_id, queue, member.interface, member.name, ("static",))

    def members(self, queue: str) -> list[QueueAgent]:
        return sorted(self._check(queue).values(), key=lambda m: m.interface)
