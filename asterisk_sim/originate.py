"""Originate: the request (from AMI or ARI), dial-string parsing, and the dial that reports back.

:class:`OriginateRequest` is a frozen command built at the protocol edge. :class:`OriginateDial`
is the :class:`~asterisk_sim.legs.Dialer` of the originated leg: it applies the originate
timeout, emits ``OriginateResponse`` with the Reason codes of the traces (0/3/4/5/8), hands the
answered channel to its destination (Context/Exten, Application, or ARI Stasis), and tells a
synchronous AMI session how the call went. This module must not touch sockets.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from asterisk_sim.errors import DialStringError
from asterisk_sim.legs import Leg

if TYPE_CHECKING:
    from asterisk_sim.world import World

_CALLERID = re.compile(r'^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$')


def parse_callerid(text: str) -> tuple[str, str] | None:
    """``"Name" <num>`` → (num, name); a bare number → (num, ""); empty → None."""
    if not text.strip():
        return None
    match = _CALLERID.match(text)
    if match is None:
        return (text.strip(), "")
    return (match.group(2), match.group(1).strip())


@dataclasses.dataclass(frozen=True, slots=True)
class DialTarget:
    """A parsed dial string: ``Local/<exten>@<context>[/n]`` or ``PJSIP/<res>@<endpoint>``."""

    tech: str
    resource: str
    location: str
    options: str = ""


def parse_dial_string(text: str) -> DialTarget:
    tech, sep, rest = text.partition("/")
    if not sep or not rest:
        raise DialStringError(f"no technology in {text!r}")
    if tech not in ("Local", "PJSIP"):
        raise DialStringError(f"unknown technology {tech!r}")
    rest, _, options = rest.partition("/")
    resource, at, location = rest.partition("@")
    if tech == "Local" and not at:
        location = "default"
    if tech == "PJSIP" and not at:
        resource, location = "", resource
    return DialTarget(tech, resource, location, options)


@dataclasses.dataclass(frozen=True, slots=True)
class OriginateRequest:
    """One originate, whatever protocol it came from."""

    channel: str
    action_id: str = ""
    context: str = ""
    exten: str = ""
    priority: int = 1
    application: str = ""
    data: str = ""
    timeout: float = 30.0  # seconds
    callerid: tuple[str, str] | None = None
    variables: tuple[tuple[str, str], ...] = ()
    is_async: bool = True
    channel_id: str = ""
    other_channel_id: str = ""
    ari_app: str = ""
    ari_args: tuple[str, ...] = ()


SyncReply = Callable[[bool], None]


class OriginateDial:
    """Drives one originate from dial to OriginateResponse."""

    def __init__(self, world: World, req: OriginateRequest, reply: SyncReply | None) -> None:
        self.world = world
        self.req = req
        self.reply = reply
        self.leg: Leg | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.result = ""

    def start(self, leg: Leg) -> None:
        self.leg = leg
        self.world.dials.add(self)
        self.timer = self.world.later(self.req.timeout, self._timeout)
        leg.start()

    def leg_failed_early(self) -> None:
        """No channel could be created (unknown technology or trunk): Reason 0 at once."""
        self._report(False, 0, None)

    def cancelled(self) -> None:
        """The originated channel was hung up while ringing (AMI Hangup, ARI DELETE)."""
        self._finish()
        self._report(False, 1, None)

    def shut_down(self) -> None:
        """Asterisk hung the ringing channel up to restart or stop: Failure, ``Reason: 0``."""
        self._finish()
        self._report(False, 0, None)

    def _finish(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _timeout(self) -> None:
        self.timer = None
        leg = self.leg
        if leg is None or leg.answered or leg.done:
            return
        leg.cancel(19)
        leg.outcome = "no_answer"
        self._report(False, 3, leg)

    def leg_ringing(self, leg: Leg) -> None:
        return None

    def leg_answered(self, leg: Leg) -> None:
        self._finish()
        leg.outcome = "answered"
        self._report(True, 4, leg)
        req = self.req
        runner = self.world.runner
        if req.ari_app:
            runner.enter_stasis(leg, req.ari_app, req.ari_args)
        elif req.application:
            runner.start_application(leg, req.application, req.data)
        else:
            runner.start_caller(leg, req.context, req.exten, req.priority)

    def leg_failed(self, leg: Leg, dialstatus: str, reason: int) -> None:
        self._finish()
        self._report(False, reason, leg)

    def leg_far_hangup(self, leg: Leg) -> None:
        self.world.runner.far_hangup(leg.chan)

    def _report(self, ok: bool, reason: int, leg: Leg | None) -> None:
        self.result = "answered" if ok else str(reason)
        if self.reply is not None:
            self.reply(ok)
            return
        if self.req.ari_app:
            return
        self.world.emit.raw("OriginateResponse", "call,all", self.response_body(ok, reason, leg))

    def response_body(self, ok: bool, reason: int, leg: Leg | None) -> str:
        req = self.req
        if ok and leg is not None:
            channel, uid = leg.chan.name, leg.chan.uniqueid
            num = leg.chan.cid_num
            name = leg.chan.cid_name
        else:
            channel, uid = req.channel, req.channel_id or "<unknown>"
            num, name = req.callerid if req.callerid else ("<unknown>", "<unknown>")
            name = name or "<unknown>"
        head = f"ActionID: {req.action_id}\r\n" if req.action_id else ""
        where = (
            f"Application: {req.application}\r\nData: {req.data}\r\n"
            if req.application
            else f"Context: {req.context}\r\nExten: {req.exten}\r\n"
        )
        return (
            f"{head}Response: {'Success' if ok else 'Failure'}\r\nChannel: {channel}\r\n{where}"
            f"Reason: {reason}\r\nUniqueid: {uid}\r\nCallerIDNum: {num}\r\nCallerIDName: {name}\r\n"
        )
