"""No record is closed without a call: saturated channels and cut links against the real stack.

Attempts are written before they are sent, so an attempt whose Originate never left the gateway
(the server pool had no room, the link dropped between the decision and the send, the service
stopped with it queued) must be withdrawn: it does not count against ``max_attempts`` and its
record goes back to the queue. With ``max_attempts = 1`` every such attempt used to close its
record as "max attempts (cancelled)". The simulator counts every Originate per attempt id (the
witness); each test asserts that every settled attempt and every closed record had one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import text

from asterisk_sim import SimAsterisk, SimConfig
from bench.witness import Relay as TcpCut
from dialer.app import Running
from dialer.demo import set_up_campaign
from tests.dbutil import blank_database
from tests.e2e.conftest import TIME_SCALE, until
from tests.service import running_service, sim_settings, with_server

pytestmark = [pytest.mark.db, pytest.mark.slow]

_ATTEMPTS = text(
    "SELECT a.id, a.status, a.outcome, r.id, r.status, r.reason FROM attempts a "
    "JOIN records r ON r.id = a.record_id WHERE a.campaign_id = :cid"
)
_CLOSED = text("SELECT id, reason FROM records WHERE campaign_id = :cid AND status = 'done'")


@dataclasses.dataclass(frozen=True, slots=True)
class Rig:
    running: Running
    sim: SimAsterisk
    relay: TcpCut
    api: str
    token: str


RigFactory = Callable[[int, float], Any]


@pytest.fixture
async def rig(database_server_url: str) -> AsyncIterator[RigFactory]:
    with blank_database(database_server_url) as database_url:
        async with contextlib.AsyncExitStack() as stack:

            async def make(channels: int, rate: float) -> Rig:
                config = SimConfig.demo(agents=10, seed=8, ami_port=0, ari_port=0,
                                        time_scale=TIME_SCALE)  # fmt: skip
                sim = await stack.enter_async_context(SimAsterisk(config))
                relay = await TcpCut(sim.ami_port).start()
                stack.push_async_callback(relay.stop)
                token = secrets.token_urlsafe(16)
                instance = f"unsent-{secrets.token_hex(3)}"
                settings = with_server(
                    sim_settings(sim, database_url, token, instance),
                    ami_port=relay.port, channels=channels, originate_rate=rate,
                )  # fmt: skip
                running = await stack.enter_async_context(running_service(settings))
                return Rig(running, sim, relay, f"http://127.0.0.1:{running.http_port}/v1", token)

            yield make


async def _settled(rig: Rig, cid: int) -> int:
    sql = text("SELECT count(*) FROM attempts WHERE campaign_id = :c AND status = 'settled'")
    async with rig.running.engine.connect() as conn:
        return int((await conn.execute(sql, {"c": cid})).scalar_one())


async def _until_settled(rig: Rig, cid: int, count: int) -> None:
    async def enough() -> bool:
        return await _settled(rig, cid) >= count

    await until(enough, 120, f"{count} settled attempts of campaign {cid}")


async def _assert_every_closed_record_was_called(rig: Rig, cid: int) -> int:
    """Every settled attempt reached the simulator, and every closed record had a call."""
    async with rig.running.engine.connect() as conn:
        attempts = (await conn.execute(_ATTEMPTS, {"cid": cid})).all()
        closed = (await conn.execute(_CLOSED, {"cid": cid})).all()
    sent = rig.sim.originate_counts
    called = {int(a[3]) for a in attempts if sent.get(str(a[0]), 0) > 0}
    phantom = [str(a[0]) for a in attempts if a[1] == "settled" and sent.get(str(a[0]), 0) == 0]
    assert phantom == [], f"settled attempts never sent to Asterisk: {phantom[:5]}"
    cancelled = [str(a[0]) for a in attempts if a[2] == "cancelled"]
    assert cancelled == [], f"attempts cancelled before dialling: {cancelled[:5]}"
    uncalled = [(int(r[0]), str(r[1])) for r in closed if int(r[0]) not in called]
    assert uncalled == [], f"records closed without a call: {uncalled[:5]}"
    twice = sorted(i for i, n in sent.items() if n > 1)
    assert twice == [], f"attempts sent more than once: {twice[:5]}"
    return len(closed)


async def test_a_saturated_send_budget_closes_no_record_without_a_call(rig: RigFactory) -> None:
    # 10 agents want many more calls than 20 channels at 2 Originates a second can take: the
    # decision must be capped by what the pool takes now, or the surplus is refused.
    r: Rig = await rig(20, 2.0)
    cid = (await set_up_campaign(r.api, r.token, 400, seed=31, max_attempts=1)).campaign_id
    await _until_settled(r, cid, 20)
    runner = r.running.supervisor.runners[cid]
    assert runner.status.refused == 0, "the pool refused calls the decision asked for"
    closed = await _assert_every_closed_record_was_called(r, cid)
    assert closed >= 1


async def test_cut_links_close_no_record_without_a_call(rig: RigFactory) -> None:
    r: Rig = await rig(400, 100.0)
    cid = (await set_up_campaign(r.api, r.token, 2000, seed=32, max_attempts=1)).campaign_id
    await _until_settled(r, cid, 10)
    for _ in range(4):
        before = len(r.sim.originate_counts)
        r.relay.cut(0.3)

        async def dialling_again(before: int = before) -> bool:
            return not r.relay.down and len(r.sim.originate_counts) > before + 5

        await until(dialling_again, 60, "dialling to resume after the cut")
    settled = await _settled(r, cid)
    await _until_settled(r, cid, settled + 10)
    await _assert_every_closed_record_was_called(r, cid)
