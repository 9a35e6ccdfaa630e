"""The simulated dialplan: contexts as data, extension matching and ``${VAR}`` substitution.

Holds the trace contexts (``sim-carrier`` … ``sim-amd``, as the traces README describes them) and
the production contract context ``dialer-outbound``. A step may carry a condition on channel
variables; a false condition skips the step but keeps its priority number, like a ``GotoIf``.
This module must not run anything: :mod:`asterisk_sim.apps` executes the steps.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping

Cond = Callable[[Mapping[str, str]], bool]


@dataclasses.dataclass(frozen=True, slots=True)
class Step:
    """One priority: an application, its data template, and an optional condition."""

    app: str
    data: str = ""
    when: Cond | None = None
    # The data computed from the channel's variables (and ``NOW``, the wall clock with
    # milliseconds), for the ``$[…]`` arithmetic of the real dialplan; replaces ``data``.
    compute: Callable[[Mapping[str, str]], str] | None = None


Extension = tuple[Step, ...]

_VAR = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def substitute(template: str, variables: Mapping[str, str]) -> str:
    """Replace ``${NAME}`` with the channel variable (empty when unset)."""
    if "${" not in template:
        return template
    return _VAR.sub(lambda m: variables.get(m.group(1), ""), template)


def _carrier(kind: str, *steps: Step) -> Extension:
    return (Step("NoOp", f"sim-carrier {kind} ${{EXTEN}}"), *steps)


_TRACE_CARRIER: dict[str, Extension] = {
    "1": _carrier(
        "answered",
        Step("Ringing"),
        Step("Wait", "2"),
        Step("Answer"),
        Step("Wait", "20"),
        Step("Hangup"),
    ),
    "2": _carrier("busy", Step("Busy")),
    "3": _carrier("no-answer", Step("Ringing"), Step("Wait", "60")),
    "4": _carrier("congestion", Step("Congestion")),
    "5": _carrier("failure", Step("Hangup", "34")),
    "6": _carrier(
        "short answered",
        Step("Ringing"),
        Step("Wait", "1"),
        Step("Answer"),
        Step("Wait", "6"),
        Step("Hangup"),
    ),
    "8": _carrier("instant", Step("Answer"), Step("Wait", "1"), Step("Hangup")),
    "9": _carrier(
        "random", Step("Ringing"), Step("Answer"), Step("Wait", "${RAND}"), Step("Hangup")
    ),
}


def _is(var: str, value: str) -> Cond:
    return lambda v: v.get(var, "") == value


def _has(var: str) -> Cond:
    return lambda v: v.get(var, "") != ""


def _no(var: str) -> Cond:
    return lambda v: v.get(var, "") == ""


def _connected(v: Mapping[str, str]) -> bool:
    """Queue() bridged the caller to an agent (Asterisk leaves QUEUESTATUS empty then)."""
    return v.get("__CONNECTED", "") == "1"


def _number(variables: Mapping[str, str], name: str) -> float:
    try:
        return float(variables.get(name, "") or 0)
    except ValueError:
        return 0.0


def _connect_by(v: Mapping[str, str]) -> str:
    """``CONNECT_BY=$[${STRFTIME(,,%s.%3q)} + ${DIALER_CONNECT_TIMEOUT}]``."""
    return f"CONNECT_BY={_number(v, 'NOW') + _number(v, 'DIALER_CONNECT_TIMEOUT'):.3f}"


def _amd_bound(v: Mapping[str, str]) -> str:
    """``AMD(,,,$[${DIALER_CONNECT_TIMEOUT} * 1000 - 1000])``: the total analysis time."""
    return f",,,{_number(v, 'DIALER_CONNECT_TIMEOUT') * 1000 - 1000:g}"


def _queue_wait(v: Mapping[str, str]) -> str:
    """``QUEUE_WAIT=$[FLOOR(${CONNECT_BY} - now + 0.2)]``, at least 1."""
    left = math.floor(_number(v, "CONNECT_BY") - _number(v, "NOW") + 0.2)
    return f"QUEUE_WAIT={max(left, 1)}"


# asterisk_conf/extensions.conf's [dialer-outbound], step for step (GotoIfs as conditions).
_DIALER_OUTBOUND: Extension = (
    Step("NoOp", "dialer attempt ${DIALER_ATTEMPT_ID}"),
    Step("Set", compute=_connect_by),
    Step("AMD", when=_is("DIALER_AMD", "1"), compute=_amd_bound),
    Step(
        "UserEvent",
        "AMDResult,AttemptId: ${DIALER_ATTEMPT_ID},AMDSTATUS: ${AMDSTATUS},AMDCAUSE: ${AMDCAUSE}",
        _is("DIALER_AMD", "1"),
    ),
    Step("Hangup", "", _is("AMDSTATUS", "MACHINE")),
    Step("Set", compute=_queue_wait),
    Step(
        "Queue",
        "${DIALER_QUEUE},b(dialer-agent-predial^s^1),,,${QUEUE_WAIT}",
        _no("DIALER_AGENT_INTERFACE"),
    ),
    # an agent-only callback: Dial() of its member (asterisk_sim.directdial), not the queue
    Step(
        "Dial",
        "${DIALER_AGENT_INTERFACE},${QUEUE_WAIT},U(dialer-agent-connect"
        "^${DIALER_ATTEMPT_ID}^${DIALER_QUEUE}^${DIALER_AGENT_INTERFACE})",
        _has("DIALER_AGENT_INTERFACE"),
    ),
    Step("Hangup", "", _connected),
    Step(
        "UserEvent",
        "DialerAbandoned,AttemptId: ${DIALER_ATTEMPT_ID},QueueStatus: ${QUEUESTATUS}",
        _no("DIALER_AGENT_INTERFACE"),
    ),
    Step(
        "UserEvent",
        "DialerAbandoned,AttemptId: ${DIALER_ATTEMPT_ID},QueueStatus: ${DIALSTATUS}",
        _has("DIALER_AGENT_INTERFACE"),
    ),
    Step("Playback", "dialer-identification"),
    Step("Hangup"),
)

# Dial's U() subroutine on the agent's channel (ARG1 attempt, ARG2 queue, ARG3 interface); run by
# asterisk_sim.directdial once the agent answers.
AGENT_CONNECT: Extension = (
    Step("UserEvent", "DialerAgentConnect,AttemptId: ${ARG1},Queue: ${ARG2},Interface: ${ARG3}"),
    Step("Set", "MASTER_CHANNEL(MEMBERNAME)=${ARG3}"),
    Step("Return"),
)

_MEMBER_ANSWERS: Extension = (
    Step("NoOp", "agent ${EXTEN} rings"),
    Step("Ringing"),
    Step("Wait", "1"),
    Step("Answer"),
    Step("Wait", "4"),
    Step("Hangup"),
)

_STATIC: dict[tuple[str, str], Extension] = {
    ("sim-agent", "s"): (
        Step("NoOp", "sim-agent got ${CHANNEL} CAMPAIGN=${CAMPAIGN} LEAD_ID=${LEAD_ID}"),
        Step("Answer"),
        Step("Wait", "5"),
        Step("Hangup"),
    ),
    ("sim-hangup", "s"): (Step("Hangup"),),
    ("sim-queue", "s"): (Step("NoOp", "queue sales"), Step("Answer"), Step("Queue", "sales,,,,30")),
    ("sim-queue", "support"): (
        Step("NoOp", "queue support"),
        Step("Answer"),
        Step("Queue", "support,,,,30"),
    ),
    ("sim-member", "201"): _MEMBER_ANSWERS,
    ("sim-member", "202"): _MEMBER_ANSWERS,
    ("sim-member", "301"): (
        Step("NoOp", "agent ${EXTEN} never answers"),
        Step("Ringing"),
        Step("Wait", "60"),
    ),
    ("sim-stasis", "s"): (
        Step("Answer"),
        Step("Stasis", "dialer,from-dialplan,${CAMPAIGN}"),
        Step("Hangup"),
    ),
    ("sim-amd", "s"): (
        Step("NoOp", "AMD on ${CHANNEL}"),
        Step("Answer"),
        Step("AMD"),
        Step(
            "UserEvent",
            "AMDResult,AMDSTATUS: ${AMDSTATUS},AMDCAUSE: ${AMDCAUSE},LEAD_ID: ${LEAD_ID}",
        ),
        Step("Hangup"),
    ),
}

TRACE_CONTEXTS = frozenset(
    {"sim-carrier", "sim-agent", "sim-hangup", "sim-queue", "sim-member", "sim-stasis", "sim-amd"}
)
PRODUCTION_CONTEXTS = frozenset({"dialer-outbound"})


class Dialplan:
    """Lookup of extensions by (context, exten); trace contexts can be switched off."""

    def __init__(self, trace_contexts: bool = True) -> None:
        self._trace = trace_contexts

    def has_context(self, context: str) -> bool:
        if context in PRODUCTION_CONTEXTS:
            return True
        return self._trace and context in TRACE_CONTEXTS

    def lookup(self, context: str, exten: str) -> Extension | None:
        """The steps of an extension, or None when context or extension does not exist."""
        if context == "dialer-outbound":
            return _DIALER_OUTBOUND if exten == "s" else None
        if not self._trace:
            return None
        if context == "sim-carrier":
            if len(exten) == 5 and exten.isdigit():
                return _TRACE_CARRIER.get(exten[0])
            return None
        return _STATIC.get((context, exten))
