"""The runner's ports: what the campaign runner needs from the database and from Asterisk.

The runner (:mod:`pacing.runner`) is written against these Protocols so that the pacing package
never imports the gateway; ``gateway.runtime`` implements them over the record store
(``gateway.db``) and the dialer (``gateway.asterisk.dialing``). Values crossing a port are frozen
dataclasses defined here, or in :mod:`pacing.calls` for a settled attempt
(:class:`~pacing.calls.AttemptResult`), or structural Protocols.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pacing.calls import CallPhase
from pacing.outcomes import Outcome
from pacing.schedule import CampaignSchedule
from pacing.snapshot import Agent, ControlledResume, PacingConfig


@dataclass(frozen=True, slots=True)
class CampaignView:
    """What the runner reads of a campaign on every tick."""

    campaign_id: int
    name: str
    state: str
    queue: str
    config: PacingConfig
    caller_id_name: str
    channels: int | None
    amd: bool
    resume: ControlledResume | None = None
    schedule: CampaignSchedule | None = None  # None: no campaign-level calling windows
    watch_until: float | None = None  # runner clock: end of the tighter watch after a resume
    resumed_at: float | None = None  # runner clock: the last resume, if within 24 h
    skill_queues: tuple[tuple[str, str], ...] = ()  # (skill, queue): pacing.skills; () none


@dataclass(frozen=True, slots=True)
class Lease:
    """One record leased for dialling by this instance."""

    record_id: int
    phone: str
    caller_id: str | None  # sticky caller ID of earlier attempts, if any
    agent: str | None = None  # an agent-only callback within its grace: the call goes to it


@dataclass(frozen=True, slots=True)
class CallOrder:
    """One call the runner asks the switch to place."""

    attempt_id: str
    campaign_id: int
    record_id: int
    number: str
    caller_id_number: str
    caller_id_name: str
    queue: str
    ring_timeout_s: float
    amd: bool
    agent: str | None = None  # an agent-only callback: connect the callee to this agent only


class Store(Protocol):
    """The database side."""

    async def campaign(self, campaign_id: int) -> CampaignView | None: ...
    async def lease(
        self, campaign_id: int, limit: int, skills: Sequence[str] | None = None
    ) -> Sequence[Lease]:
        """Lease up to ``limit`` records; ``skills`` given: only records with one of them."""
        ...

    async def choose_caller_ids(
        self, campaign_id: int, leases: Sequence[Lease]
    ) -> list[str | None]:
        """One caller ID per lease (None: no number can take that call), chosen in memory."""
        ...

    async def caller_ids_available(self, campaign_id: int) -> int: ...
    async def start_attempts(self, orders: Sequence[CallOrder]) -> set[str]:
        """Write the attempts of one decision at once; the ids written (lost leases: not)."""
        ...

    async def placed(self, servers: Sequence[tuple[str, str]]) -> None: ...
    async def release(self, campaign_id: int, record_ids: Sequence[int]) -> None: ...
    async def fail_attempt(self, order: CallOrder, outcome: Outcome, detail: str) -> None: ...
    async def withdraw_attempts(self, withdrawals: Sequence[tuple[CallOrder, str]]) -> None:
        """Undo attempts that were never sent (each with why): not counted, their records
        dialable again; one write for all of them."""
        ...

    async def pause(self, campaign_id: int, category: str, text: str) -> None: ...
    async def complete_if_exhausted(self, campaign_id: int) -> bool: ...
    async def history(self, campaign_id: int) -> Sequence[tuple[float, Outcome, int]]:
        """Settled attempts of the last 30 days: (seconds ago, outcome, count) buckets."""
        ...


class Switch(Protocol):
    """The Asterisk side: place calls without awaiting them, report agents and room."""

    async def watch(self, queue: str) -> None: ...  # follow a queue's agents from now on
    def place(self, order: CallOrder) -> str: ...
    def agents(self, queue: str, now: float) -> tuple[Agent, ...]: ...
    def free_channels(self) -> int | None:
        """Calls the servers can take right now (free channels and send budget), None: no cap."""
        ...

    def links(self) -> tuple[int, int]: ...  # (servers with a ready link, servers)
    def phase(self, attempt_id: str) -> CallPhase | None:
        """Where one call in flight is (None: not known to the switch)."""
        ...


class PlaceRefused(Exception):
    """The switch refused an order before dialling (no capacity, invalid value)."""

    def __init__(self, reason: str, *, retry: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry  # True: put the record back (capacity); False: the order is bad


@dataclass(frozen=True, slots=True)
class Acquired:
    """One round's pacer leases: the campaigns now held here, and when the soonest lease held by
    another instance among the others expires (seconds from now on the database's clock; None:
    no other instance holds one)."""

    held: frozenset[int]
    others_expire_in_s: float | None = None


class Pacers(Protocol):
    """The one-pacer-per-campaign lease in the database, shared by every gateway instance.

    :meth:`acquire` takes or renews the leases of many campaigns at once (one statement, so a
    round costs the same however many campaigns run) and returns those now held, each for
    ``ttl_s`` seconds counted from no earlier than the moment the request was sent (on the
    database's clock, not the caller's); the others are held by another instance, and
    :class:`Acquired` says when the first of those leases expires.
    """

    @property
    def ttl_s(self) -> float: ...
    async def running_campaigns(self) -> Sequence[int]: ...
    async def acquire(self, campaign_ids: Sequence[int]) -> Acquired: ...
    async def release(self, campaign_id: int) -> None: ...
