"""Event emission: one call per happening, fanned out as AMI text and, when subscribed, ARI JSON.

:class:`Emitter` formats AMI events with one join over the channel's cached header block, and
asks the AMI sink first whether anyone wants the event name, so filtered sessions cost almost
nothing. The ARI counterpart is sent only for channels an ARI application is subscribed to.
This module must not decide anything about calls; it only says what happened.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from asterisk_sim.channels import UNKNOWN, Channel

CAUSE_TEXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    19: "User alerting, no answer",
    26: "Answered elsewhere",
    32: "Circuit/channel congestion",
    34: "Circuit/channel congestion",
}


class AmiSink(Protocol):
    """Where AMI event text goes (the AMI server's session hub)."""

    def wants(self, name: str) -> bool: ...

    def send(self, name: str, text: str) -> None: ...


class AriSink(Protocol):
    """Where ARI events go (the ARI server's application hub)."""

    def channel_event(self, chan: Channel, kind: str, extra: dict[str, Any]) -> None: ...


class NullAri:
    """An ARI sink that drops everything (AMI-only worlds and unit tests)."""

    def channel_event(self, chan: Channel, kind: str, extra: dict[str, Any]) -> None:
        return None


def cdr_time(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))


class Emitter:
    """Formats and sends every event of the world."""

    def __init__(
        self, ami: AmiSink, ari: AriSink, sim_now: Callable[[], float], varset: bool
    ) -> None:
        self.ami = ami
        self.ari = ari
        self.sim_now = sim_now
        self.varset_enabled = varset
        self.events = 0
        self.on_hangup: Callable[[Channel, int], None] | None = None  # AstDb.hung_up

    # -- generic ---------------------------------------------------------------------------
    def chan(self, name: str, ch: Channel, extra: str = "", priv: str = "call,all") -> None:
        if ch.vanished:
            return  # taken by a restart: a timer of its old call says nothing any more
        if self.ami.wants(name):
            self.events += 1
            self.ami.send(name, f"Event: {name}\r\nPrivilege: {priv}\r\n{ch.block()}{extra}\r\n")

    def raw(self, name: str, priv: str, body: str) -> None:
        if self.ami.wants(name):
            self.events += 1
            self.ami.send(name, f"Event: {name}\r\nPrivilege: {priv}\r\n{body}\r\n")

    def _ari(self, ch: Channel, kind: str, extra: dict[str, Any]) -> None:
        if ch.ari_app is not None:
            self.ari.channel_event(ch, kind, extra)

    # -- channel life ----------------------------------------------------------------------
    def newchannel(self, ch: Channel) -> None:
        self.chan("Newchannel", ch)

    def newstate(self, ch: Channel) -> None:
        self.chan("Newstate", ch)
        self._ari(ch, "ChannelStateChange", {})

    def newexten(self, ch: Channel, app: str, data: str) -> None:
        ch.app = app
        ch.app_data = data
        self.chan(
            "Newexten",
            ch,
            f"Extension: {ch.exten}\r\nApplication: {app}\r\nAppData: {data}\r\n",
            "dialplan,all",
        )
        self._ari(ch, "ChannelDialplan", {"dialplan_app": app, "dialplan_app_data": data})

    def varset(self, ch: Channel, var: str, value: str) -> None:
        ch.variables[var] = value
        if self.varset_enabled:
            self.chan("VarSet", ch, f"Variable: {var}\r\nValue: {value}\r\n", "dialplan,all")
        self._ari(ch, "ChannelVarset", {"variable": var, "value": value})

    def newcallerid(self, ch: Channel) -> None:
        self.chan("NewCallerid", ch, "CID-CallingPres: 0 (Presentation Allowed, Not Screened)\r\n")
        self._ari(
            ch,
            "ChannelCallerId",
            {
                "caller_presentation": 0,
                "caller_presentation_txt": "Presentation Allowed, Not Screened",
            },
        )

    def newconnectedline(self, ch: Channel) -> None:
        self.chan("NewConnectedLine", ch)
        self._ari(ch, "ChannelConnectedLine", {})

    def soft_hangup_request(self, ch: Channel, cause: int) -> None:
        self.chan("SoftHangupRequest", ch, f"Cause: {cause}\r\n")
        self._ari(ch, "ChannelHangupRequest", {"cause": cause, "soft": True})

    def hangup_request(self, ch: Channel, cause: int) -> None:
        self.chan("HangupRequest", ch, f"Cause: {cause}\r\n")
        self._ari(ch, "ChannelHangupRequest", {"cause": cause})

    def assign(self, ch: Channel, var: str, value: str) -> None:
        """An Originate's variable: a function (``CHANNEL(...)``) is applied, not a VarSet."""
        if var.endswith(")"):
            ch.variables[var] = value
        else:
            self.varset(ch, var, value)

    def hangup(self, ch: Channel, cause: int) -> None:
        if self.on_hangup is not None:
            self.on_hangup(ch, cause)
        text = CAUSE_TEXT.get(cause, "Unknown")
        self.chan("Hangup", ch, f"Cause: {cause}\r\nCause-txt: {text}\r\n")
        self._ari(ch, "ChannelDestroyed", {"cause": cause, "cause_txt": text})

    # -- dialling --------------------------------------------------------------------------
    def dial(
        self,
        name: str,
        dest: Channel,
        caller: Channel | None,
        tail: str,
        ari_status: str,
        dialstring: str,
    ) -> None:
        if self.ami.wants(name):
            self.events += 1
            head = caller.block() if caller is not None else ""
            self.ami.send(
                name,
                f"Event: {name}\r\nPrivilege: call,all\r\n{head}{dest.block('Dest')}{tail}\r\n",
            )
        if dest.ari_app is not None or (caller is not None and caller.ari_app is not None):
            target = dest if dest.ari_app is not None else caller
            assert target is not None
            extra: dict[str, Any] = {
                "dialstatus": ari_status,
                "forward": "",
                "dialstring": dialstring,
                "peer": dest,
            }
            if caller is not None:
                extra["caller"] = caller
            self.ari.channel_event(target, "Dial", extra)

    def local_bridge(self, one: Channel, two: Channel) -> None:
        if self.ami.wants("LocalBridge"):
            self.raw(
                "LocalBridge",
                "call,all",
                f"{one.block('LocalOne')}{two.block('LocalTwo')}Context: {two.context}\r\n"
                f"Exten: {two.exten}\r\nLocalOptimization: Yes\r\n",
            )

    def cdr(self, ch: Channel, last_app: str | None = None, last_data: str | None = None) -> None:
        if not self.ami.wants("Cdr"):
            return
        now = self.sim_now()
        start = ch.created_wall
        answered = ch.answered_at
        duration = int(now - start)
        billable = int(now - answered) if answered is not None else 0
        disposition = "ANSWERED" if answered is not None else ch.disposition
        num = "" if ch.cid_num == UNKNOWN else ch.cid_num
        name = "" if ch.cid_name == UNKNOWN else ch.cid_name
        self.raw(
            "Cdr",
            "cdr,all",
            "".join(
                (
                    f"AccountCode: \r\nSource: {num}\r\nDestination: {ch.exten}\r\n",
                    f'DestinationContext: {ch.context}\r\nCallerID: "{name}" <{num}>\r\n',
                    f"Channel: {ch.name}\r\nDestinationChannel: \r\n",
                    f"LastApplication: {ch.app if last_app is None else last_app}\r\n",
                    f"LastData: {ch.app_data if last_data is None else last_data}\r\n",
                    f"StartTime: {cdr_time(start)}\r\n",
                    f"AnswerTime: {cdr_time(answered) if answered is not None else ''}\r\n",
                    f"EndTime: {cdr_time(now)}\r\nDuration: {duration}\r\n",
                    f"BillableSeconds: {billable}\r\nDisposition: {disposition}\r\n",
                    f"AMAFlags: DOCUMENTATION\r\nUniqueID: {ch.uniqueid}\r\nUserField: \r\n",
                )
            ),
        )

    def user_event(self, ch: Channel, name: str, fields: Iterable[tuple[str, str]]) -> None:
        body = "".join(f"{k}: {v}\r\n" for k, v in fields)
        self.chan("UserEvent", ch, f"UserEvent: {name}\r\n{body}", "user,all")
