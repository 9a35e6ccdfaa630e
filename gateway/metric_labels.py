"""Label values of the gateway's metrics: fixed vocabularies, the cause classes, the guard.

Pure: no I/O, no clock, no registry. :class:`LabelGuard` decides whether a value may become a
label value; :class:`gateway.metrics.Metrics` drops (and counts) what it refuses, so a refused
value never raises on a production path.

A value must be a short slug (letters, digits, ``_ . : -``; no spaces, ``+`` or ``@``), must not
look like a phone number (seven or more digits with only ``.``/``-`` between them), must belong
to the fixed vocabulary of its label when there is one (outcome, state, link, window, class,
input), and
a free label (campaign, server, reason, disposition code) may take at most ``max_values``
distinct values.
"""

from __future__ import annotations

import re

from gateway.asterisk.ami.linkstate import LinkState
from gateway.asterisk.calls.state import CallInput, CallState
from gateway.asterisk.errors import GatewayError
from pacing.outcomes import Outcome
from pacing.snapshot import AgentState

OUTCOMES = frozenset(o.value for o in Outcome)
AGENT_STATES = frozenset(s.value for s in AgentState)
CAMPAIGN_STATES = frozenset({"ready", "running", "paused", "stopped", "completed"})
CALLER_ID_STATES = frozenset({"active", "resting", "retired"})
LINK_STATES = frozenset(s.value for s in LinkState)  # every state a link reports, ``closed`` too
LINKS = frozenset({"ami", "ari"})
WINDOWS = frozenset({"24h", "30d"})
CALL_STATES = frozenset(s.value for s in CallState)  # the call leg's states
CALL_INPUTS = frozenset(i.value for i in CallInput)  # … and the kinds of its inputs

# Q.850 cause → bounded class label. Ranges follow Q.850's own classes; the normal-event class
# (1–31) is split into the causes a dialer acts on.
_CAUSE_CLASSES: dict[int, str] = {
    16: "normal_clearing",
    31: "normal_clearing",
    17: "user_busy",
    18: "no_answer",
    19: "no_answer",
    21: "rejected",
    1: "invalid_number",
    2: "invalid_number",
    3: "invalid_number",
    22: "invalid_number",
    28: "invalid_number",
    20: "unreachable",
    27: "unreachable",
}
CAUSE_CLASSES = frozenset(
    {
        *_CAUSE_CLASSES.values(),
        "other_normal",
        "congestion",
        "service_unavailable",
        "protocol_error",
        "interworking",
        "unknown",
    }
)

_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_PHONE_LIKE = re.compile(r"[\d.-]+")
_IPV4 = re.compile(r"\d{1,3}(\.\d{1,3}){3}")

REFUSALS = frozenset({"malformed", "phone_number", "vocabulary", "bound"})
LABELS = frozenset(
    {"campaign", "server", "outcome", "state", "link", "window", "class", "reason", "code", "input"}
)
_NAME_MAX = 64


class UnboundedLabel(GatewayError, ValueError):
    """A label value that could explode the series count (a phone number, a name, an id)."""

    def __init__(self, label: str, value: str, kind: str, reason: str) -> None:
        super().__init__(f"metric label {label}={value!r} refused: {reason}")
        self.label = label if label in LABELS else "other"
        self.value = value
        self.kind = kind  # one of REFUSALS: the bounded label of dialer_metrics_dropped_total
        self.reason = reason


def _looks_like_phone(value: str) -> bool:
    """Seven or more digits with only ``.``/``-`` between them (an IPv4 address is not one)."""
    digits = sum(c.isdigit() for c in value)
    return digits >= 7 and bool(_PHONE_LIKE.fullmatch(value)) and not _IPV4.fullmatch(value)


def display_name(name: str) -> str:
    """A campaign's name as a label value: printable, one line, at most 64 characters.

    Names are free text chosen by people, so they get no slug check; they are bounded by the
    campaign label they travel with (one name per exported campaign).
    """
    cleaned = " ".join("".join(c if c.isprintable() else " " for c in name).split())
    return cleaned[:_NAME_MAX] or "-"


def pause_reason_label(reason: str) -> str:
    """A queue member's pause reason as a label value: the code if a short slug, else a class.

    ``none`` for a pause without a reason, ``other`` for one that is not a slug (free text typed
    at a phone) or looks like a number; the distinct codes are bounded by the guard's cap.
    """
    if not reason:
        return "none"
    if len(reason) > 32 or not _SLUG.fullmatch(reason) or _looks_like_phone(reason):
        return "other"
    return reason


def cause_class(cause: int | None) -> str:
    """Map a Q.850 cause code to its bounded class label (``unknown`` for 0, None or junk)."""
    if cause is None or cause <= 0 or cause > 127:
        return "unknown"
    if cause in _CAUSE_CLASSES:
        return _CAUSE_CLASSES[cause]
    if cause <= 31:
        return "other_normal"
    if cause <= 47:
        return "congestion"  # resource unavailable
    if cause <= 79:
        return "service_unavailable"  # service or option not available / not implemented
    if cause <= 111:
        return "protocol_error"  # invalid message / protocol error
    return "interworking"


class LabelGuard:
    """Validates label values and caps the distinct values of each free label."""

    def __init__(self, max_values: int = 500) -> None:
        self._max_values = max_values
        self._seen: dict[str, set[str]] = {}
        self._vocabularies: dict[str, frozenset[str]] = {
            "outcome": OUTCOMES,
            "link": LINKS,
            "window": WINDOWS,
            "class": CAUSE_CLASSES,
            "input": CALL_INPUTS,
        }

    def check(self, label: str, value: str, vocabulary: frozenset[str] | None = None) -> str:
        """Return ``value`` if it is an acceptable value of ``label``; raise otherwise."""
        if not _SLUG.fullmatch(value):
            raise UnboundedLabel(
                label, value, "malformed", "not a short slug ([A-Za-z0-9_.:-], ≤ 64 chars)"
            )
        if _looks_like_phone(value):
            raise UnboundedLabel(label, value, "phone_number", "looks like a phone number")
        allowed = vocabulary if vocabulary is not None else self._vocabularies.get(label)
        if allowed is not None:
            if value not in allowed:
                raise UnboundedLabel(
                    label, value, "vocabulary", f"not one of {', '.join(sorted(allowed))}"
                )
            return value
        seen = self._seen.setdefault(label, set())
        if value not in seen:
            if len(seen) >= self._max_values:
                raise UnboundedLabel(label, value, "bound", f"more than {self._max_values} values")
            seen.add(value)
        return value

    def values(self, label: str) -> list[str]:
        """The values of a free label seen so far, sorted."""
        return sorted(self._seen.get(label, set()))

    def release(self, label: str, value: str) -> None:
        """Free a value's slot (its series were removed)."""
        self._seen.get(label, set()).discard(value)
