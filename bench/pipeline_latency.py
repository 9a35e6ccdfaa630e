"""Decision → wire for ``dialer bench pipeline``: fixed-size decisions carried out by the runner.

The gateway's own :class:`pacing.runner.CampaignRunner` with its real database port
(:class:`gateway.campaigns.store.DbStore`) and Asterisk port (:class:`DialerSwitch` over one AMI
link to the bench's simulator), its policy replaced by one that places exactly N calls: each
tick is one decision — lease N records, pick their caller IDs, write the attempts in one
statement, hand the Originates to the link. A sample is the time from the start of the tick to
one Originate handed to the socket (the :class:`Dialer`'s ``on_sent``). The results go through
a :class:`ResultWriter` into the database as in the service; the runner is not told of them,
so no guard trips on this campaign's statistics. Decisions are a tick interval apart.

The server's originate rate is the bench's (``--originate-rate``): with a rate budget below N
per second a decision of N calls waits for the budget, which is the switch's pacing, not the
write path. Never imported by the gateway at run time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from dialer.results import ResultWriter
from gateway.asterisk.dialing import Dialer
from gateway.asterisk.pool import ServerConfig
from gateway.asterisk.switch import DialerSwitch
from gateway.campaigns.store import DbStore
from pacing.runner import CampaignRunner
from pacing.snapshot import Decision, DecisionReason, PacingSnapshot

INSTANCE = "bench-latency"
GAP_S = 0.25  # between two decisions, as the runner's tick


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else 0.0


async def _until(check: Any, within: float) -> bool:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.002)
    return True


class _Fixed:
    """A policy that places ``calls`` calls at every decision."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, snapshot: PacingSnapshot, now: float) -> Decision:
        del snapshot, now
        return Decision(self.calls, DecisionReason.PLACING, "bench: fixed size", 20.0)


async def measure(
    engine: AsyncEngine, server: ServerConfig, campaign_id: int, sizes: Mapping[int, int]
) -> dict[str, Any]:
    """``sizes``: decision size → how many decisions; per size the latencies (ms)."""
    sent: list[float] = []
    store = DbStore(engine, INSTANCE, clock=time.monotonic)
    writer = ResultWriter(store.settle, clock=time.monotonic)
    dialer = Dialer([server], on_result=writer.submit, clock=time.monotonic,
                    on_sent=lambda _attempt: sent.append(time.monotonic()))  # fmt: skip
    policy = _Fixed()
    runner = CampaignRunner(
        campaign_id, store, DialerSwitch(dialer), clock=time.monotonic, policy=policy
    )
    await dialer.start()
    writing = asyncio.create_task(writer.run())
    try:
        if not await _until(lambda: dialer.capacity().healthy == 1, 15.0):
            raise RuntimeError("the latency phase could not log in to the simulator")
        view = await store.campaign(campaign_id)
        assert view is not None
        out: dict[str, Any] = {}
        for size, decisions in sizes.items():
            policy.calls = size
            samples: list[float] = []
            short = 0
            for _ in range(decisions):
                first, placed = len(sent), runner.status.placed
                t0 = time.monotonic()
                await runner.tick(view)
                placed = runner.status.placed - placed
                short += size - placed
                await _until(lambda first=first, placed=placed: len(sent) >= first + placed, 10.0)
                samples += [(t - t0) * 1000 for t in sent[first : first + placed]]
                await asyncio.sleep(GAP_S)
            out[str(size)] = {
                "decisions": decisions, "calls": len(samples), "not_placed": short,
                "p50_ms": round(_pct(samples, 0.50), 2), "p99_ms": round(_pct(samples, 0.99), 2),
                "max_ms": round(max(samples, default=0.0), 2),
            }  # fmt: skip
        await _until(lambda: writer.stored >= runner.status.placed, 60.0)
        return out
    finally:
        writing.cancel()
        await asyncio.gather(writing, return_exceptions=True)
        await dialer.stop()
        await writer.drain(5.0)
