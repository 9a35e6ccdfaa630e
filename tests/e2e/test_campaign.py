"""A campaign end to end: API → pacing → AMI → simulated Asterisk → outcomes in PostgreSQL.

Checks the product's promises on a real run: every attempt reaches a recorded outcome, no record
is dialled twice, the abandon rate stays under the campaign's target, the dialing queue agrees
with the records' statuses afterwards, and when the database is taken away the campaign stops
dialling, keeps every outcome, writes them when the database returns and records a ``logging``
pause.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter

import aiohttp
import pytest
from sqlalchemy import text

from dialer.demo import DemoCampaign, set_up_campaign
from tests.e2e.conftest import Stack, until
from tests.queuecheck import queue_mismatches

pytestmark = [pytest.mark.db, pytest.mark.slow]

_ATTEMPTS = text("SELECT id, status, outcome FROM attempts WHERE campaign_id = :cid")


async def _attempts(stack: Stack, cid: int) -> list[tuple[str, str, str | None]]:
    async with stack.running.engine.connect() as conn:
        rows = (await conn.execute(_ATTEMPTS, {"cid": cid})).all()
    return [(str(r.id), str(r.status), r.outcome) for r in rows]


async def _settled(stack: Stack, cid: int) -> int:
    return sum(1 for _, status, _ in await _attempts(stack, cid) if status == "settled")


async def _post(stack: Stack, path: str) -> int:
    headers = {"Authorization": f"Bearer {stack.token}"}
    async with aiohttp.ClientSession(headers=headers) as http, http.post(stack.api + path) as r:
        return r.status


async def _start(stack: Stack, records: int) -> DemoCampaign:
    return await set_up_campaign(stack.api, stack.token, records, seed=11)


def _chance_of_at_least(k: int, n: int, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p)."""
    return 1.0 - sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k))


def _originated(stack: Stack, attempt_ids: set[str]) -> Counter[str]:
    counts = stack.sim.originate_counts
    return Counter({aid: counts.get(aid, 0) for aid in attempt_ids})


async def test_campaign_settles_every_attempt_once_under_the_abandon_target(stack: Stack) -> None:
    campaign = await _start(stack, records=400)
    cid = campaign.campaign_id

    async def enough() -> bool:
        return await _settled(stack, cid) >= 60

    await until(enough, 120, "60 settled attempts")
    assert await _post(stack, f"/campaigns/{cid}/stop") == 200

    async def all_settled() -> bool:
        rows = await _attempts(stack, cid)
        return all(status == "settled" for _, status, _ in rows)

    await until(all_settled, 60, "calls in flight to finish after stop")
    rows = await _attempts(stack, cid)
    ids = {aid for aid, _, _ in rows}
    originated = _originated(stack, ids)
    assert set(originated.values()) == {1}, "an attempt was originated twice or not at all"
    outcomes = Counter(outcome for _, _, outcome in rows)
    live = outcomes["answered"] + outcomes["abandoned"]
    assert outcomes["answered"] > 0
    assert live > 0
    # The rule is a rate over 24 h and 30 days; a run this short has ~20 live answers, where one
    # unlucky abandon is 5 % (seen in several runs, before and after this session's changes). So
    # the run fails only when its abandons are implausible for a pacer that holds the target:
    # fewer than a 1 % chance at the target rate. The rate itself over hours is checked by
    # `dialer bench pacing` (worst run 2.81 %).
    abandoned = outcomes["abandoned"]
    assert _chance_of_at_least(abandoned, live, campaign.abandon_target) >= 0.01, outcomes
    assert await queue_mismatches(stack.running.engine, cid) == []


async def test_database_outage_pauses_the_campaign_and_loses_no_outcome(stack: Stack) -> None:
    campaign = await _start(stack, records=400)
    cid = campaign.campaign_id

    async def dialling() -> bool:
        return await _settled(stack, cid) >= 10

    await until(dialling, 120, "the campaign to dial")
    await asyncio.to_thread(stack.database.server.stop)
    writer = stack.running.writer

    async def outage_seen() -> bool:
        return not writer.healthy

    await until(outage_seen, 60, "the result writer to notice the outage")
    before = sum(stack.sim.originate_counts.values())
    await asyncio.sleep(3)  # calls in flight end meanwhile; their outcomes must be kept
    during = sum(stack.sim.originate_counts.values())
    assert during == before, "calls were placed while results could not be written"
    await asyncio.to_thread(stack.database.server.start)

    async def recovered() -> bool:
        return writer.healthy and writer.pending == 0

    await until(recovered, 60, "the held results to be written")

    async def paused() -> bool:
        view = await stack.running.store.campaign(cid)
        return view is not None and view.state == "paused"

    await until(paused, 30, "the logging pause")
    async with stack.running.engine.connect() as conn:
        category = (
            await conn.execute(
                text("SELECT category FROM pause_events WHERE campaign_id = :cid"), {"cid": cid}
            )
        ).scalar()
    assert category == "logging"

    async def all_settled() -> bool:
        return all(status == "settled" for _, status, _ in await _attempts(stack, cid))

    await until(all_settled, 60, "every attempt to be settled")
    rows = await _attempts(stack, cid)
    originated = _originated(stack, {aid for aid, _, _ in rows})
    assert set(originated.values()) == {1}
    campaign_originates = sum(
        1 for aid in stack.sim.originate_counts if aid in {a for a, _, _ in rows}
    )
    assert campaign_originates == len(rows)


async def test_no_available_caller_id_means_no_call_and_diagnostics_say_why(
    stack: Stack,
) -> None:
    campaign = await _start(stack, records=50)
    cid = campaign.campaign_id
    headers = {"Authorization": f"Bearer {stack.token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(f"{stack.api}/campaigns/{cid}/stop") as resp:
            assert resp.status == 200
        async with http.get(f"{stack.api}/numbers") as resp:
            numbers = (await resp.json())["numbers"]
        for number in numbers:
            patch = {"status": "resting", "rest_reason": "carrier complaint"}
            async with http.patch(f"{stack.api}/numbers/{number['id']}", json=patch) as resp:
                assert resp.status == 200, await resp.text()

        async def idle() -> bool:
            rows = await _attempts(stack, cid)
            return all(status == "settled" for _, status, _ in rows)

        await until(idle, 60, "calls of the first run to end")
        before = len(await _attempts(stack, cid))
        async with http.post(f"{stack.api}/campaigns/{cid}/start") as resp:
            assert resp.status == 200

        async def diagnosed() -> dict[str, object] | None:
            async with http.get(f"{stack.api}/campaigns/{cid}/diagnostics") as resp:
                runtime = (await resp.json())["runtime"]
            blockers = {f["blocker"] for f in runtime["findings"]}
            return runtime if "no_caller_id" in blockers else None

        async def blocked() -> bool:
            return await diagnosed() is not None

        await until(blocked, 30, "diagnostics to name the missing caller IDs")
        runtime = await diagnosed()
    assert runtime is not None
    assert "carrier complaint" in str(runtime)
    assert len(await _attempts(stack, cid)) == before, "a call went out with no usable number"
