"""Caller-ID pools from the database, decided by the pure :mod:`pacing.callerid` rules.

:class:`CallerIdBook` loads a campaign's pool (status, caps, cooldown, region) and every number's
usage across *all* campaigns (calls in flight, calls today, last use, answers over the health
window) at most every ``refresh_s`` seconds, and counts its own picks in between so that caps and
cooldowns hold between two loads. :meth:`CallerIdBook.pick` asks
:func:`pacing.callerid.choose`; the last choice per campaign (with the reason every unavailable
number gives) is kept for diagnostics. :meth:`CallerIdBook.rest_collapsed` rests the numbers whose
answer rate collapsed against the pool's, with the reason recorded on the number.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.logs import event
from pacing.callerid import (
    Blocked,
    CallerIdNumber,
    Choice,
    NumberStatus,
    NumberUsage,
    RestOrder,
    choose,
    choose_many,
    rest_orders,
    unavailable,
)
from pacing.errors import CallerIdError

log = logging.getLogger(__name__)

HEALTH_WINDOW = dt.timedelta(days=7)

_POOL = text(
    "SELECT n.number, n.status, n.max_concurrent, n.max_per_day, n.cooldown_s, n.region, "
    "n.rest_reason FROM callerid_numbers n JOIN campaign_numbers cn ON cn.number_id = n.id "
    "WHERE cn.campaign_id = :cid ORDER BY n.id"
)
_USAGE = text(
    "SELECT caller_id, "
    "count(*) FILTER (WHERE status = 'dialing') AS in_flight, "
    "count(*) FILTER (WHERE originated_at >= :day) AS today, "
    "max(originated_at) AS last_used, "
    "count(*) FILTER (WHERE status = 'settled') AS attempts, "
    "count(*) FILTER (WHERE outcome IN ('answered', 'abandoned', 'machine')) AS answers "
    "FROM attempts WHERE caller_id = ANY(:numbers) AND originated_at >= :since "
    "GROUP BY caller_id"
)
_REST = text(
    "UPDATE callerid_numbers SET status = 'resting', rest_reason = :reason, health = :health, "
    "updated_at = :now WHERE number = :number AND status = 'active'"
)


@dataclasses.dataclass(slots=True)
class _Pool:
    loaded_at: float
    numbers: tuple[CallerIdNumber, ...]
    usage: dict[str, NumberUsage]


class CallerIdBook:
    """Per-campaign caller-ID pools with usage; see the module docstring."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        clock: Callable[[], float],
        wall: Callable[[], dt.datetime],
        refresh_s: float = 2.0,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._wall = wall
        self._refresh_s = refresh_s
        self._pools: dict[int, _Pool] = {}
        self.last_choice: dict[int, Choice] = {}

    async def pick(self, campaign_id: int, callee: str, sticky: str | None) -> Choice:
        """The caller ID for one call now (``Choice.number`` None: no call, see why)."""
        pool = await self._pool(campaign_id)
        choice = self._take(pool, callee, sticky, self._wall())
        self.last_choice[campaign_id] = choice
        return choice

    async def pick_many(
        self, campaign_id: int, calls: Sequence[tuple[str, str | None]]
    ) -> list[Choice]:
        """A caller ID for each ``(callee, sticky)`` call of one decision, in order.

        The pool is read once (at most); each pick counts against the usage the next one sees,
        so caps and cooldowns hold within the decision as across decisions.
        """
        pool = await self._pool(campaign_id)
        choices, pool.usage = choose_many(pool.numbers, pool.usage, calls, self._wall())
        if choices:
            self.last_choice[campaign_id] = choices[-1]
        return choices

    def _take(self, pool: _Pool, callee: str, sticky: str | None, now: dt.datetime) -> Choice:
        choice = choose(pool.numbers, pool.usage, callee, now, sticky=sticky)
        if choice.number is not None:
            used = pool.usage.get(choice.number, NumberUsage())
            pool.usage[choice.number] = dataclasses.replace(
                used, in_flight=used.in_flight + 1, today=used.today + 1, last_used_at=now
            )
        return choice

    async def available(self, campaign_id: int) -> int:
        """How many of the campaign's numbers could take a call now."""
        pool = await self._pool(campaign_id)
        now = self._wall()
        return sum(
            1
            for n in pool.numbers
            if unavailable(n, pool.usage.get(n.number, NumberUsage()), now) is None
        )

    async def blocked(self, campaign_id: int) -> tuple[Blocked, ...]:
        """Every number of the pool that cannot take a call now, with why."""
        pool = await self._pool(campaign_id)
        now = self._wall()
        found = (unavailable(n, pool.usage.get(n.number, NumberUsage()), now) for n in pool.numbers)
        return tuple(b for b in found if b is not None)

    async def rest_collapsed(self, campaign_id: int) -> list[RestOrder]:
        """Rest the numbers whose answer rate collapsed against the pool's; return the orders."""
        pool = await self._pool(campaign_id, force=True)
        orders = rest_orders(pool.numbers, pool.usage)
        if not orders:
            return []
        async with self._engine.begin() as conn:
            now = self._wall()
            for order in orders:
                params = {"reason": order.reason, "health": order.health, "number": order.number}
                await conn.execute(_REST, {**params, "now": now})
        for order in orders:
            event(log, "caller ID rested", logging.WARNING, campaign=campaign_id,
                  health=round(order.health, 3), reason=order.reason)  # fmt: skip
        self._pools.pop(campaign_id, None)
        return orders

    async def _pool(self, campaign_id: int, *, force: bool = False) -> _Pool:
        cached = self._pools.get(campaign_id)
        if not force and cached is not None and self._clock() - cached.loaded_at < self._refresh_s:
            return cached
        now = self._wall()
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(_POOL, {"cid": campaign_id})).all()
            numbers = _numbers(rows)
            usage_rows = (await conn.execute(_USAGE, {
                "numbers": [n.number for n in numbers], "day": day,
                "since": now - HEALTH_WINDOW})).all()  # fmt: skip
        usage = {
            str(r.caller_id): NumberUsage(
                in_flight=int(r.in_flight),
                today=int(r.today),
                last_used_at=r.last_used,
                attempts=int(r.attempts),
                answers=int(r.answers),
            )
            for r in usage_rows
        }
        pool = _Pool(self._clock(), numbers, usage)
        self._pools[campaign_id] = pool
        return pool


def _numbers(rows: Sequence[Any]) -> tuple[CallerIdNumber, ...]:
    numbers = []
    for row in rows:
        try:
            numbers.append(
                CallerIdNumber(
                    number=str(row.number),
                    status=NumberStatus(row.status),
                    max_concurrent=int(row.max_concurrent),
                    max_per_day=int(row.max_per_day),
                    cooldown=dt.timedelta(seconds=int(row.cooldown_s)),
                    region=str(row.region),
                    rest_reason=str(row.rest_reason),
                )
            )
        except CallerIdError as exc:  # a bad stored number is skipped, never dialled with
            event(log, "caller ID skipped", logging.ERROR, error=str(exc))
    return tuple(numbers)
