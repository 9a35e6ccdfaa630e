"""The long-running server's heap: short full collections, and no creeping allocator holes.

CPython's full (generation 2) collection walks every tracked object. After start-up the gateway
holds about 125,000 of them (modules, classes, SQLAlchemy and aiohttp internals) that live as
long as the process, and under 200 concurrent status requests a full pass came every ~0.5 s and
stopped the event loop for 45–60 ms each time: every request in flight waited, and those waits
were the status endpoint's p99 (``dialer bench api``). :func:`freeze_startup_heap` collects once
and moves what is alive then into the permanent generation (:func:`gc.freeze`), which full passes
skip; they then take a few milliseconds. Objects created later are collected as before; cycles
among the frozen ones are never freed, which is why it is called once, after start-up.

Before that, the start itself: importing the service and wiring it creates those objects, and
each full collection on the way walked all made so far (three of them, and the young
generations' passes over everything not yet promoted): ~0.35 s of a ~2 s import under load.
``dialer serve`` calls :func:`hold_collection` before importing the service and
:func:`resume_collection` after the freeze; what the start leaves as garbage meanwhile is
collected by the freeze's own pass.

Called by ``dialer serve`` a few seconds after the service is ready (its first calls are out by
then), and by ``dialer bench api`` for its server so that the benchmark runs the way production
does. Not in :class:`dialer.app.Service` itself: tests run services inside the test process,
whose heap must stay collectable.

glibc's malloc serves a request over its mmap threshold (128 KiB) from a fresh mapping that goes
back to the system when freed, but raises the threshold to the size of every such mapping freed
(up to 32 MiB): after start-up (migrations, imports) it sits at megabytes. From then on the
256 KiB buffer each socket read gets (asyncio's transports read up to 256 KiB, then shrink the
bytes to what came) is carved from the heap, and the longer-lived blocks placed in what the
shrink gave back leave holes that the next 256 KiB cannot use: the heap grew by ~0.6 MB a
minute with the bytes in use flat (``dialer bench soak --probe``: 12 minutes, free inside the
heap 6 → 10.5 MB, in use 29.5 → 30.0 MB). :func:`pin_mmap_threshold` fixes the threshold at
its default, as setting ``MALLOC_MMAP_THRESHOLD_`` would: large buffers are mapped and unmapped,
the heap stays flat (free inside it 2.5 MB for the whole soak). ``dialer serve`` calls it first
thing; an operator's own ``MALLOC_MMAP_THRESHOLD_`` (or ``glibc.malloc.mmap_threshold`` in
``GLIBC_TUNABLES``) is left as it is, and off glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import gc
import os
from collections.abc import Mapping

M_MMAP_THRESHOLD = -3  # mallopt's parameter (malloc.h)
MMAP_THRESHOLD = 128 * 1024  # glibc's own default, kept from now on


def freeze_startup_heap() -> int:
    """Collect, then exempt every object alive now from later collections; returns their count."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def hold_collection() -> None:
    """No automatic collection until :func:`resume_collection` (the start; see the module)."""
    gc.disable()


def resume_collection() -> None:
    gc.enable()


def pin_mmap_threshold(environ: Mapping[str, str] = os.environ) -> bool:
    """Fix glibc's mmap threshold at 128 KiB (see the module); True if it was set here."""
    if "MALLOC_MMAP_THRESHOLD_" in environ:
        return False
    if "glibc.malloc.mmap_threshold" in environ.get("GLIBC_TUNABLES", ""):
        return False
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return False
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return False  # not glibc: its allocator has no such threshold
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
