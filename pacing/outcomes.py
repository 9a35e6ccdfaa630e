"""Call outcomes: the one vocabulary shared by the gateway, the pacing core and the database.

An attempt ends in exactly one of these. ``unknown`` is recorded only when a call in flight could
not be settled from Asterisk's events after a bounded wait (a lost link, a restarted server); it is
never dialled again automatically because the callee may have been reached.
"""

from __future__ import annotations

import enum


class Outcome(enum.StrEnum):
    """The recorded result of one call attempt."""

    ANSWERED = "answered"  # live answer connected to an agent within the connect limit
    ABANDONED = "abandoned"  # live answer, no agent within the limit, message played
    MACHINE = "machine"  # answering machine detected
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    CONGESTION = "congestion"
    FAILED = "failed"  # invalid or unreachable number
    CANCELLED = "cancelled"  # the gateway ended it
    DNC = "dnc"  # refused before dialling: the number is on a do-not-call list
    UNKNOWN = "unknown"  # could not be settled after a bounded wait

    @property
    def is_live_answer(self) -> bool:
        """A live human answered: the denominator of the abandon rate."""
        return self in (Outcome.ANSWERED, Outcome.ABANDONED)

    @property
    def reached_network(self) -> bool:
        """The call was placed (it counts as a seizure for the answer-seizure ratio)."""
        return self is not Outcome.DNC


class PbxFault(enum.StrEnum):
    """Why a ``failed`` attempt failed when the number was not at fault: the PBX ended the call.

    A ``failed`` attempt is normally final (the number does not work); one with a PBX fault is
    not, because the number was never tried to the end: its record is retried under the
    campaign's ``congestion`` rule (:func:`pacing.retry.plan_retry`).
    """

    PBX_RESTART = "pbx_restart"  # Asterisk hung the call up to restart or stop (Shutdown event)
    PBX_LOST = "pbx_lost"  # Asterisk went away (crash, kill -9) and came back without the call
