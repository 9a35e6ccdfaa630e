"""The one reconnect loop of every Asterisk link (AMI and ARI).

A link's owner runs :func:`run_link`: connect and serve one session, tear it down, wait the
jittered exponential backoff of :func:`gateway.asterisk.ami.linkstate.backoff_delay` (reset after a
session
that reached ``ready``), and go again until the link is stopped. Every step goes through the
link's state machine, so the link-state gauge sees each one. The link supplies its own session,
teardown and the exceptions that mean "this session failed"; anything else propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gateway.asterisk.ami.linkstate import LinkInput, backoff_delay


@dataclass(frozen=True, slots=True)
class LinkLoop:
    """What :func:`run_link` needs from one link."""

    name: str  # e.g. "ami link pbx1", for log lines
    log: logging.Logger
    session: Callable[[], Awaitable[bool]]  # serve one session; True if it reached ready
    teardown: Callable[[], Awaitable[None]]
    transition: Callable[[LinkInput], None]
    is_ready: Callable[[], bool]
    stopping: asyncio.Event
    backoff: tuple[float, float]  # base and cap, seconds
    rand: Callable[[], float]
    errors: tuple[type[BaseException], ...]
    on_lost: Callable[[], None] | None
    on_retry: Callable[[], None]


async def run_link(loop: LinkLoop) -> None:
    """Serve, reconnect with backoff; return only once ``loop.stopping`` is set."""
    loop.transition(LinkInput.START)
    attempt = 0
    while not loop.stopping.is_set():
        was_ready = False
        try:
            was_ready = await loop.session()
        except loop.errors as exc:
            loop.log.warning("%s: %s: %s", loop.name, type(exc).__name__, exc)
        finally:
            was_ready = was_ready or loop.is_ready()
            await loop.teardown()
        if loop.stopping.is_set():
            break
        loop.transition(LinkInput.FAILED)
        if was_ready:
            attempt = 0
            if loop.on_lost is not None:
                loop.on_lost()
        delay = backoff_delay(attempt, base=loop.backoff[0], cap=loop.backoff[1], rand=loop.rand)
        attempt += 1
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await loop.stopping.wait()
        if not loop.stopping.is_set():
            loop.on_retry()
            loop.transition(LinkInput.RETRY)
    loop.transition(LinkInput.STOP)
