"""The simulated dialplan: contexts as data, extension matching and ``${VAR}`` substitution.

Holds the trace contexts (``sim-carrier`` … ``sim-amd``, as the traces README describes them) and
the production contract context ``dialer-outbound``. A step may carry a condition on channel
variables; a false condition skips the step but keeps its priority number, like a ``GotoIf``.
This module must not run anything: :mod:`asterisk_sim.apps` executes the steps.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping

Cond = Callable[[Mapping[str, str]], bool]


@dataclasses.dataclass(frozen=True, slots=True)
class Step:
    """One priority: an application, its data template, and an optional condition."""

    app: str
    data: str = ""
    when: Cond | None = None


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


def _connected(v: Mapping[str, str]) -> bool:
    """Queue() bridged the caller to an agent (Asterisk leaves QUEUESTATUS empty then)."""
    return v.get("__CONNECTED", "") == "1"


_DIALER_OUTBOUND: Extension = (
    Step("NoOp", "dialer attempt ${DIALER_ATTEMPT_ID}"),
    Step("AMD", "", _is("DIALER_AMD", "1")),
    Step(
        "UserEvent",
        "AMDResult,AttemptId: ${DIALER_ATTEMPT_ID},AMDSTATUS: ${AMDSTATUS},AMDCAUSE: ${AMDCAUSE}",
        _is("DIALER_AMD", "1"),
    ),
    Step("Hangup", "", _is("AMDSTATUS", "MACHINE")),
    Step("Queue", "${DIALER_QUEUE},,,,${DIALER_CONNECT_TIMEOUT}"),
    Step("Hangup", "", _connected),
    Step(
        "UserEvent", "DialerAbandoned,AttemptId: ${DIALER_ATTEMPT_ID},QueueStatus: ${QUEUESTATUS}"
    ),
    Step("Playback", "dialer-identification"),
    Step("Hangup"),
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
