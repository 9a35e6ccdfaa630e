"""What the control API is built from: the engine, the bootstrap token and the runtime.

The runtime is :class:`gateway.campaigns.runtime.Runtime`, the domain's window onto the running
gateway (:class:`gateway.campaigns.runtime.StaticRuntime` for tests and an API without a dialer).

Nothing here does I/O.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.agentevents.hub import AgentEventHub
from gateway.campaigns.agents import AgentPort
from gateway.campaigns.runtime import Clock, Probe, Runtime
from gateway.settings import Secret


@dataclass(frozen=True, slots=True)
class ApiContext:
    """Everything :func:`control_api.app.build_api` needs.

    ``bootstrap_token`` is accepted as an admin token (for creating the first real tokens);
    ``clock`` gives wall-clock time for stored timestamps; ``monotonic`` measures intervals (the
    age of cached record counts); ``probe`` checks that a webhook URL answers (None: the default
    HTTP probe with a 2 s timeout); ``max_concurrent_uploads`` caps the uploads read and imported
    at once (:class:`control_api.uploads.UploadSlots`); ``agents`` logs agents in and out of
    queues and pauses them (:class:`gateway.campaigns.agents.AgentPort`; None without a dialer);
    ``agent_events`` is the running gateway's agent event hub behind the WebSocket streams (None:
    the streams answer 503).
    """

    engine: AsyncEngine
    runtime: Runtime
    clock: Clock
    bootstrap_token: Secret | None = None
    max_upload_bytes: int = 40 * 1024 * 1024
    max_concurrent_uploads: int = 4
    probe: Probe | None = None
    monotonic: Callable[[], float] = time.monotonic
    agents: AgentPort | None = None  # agent control (None: no dialer in this process, 503)
    agent_events: AgentEventHub | None = None
