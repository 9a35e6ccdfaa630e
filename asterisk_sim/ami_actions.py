"""AMI actions: what each ``Action:`` does and the exact replies the traces recorded.

:class:`ActionContext` belongs to one session and dispatches by action name. List actions answer
``EventList: start`` items then ``…Complete`` with ``ListItems``; ``ActionID`` sits where Asterisk
puts it (after ``Response:``, last in list items). Queue actions live in
:mod:`asterisk_sim.ami_queue_actions`. This module must not write to sockets directly: it goes
through the session's ``reply``/``push``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from asterisk_sim.ami_queue_actions import QUEUE_ACTIONS
from asterisk_sim.ami_server import EventFilter
from asterisk_sim.amiproto import AmiMessage, error, format_message, response
from asterisk_sim.channels import Channel
from asterisk_sim.originate import OriginateRequest, parse_callerid

if TYPE_CHECKING:
    from asterisk_sim.ami_server import AmiSession
    from asterisk_sim.sim import SimAsterisk

_TRUE = ("true", "yes", "1", "on")


def split_variable_header(raw: str) -> list[str]:
    """An Originate ``Variable:`` value split as Asterisk does: on commas, except ``\\,`` and
    commas inside double quotes; the backslashes and quotes are removed."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in raw:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


class ActionContext:
    """Runs the actions of one AMI session."""

    def __init__(self, sim: SimAsterisk, session: AmiSession) -> None:
        self.sim = sim
        self.session = session
        self.handlers: dict[str, Callable[[AmiMessage], None]] = {
            "login": self.login,
            "logoff": self.logoff,
            "ping": self.ping,
            "events": self.events,
            "filter": self.filter,
            "originate": self.originate,
            "hangup": self.hangup,
            "status": self.status,
            "coreshowchannels": self.core_show_channels,
            "getvar": self.getvar,
            "setvar": self.setvar,
            "command": self.command,
            "coresettings": self.core_settings,
            "corestatus": self.core_status,
            "dbget": self.db_get,
            "dbgettree": self.db_get_tree,
            "dbput": self.db_write,
            "dbdel": self.db_write,
            "dbdeltree": self.db_write,
        }

    @property
    def world(self):  # type: ignore[no-untyped-def]
        return self.sim.world

    def dispatch(self, msg: AmiMessage) -> None:
        self.sim.note_received(self.session.number, msg)
        aid = msg.get("ActionID")
        action = msg.action
        if not action:
            self.session.reply(error(aid, "Missing action in request"))
            return
        key = action.lower()
        if self.sim.shutting_down:  # every action, Login included, until the process exits
            self.session.reply(error(aid, "Asterisk is shutting down"))
            return
        if not self.session.logged_in and key not in ("login", "logoff", "challenge"):
            self.session.reply(error(aid, "Permission denied"))
            return
        handler = self.handlers.get(key)
        if handler is None:
            queue_handler = QUEUE_ACTIONS.get(key)
            if queue_handler is not None and not self.sim.booting:  # app_queue not loaded yet
                queue_handler(self, msg)
                return
            self.session.reply(
                error(
                    aid,
                    f"Invalid/unknown command: {action}. "
                    "Use Action: ListCommands to show available commands.",
                )
            )
            return
        handler(msg)

    # -- session --------------------------------------------------------------------------------
    def login(self, msg: AmiMessage) -> None:
        aid = msg.get("ActionID")
        cfg = self.sim.config
        if msg.get("Username") != cfg.ami_user or msg.get("Secret") != cfg.ami_secret:
            session = self.session
            session.hold()
            self.sim.world.later(1.0, self._login_failed, aid)
            return
        session = self.session
        session.logged_in = True
        if msg.get("Events").lower() in ("off", "no", "false"):
            session.events_on = False
        session.reply(response(aid, Message="Authentication accepted"))
        uptime = int(self.sim.world.sim_now() - self.sim.started_wall)
        if not self.sim.booting:  # a booting Asterisk sends FullyBooted once it has booted
            session.push(
                format_message(
                    [
                        ("Event", "FullyBooted"),
                        ("Privilege", "system,all"),
                        ("Uptime", str(uptime)),
                        ("LastReload", str(uptime)),
                        ("Status", "Fully Booted"),
                    ]
                )
            )
        session.push(self._successful_auth())
        self.sim.ami_hub.add(session)

    def _successful_auth(self) -> str:
        now = _event_tv(self.sim.world.sim_now())
        host, port = self.session.peer[0], self.session.peer[1]
        return format_message(
            [
                ("Event", "SuccessfulAuth"),
                ("Privilege", "security,all"),
                ("EventTV", now),
                ("Severity", "Informational"),
                ("Service", "AMI"),
                ("EventVersion", "1"),
                ("AccountID", self.sim.config.ami_user),
                ("SessionID", f"0x{id(self.session):x}"),
                ("LocalAddress", f"IPV4/TCP/{self.sim.config.host}/{self.sim.ami_port}"),
                ("RemoteAddress", f"IPV4/TCP/{host}/{port}"),
                ("UsingPassword", "0"),
                ("SessionTV", now),
            ]
        )

    def _login_failed(self, aid: str) -> None:
        session = self.session
        session.release(error(aid, "Authentication failed"))
        session.loop.call_soon(session.close)

    def logoff(self, msg: AmiMessage) -> None:
        self.session.reply(
            response(msg.get("ActionID"), "Goodbye", Message="Thanks for all the fish.")
        )
        self.session.loop.call_soon(self.session.close)

    def ping(self, msg: AmiMessage) -> None:
        stamp = f"{self.sim.world.sim_now():.6f}"
        self.session.reply(response(msg.get("ActionID"), Ping="Pong", Timestamp=stamp))

    def events(self, msg: AmiMessage) -> None:
        mask = msg.get("EventMask").strip().lower()
        session = self.session
        if mask in ("off", "no", "false", "0", ""):
            session.events_on, session.classes = False, None
        elif mask in ("on", "yes", "true", "1", "all"):
            session.events_on, session.classes = True, None
        else:
            session.events_on = True
            session.classes = frozenset(c.strip() for c in mask.split(",")) | {"all"} - {"all"}
        self.sim.ami_hub.changed()
        self.session.reply(
            response(msg.get("ActionID"), Events="On" if session.events_on else "Off")
        )

    def filter(self, msg: AmiMessage) -> None:
        aid = msg.get("ActionID")
        operation = msg.get("Operation", "Add")
        text = msg.get("Filter")
        if operation.lower() != "add" or not text:
            self.session.reply(error(aid, "Reached filter limit or filter is invalid"))
            return
        try:
            flt = EventFilter.parse(text)
        except Exception:
            self.session.reply(error(aid, "Filter Not Added"))
            return
        self.session.add_filter(flt)
        self.session.reply(response(aid, Message="Success"))

    # -- calls ----------------------------------------------------------------------------------
    def originate(self, msg: AmiMessage) -> None:
        aid = msg.get("ActionID")
        channel = msg.get("Channel")
        if not channel:
            self.session.reply(error(aid, "Channel not specified"))
            return
        context, exten = msg.get("Context"), msg.get("Exten")
        if context and exten and self.world.dialplan.lookup(context, exten) is None:
            self.session.reply(error(aid, "Extension does not exist."))
            return
        variables: list[tuple[str, str]] = []
        for raw in msg.get_all("Variable"):
            for part in split_variable_header(raw):
                key, _, value = part.partition("=")
                if key:
                    variables.append((key.strip(), value))
        try:
            timeout = int(msg.get("Timeout", "30000")) / 1000.0
        except ValueError:
            timeout = 30.0
        priority = msg.get("Priority", "1")
        req = OriginateRequest(
            channel=channel,
            action_id=aid,
            context=context,
            exten=exten,
            priority=int(priority) if priority.isdigit() else 1,
            application=msg.get("Application"),
            data=msg.get("Data"),
            timeout=timeout,
            callerid=parse_callerid(msg.get("CallerID")),
            variables=tuple(variables),
            is_async=msg.get("Async").lower() in _TRUE,
            channel_id=msg.get("ChannelId"),
            other_channel_id=msg.get("OtherChannelId"),
        )
        if req.is_async:
            self.session.reply(response(aid, Message="Originate successfully queued"))
            self.sim.place(req)
            return
        self.session.hold()

        def done(ok: bool) -> None:
            text = (
                response(aid, Message="Originate successfully queued")
                if ok
                else error(aid, "Originate failed")
            )
            self.session.release(text)

        self.sim.place(req, done)

    def hangup(self, msg: AmiMessage) -> None:
        aid = msg.get("ActionID")
        chan = self.world.channels.find(msg.get("Channel"))
        if chan is None:
            self.session.reply(error(aid, "No such channel"))
            return
        cause = msg.get("Cause", "16")
        self.session.reply(response(aid, Message="Channel Hungup"))
        self.sim.hangup_channel(chan, int(cause) if cause.isdigit() else 16)

    def status(self, msg: AmiMessage) -> None:
        aid = msg.get("ActionID")
        wanted = msg.get("Channel")
        chans = list(self.world.channels)
        if wanted:
            found = self.world.channels.find(wanted)
            if found is None:
                self.session.reply(error(aid, "No such channel"))
                return
            chans = [found]
        names = [v.strip() for v in msg.get("Variables").split(",") if v.strip()]
        self.session.reply(
            format_message(
                [
                    ("Response", "Success"),
                    ("ActionID", aid),
                    ("EventList", "start"),
                    ("Message", "Channel status will follow"),
                ]
            )
        )
        for chan in chans:
            self.session.reply(self._status_item(chan, names, aid))
        self.session.reply(
            format_message(
                [
                    ("Event", "StatusComplete"),
                    ("ActionID", aid),
                    ("EventList", "Complete"),
                    ("ListItems", str(len(chans))),
                    ("Items", str(len(chans))),
                ]
            )
        )

    def _status_item(self, chan: Channel, names: list[str], aid: str) -> str:
        seconds = int((self.world.mono() - chan.created_at) / self.world.scale)
        fmt = "(slin)" if chan.tech == "Local" else "(ulaw)"
        codec = fmt.strip("()")
        variables = "".join(f"Variable: {n}={chan.variables.get(n, '')}\r\n" for n in names)
        return (
            f"Event: Status\r\nPrivilege: Call\r\n{chan.block()}Type: {chan.tech}\r\nDNID: \r\n"
            f"EffectiveConnectedLineNum: {chan.conn_num}\r\n"
            f"EffectiveConnectedLineName: {chan.conn_name}\r\nTimeToHangup: 0\r\n"
            f"BridgeID: {chan.bridge_id}\r\nApplication: {chan.app}\r\nData: {chan.app_data}\r\n"
            f"Nativeformats: {fmt}\r\nReadformat: {codec}\r\nReadtrans: \r\n"
            f"Writeformat: {codec}\r\nWritetrans: \r\nCallgroup: 0\r\nPickupgroup: 0\r\n"
            f"Seconds: {seconds}\r\n{variables}ActionID: {aid}\r\n\r\n"
        )

    # -- AstDB (the outcome ledger) ------------------------------------------------------------
    def db_get(self, msg: AmiMessage) -> None:
        """As Asterisk 22: a one-item list, or ``Database entry not found``."""
        aid, family, key = msg.get("ActionID"), msg.get("Family"), msg.get("Key")
        if not family or not key:
            self.session.reply(
                error(aid, "No family specified." if not family else "No key specified.")
            )
            return
        value = self.world.astdb.get(family, key)
        if value is None:
            self.session.reply(error(aid, "Database entry not found"))
            return
        self._db_list(aid, "DBGetResponse", "DBGetComplete",
                      [[("Family", family), ("Key", key), ("Val", value)]])  # fmt: skip

    def db_get_tree(self, msg: AmiMessage) -> None:
        aid, family = msg.get("ActionID"), msg.get("Family")
        items = [[("Key", key), ("Val", value)] for key, value in self.world.astdb.tree(family)]
        self._db_list(aid, "DBGetTreeResponse", "DBGetTreeComplete", items)

    def _db_list(
        self, aid: str, item: str, complete: str, items: list[list[tuple[str, str]]]
    ) -> None:
        self.session.reply(response(aid, EventList="start", Message="Result will follow"))
        for fields in items:
            self.session.reply(format_message([("Event", item), *fields, ("ActionID", aid)]))
        self.session.reply(format_message([("Event", complete), ("ActionID", aid),
                                           ("EventList", "Complete"),
                                           ("ListItems", str(len(items)))]))  # fmt: skip

    def db_write(self, msg: AmiMessage) -> None:
        """DBPut / DBDel / DBDelTree need the ``system`` write privilege the dialer lacks."""
        aid = msg.get("ActionID")
        if not {"system", "all"} & set(self.sim.config.ami_write):
            self.session.reply(error(aid, "Permission denied"))
            return
        family, key = msg.get("Family"), msg.get("Key")
        if msg.action.lower() == "dbput":
            self.world.astdb.put(family, key, msg.get("Val"))
            self.session.reply(response(aid, Message="Updated database successfully"))
            return
        self.session.reply(error(aid, "Database entry not found"))

    def core_show_channels(self, msg: AmiMessage) -> None:
        aid = msg.get("ActionID")
        chans = list(self.world.channels)
        self.session.reply(
            format_message(
                [
                    ("Response", "Success"),
                    ("ActionID", aid),
                    ("EventList", "start"),
                    ("Message", "Channels will follow"),
                ]
            )
        )
        for chan in chans:
            secs = int((self.world.mono() - chan.created_at) / self.world.scale)
            duration = f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"
            self.session.reply(
                f"Event: CoreShowChannel\r\nActionID: {aid}\r\n{chan.block()}"
                f"Application: {chan.app}\r\nApplicationData: {chan.app_data}\r\n"
                f"Duration: {duration}\r\nBridgeId: {chan.bridge_id}\r\n\r\n"
            )
        self.session.reply(
            format_message(
                [
                    ("Event", "CoreShowChannelsComplete"),
                    ("ActionID", aid),
                    ("EventList", "Complete"),
                    ("ListItems", str(len(chans))),
                ]
            )
        )

    def getvar(self, msg: AmiMessage) -> None:
        aid = msg.get("ActionID")
        var = msg.get("Variable")
        name = msg.get("Channel")
        value = ""
        if name:
            chan = self.world.channels.find(name)
            if chan is None:
                self.session.reply(error(aid, "No such channel"))
                return
            value = chan.variables.get(var, "")
        self.session.reply(response(aid, Variable=var, Value=value))

    def setvar(self, msg: AmiMessage) -> None:
        aid = msg.get("ActionID")
        chan = self.world.channels.find(msg.get("Channel"))
        if chan is None:
            self.session.reply(error(aid, "No such channel"))
            return
        self.world.emit.varset(chan, msg.get("Variable"), msg.get("Value"))
        self.session.reply(response(aid, Message="Variable Set"))

    def command(self, msg: AmiMessage) -> None:
        aid = msg.get("ActionID")
        cmd = " ".join(msg.get("Command").split())
        lines = self._cli(cmd)
        status = "Success"
        if lines is None:
            words = " ".join(cmd.split()[:2])
            lines = [
                f"No such command '{cmd}' "
                f"(type 'core show help {words}' for other possible commands)"
            ]
            status = "Error"
        headers = [("Response", status), ("ActionID", aid), ("Message", "Command output follows")]
        headers += [("Output", line) for line in (lines or [""])]
        self.session.reply(format_message(headers))

    def _cli(self, cmd: str) -> list[str] | None:
        world = self.world
        if cmd == "core show version":
            return ["Asterisk 22.10.1 built by sim @ asterisk_sim on a x86_64 running Linux"]
        if cmd == "core show channels concise":
            out = []
            for c in world.channels:
                secs = int((world.mono() - c.created_at) / world.scale)
                num = "" if c.cid_num == "<unknown>" else c.cid_num
                out.append(
                    f"{c.name}!{c.context}!{c.exten}!{c.priority}!{c.state.value}!{c.app}!"
                    f"{c.app_data}!{num}!!!3!{secs}!{c.bridge_id}!{c.uniqueid}"
                )
            return out
        if cmd in ("core show channels", "core show calls"):
            n = len(world.channels)
            return [f"{n} active channels", f"{world.calls_in_flight} active calls"]
        if cmd == "core show uptime":
            up = int(world.sim_now() - self.sim.started_wall)
            return [f"System uptime: {up} seconds"]
        return None

    def core_settings(self, msg: AmiMessage) -> None:
        self.session.reply(
            response(
                msg.get("ActionID"),
                AMIversion="11.0.0",
                AsteriskVersion="22.10.1",
                SystemName="",
                CoreMaxCalls="0",
                CoreMaxLoadAvg="0.000000",
                CoreRunUser="",
                CoreRunGroup="",
                CoreMaxFilehandles="0",
                CoreRealTimeEnabled="No",
                CoreCDRenabled="Yes",
                CoreHTTPenabled="Yes",
                SoundsSearchCustomDir="No",
            )
        )

    def core_status(self, msg: AmiMessage) -> None:
        start = time.gmtime(self.sim.started_wall)
        self.session.reply(
            response(
                msg.get("ActionID"),
                CoreStartupDate=time.strftime("%Y-%m-%d", start),
                CoreStartupTime=time.strftime("%H:%M:%S", start),
                CoreReloadDate=time.strftime("%Y-%m-%d", start),
                CoreReloadTime=time.strftime("%H:%M:%S", start),
                CoreCurrentCalls=str(self.world.calls_in_flight),
                CoreProcessedCalls=str(self.world.originates),
            )
        )


def _event_tv(epoch: float) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))
    return f"{stamp}.{int(epoch * 1000) % 1000:03d}+0000"
