"""The simulated world: clock, seeded randomness, channels, carriers, trunks, queues, counters.

One :class:`World` per simulator. Time is the event loop's monotonic clock, scaled by
``time_scale`` (simulated durations are multiplied by it before ``loop.call_later``); the
simulated wall clock starts at the injected ``wall_start``. All randomness comes from one
``random.Random(seed)``. The world places originates (:meth:`originate`), draws what carriers and
agents do, and offers the agent API of :class:`asterisk_sim.SimAsterisk`. It must not own sockets:
the protocol servers plug in as the AMI and ARI sinks.
"""

from __future__ import annotations

import asyncio
import collections
import random
from collections.abc import Callable
from typing import Any

from asterisk_sim.astdb import AstDb
from asterisk_sim.channels import Channel, ChannelRegistry
from asterisk_sim.config import CarrierProfile, SimConfig, TrunkConfig
from asterisk_sim.dialplan import Dialplan
from asterisk_sim.directdial import DirectDial
from asterisk_sim.emit import AmiSink, AriSink, Emitter, NullAri
from asterisk_sim.errors import DialStringError
from asterisk_sim.legs import Leg, LocalLeg, SipLeg, SipPlan
from asterisk_sim.originate import OriginateDial, OriginateRequest, SyncReply, parse_dial_string
from asterisk_sim.queues import Member, Queue, QueueCall, Queues, agent_plan
from asterisk_sim.runner import Runner


class _Trunk:
    """Capacity and calls-per-second accounting of one trunk."""

    def __init__(self, config: TrunkConfig) -> None:
        self.config = config
        self.recent: collections.deque[float] = collections.deque()
        self.legs: set[Leg] = set()

    def admit(self, now: float, scale: float) -> bool:
        if len(self.legs) >= self.config.channels:
            self.legs = {leg for leg in self.legs if not leg.chan.gone}
        while self.recent and now - self.recent[0] > scale:
            self.recent.popleft()
        if len(self.legs) >= self.config.channels or len(self.recent) >= self.config.cps:
            return False
        self.recent.append(now)
        return True


AMD_CONF_TOTAL_MS = 3000  # asterisk_conf/amd.conf total_analysis_time


class World:
    """Everything behind the protocol servers."""

    def __init__(
        self,
        config: SimConfig,
        loop: asyncio.AbstractEventLoop,
        wall_start: float,
        ami: AmiSink,
        ari: AriSink | None = None,
    ) -> None:
        self.config = config
        self.loop = loop
        self.rng = random.Random(config.seed)
        self.scale = config.time_scale
        self._mono0 = loop.time()
        self._wall0 = wall_start
        self.channels = ChannelRegistry(int(wall_start))
        self.dialplan = Dialplan(config.trace_contexts)
        self.emit = Emitter(ami, ari or NullAri(), self.sim_now, config.varset_events)
        self.astdb = AstDb(self.sim_now, self.scale)
        self.emit.on_hangup = self.astdb.hung_up
        self.runner = Runner(self)
        self.queues = Queues(self)
        self.trunks = {t.name: _Trunk(t) for t in config.trunks}
        self.dials: set[OriginateDial] = set()
        self.originate_counts: collections.Counter[str] = collections.Counter()
        self.agent_connects: set[str] = set()  # linkedids of callers that reached an agent
        # linkedid -> loop time just before its AgentConnect was written (latency witness)
        self.agent_connected_at: dict[str, float] = {}
        self.originates = 0
        self.stasis_hooks: Any = None
        self.queues.configure(config.queues)
        if config.trace_contexts:
            self._trace_queues()

    # -- time ---------------------------------------------------------------------------------
    def mono(self) -> float:
        return self.loop.time()

    def sim_now(self) -> float:
        """The simulated wall clock (epoch seconds), running ``1/time_scale`` times faster."""
        return self._wall0 + (self.loop.time() - self._mono0) / self.scale

    def later(self, seconds: float, fn: Callable[..., Any], *args: Any) -> asyncio.TimerHandle:
        return self.loop.call_later(max(seconds, 0.0) * self.scale, fn, *args)

    # -- originate ----------------------------------------------------------------------------
    def originate(
        self, req: OriginateRequest, reply: SyncReply | None = None, defer: bool = False
    ) -> OriginateDial:
        """Place a call; failures are reported through OriginateResponse or ``reply``.

        ``defer`` starts the dial on the next loop iteration (ARI answers first).
        """
        self.originates += 1
        for key in {req.action_id, req.channel_id} - {""}:
            self.originate_counts[key] += 1
        dial = OriginateDial(self, req, reply)
        try:
            target = parse_dial_string(req.channel)
        except DialStringError:
            dial.leg_failed_early()
            return dial
        variables = req.variables
        if target.tech == "Local":
            leg: Leg = LocalLeg(
                self,
                dial,
                target.resource,
                target.location,
                None,
                variables,
                req.callerid,
                (req.channel_id or None, req.other_channel_id or None),
            )
        else:
            plan = self._trunk_plan(target.location, target.resource)
            if plan is None:
                dial.leg_failed_early()
                return dial
            sip = SipLeg(
                self,
                dial,
                target.location,
                target.resource,
                plan,
                None,
                variables,
                req.callerid,
                req.channel_id or None,
            )
            self.trunks[target.location].legs.add(sip)
            leg = sip
        dial.leg = leg
        if defer:
            self.loop.call_soon(dial.start, leg)
        else:
            dial.start(leg)
        return dial

    def _trunk_plan(self, trunk_name: str, number: str) -> SipPlan | None:
        trunk = self.trunks.get(trunk_name)
        if trunk is None or not number:
            return None
        profile = self.carrier_for(number)
        if not trunk.admit(self.mono(), self.scale):
            return SipPlan("congestion", 0.0, 0.0, None)
        return self.draw_plan(profile)

    def carrier_for(self, number: str) -> CarrierProfile:
        digits = number.lstrip("+")
        best: CarrierProfile | None = None
        for profile in self.config.carriers:
            prefix = profile.prefix.lstrip("+")
            if digits.startswith(prefix) and (best is None or len(prefix) > len(best.prefix)):
                best = profile
        return best or CarrierProfile()

    def draw_plan(self, profile: CarrierProfile) -> SipPlan:
        rng = self.rng
        weights = profile.weights()
        outcome = rng.choices([n for n, _ in weights], [w for _, w in weights])[0]
        return SipPlan(
            outcome=outcome,
            post_dial_delay=profile.post_dial_delay.sample(rng),
            ring_time=profile.ring_time.sample(rng),
            hold_time=profile.callee_hangup.sample(rng),
            amd_time=profile.amd_time.sample(rng),
            jitter_ms=profile.jitter_ms.sample(rng),
            loss_pct=profile.loss_pct.sample(rng),
            rtt_ms=profile.rtt_ms.sample(rng),
        )

    @property
    def calls_in_flight(self) -> int:
        self.dials = {d for d in self.dials if d.leg is not None and not d.leg.chan.gone}
        return len(self.dials)

    # -- queue members ------------------------------------------------------------------------
    def member_leg(
        self,
        call: QueueCall | DirectDial,
        member: Member,
        caller: Channel,
        dial_app: str = "AppQueue",
    ) -> Leg:
        """The leg that rings a member's phone for ``call`` (a queue caller, or the ``Dial()`` of
        an agent-only callback, which names the application ``AppDial``)."""
        if member.is_local:
            target = parse_dial_string(member.interface)
            return LocalLeg(
                self,
                call,
                target.resource,
                target.location,
                caller,
                (),
                (caller.cid_num, caller.cid_name),
                dial_app=dial_app,
                suffix="/" + target.options if target.options else "",
            )
        endpoint = member.interface.partition("/")[2]
        return SipLeg(
            self,
            call,
            endpoint,
            "",
            agent_plan(self, self.queues.queues[member.queue]),
            caller,
            (),
            (caller.cid_num, caller.cid_name),
            dial_app=dial_app,
        )

    def login_agent(self, queue: str, name: str, interface: str = "") -> Member | None:
        """Log an agent in (``name`` like ``Agent 101`` or ``101``); adds it when unknown."""
        iface = interface or self._interface_for(queue, name)
        return self.queues.login(queue, iface, _member_name(name))

    def logout_agent(self, queue: str, name: str, interface: str = "") -> Member | None:
        return self.queues.remove(queue, interface or self._interface_for(queue, name))

    def pause_agent(self, queue: str, name: str, paused: bool = True, reason: str = "") -> bool:
        iface = self._interface_for(queue, name)
        return bool(self.queues.pause(queue, iface, paused, reason))

    def queue(self, name: str) -> Queue | None:
        return self.queues.queues.get(name)

    def _interface_for(self, queue: str, name: str) -> str:
        q = self.queues.queues.get(queue)
        wanted = _member_name(name)
        if q is not None:
            for member in q.members.values():
                if member.name == wanted or member.interface == name:
                    return member.interface
        return f"PJSIP/agent-{wanted.removeprefix('Agent ')}"

    def _trace_queues(self) -> None:
        from asterisk_sim.config import AgentConfig, Dist, QueueConfig

        if "sales" not in self.queues.queues:
            sales = QueueConfig(
                "sales",
                tuple(
                    AgentConfig(ext=e, interface=f"Local/{e}@sim-member/n") for e in ("201", "202")
                ),
                talk_time=Dist.fixed(4.0),
                wrapup=0.0,
            )
            self.queues.configure((sales,))
        if "support" not in self.queues.queues:
            support = QueueConfig(
                "support",
                (AgentConfig(ext="301", interface="Local/301@sim-member/n"),),
                wrapup=0.0,
            )
            self.queues.configure((support,))

    # -- AMD, RTCP, Stasis --------------------------------------------------------------------
    def amd_result(self, leg: Leg, total_ms: int | None = None) -> tuple[str, str, float]:
        """AMD()'s verdict on ``leg`` and the seconds it takes, within ``total_ms`` (AMD()'s
        fourth argument; None: amd.conf's 3000). A verdict that would come later is NOTSURE at
        the bound, as app_amd's wall-clock check gives it (``TOOLONG-<ms>``)."""
        total = AMD_CONF_TOTAL_MS if total_ms is None else total_ms
        if isinstance(leg, SipLeg):
            if leg.plan.outcome == "machine":
                status, cause, took = "MACHINE", "LONGGREETING-800-800", leg.plan.amd_time
            else:
                status, cause, took = "HUMAN", "HUMAN-500-800", leg.plan.amd_time
            if took * 1000 <= total:
                return (status, cause, took)
            return ("NOTSURE", f"TOOLONG-{total}", total / 1000)
        # As the real Asterisk 22 did on a Local callee that said "Hello?" and then sent no
        # frames: NOTSURE once the total analysis time has passed on the wall clock
        # (tests/asterisk_real); the dialplan sends it on to the queue like HUMAN.
        return ("NOTSURE", f"TOOLONG-{total}", total / 1000)

    def emit_rtcp(self, chan: Channel, plan: SipPlan) -> None:
        rng = self.rng
        jitter = int(plan.jitter_ms * 8 * rng.uniform(0.7, 1.3))  # 8 kHz timestamp units
        lost = int(plan.loss_pct / 100 * 256 * rng.uniform(0.5, 1.5))
        rtt = plan.rtt_ms / 1000 * rng.uniform(0.8, 1.2)
        ssrc = f"{rng.getrandbits(32)}"
        report = (
            f"SSRC: {ssrc}\r\nReportCount: 1\r\nReport0SourceSSRC: {rng.getrandbits(32)}\r\n"
            f"Report0FractionLost: {min(lost, 255)}\r\nReport0CumulativeLost: {lost * 3}\r\n"
            f"Report0HighestSequence: {rng.randint(1000, 60000)}\r\n"
            f"Report0SequenceNumberCycles: 0\r\nReport0IAJitter: {jitter}\r\n"
            f"Report0LSR: {rng.getrandbits(32)}\r\nReport0DLSR: {rng.uniform(0, 2):.4f}\r\n"
        )
        self.emit.chan(
            "RTCPSent", chan, f"To: 127.0.0.1:10000\r\nPT: 200(SR)\r\n{report}", "reporting,all"
        )
        self.emit.chan(
            "RTCPReceived",
            chan,
            f"From: 127.0.0.1:10000\r\nRTT: {rtt:.4f}\r\nPT: 201(RR)\r\n{report}",
            "reporting,all",
        )

    def ari_has_app(self, app: str) -> bool:
        return bool(self.stasis_hooks is not None and self.stasis_hooks.has_app(app))

    def enter_stasis(self, chan: Channel, app: str, args: tuple[str, ...]) -> None:
        if self.stasis_hooks is not None:
            self.stasis_hooks.stasis_start(chan, app, args)

    def leave_stasis(self, chan: Channel) -> None:
        if self.stasis_hooks is not None:
            self.stasis_hooks.stasis_end(chan)

    # -- faults -------------------------------------------------------------------------------
    def hang_up_everything(self, hangup: Callable[[Channel], None]) -> None:
        """``core restart now``/``core stop now``: every channel is hung up with no cause.

        As Asterisk 22 does it (tests/asterisk_real/traces/ami-core-restart.txt): a ringing
        originate ends with every cause 0, ``DialStatus: NOANSWER``, ``Cdr NO ANSWER`` and
        ``OriginateResponse`` Failure ``Reason: 0``; an answered channel with ``Cause: 0``.
        """
        for dial in list(self.dials):
            leg = dial.leg
            if leg is not None and not leg.answered and not leg.done:
                leg.cancel(0)
                dial.shut_down()
        self.dials.clear()
        for chan in list(self.channels):
            if not chan.gone:
                hangup(chan)

    def restart(self, wall_now: float) -> None:
        """All channels vanish without events; queues forget callers; ids start again."""
        for chan in list(self.channels):
            self.runner.abort(chan)
        self.channels.reset(int(wall_now))
        self.dials.clear()
        for queue in self.queues.queues.values():
            for call in queue.waiting:
                if call.timer is not None:
                    call.timer.cancel()
            queue.waiting.clear()
        self.queues = Queues(self)
        self.queues.configure(self.config.queues)
        if self.config.trace_contexts:
            self._trace_queues()


def _member_name(name: str) -> str:
    return name if not name.isdigit() else f"Agent {name}"
