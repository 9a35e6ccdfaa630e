"""dialer.heap: the start-up heap is frozen out of the collector's way, and only once
asked."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from dialer.heap import freeze_startup_heap


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """The test process's heap must stay collectable for the tests that follow."""
    assert gc.get_freeze_count() == 0
    try:
        yield
    finally:
        gc.unfreeze()


def test_objects_alive_at_start_up_are_frozen_and_garbage_is_not(unfrozen: None) -> None:
    class Node:
        other: object = None

    garbage = Node()
    garbage.other = Node()
    garbage.other.other = garbage  # a cycle only the collector frees
    gone = weakref.ref(garbage)
    del garbage
    kept = Node()
    frozen = freeze_startup_heap()
    assert frozen == gc.get_freeze_count() > 0
    assert gone() is None  # collected first, not frozen for ever
    assert not any(o is kept for o in gc.get_objects())  # frozen: out of every generation
