"""The dialplan runner: executes the steps of :mod:`asterisk_sim.dialplan` on channels.

Each running channel has one :class:`Exec` (its position, its one pending timer, what it is
blocked in: a Wait, a Queue, Stasis, a bridge). Steps that finish at once run in a loop; a step
that takes time schedules exactly one ``loop.call_at`` through the world and returns. The
*callee* half of a Local pair drives its leg (Ringing, Answer, Busy …); the *caller* side (the
originated channel after answer) runs the destination and reacts to far-end hangups. This module
must not format events itself (the emitter does) nor draw outcomes (the world does).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from asterisk_sim.channels import Channel, ChanState
from asterisk_sim.dialplan import Extension, Step, substitute
from asterisk_sim.directdial import DirectDial

if TYPE_CHECKING:
    from asterisk_sim.legs import Leg, LocalLeg
    from asterisk_sim.world import World


class Exec:
    """Where one channel is in the dialplan and what it waits for."""

    __slots__ = ("callee", "chan", "index", "leg", "mode", "queue_call", "ran", "steps", "timer")

    def __init__(self, chan: Channel, steps: Extension, leg: Leg, callee: bool) -> None:
        self.chan = chan
        self.steps = steps
        self.index = 0
        self.leg = leg
        self.callee = callee
        self.mode = "run"
        self.timer: asyncio.TimerHandle | None = None
        self.queue_call: Any = None
        self.ran = False

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class Runner:
    """Runs dialplan on channels of one world."""

    def __init__(self, world: World) -> None:
        self.world = world

    # -- entry points -------------------------------------------------------------------------
    def start_callee(self, leg: LocalLeg, chan: Channel, context: str, exten: str) -> None:
        steps = self.world.dialplan.lookup(context, exten)
        assert steps is not None
        ex = Exec(chan, steps, leg, callee=True)
        chan.owner = ex
        self._run(ex)

    def start_caller(self, leg: Leg, context: str, exten: str, priority: int) -> None:
        """The originated channel enters its destination after answer."""
        chan = leg.chan
        chan.set_location(context, exten, priority)
        steps = self.world.dialplan.lookup(context, exten) or ()
        ex = Exec(chan, steps, leg, callee=False)
        ex.index = max(priority - 1, 0)
        chan.owner = ex
        self._run(ex)

    def start_application(self, leg: Leg, app: str, data: str) -> None:
        """Originate with Application/Data: run that one application, then hang up."""
        chan = leg.chan
        ex = Exec(chan, (Step(app, data),), leg, callee=False)
        chan.owner = ex
        ex.ran = True
        ex.index = 1
        chan.app, chan.app_data = app, data
        if self._run_app(ex, app, data):
            self._end(ex)

    def enter_stasis(self, leg: Leg, app: str, args: tuple[str, ...]) -> None:
        chan = leg.chan
        ex = Exec(chan, (), leg, callee=False)
        chan.owner = ex
        ex.ran = True
        if self._stasis(ex, app, args, f"{app},{','.join(args)}"):
            self.hangup_caller(chan, 0)

    def resume(self, ex: Exec) -> None:
        if ex.chan.gone:
            return
        ex.mode = "run"
        self._run(ex)

    def continue_at(self, chan: Channel, context: str, exten: str, priority: int) -> None:
        """ARI ``continue``: leave Stasis and run the given place."""
        ex = chan.owner
        if not isinstance(ex, Exec) or ex.mode != "stasis":
            return
        self.world.leave_stasis(chan)
        ex.steps = self.world.dialplan.lookup(context, exten) or ()
        ex.index = max(priority - 1, 0)
        chan.set_location(context, exten, priority)
        self.resume(ex)

    def abort(self, chan: Channel) -> None:
        """Stop whatever the channel runs, silently (its leg is tearing it down)."""
        ex = chan.owner
        if isinstance(ex, Exec):
            ex.cancel_timer()
            ex.mode = "gone"

    # -- the loop -----------------------------------------------------------------------------
    def _run(self, ex: Exec) -> None:
        chan = ex.chan
        while not chan.gone and ex.mode == "run":
            if ex.index >= len(ex.steps):
                self._end(ex)
                return
            step = ex.steps[ex.index]
            ex.index += 1
            if step.when is not None and not step.when(chan.variables):
                continue
            ex.ran = True
            chan.set_priority(ex.index)
            if step.compute is not None:
                data = step.compute(self._vars(chan))
            else:
                data = substitute(step.data, self._vars(chan)) if "${" in step.data else step.data
            self.world.emit.newexten(chan, step.app, data)
            if not self._run_app(ex, step.app, data):
                return

    def _vars(self, chan: Channel) -> dict[str, str]:
        merged = dict(chan.variables)
        merged["EXTEN"] = chan.exten
        merged["CHANNEL"] = chan.name
        merged["RAND"] = str(self.world.rng.randint(1, 5))
        merged["EPOCH"] = str(int(self.world.sim_now()))
        merged["NOW"] = f"{self.world.sim_now():.3f}"  # ${STRFTIME(,,%s.%3q)}
        return merged

    def _end(self, ex: Exec) -> None:
        """The dialplan ran out: Asterisk hangs the channel up."""
        leg = ex.leg
        if ex.callee:
            leg_local: Any = leg
            leg_local.remote_hangup(16 if ex.ran else 0)
        else:
            self.hangup_caller(ex.chan, 16 if ex.ran and ex.steps else 0)

    def hangup_caller(self, chan: Channel, cause: int, soft: int = 16) -> None:
        """The caller-side channel hangs up (dialplan Hangup, AMI Hangup, ARI DELETE)."""
        ex = chan.owner
        leg = ex.leg if isinstance(ex, Exec) else None
        if isinstance(ex, Exec):
            ex.cancel_timer()
        react = (lambda: self._react(ex)) if isinstance(ex, Exec) else None
        if leg is not None:
            leg.near_hangup(cause, soft, react)
        if isinstance(ex, Exec):
            ex.mode = "gone"

    def far_hangup(self, chan: Channel) -> None:
        """The other end hung up: stop what the channel runs and say so (queue, stasis …)."""
        ex = chan.owner
        if isinstance(ex, Exec):
            ex.cancel_timer()
            self._react(ex)
            ex.mode = "gone"

    def _react(self, ex: Exec) -> None:
        if ex.mode in ("queue", "dial", "bridge") and ex.queue_call is not None:
            ex.queue_call.caller_gone()
        elif ex.mode == "stasis":
            self.world.leave_stasis(ex.chan)
        ex.mode = "gone"

    # -- applications -------------------------------------------------------------------------
    def _run_app(self, ex: Exec, app: str, data: str) -> bool:
        """Run one application; True when the next step can run at once."""
        chan = ex.chan
        leg: Any = ex.leg
        if app in ("NoOp", "Verbose", "Log"):
            return True
        if app == "Ringing":
            if ex.callee:
                leg.remote_ringing()
            return True
        if app == "Answer":
            if ex.callee:
                leg.remote_answer()
            elif chan.state is not ChanState.UP:
                chan.set_state(ChanState.UP)
                self.world.emit.newstate(chan)
            return True
        if app in ("Wait", "Playback"):
            seconds = _seconds(data) if app == "Wait" else self.world.config.playback_seconds
            self._sleep(ex, seconds)
            return False
        if app in ("Busy", "Congestion"):
            status = "BUSY" if app == "Busy" else "CONGESTION"
            if ex.callee:
                leg.remote_busy(status)
            else:
                self.hangup_caller(chan, 17 if app == "Busy" else 34)
            return False
        if app == "Hangup":
            cause = int(data) if data.isdigit() else 16
            if ex.callee:
                leg.remote_hangup(cause)
            else:
                self.hangup_caller(chan, cause)
            return False
        return self._run_app2(ex, app, data)

    def _run_app2(self, ex: Exec, app: str, data: str) -> bool:
        chan = ex.chan
        if app == "UserEvent":
            name, *pairs = data.split(",")
            fields = [tuple(p.split(": ", 1)) if ": " in p else (p, "") for p in pairs]
            self.world.emit.user_event(chan, name, [(k, v) for k, v in fields])
            return True
        if app == "Set":
            var, _, value = data.partition("=")
            self.world.emit.varset(chan, var, value)
            return True
        if app == "AMD":
            ex.mode = "wait"
            status, cause, delay = self.world.amd_result(ex.leg, _amd_total_ms(data))
            ex.timer = self.world.later(delay, self._amd_done, ex, status, cause)
            return False
        if app == "Queue":
            parts = data.split(",")
            timeout = _seconds(parts[4]) if len(parts) > 4 and parts[4] else 300.0
            ex.mode = "queue"
            self.world.queues.enter(ex, parts[0], timeout)
            return False
        if app == "Dial":
            DirectDial(self.world, ex, data).start()
            return False
        if app == "Stasis":
            name, *args = data.split(",")
            return self._stasis(ex, name, tuple(args), data)
        return True

    def _stasis(self, ex: Exec, app: str, args: tuple[str, ...], data: str) -> bool:
        chan = ex.chan
        chan.app, chan.app_data = "Stasis", data
        if not self.world.ari_has_app(app):
            self.world.emit.varset(chan, "STASISSTATUS", "FAILED")
            return True
        ex.mode = "stasis"
        self.world.enter_stasis(chan, app, args)
        return False

    def _amd_done(self, ex: Exec, status: str, cause: str) -> None:
        ex.timer = None
        if ex.chan.gone:
            return
        self.world.emit.varset(ex.chan, "AMDSTATUS", status)
        self.world.emit.varset(ex.chan, "AMDCAUSE", cause)
        self.resume(ex)

    def _sleep(self, ex: Exec, seconds: float) -> None:
        ex.mode = "wait"
        ex.timer = self.world.later(seconds, self._wake, ex)

    def _wake(self, ex: Exec) -> None:
        ex.timer = None
        self.resume(ex)


def _amd_total_ms(data: str) -> int | None:
    """AMD()'s fourth argument, the total analysis time (None: amd.conf's)."""
    parts = data.split(",")
    if len(parts) < 4 or not parts[3].strip():
        return None
    try:
        return max(int(float(parts[3])), 0)
    except ValueError:
        return None


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0
