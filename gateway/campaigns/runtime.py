"""The campaign domain's window onto the running gateway, and a plain stand-in for it.

:class:`Runtime` is what only the running gateway knows (agents logged in to a queue, whether a
campaign's schedule is open now, how many caller-ID numbers can be used right now, why nothing
is being dialled) plus one hook called after a campaign's state changed, so the runner can react
at once instead of at its next poll. The hook must only enqueue: it is called from a request
handler. The resume checklist (:mod:`gateway.campaigns.governance`) asks it, handing it the
domain's own :class:`~gateway.campaigns.campaigns.Campaign` row (there is no second campaign view;
the runner's is :class:`pacing.ports.CampaignView`); ``dialer.live`` implements it over the
dialer. :class:`StaticRuntime` answers with plain values, for tests and for running the API
without a dialer. :data:`Probe` checks that a webhook URL answers.

Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from gateway.campaigns.campaigns import Campaign
from gateway.campaigns.dispositions import Disposed

Clock = Callable[[], datetime]
Probe = Callable[[str], Awaitable[bool]]


class Runtime(Protocol):
    async def agents_logged_in(self, queue: str) -> int: ...

    async def asterisk_links(self) -> tuple[int, int]:
        """Asterisk servers with a working, reconciled link, and servers configured."""
        ...

    async def diagnostics(
        self, campaign_id: int, record_id: int | None
    ) -> Mapping[str, object]: ...

    async def schedule_open(self, campaign: Campaign) -> bool:
        """Whether the campaign's own schedule (``time_zone``, ``schedule``) is open now."""
        ...

    async def callerids_available(self, campaign_id: int) -> int: ...

    def campaign_changed(self, campaign_id: int, state: str) -> None:
        """Called after a committed state change; must only enqueue, never block."""

    def disposed(self, done: Disposed) -> None:
        """Called after a disposition committed: the agent's wrap-up is over (unpause it) and
        the disposition is counted; must only enqueue, never block."""


@dataclass(slots=True)
class StaticRuntime:
    """A runtime answering with fixed values; ``changes`` records every hook call."""

    agents: int = 1
    open_now: bool = True
    callerids: int = 1
    links: tuple[int, int] = (1, 1)
    why: Mapping[str, object] = field(default_factory=lambda: {"dialer": "not running"})
    changes: list[tuple[int, str]] = field(default_factory=list)
    dispositions: list[Disposed] = field(default_factory=list)

    async def agents_logged_in(self, queue: str) -> int:
        del queue
        return self.agents

    async def asterisk_links(self) -> tuple[int, int]:
        return self.links

    async def diagnostics(self, campaign_id: int, record_id: int | None) -> Mapping[str, object]:
        return {"campaign_id": campaign_id, "record_id": record_id, **self.why}

    async def schedule_open(self, campaign: Campaign) -> bool:
        del campaign
        return self.open_now

    async def callerids_available(self, campaign_id: int) -> int:
        del campaign_id
        return self.callerids

    def campaign_changed(self, campaign_id: int, state: str) -> None:
        self.changes.append((campaign_id, state))

    def disposed(self, done: Disposed) -> None:
        self.dispositions.append(done)
