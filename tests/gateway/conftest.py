"""Fixtures for the gateway edge tests: a recording fake AMI server, the simulated Asterisk,
and a recorder that lets a test await a condition (never sleep) on results and link states."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Protocol

import pytest

from gateway.asterisk.ami.adapter import LinkTiming
from gateway.asterisk.calls.model import OriginateRequest
from gateway.asterisk.dialing import Dialer
from gateway.asterisk.pool import ServerConfig
from pacing.calls import AttemptResult
from tests.gateway.fake_ami import FakeAmi

FAST = LinkTiming(connect_timeout=2.0, action_timeout=2.0, ping_interval=0.5, ping_timeout=2.0,
                  idle_timeout=5.0, backoff_base=0.05, backoff_cap=0.4)  # fmt: skip

RECHECK_S = 0.1


class Recorder:
    """Collects results and link states; :meth:`until` awaits a predicate under a timeout."""

    def __init__(self) -> None:
        self.results: list[AttemptResult] = []
        self.states: list[tuple[str, str, str]] = []
        self._changed = asyncio.Event()

    def result(self, r: AttemptResult) -> None:
        self.results.append(r)
        self._changed.set()

    def state(self, server: str, link: str, state: str) -> None:
        self.states.append((server, link, state))
        self._changed.set()

    def poke(self) -> None:
        self._changed.set()

    async def until(self, predicate: Callable[[], bool], within: float = 20.0) -> None:
        """Wake on every result, link state and poke, and at least every ``RECHECK_S``: a
        predicate may read what no callback announces (the dialer's health once its last link
        is up, when the dialer was given no ``on_link_state``; seen on a loaded CI machine)."""
        async with asyncio.timeout(within):
            while not predicate():
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(RECHECK_S):
                        await self._changed.wait()

    def by_id(self) -> dict[str, AttemptResult]:
        return {r.attempt_id: r for r in self.results}

    def last_state(self, link: str = "ami") -> str | None:
        states = [s for _, lk, s in self.states if lk == link]
        return states[-1] if states else None


def request(
    number: str = "+15551000001", *, queue: str = "sales", **kw: object
) -> OriginateRequest:
    fields: dict[str, object] = dict(
        attempt_id=uuid.uuid4().hex, campaign_id=7, record_id=42, number=number,
        caller_id_number="+15550100", caller_id_name="Dialer", queue=queue, ring_timeout_s=20.0,
    )  # fmt: skip
    fields.update(kw)
    return OriginateRequest(**fields)  # type: ignore[arg-type]


@pytest.fixture
async def fake_ami() -> AsyncIterator[FakeAmi]:
    server = FakeAmi()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


class DialerFactory(Protocol):
    def __call__(
        self,
        servers: Sequence[ServerConfig],
        *,
        reconcile_wait_s: float = 30.0,
        resync_interval_s: float = 30.0,
    ) -> Awaitable[Dialer]: ...


@pytest.fixture
async def make_dialer(recorder: Recorder) -> AsyncIterator[DialerFactory]:
    """Start dialers wired to ``recorder``; all are stopped after the test."""
    started: list[Dialer] = []

    async def make(
        servers: Sequence[ServerConfig],
        *,
        reconcile_wait_s: float = 30.0,
        resync_interval_s: float = 30.0,
    ) -> Dialer:
        dialer = Dialer(
            servers,
            on_result=recorder.result,
            on_link_state=recorder.state,
            on_agent_change=lambda q: recorder.poke(),
            timing=FAST,
            reconcile_wait_s=reconcile_wait_s,
            resync_interval_s=resync_interval_s,
        )
        await dialer.start()
        started.append(dialer)
        return dialer

    try:
        yield make
    finally:
        for dialer in started:
            await dialer.stop()


async def wait_healthy(dialer: Dialer, recorder: Recorder, servers: int = 1) -> None:
    await recorder.until(lambda: dialer.capacity().healthy >= servers)


@pytest.fixture
async def hub_of() -> AsyncIterator[list[asyncio.Task[None]]]:
    """Tasks a test starts (an agent event hub's ``run``); cancelled and awaited after it."""
    tasks: list[asyncio.Task[None]] = []
    yield tasks
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
