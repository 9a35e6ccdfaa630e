"""The whole gateway service run inside a test: settings over the simulated Asterisk, and the
service started, awaited ready and stopped with the block.

One place for what every end-to-end and browser test does to bring the real ``dialer`` service
up (``dialer.app.Service`` in the test's event loop, its HTTP server on a free port).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

from asterisk_sim import SimAsterisk
from dialer.app import Running, Service
from dialer.demo import wait_ready, with_simulated_servers
from gateway.settings import DatabaseSettings, HttpSettings, Secret, Settings


def service_settings(url: str, token: str, instance_id: str, **fields: Any) -> Settings:
    """Settings for a test's service: a free HTTP port, the database ``url``, a 0.1 s tick."""
    return Settings(
        http=HttpSettings(port=0),
        database=DatabaseSettings(url=Secret(url)),
        api_token=Secret(token),
        instance_id=instance_id,
        tick_interval_s=fields.pop("tick_interval_s", 0.1),
        **fields,
    )


def sim_settings(
    sim: SimAsterisk, url: str, token: str, instance_id: str, **fields: Any
) -> Settings:
    """:func:`service_settings` with ``sim``'s servers (AMI and ARI) configured."""
    return with_simulated_servers(service_settings(url, token, instance_id, **fields), sim, token)


def with_server(settings: Settings, **fields: Any) -> Settings:
    """``settings`` with its one Asterisk server changed (its AMI port behind a relay, its
    channels or originate rate)."""
    (server,) = settings.servers
    return dataclasses.replace(settings, servers=(dataclasses.replace(server, **fields),))


@contextlib.asynccontextmanager
async def running_service(settings: Settings, **service: Any) -> AsyncIterator[Running]:
    """Run ``Service(settings, **service)`` until the block ends; yield it once ready.

    A service that fails before it is ready raises its own error here; one that does not stop
    within 30 s of the block's end fails the test.
    """
    stop = asyncio.Event()
    ready: asyncio.Future[Running] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(Service(settings, **service).run(stop, on_ready=ready.set_result))
    try:
        yield await asyncio.wait_for(wait_ready(ready, task), 60)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
