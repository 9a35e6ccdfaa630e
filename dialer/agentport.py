"""The campaign domain's :class:`gateway.campaigns.agents.AgentPort`, over the live dialer.

Translates between the domain and the Asterisk edge (:mod:`gateway.asterisk.queuecontrol`):
the edge's refusals become the domain's (``UnknownQueue`` and ``AlreadyAMember`` → Conflict,
``NotAMember`` → NotFound, ``LinkDown`` and an ``ActionFailed`` → Unavailable naming the server
and Asterisk's words, ``InvalidValue`` → Invalid naming the field), and each confirmed pause is
counted in ``dialer_agent_pauses_total{campaign, reason}``. Holds no state of its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from gateway.asterisk.errors import (
    ActionFailed,
    AlreadyAMember,
    InvalidValue,
    LinkDown,
    NotAMember,
    UnknownQueue,
)
from gateway.asterisk.queuecontrol import MemberChange, QueueControl
from gateway.campaigns.agents import AgentMove, QueueAgent
from gateway.campaigns.errors import Conflict, Invalid, NotFound, Unavailable
from gateway.metrics import Metrics


class LiveAgents:
    """Agent control through the dialer's AMI links."""

    def __init__(self, control: QueueControl, metrics: Metrics | None = None) -> None:
        self._control = control
        self._metrics = metrics

    async def login(self, campaign_id: int, queue: str, interface: str, name: str) -> AgentMove:
        change = await _translated(lambda: self._control.login(queue, interface, name))
        return _move("login", campaign_id, change)

    async def logout(self, campaign_id: int, queue: str, agent: str) -> AgentMove:
        change = await _translated(lambda: self._control.logout(queue, agent))
        return _move("logout", campaign_id, change)

    async def pause(self, campaign_id: int, queue: str, agent: str, reason: str) -> AgentMove:
        change = await _translated(lambda: self._control.pause(queue, agent, reason))
        if self._metrics is not None:
            self._metrics.agent_paused(str(campaign_id), reason)
        return _move("pause", campaign_id, change, reason)

    async def unpause(self, campaign_id: int, queue: str, agent: str) -> AgentMove:
        change = await _translated(lambda: self._control.unpause(queue, agent))
        return _move("unpause", campaign_id, change)

    def members(self, queue: str) -> list[QueueAgent]:
        try:
            found = self._control.members(queue)
        except InvalidValue as exc:
            raise Invalid(exc.field, exc.reason) from None
        return [
            QueueAgent(
                m.server,
                queue,
                m.view.interface,
                m.view.name,
                str(m.view.status),
                m.view.paused_reason,
                m.view.penalty,
            )
            for m in found
        ]


def _move(action: str, campaign_id: int, change: MemberChange, reason: str = "") -> AgentMove:
    return AgentMove(
        action,
        campaign_id,
        change.queue,
        change.interface,
        change.member_name,
        change.servers,
        reason,
    )


async def _translated(send: Callable[[], Awaitable[MemberChange]]) -> MemberChange:
    try:
        return await send()
    except InvalidValue as exc:
        raise Invalid(exc.field, exc.reason) from None
    except NotAMember as exc:
        raise NotFound(exc.detail, queue=exc.queue) from None
    except (UnknownQueue, AlreadyAMember) as exc:
        raise Conflict(exc.detail, queue=exc.queue) from None
    except LinkDown as exc:
        raise Unavailable(f"the Asterisk link is down: {exc}", retry_after_s=5) from None
    except ActionFailed as exc:
        raise Unavailable(f"Asterisk did not make the change: {exc.message}") from None
