"""ARI REST routes (channels, applications) and the simulator's admin routes (``/sim/...``).

Originate answers 200 with the channel in state ``Down`` at once and starts the dial on the
next loop iteration, as Asterisk does. Admin routes: ``POST /sim/faults/{drop_ami, drop_ari,
stall?seconds=, restart, crash, delay?seconds=, malformed}``, ``GET /sim/stats``,
``GET /sim/counts``,
``POST /sim/agents/{login,logout,pause,unpause}?queue=&name=``. This module must not format AMI.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from asterisk_sim.ari_json import channel_json
from asterisk_sim.channels import Channel, ChanState
from asterisk_sim.errors import DialStringError
from asterisk_sim.legs import LocalLeg
from asterisk_sim.originate import OriginateRequest, parse_callerid, parse_dial_string
from asterisk_sim.runner import Exec

if TYPE_CHECKING:
    from asterisk_sim.sim import SimAsterisk

_CAUSES = {"normal": 16, "busy": 17, "congestion": 34, "no_answer": 19, "answered_elsewhere": 26}


def _ok(body: Any, status: int = 200) -> web.Response:
    from asterisk_sim.ari_server import HEADERS

    return web.json_response(
        body, status=status, headers=HEADERS, dumps=lambda b: json.dumps(b, separators=(",", ":"))
    )


def _no_content() -> web.Response:
    from asterisk_sim.ari_server import HEADERS

    return web.Response(status=204, headers=HEADERS)


def _error(status: int, message: str, key: str = "message") -> web.Response:
    from asterisk_sim.ari_server import ari_error

    return ari_error(status, message, key=key)


class _Channels:
    """Handlers of the ``/ari/channels`` and ``/ari/applications`` resources."""

    def __init__(self, sim: SimAsterisk) -> None:
        self.sim = sim

    def chan_or_404(self, request: web.Request) -> Channel | web.Response:
        chan = self.sim.world.channels.find(request.match_info["id"])
        return chan if chan is not None else _error(404, "Channel not found")

    async def applications(self, request: web.Request) -> web.Response:
        return _ok(
            [
                {
                    "name": name,
                    "channel_ids": [],
                    "bridge_ids": [],
                    "endpoint_ids": [],
                    "device_names": [],
                    "events_allowed": [],
                    "events_disallowed": [],
                }
                for name in self.sim.ari_hub.apps
            ]
        )

    async def list_channels(self, request: web.Request) -> web.Response:
        return _ok([channel_json(c) for c in self.sim.world.channels])

    async def originate(self, request: web.Request) -> web.Response:
        q = request.query
        variables: dict[str, str] = {}
        if request.can_read_body:
            raw = await request.read()
            if raw.strip():
                try:
                    body = json.loads(raw)
                    variables = {str(k): str(v) for k, v in dict(body.get("variables", {})).items()}
                except (ValueError, AttributeError, TypeError):
                    return _error(400, "Error parsing request body")
        endpoint = q.get("endpoint", "")
        if not endpoint:
            return _error(400, "Endpoint must be specified")
        app_name, extension = q.get("app", ""), q.get("extension", "")
        if not app_name and not extension:
            return _error(400, "Application or extension must be specified")
        try:
            parse_dial_string(endpoint)
        except DialStringError:
            return _error(500, "Allocation failed", key="error")
        timeout_text = q.get("timeout", "30")
        timeout = float(timeout_text) if timeout_text.lstrip("-").isdigit() else 30.0
        callerid = parse_callerid(q.get("callerId", ""))
        args = tuple(a for a in q.get("appArgs", "").split(",") if a) if app_name else ()
        req = OriginateRequest(
            channel=endpoint,
            context=q.get("context", "default") if extension else "",
            exten=extension,
            priority=int(q.get("priority", "1")) if q.get("priority", "1").isdigit() else 1,
            timeout=timeout if timeout > 0 else 30.0,
            callerid=callerid,
            variables=tuple(variables.items()),
            channel_id=q.get("channelId", ""),
            other_channel_id=q.get("otherChannelId", ""),
            ari_app=app_name,
            ari_args=args,
        )
        dial = self.sim.world.originate(req, defer=True)
        if dial.leg is None:
            return _error(500, "Allocation failed", key="error")
        leg = dial.leg
        leg.chan.app, leg.chan.app_data = "AppDial2", "(Outgoing Line)"
        if app_name:
            leg.chan.ari_sticky = True
            if isinstance(leg, LocalLeg):
                leg.two.ari_app = app_name
                leg.two.ari_sticky = True
                leg.subscribe_one = app_name
            else:
                leg.chan.ari_app = app_name
        return _ok(channel_json(leg.chan, callerid or ("", "")))

    async def get_channel(self, request: web.Request) -> web.Response:
        chan = self.chan_or_404(request)
        return chan if isinstance(chan, web.Response) else _ok(channel_json(chan))

    async def delete_channel(self, request: web.Request) -> web.Response:
        chan = self.chan_or_404(request)
        if isinstance(chan, web.Response):
            return chan
        code = request.query.get("reason_code", "")
        cause = int(code) if code.isdigit() else _CAUSES.get(request.query.get("reason", ""), 16)
        self.sim.hangup_channel(chan, cause, soft=32)
        return _no_content()

    async def continue_(self, request: web.Request) -> web.Response:
        chan = self.chan_or_404(request)
        if isinstance(chan, web.Response):
            return chan
        ex = chan.owner
        if not isinstance(ex, Exec) or ex.mode != "stasis":
            return _error(409, "Channel not in Stasis application")
        q = request.query
        prio = q.get("priority", "1")
        self.sim.world.runner.continue_at(
            chan,
            q.get("context", chan.context),
            q.get("extension", chan.exten),
            int(prio) if prio.isdigit() else 1,
        )
        return _no_content()

    async def answer(self, request: web.Request) -> web.Response:
        chan = self.chan_or_404(request)
        if isinstance(chan, web.Response):
            return chan
        if chan.state is not ChanState.UP:
            chan.set_state(ChanState.UP)
            self.sim.world.emit.newstate(chan)
        return _no_content()

    async def play(self, request: web.Request) -> web.Response:
        chan = self.chan_or_404(request)
        if isinstance(chan, web.Response):
            return chan
        media = request.query.get("media", "")
        pid = request.query.get("playbackId", "") or f"pb-{self.sim.world.rng.getrandbits(48):x}"
        playback = {
            "id": pid,
            "media_uri": media,
            "target_uri": f"channel:{chan.uniqueid}",
            "language": "en",
            "state": "queued",
        }
        self.sim.ari_hub.playback(chan, playback, self.sim.config.playback_seconds)
        return _ok(playback, status=201)

    async def get_var(self, request: web.Request) -> web.Response:
        chan = self.chan_or_404(request)
        if isinstance(chan, web.Response):
            return chan
        name = request.query.get("variable", "")
        if not name:
            return _error(400, "Variable name is required")
        if name not in chan.variables:
            return _error(404, "Provided variable was not found")
        return _ok({"value": chan.variables[name]})

    async def set_var(self, request: web.Request) -> web.Response:
        chan = self.chan_or_404(request)
        if isinstance(chan, web.Response):
            return chan
        name = request.query.get("variable", "")
        if not name:
            return _error(400, "Variable name is required")
        self.sim.world.emit.varset(chan, name, request.query.get("value", ""))
        return _no_content()


def add_routes(app: web.Application, sim: SimAsterisk) -> None:
    h = _Channels(sim)
    r = app.router
    r.add_get("/ari/applications", h.applications)
    r.add_get("/ari/channels", h.list_channels)
    r.add_post("/ari/channels", h.originate)
    r.add_get("/ari/channels/{id}", h.get_channel)
    r.add_delete("/ari/channels/{id}", h.delete_channel)
    r.add_post("/ari/channels/{id}/continue", h.continue_)
    r.add_post("/ari/channels/{id}/answer", h.answer)
    r.add_post("/ari/channels/{id}/play", h.play)
    r.add_get("/ari/channels/{id}/variable", h.get_var)
    r.add_post("/ari/channels/{id}/variable", h.set_var)
    _admin_routes(app, sim)


class _Admin:
    """The simulator's own routes: faults, counters, agents."""

    def __init__(self, sim: SimAsterisk) -> None:
        self.sim = sim

    async def fault(self, request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        seconds = float(request.query.get("seconds", "0") or 0)
        faults = self.sim.faults
        if kind == "drop_ami":
            return _ok({"dropped": await faults.drop_ami()})
        if kind == "drop_ari":
            return _ok({"dropped": await faults.drop_ari()})
        if kind == "restart":
            await faults.restart()
        elif kind == "crash":
            await faults.crash()
        elif kind == "malformed":
            await faults.malformed_frame()
        elif kind in ("stall", "delay"):
            (faults.stall if kind == "stall" else faults.delay_responses)(seconds)
        else:
            return _error(404, f"unknown fault {kind}")
        return _ok({"fault": kind})

    async def stats(self, request: web.Request) -> web.Response:
        return _ok(self.sim.stats())

    async def counts(self, request: web.Request) -> web.Response:
        return _ok(dict(self.sim.originate_counts))

    async def agents(self, request: web.Request) -> web.Response:
        op = request.match_info["op"]
        queue, name = request.query.get("queue", ""), request.query.get("name", "")
        world = self.sim.world
        if op == "login":
            done = world.login_agent(queue, name) is not None
        elif op == "logout":
            done = world.logout_agent(queue, name) is not None
        elif op in ("pause", "unpause"):
            done = world.pause_agent(queue, name, op == "pause", request.query.get("reason", ""))
        else:
            return _error(404, f"unknown operation {op}")
        return _ok({"ok": done}, status=200 if done else 409)


def _admin_routes(app: web.Application, sim: SimAsterisk) -> None:
    h = _Admin(sim)
    app.router.add_post("/sim/faults/{kind}", h.fault)
    app.router.add_get("/sim/stats", h.stats)
    app.router.add_get("/sim/counts", h.counts)
    app.router.add_post("/sim/agents/{op}", h.agents)
