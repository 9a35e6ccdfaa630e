"""Two gateway instances on one simulated Asterisk: what each one's agent feed says of a call.

Both dialers log in to the same server and see every queue event. One of them places a call to
a ringall queue of two free agents: both members are rung for its caller, one answers. The
placing instance says the call (``ringing`` for each member, ``connected``, ``ended``), with its
attempt; the other says nothing of it (no ``state`` ringing or on_call for another instance's
caller), and the call-less changes (a member free again after a ring another member answered)
are the same in both, so that one instance per server may write them to the webhooks. The same
for an agent-only callback (the dialplan's ``Dial()`` of one member, no queue).
"""

from __future__ import annotations

import dataclasses
import functools

from asterisk_sim import SimAsterisk
from gateway.asterisk.agentfeed import AgentChange, ChangeKind
from gateway.asterisk.dialing import Dialer
from tests.gateway.conftest import FAST, Recorder, request, wait_healthy
from tests.gateway.test_sim import server, world


def _dialer(sim: SimAsterisk, rec: Recorder, said: list[AgentChange]) -> Dialer:
    return Dialer([server(sim)], on_result=rec.result, on_agent_call=said.append,
                  on_agent_change=lambda _q: rec.poke(), timing=FAST, reconcile_wait_s=30.0,
                  resync_interval_s=30.0)  # fmt: skip


def _both_free(dialer: Dialer) -> bool:
    return dialer.agents("sales").free == 2


def _said(changes: list[AgentChange]) -> list[tuple[str, str, str]]:
    return [(str(c.kind), c.agent, str(c.status)) for c in changes]


async def _one_call(
    recorder: Recorder, *, direct: bool
) -> tuple[str, list[AgentChange], list[AgentChange]]:
    """Two dialers on one simulator, one call placed by the first (to the queue, or ``direct``
    to Agent 102, an agent-only callback); what each feed said, with the attempt id."""
    placing: list[AgentChange] = []
    other: list[AgentChange] = []
    quiet = Recorder()
    async with SimAsterisk(world(agents=2)) as sim:
        dialers = [_dialer(sim, rec, said) for rec, said in ((recorder, placing), (quiet, other))]
        try:
            for dialer in dialers:
                await dialer.start()
            await wait_healthy(dialers[0], recorder)
            await wait_healthy(dialers[1], quiet)
            for dialer, rec in zip(dialers, (recorder, quiet), strict=True):
                await rec.until(functools.partial(_both_free, dialer), within=10)
            req = request("+15551000001", ring_timeout_s=15.0)
            if direct:
                (member,) = (a for a in dialers[0].agents("sales").agents if a.name == "Agent 102")
                req = dataclasses.replace(req, agent_interface=member.interface)
            dialers[0].originate(req)
            await recorder.until(lambda: req.attempt_id in recorder.by_id(), within=30)
            await sim.wait_idle(within=20)
        finally:
            for dialer in dialers:
                await dialer.stop()
    return req.attempt_id, placing, other


async def test_a_call_of_one_instance_is_said_by_it_only_and_the_rest_by_both(
    recorder: Recorder,
) -> None:
    attempt_id, placing, other = await _one_call(recorder, direct=False)
    tied = [c for c in placing if c.call is not None]
    assert {c.call.attempt_id for c in tied if c.call is not None} == {attempt_id}
    kinds = [c.kind for c in tied]
    assert kinds.count(ChangeKind.RINGING) == 2  # ringall: both members rung for the caller
    assert kinds.count(ChangeKind.CONNECTED) == 1
    assert kinds.count(ChangeKind.ENDED) == 1
    assert all(c.call is None for c in other)  # nothing of the other instance's call
    assert {str(c.status) for c in other} <= {"free", "wrapup"}  # no ringing, no on_call
    free = [c for c in placing if c.call is None]
    assert _said(free) == _said(other)
    # the member beaten to the answer is free again, and the one that talked after the call
    assert len(other) == 2
    assert {c.agent for c in other} == {"Agent 101", "Agent 102"}


async def test_an_agent_only_callback_of_one_instance_is_said_by_it_only(
    recorder: Recorder,
) -> None:
    """``Dial()`` rings the member, no queue: the connect is the dialplan's UserEvent, the end
    the member's device going free; the other instance sees both and says neither."""
    attempt_id, placing, other = await _one_call(recorder, direct=True)
    tied = [c for c in placing if c.call is not None]
    assert [c.kind for c in tied if c.kind is not ChangeKind.WRAPUP] == [
        ChangeKind.CONNECTED, ChangeKind.ENDED,
    ]  # fmt: skip
    assert {(c.agent, c.call.attempt_id) for c in tied if c.call is not None} == {
        ("Agent 102", attempt_id)
    }
    assert all(c.call is None for c in other)
    assert "on_call" not in {str(c.status) for c in other}
    assert _said([c for c in placing if c.call is None]) == _said(other)
