"""dialer.heap: the start-up heap is frozen out of the collector's way, and only once
asked; glibc's mmap threshold is pinned so that socket reads leave no holes in the heap."""

from __future__ import annotations

import ctypes
import gc
import os
import subprocess
import sys
import weakref
from collections.abc import Iterator

import pytest

from dialer.heap import freeze_startup_heap, hold_collection, pin_mmap_threshold, resume_collection


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


# A child process: a start-up's large block freed (glibc raises its mmap threshold to its size),
# then socket reads as asyncio's transports do them (up to 256 KiB, the bytes shrunk to what
# came) with longer-lived blocks over 512 B (past pymalloc) in between; prints the bytes free
# inside glibc's heap (mallinfo2's fordblks) at the end.
_READS = """
import ctypes, socket, sys
from dialer.heap import pin_mmap_threshold
if sys.argv[1] == "pin":
    assert pin_mmap_threshold({})
class Mallinfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Mallinfo2
big = bytes(4 << 20)
del big
a, b = socket.socketpair()
kept = []
for i in range(20_000):
    a.send(b"x" * (600 + i % 700))
    data = b.recv(256 * 1024)
    kept.append(bytes(700 + i % 300))
    if len(kept) > 2000:
        del kept[:1000]
print(libc.mallinfo2().fordblks)
"""


def _free_in_heap(mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_"))}
    argv = [sys.executable, "-c", _READS, mode]
    out = subprocess.run(  # noqa: S603 - fixed argv, no shell
        argv, env=env, capture_output=True, text=True, check=True, timeout=60
    )
    return int(out.stdout)


@pytest.mark.skipif(
    not hasattr(ctypes.CDLL(None), "gnu_get_libc_version"), reason="glibc's allocator only"
)
def test_socket_reads_leave_no_holes_in_the_heap_once_the_mmap_threshold_is_pinned() -> None:
    unpinned, pinned = _free_in_heap("raw"), _free_in_heap("pin")
    assert unpinned > 1 << 20  # the raised threshold: read buffers carved from the heap
    assert pinned < unpinned / 4


def test_an_operators_own_mmap_threshold_is_left_alone() -> None:
    assert not pin_mmap_threshold({"MALLOC_MMAP_THRESHOLD_": "65536"})
    assert not pin_mmap_threshold({"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=65536"})


def test_collection_held_during_the_start_and_resumed_after() -> None:
    assert gc.isenabled()
    hold_collection()
    try:
        assert not gc.isenabled()
    finally:
        resume_collection()
    assert gc.isenabled()
