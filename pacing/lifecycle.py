"""The campaign lifecycle: states, operations and the one table that joins them.

Design
------
A campaign is always in exactly one of five states. Operators (and, for ``complete``, the runner)
ask for operations; each operation is allowed from a fixed set of states and leads to one next
state. Some operations (``add_data``, ``download``, ``delete_records``) do not move the campaign
but are still gated by its state, so they live in the same table: a campaign that is dialing must
not have its records swapped underneath it.

The whole policy is :data:`TRANSITIONS`, one ``{(state, operation): next_state}`` dict, and
:func:`apply` is its only reader. A refused operation raises :class:`OperationRefused` carrying
the current state and the states the operation *would* be allowed from, so the control API can
answer "409: campaign is running; stop is allowed from running, paused" without a second source
of truth. Nothing here does I/O or reads a clock; persisting the new state (with optimistic
concurrency) is the caller's job.
"""

from __future__ import annotations

import enum

from pacing.errors import PacingError


class CampaignState(enum.StrEnum):
    READY = "ready"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    COMPLETED = "completed"


class Operation(enum.StrEnum):
    START = "start"
    STOP = "stop"
    PAUSE = "pause"
    RESUME = "resume"
    RESET = "reset"
    FORCE_COMPLETE = "force_complete"
    COMPLETE = "complete"  # automatic: no record can ever be dialled again
    ADD_DATA = "add_data"
    DOWNLOAD = "download"
    DELETE_RECORDS = "delete_records"


S = CampaignState
O = Operation  # noqa: E741 - a one-letter alias keeps the table readable

TRANSITIONS: dict[tuple[CampaignState, Operation], CampaignState] = {
    (S.READY, O.START): S.RUNNING,
    (S.STOPPED, O.START): S.RUNNING,
    (S.RUNNING, O.STOP): S.STOPPED,
    (S.PAUSED, O.STOP): S.STOPPED,
    (S.RUNNING, O.PAUSE): S.PAUSED,
    (S.PAUSED, O.RESUME): S.RUNNING,
    (S.STOPPED, O.RESET): S.READY,
    (S.COMPLETED, O.RESET): S.READY,
    (S.READY, O.FORCE_COMPLETE): S.COMPLETED,
    (S.RUNNING, O.FORCE_COMPLETE): S.COMPLETED,
    (S.PAUSED, O.FORCE_COMPLETE): S.COMPLETED,
    (S.STOPPED, O.FORCE_COMPLETE): S.COMPLETED,
    (S.RUNNING, O.COMPLETE): S.COMPLETED,
    (S.READY, O.ADD_DATA): S.READY,
    (S.COMPLETED, O.ADD_DATA): S.COMPLETED,
    (S.READY, O.DOWNLOAD): S.READY,
    (S.COMPLETED, O.DOWNLOAD): S.COMPLETED,
    (S.READY, O.DELETE_RECORDS): S.READY,
    (S.PAUSED, O.DELETE_RECORDS): S.PAUSED,
    (S.STOPPED, O.DELETE_RECORDS): S.STOPPED,
    (S.COMPLETED, O.DELETE_RECORDS): S.COMPLETED,
}


class LifecycleError(PacingError):
    """Root of the campaign lifecycle errors."""


class OperationRefused(LifecycleError):
    """``operation`` is not allowed in ``state``; ``allowed``: the states it is allowed from."""

    def __init__(
        self, state: CampaignState, operation: Operation, allowed: tuple[CampaignState, ...]
    ) -> None:
        names = ", ".join(allowed)
        super().__init__(f"{operation} is not allowed while {state}; allowed from: {names}")
        self.state = state
        self.operation = operation
        self.allowed = allowed


def allowed_from(operation: Operation) -> tuple[CampaignState, ...]:
    """The states ``operation`` is allowed from, in declaration order of the states."""
    return tuple(s for s in CampaignState if (s, operation) in TRANSITIONS)


def apply(state: CampaignState, operation: Operation) -> CampaignState:
    """The state after ``operation``; raises :class:`OperationRefused` and changes nothing."""
    try:
        return TRANSITIONS[(state, operation)]
    except KeyError:
        raise OperationRefused(state, operation, allowed_from(operation)) from None


def is_allowed(state: CampaignState, operation: Operation) -> bool:
    return (state, operation) in TRANSITIONS
