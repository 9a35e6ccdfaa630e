"""Telling "the database is out of reach" apart from bugs, and sharing reads between requests.

:func:`unavailable` classifies an exception raised while using the database: pool exhaustion
(SQLAlchemy's pool ``TimeoutError``), timeouts, lost or refused connections, a server shutting
down, too many connections, a cancelled statement (statement timeout). The problem middleware
turns those into 503 problem documents; everything else stays a 500, because it is a defect.

:class:`Coalescer` lets concurrent requests for the same key share one database read without
ever answering from before the request arrived: a request that finds a read in flight waits for
the *next* read, which starts when the current one ends and serves every request that queued
meanwhile. At 200 concurrent status requests for one campaign this means at most two reads in
flight instead of 200 connections fighting over the pool. No tasks are created: the first
request of a round performs the read itself and hands the result (or error) to the others.
Nothing here does I/O of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import asyncpg
from sqlalchemy import exc as sa_exc

from control_api.errors import ServiceUnavailable
from gateway.db.transient import is_transient

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

_UNAVAILABLE_CAUSES = (
    OSError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InterfaceError,
)


def unavailable(exc: BaseException) -> bool:
    """True when ``exc`` means the database cannot serve now (retry later), not a defect.

    A deadlock or a serialization failure (:func:`gateway.db.transient.is_transient`) counts:
    PostgreSQL aborted the transaction and the same request succeeds when sent again.
    """
    if is_transient(exc):
        return True
    if isinstance(exc, sa_exc.TimeoutError | TimeoutError | ConnectionError):
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        return True
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, _UNAVAILABLE_CAUSES):
            return True
        cause = cause.__cause__  # the driver's error, as SQLAlchemy wrapped it
    return False


@dataclass(slots=True)
class _Round(Generic[T]):
    done: asyncio.Future[T]
    started: bool = False


@dataclass(slots=True)
class Coalescer(Generic[K, T]):
    """Shares each read of ``load(key)`` among the requests that queued for it; owned by the app."""

    load: Callable[[K], Awaitable[T]]
    _running: dict[K, _Round[T]] = field(default_factory=dict)
    _next: dict[K, _Round[T]] = field(default_factory=dict)

    async def get(self, key: K) -> T:
        waiting = self._next.get(key)
        if waiting is not None:
            return await asyncio.shield(waiting.done)
        running = self._running.get(key)
        mine: _Round[T] = _Round(asyncio.get_running_loop().create_future())
        if running is not None:
            self._next[key] = mine
            try:
                await asyncio.wait([running.done])  # its outcome is for the earlier requests
            except asyncio.CancelledError:
                _fail(mine.done, ServiceUnavailable("the read was cancelled; retry"))
                raise
            finally:
                del self._next[key]
        self._running[key] = mine
        try:
            result = await self.load(key)
        except asyncio.CancelledError:
            _fail(mine.done, ServiceUnavailable("the read was cancelled; retry"))
            raise
        except BaseException as exc:
            _fail(mine.done, exc)
            raise
        else:
            mine.done.set_result(result)
            return result
        finally:
            del self._running[key]


def _fail(future: asyncio.Future[T], exc: BaseException) -> None:
    future.set_exception(exc)
    future.exception()  # retrieved here: nobody else may be waiting for this round
