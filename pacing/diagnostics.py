"""Diagnostics: why a running campaign places no calls, or fewer than its agents could take.

:func:`diagnose` looks at everything the runner knows at one instant — schedule state, caller-ID
availability, agents, eligibility counts, the guard state, server health and the last pacing
decision — and returns structured findings (for ``GET /campaigns/{id}/diagnostics``) plus one short
text. Findings are ordered by how completely they stop calls: a closed schedule first, then a
tripped guard, unreachable servers, no numbers, no agents, no eligible records, pacing limits.

Pure: a function of a :class:`DiagnosticsInput`.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pacing.callerid import Blocked
from pacing.guards import Trip
from pacing.schedule import WindowState
from pacing.snapshot import Decision, DecisionReason


class Blocker(enum.StrEnum):
    """What holds calls back."""

    OUTSIDE_SCHEDULE = "outside_schedule"
    GUARD_TRIPPED = "guard_tripped"
    SERVERS_UNREACHABLE = "servers_unreachable"
    NO_CALLER_ID = "no_caller_id"
    NO_AGENTS = "no_agents"
    NO_ELIGIBLE_RECORDS = "no_eligible_records"
    PACING_LIMIT = "pacing_limit"


@dataclass(frozen=True, slots=True)
class DiagnosticsInput:
    """What the runner knows about one campaign at one instant."""

    schedule: WindowState
    callerid_available: int
    callerid_blocked: tuple[Blocked, ...] = ()
    agents_logged_in: int = 0
    agents_free: int = 0
    agents_paused: int = 0
    eligibility: Mapping[str, int] = field(default_factory=dict)  # "dialable" and reasons
    guard: Trip | None = None
    servers_up: int = 1
    servers_total: int = 1
    decision: Decision | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """One reason calls are held back, with its data."""

    blocker: Blocker
    text: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """All findings (most blocking first) and a one-line summary."""

    findings: tuple[Finding, ...]
    text: str

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "text": self.text,
            "findings": [
                {"blocker": str(f.blocker), "text": f.text, "data": dict(f.data)}
                for f in self.findings
            ],
        }


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _gates(d: DiagnosticsInput) -> list[Finding]:
    found = []
    if not d.schedule.open:
        when = _iso(d.schedule.next_open)
        text = d.schedule.detail or "outside the campaign schedule"
        text += f"; opens {when}" if when else "; never opens again"
        found.append(
            Finding(
                Blocker.OUTSIDE_SCHEDULE,
                text,
                {"reason": str(d.schedule.reason), "next_open": when},
            )
        )
    if d.guard is not None:
        found.append(
            Finding(
                Blocker.GUARD_TRIPPED,
                f"guard {d.guard.guard}: {d.guard.text}",
                {"guard": d.guard.guard, "category": str(d.guard.category)},
            )
        )
    if d.servers_total == 0 or d.servers_up == 0:
        found.append(
            Finding(
                Blocker.SERVERS_UNREACHABLE,
                f"{d.servers_up} of {d.servers_total} Asterisk servers reachable",
                {"up": d.servers_up, "total": d.servers_total},
            )
        )
    if d.callerid_available == 0:
        numbers = {b.number: f"{b.reason}: {b.detail}" for b in d.callerid_blocked}
        text = "no caller-ID number available" if numbers else "the campaign has no numbers"
        if numbers:
            text += " (" + "; ".join(f"{n} {why}" for n, why in numbers.items()) + ")"
        found.append(Finding(Blocker.NO_CALLER_ID, text, {"numbers": numbers}))
    return found


def _capacity(d: DiagnosticsInput) -> list[Finding]:
    found = []
    if d.agents_logged_in - d.agents_paused <= 0:
        text = f"no agents available ({d.agents_logged_in} logged in, {d.agents_paused} paused)"
        found.append(
            Finding(
                Blocker.NO_AGENTS,
                text,
                {"logged_in": d.agents_logged_in, "paused": d.agents_paused},
            )
        )
    reasons = {k: v for k, v in d.eligibility.items() if k != "dialable" and v > 0}
    if d.eligibility.get("dialable", 0) == 0:
        parts = ", ".join(
            f"{v} {k.replace('_', ' ')}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])
        )
        text = "no eligible records" + (f" ({parts})" if parts else " (no records)")
        found.append(Finding(Blocker.NO_ELIGIBLE_RECORDS, text, {"by_reason": reasons}))
    decision = d.decision
    limiting = {
        DecisionReason.ABANDON_RISK,
        DecisionReason.LINES_PER_AGENT_CAP,
        DecisionReason.CAMPAIGN_CHANNEL_CAP,
        DecisionReason.TRUNK_CHANNEL_CAP,
        DecisionReason.CONTROLLED_RESUME_CAP,
    }
    if decision is not None and decision.reason in limiting and d.agents_free > 0:
        found.append(
            Finding(
                Blocker.PACING_LIMIT,
                f"pacing holds back ({decision.reason}): {decision.detail}",
                {"reason": str(decision.reason), "calls": decision.calls},
            )
        )
    return found


def diagnose(d: DiagnosticsInput) -> Diagnosis:
    """Why the campaign places no calls or fewer than its agents could take."""
    findings = tuple(_gates(d) + _capacity(d))
    if not findings:
        return Diagnosis((), "placing calls: nothing holds pacing back")
    head = findings[0].text
    more = f" (+{len(findings) - 1} more)" if len(findings) > 1 else ""
    return Diagnosis(findings, head + more)
