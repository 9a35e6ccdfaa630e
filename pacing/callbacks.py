"""Callbacks: may a record scheduled for a callback be dialled now, and for whom.

A disposition may schedule a callback at a time, for anyone or for the agent who set it
(:mod:`pacing.dispositions`). A callback for anyone is dialled from its time on, like any record
(inside the callee's calling window, which eligibility checks as for every record). An
agent-only callback is kept for its agent: it is dialled only while that agent is logged in
and free, and once the campaign's grace has passed since its time it falls back to anyone, so a
callee is not left waiting on an agent who went home. :func:`decide` says which, and why not —
the reasons the diagnostics show; leasing (``gateway.campaigns.leasing``) applies the same rule
in SQL.

Pure: a function of the callback, the agents seen now and ``now``.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Collection
from dataclasses import dataclass


class Hold(enum.StrEnum):
    """Why a callback is not dialled now."""

    NOT_DUE = "callback_not_due"
    AGENT_LOGGED_OUT = "callback_agent_logged_out"
    AGENT_BUSY = "callback_agent_busy"


@dataclass(frozen=True, slots=True)
class Verdict:
    """Dialable now (``agent``: only for that agent, None: for anyone), or why not and until
    when that reason holds at most."""

    dialable: bool
    agent: str | None = None
    hold: Hold | None = None
    until: dt.datetime | None = None


def decide(
    callback_at: dt.datetime,
    agent: str | None,
    now: dt.datetime,
    grace: dt.timedelta,
    *,
    free: Collection[str],
    logged_in: Collection[str],
) -> Verdict:
    """Whether a callback due at ``callback_at`` (kept for ``agent``, None: anyone) may be dialled
    at ``now``; ``free`` and ``logged_in`` are the agents of the campaign's queue now."""
    if now < callback_at:
        return Verdict(False, hold=Hold.NOT_DUE, until=callback_at)
    fallback = callback_at + grace
    if agent is None or now >= fallback:
        return Verdict(True)
    if agent in free:
        return Verdict(True, agent)
    hold = Hold.AGENT_BUSY if agent in logged_in else Hold.AGENT_LOGGED_OUT
    return Verdict(False, hold=hold, until=fallback)
