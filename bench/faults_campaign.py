"""The fault bench's campaign, through the control API, and what the database says afterwards.

The campaign is set up as an operator would (caller-ID pool, records CSV, start) on one gateway
instance's API; ``max_attempts`` is 1, so a record closed without a call is a record lost.
The database is read directly (not through the relay that faults cut), for the truth the report
sets against the witness. This module must not read the gateway's counters or metrics.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg

from dialer.demo import daytime_region, demo_numbers, records_csv


@dataclasses.dataclass(frozen=True, slots=True)
class CampaignSpec:
    records: int
    power_ratio: float
    abandon_target: float
    seed: int = 7


async def api_call(http: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> Any:
    async with http.request(method, url, **kw) as resp:
        body = await resp.json(content_type=None)
        if resp.status >= 400:
            raise RuntimeError(f"{method} {url}: {resp.status} {body}")
        return body


def api_session(token: str) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        headers={"Authorization": f"Bearer {token}"}, timeout=aiohttp.ClientTimeout(total=120)
    )


async def set_up(api: str, token: str, spec: CampaignSpec) -> int:
    """Create, fill and start the campaign; its id."""
    region = daytime_region(datetime.now(UTC))
    numbers = demo_numbers(region, spec.records + 12, spec.seed)
    callers, callees = numbers[:12], numbers[12:]
    async with api_session(token) as http:
        campaign = await api_call(http, "POST", f"{api}/campaigns", json={
            "name": f"faults-{datetime.now(UTC):%Y%m%d-%H%M%S}", "pacing_mode": "power",
            "queue": "sales", "default_region": region, "abandon_target": spec.abandon_target,
            "max_attempts": 1, "owner": "bench", "resume_owner": "bench",
            "pacing": {"caller_id_name": "Bench", "ring_timeout_s": 20,
                       "power_ratio": spec.power_ratio},
        })  # fmt: skip
        cid = int(campaign["id"])
        ids = []
        for number in callers:
            spec_json = {"number": number, "max_concurrent": 1000, "max_per_day": 100_000}
            ids.append(int((await api_call(http, "POST", f"{api}/numbers", json=spec_json))["id"]))
        await api_call(http, "PUT", f"{api}/campaigns/{cid}/numbers", json={"number_ids": ids})
        await api_call(http, "POST", f"{api}/campaigns/{cid}/records", data=records_csv(callees),
                    headers={"Content-Type": "text/csv"})  # fmt: skip
        await api_call(http, "POST", f"{api}/campaigns/{cid}/start")
    return cid


async def resume(api: str, token: str, cid: int) -> None:
    """Resume a paused campaign as its owner would (the checklist of the API)."""
    body = {"review_minutes": 1, "max_concurrent_calls": 10_000, "note": "fault bench"}
    async with api_session(token) as http:
        await api_call(http, "POST", f"{api}/campaigns/{cid}/resume", json=body)


async def stop(api: str, token: str, cid: int) -> None:
    async with api_session(token) as http:
        await api_call(http, "POST", f"{api}/campaigns/{cid}/stop")


class Truth:
    """Direct reads of the run's database."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: asyncpg.Connection | None = None
        # one connection, shared by the bench and its resume watcher: one statement at a time
        self._lock = asyncio.Lock()

    async def _c(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self._dsn, timeout=10)
        return self._conn

    async def _run(self, method: str, sql: str, *args: Any) -> Any:
        async with self._lock:
            return await getattr(await self._c(), method)(sql, *args)

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()

    async def state(self, cid: int) -> str:
        return str(await self._run("fetchval", "SELECT state FROM campaigns WHERE id=$1", cid))

    async def pacer(self, cid: int) -> str | None:
        sql = "SELECT instance_id FROM campaign_pacers WHERE campaign_id=$1"
        value = await self._run("fetchval", sql, cid)
        return None if value is None else str(value)

    async def dialing(self, cid: int) -> int:
        sql = "SELECT count(*) FROM attempts WHERE campaign_id=$1 AND status='dialing'"
        return int(await self._run("fetchval", sql, cid))

    async def attempts(self, cid: int) -> list[asyncpg.Record]:
        sql = ("SELECT id, status, outcome, instance_id, extract(epoch FROM settled_at) AS settled,"
               " extract(epoch FROM originated_at) AS originated"
               " FROM attempts WHERE campaign_id=$1")  # fmt: skip
        return list(await self._run("fetch", sql, cid))

    async def done_records(self, cid: int) -> list[asyncpg.Record]:
        sql = "SELECT phone, reason FROM records WHERE campaign_id=$1 AND status='done'"
        return list(await self._run("fetch", sql, cid))

    async def pauses(self, cid: int) -> dict[str, int]:
        sql = "SELECT category, count(*) FROM pause_events WHERE campaign_id=$1 GROUP BY 1"
        return {str(c): int(n) for c, n in await self._run("fetch", sql, cid)}
