"""What the control API is built from: the engine, the bootstrap token and the runtime.

:class:`Runtime` is the narrow window onto what only the running gateway knows (agents logged
in to a queue, whether a campaign's schedule is open now, how many caller-ID numbers can be used
right now, why nothing is being dialled) plus one hook the API calls after it changed a
campaign's state, so the runner can react at once instead of at its next poll. The hook must
only enqueue: it is called from a request handler. :class:`StaticRuntime` answers with plain
values, for tests and for running the API without a dialer.

Nothing here does I/O.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.settings import Secret

Clock = Callable[[], datetime]
Probe = Callable[[str], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class CampaignView:
    """The campaign facts the runtime needs to answer the resume checklist."""

    id: int
    name: str
    state: str
    time_zone: str
    schedule: Mapping[str, Any]
    queue: str


class Runtime(Protocol):
    async def agents_logged_in(self, queue: str) -> int: ...

    async def diagnostics(
        self, campaign_id: int, record_id: int | None
    ) -> Mapping[str, object]: ...

    async def schedule_open(self, campaign: CampaignView) -> bool: ...

    async def callerids_available(self, campaign_id: int) -> int: ...

    def campaign_changed(self, campaign_id: int, state: str) -> None:
        """Called after a committed state change; must only enqueue, never block."""


@dataclass(slots=True)
class StaticRuntime:
    """A runtime answering with fixed values; ``changes`` records every hook call."""

    agents: int = 1
    open_now: bool = True
    callerids: int = 1
    why: Mapping[str, object] = field(default_factory=lambda: {"dialer": "not running"})
    changes: list[tuple[int, str]] = field(default_factory=list)

    async def agents_logged_in(self, queue: str) -> int:
        del queue
        return self.agents

    async def diagnostics(self, campaign_id: int, record_id: int | None) -> Mapping[str, object]:
        return {"campaign_id": campaign_id, "record_id": record_id, **self.why}

    async def schedule_open(self, campaign: CampaignView) -> bool:
        del campaign
        return self.open_now

    async def callerids_available(self, campaign_id: int) -> int:
        del campaign_id
        return self.callerids

    def campaign_changed(self, campaign_id: int, state: str) -> None:
        self.changes.append((campaign_id, state))


@dataclass(frozen=True, slots=True)
class ApiContext:
    """Everything :func:`control_api.app.build_api` needs.

    ``bootstrap_token`` is accepted as an admin token (for creating the first real tokens);
    ``clock`` gives wall-clock time for stored timestamps; ``monotonic`` measures intervals (the
    age of cached record counts); ``probe`` checks that a webhook URL answers (None: the default
    HTTP probe with a 2 s timeout).
    """

    engine: AsyncEngine
    runtime: Runtime
    clock: Clock
    bootstrap_token: Secret | None = None
    max_upload_bytes: int = 40 * 1024 * 1024
    probe: Probe | None = None
    monotonic: Callable[[], float] = time.monotonic
