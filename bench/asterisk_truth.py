"""What Asterisk itself says a run did: its ``queue_log`` file and an AMI listener of its own.

``dialer bench asterisk`` sets these against the gateway's records, so nothing here reads the
gateway's counters or its database. Two sources:

- **queue_log** (app_queue writes one line per queue event: ``time|callid|queue|agent|event|…``):
  ``ENTERQUEUE`` is a live answer that reached the queue (a machine is hung up before it),
  ``CONNECT`` an agent connect (its data: hold time, the agent's channel, ring time),
  ``COMPLETECALLER``/``COMPLETEAGENT`` the talk time, and ``ABANDON``, ``EXITWITHTIMEOUT``,
  ``EXITEMPTY`` an abandon. The callid is the caller channel's uniqueid, which the dialplan
  contract makes the attempt id (``ChannelId``).
- **the listener** (:class:`Listener`, its own AMI session): the callee channels created per
  number (``Newchannel`` of each ``Local/<digits>@dialer-bench-carrier`` ``;1`` half: numbers
  dialled twice), when each attempt's channel went ``Up`` and when ``AgentConnect`` named it
  (answer-to-agent, by the listener's clock), ``AMDResult`` and the callee half's hang-up cause.

:func:`asterisk_outcome` is Asterisk's own verdict on one attempt, from those alone.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import re
import time
from pathlib import Path

from gateway.asterisk.ami import events as ev
from gateway.asterisk.ami.adapter import AmiEndpoint, AmiLink, LinkTiming

_DIALLED = re.compile(r"^Local/(\d+)@dialer-bench-carrier-[0-9a-f]+;1$")
_ABANDONS = frozenset({"ABANDON", "EXITWITHTIMEOUT", "EXITEMPTY", "EXITWITHKEY"})
_CAUSE_OUTCOME = {17: "busy", 19: "no_answer", 34: "congestion", 1: "failed"}


@dataclasses.dataclass(slots=True)
class QueueCall:
    """One caller's queue events."""

    entered: bool = False
    connected: bool = False
    abandoned: bool = False
    hold_s: int | None = None
    talk_s: int = 0
    agent: str = ""


def read_queue_log(path: Path) -> dict[str, QueueCall]:
    """Every caller of the file, by callid (the attempt id). Pure but for reading the file."""
    calls: dict[str, QueueCall] = collections.defaultdict(QueueCall)
    text = path.read_text(errors="replace") if path.exists() else ""
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) < 5 or parts[1] in ("", "NONE"):
            continue
        callid, agent, event, data = parts[1], parts[3], parts[4], parts[5:]
        call = calls[callid]
        if event == "ENTERQUEUE":
            call.entered = True
        elif event == "CONNECT":
            call.connected, call.agent = True, agent
            call.hold_s = int(data[0]) if data and data[0].isdigit() else None
        elif event in ("COMPLETECALLER", "COMPLETEAGENT"):
            call.talk_s = int(data[1]) if len(data) > 1 and data[1].isdigit() else 0
        elif event in _ABANDONS:
            call.abandoned = True
    return dict(calls)


class Listener:
    """An AMI session of its own that follows the attempts' channels (monotonic clock)."""

    def __init__(self, port: int, username: str, secret: str) -> None:
        self.dialled: collections.Counter[str] = collections.Counter()
        self.answered_at: dict[str, float] = {}
        self.connected_at: dict[str, float] = {}
        self.amd: dict[str, str] = {}
        self.callee_cause: dict[str, int] = {}
        self.reason: dict[str, int] = {}
        self.link = AmiLink(
            AmiEndpoint("listener", "127.0.0.1", port, username, secret),
            on_event=self._on_event,
            filters=("Newchannel", "Newstate", "Hangup", "UserEvent", "AgentConnect",
                     "OriginateResponse"),
            timing=LinkTiming(backoff_base=0.1, backoff_cap=1.0),
        )  # fmt: skip
        self._task: asyncio.Task[None] | None = None

    def _on_event(self, event: ev.AmiEvent) -> None:
        now = time.monotonic()
        kind = type(event)
        if kind is ev.ChannelEvent:
            ch: ev.ChannelEvent = event  # type: ignore[assignment]
            m = _DIALLED.match(ch.channel)
            if ch.name == "Newchannel" and m:
                self.dialled["+" + m.group(1)] += 1
            if ch.state == 6 and ch.uniqueid not in self.answered_at and m:
                self.answered_at[ch.uniqueid] = now
        elif kind is ev.AgentEvent:
            agent: ev.AgentEvent = event  # type: ignore[assignment]
            if agent.name == "AgentConnect":
                self.connected_at.setdefault(agent.uniqueid, now)
        elif kind is ev.UserEvent:
            user: ev.UserEvent = event  # type: ignore[assignment]
            if user.user_event == "AMDResult":
                self.amd[user.attempt_id] = user.amd_status
        elif kind is ev.Hangup:
            hangup: ev.Hangup = event  # type: ignore[assignment]
            if hangup.uniqueid.endswith("-2") and hangup.cause:
                self.callee_cause.setdefault(hangup.uniqueid[:-2], hangup.cause)
        elif kind is ev.OriginateResponse:
            resp: ev.OriginateResponse = event  # type: ignore[assignment]
            self.reason.setdefault(resp.uniqueid, resp.reason)

    async def start(self) -> None:
        self._task = asyncio.create_task(self.link.run(), name="bench-listener")
        async with asyncio.timeout(30):
            while not self.link.ready:  # noqa: ASYNC110 (the link announces nothing else)
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        await self.link.stop()
        if self._task is not None:
            await self._task


def asterisk_outcome(attempt: str, queue: QueueCall | None, listener: Listener) -> str:
    """Asterisk's verdict on one attempt: queue events first, then AMD, then the callee's cause."""
    if queue is not None and queue.connected:
        return "answered"
    if queue is not None and queue.entered:
        return "abandoned"
    if listener.amd.get(attempt) == "MACHINE":
        return "machine"
    if attempt in listener.answered_at:
        return "abandoned"  # answered, never reached the queue (hung up during AMD)
    cause = listener.callee_cause.get(attempt)
    if cause in _CAUSE_OUTCOME:
        return _CAUSE_OUTCOME[cause]
    reason = listener.reason.get(attempt)
    return {5: "busy", 3: "no_answer", 8: "congestion"}.get(reason or -1, "failed")
