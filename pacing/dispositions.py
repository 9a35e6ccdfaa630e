"""Wrap-up dispositions: the codes an agent (or ops) sets on a call, and the record step each one
means.

A campaign has a set of codes (by default ``sale``, ``not_interested``, ``callback``, ``dnc``,
``wrong_number``; custom ones may be added or replace them), each mapped to one
:class:`Step`: the record is ``done``, is ``retry``-ed after the code's delay, gets a
``callback`` at the time the agent names, or its number goes on the do-not-call list (``dnc``).

A disposition comes after the system's own outcome (the call reached an agent, so it was
``answered`` and the record was finished). :func:`plan` is the record's step once the disposition
is known, through the same retry rules as an outcome: a ``retry`` code gives no attempt beyond
the campaign's ``max_attempts`` (the record is done, "max attempts"), a callback is a promise
made to the callee and is kept whatever the attempt count. ``gateway.campaigns.dispositions``
parses the stored document into a :class:`DispositionSet` and writes the plan.

Pure: functions of the codes, the rules, the attempt count and ``now``.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from pacing.errors import ScheduleError
from pacing.retry import RetryRules

#: A code is stored in ``records.disposition`` and ``attempts.disposition`` (16 characters) and
#: is a metric label value: a short lower-case slug.
CODE_PATTERN = r"^[a-z][a-z0-9_]{0,15}$"
_CODE = re.compile(CODE_PATTERN)
MAX_CODES = 50
MAX_DELAY_S = 90 * 86400


class Step(enum.StrEnum):
    """What a disposition does to its record."""

    DONE = "done"
    RETRY = "retry"
    CALLBACK = "callback"
    DNC = "dnc"


class Scope(enum.StrEnum):
    """Who may take a callback: any agent of the queue, or only the agent who set it."""

    ANYONE = "anyone"
    AGENT = "agent"


@dataclass(frozen=True, slots=True)
class Code:
    """One disposition code and its step (``delay`` for ``retry`` only)."""

    code: str
    step: Step
    delay: dt.timedelta = dt.timedelta(0)

    def __post_init__(self) -> None:
        if not _CODE.fullmatch(self.code):
            raise ScheduleError(f"disposition code {self.code!r} must match {CODE_PATTERN}")
        if self.delay < dt.timedelta(0) or self.delay > dt.timedelta(seconds=MAX_DELAY_S):
            raise ScheduleError(f"disposition {self.code}: delay out of range")


def default_codes() -> dict[str, Code]:
    return {
        "sale": Code("sale", Step.DONE),
        "not_interested": Code("not_interested", Step.DONE),
        "callback": Code("callback", Step.CALLBACK),
        "dnc": Code("dnc", Step.DNC),
        "wrong_number": Code("wrong_number", Step.DONE),
    }


@dataclass(frozen=True, slots=True)
class DispositionSet:
    """A campaign's codes, its default code, how long an agent's wrap-up may last before the
    default applies (0: the gateway does not hold the wrap-up), and the grace after which an
    agent-only callback falls back to anyone."""

    codes: Mapping[str, Code] = field(default_factory=default_codes)
    default_code: str | None = None
    wrapup_limit: dt.timedelta = dt.timedelta(0)
    callback_grace: dt.timedelta = dt.timedelta(minutes=15)

    def __post_init__(self) -> None:
        if not self.codes:
            raise ScheduleError("dispositions: at least one code is needed")
        if len(self.codes) > MAX_CODES:
            raise ScheduleError(f"dispositions: at most {MAX_CODES} codes")
        if self.default_code is not None and self.default_code not in self.codes:
            raise ScheduleError(f"dispositions: default {self.default_code!r} is not a code")
        if self.wrapup_limit < dt.timedelta(0) or self.callback_grace < dt.timedelta(0):
            raise ScheduleError("dispositions: limits must not be negative")

    def code(self, name: str) -> Code:
        found = self.codes.get(name)
        if found is None:
            known = ", ".join(sorted(self.codes))
            raise ScheduleError(f"{name!r} is not a disposition code of this campaign ({known})")
        return found


@dataclass(frozen=True, slots=True)
class Plan:
    """The record's next step after a disposition.

    ``status`` is a record status (``done``, ``retry``, ``callback``, ``dnc``); ``at`` the
    earliest next attempt (a retry's time, or the callback's); ``callback_agent`` the agent an
    agent-only callback is kept for; ``add_dnc`` whether the number goes on the DNC list.
    """

    status: str
    at: dt.datetime | None
    reason: str
    callback_agent: str | None = None
    add_dnc: bool = False


class Refused(ScheduleError):
    """A disposition that cannot be applied as asked (a callback without a time, in the past);
    ``field`` names the request member at fault."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field


def plan(
    code: Code,
    rules: RetryRules,
    attempts: int,
    now: dt.datetime,
    *,
    callback_at: dt.datetime | None = None,
    scope: Scope = Scope.ANYONE,
    agent: str | None = None,
) -> Plan:
    """The record's step after ``code`` was set on its ``attempts``-th attempt, at ``now``."""
    reason = f"disposition {code.code}"
    if code.step is Step.CALLBACK or callback_at is not None:
        if code.step is not Step.CALLBACK:
            raise Refused("callback_at", f"{code.code} is a {code.step} code: no callback_at")
        if callback_at is None:
            raise Refused("callback_at", f"{code.code} schedules a callback: it is required")
        if callback_at <= now:
            raise Refused("callback_at", "must be in the future")
        keeper = agent if scope is Scope.AGENT else None
        if scope is Scope.AGENT and not agent:
            raise Refused("callback_scope", "an agent-only callback needs the call's agent")
        return Plan("callback", callback_at, reason, keeper)
    if code.step is Step.DNC:
        return Plan("dnc", None, reason, add_dnc=True)
    if code.step is Step.DONE:
        return Plan("done", None, reason)
    if attempts >= rules.max_attempts:
        return Plan("done", None, f"max attempts ({code.code})")
    return Plan("retry", now + code.delay, reason)
