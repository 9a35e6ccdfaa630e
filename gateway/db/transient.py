"""Which database errors are transient: worth trying the same work again at once.

A serialization failure (SQLSTATE 40001) or a detected deadlock (40P01) aborts one transaction
and leaves the database healthy; a connection reset or a connection the pool found dead costs
one connection. None of them means the database is away, so the caller retries a few times
before it treats the error as an outage. Pure: it inspects the exception chain, nothing else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})
T = TypeVar("T")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or any(item is s for s in seen) or len(seen) > 20:
            continue
        seen.append(item)
        todo.extend([item.__cause__, item.__context__])
        orig = getattr(item, "orig", None)
        if isinstance(orig, BaseException):
            todo.append(orig)
    return seen


def is_transient(exc: BaseException) -> bool:
    """True for a serialization failure, a deadlock, or one lost connection."""
    for item in _chain(exc):
        if getattr(item, "sqlstate", None) in TRANSIENT_SQLSTATES:
            return True
        if getattr(item, "pgcode", None) in TRANSIENT_SQLSTATES:
            return True
        if isinstance(item, DBAPIError) and item.connection_invalidated:
            return True
        if isinstance(item, ConnectionResetError):
            return True
    return False


async def retry_transient(work: Callable[[], Awaitable[T]], *, tries: int = 3) -> T:
    """Run ``work``; run it again (up to ``tries`` times in all) after a transient error."""
    for attempt in range(1, tries + 1):
        try:
            return await work()
        except Exception as exc:
            if attempt == tries or not is_transient(exc):
                raise
    raise AssertionError("unreachable")  # pragma: no cover
