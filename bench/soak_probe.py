"""What the gateway's memory is made of, sampled from inside ``dialer bench soak``'s gateway.

Run by :mod:`bench.soak_worker` in a daemon thread when the soak is given ``--probe SECONDS``:
every interval one JSON line goes to ``DIR/probe.jsonl`` with the process's RSS, glibc's heap
(``mallinfo2``: bytes in use, free in the heap, in mmapped chunks), CPython's own allocator
(blocks allocated, pymalloc arenas), the asyncio tasks alive, the live objects counted by type
(the largest counts) and the long-lived containers holding the most entries, each named by the
attribute that holds it (``Tracker._calls``) with its length and what it holds (KiB), so that a
structure growing per call shows as a growing length; a dict of plain values (untracked by the
collector) is found through its holder. The worker then skips ``dialer serve``'s
:func:`gc.freeze`: frozen objects (everything alive at start-up, the long-lived structures too)
are not listed by :func:`gc.get_objects`. The sampling holds the GIL for about a second per
interval; it is a debugging aid of the bench, never imported by the gateway at run time.
"""

from __future__ import annotations

import collections
import ctypes
import ctypes.util
import gc
import json
import os
import sys
import tempfile
import threading
import time
import types
from pathlib import Path
from typing import Any

CONTAINERS = (dict, list, set, frozenset, collections.deque, collections.OrderedDict)
SHARED = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.CodeType)


MALLINFO2 = ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
             "fordblks", "keepcost")  # fmt: skip


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in MALLINFO2]


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name) if name else None


def mallinfo(libc: ctypes.CDLL | None) -> dict[str, float]:
    """glibc's heap in MiB: in use, free inside the heap, mmapped; empty off glibc."""
    if libc is None or not hasattr(libc, "mallinfo2"):
        return {}
    libc.mallinfo2.restype = _Mallinfo2
    info = libc.mallinfo2()
    fields = {"heap_mb": info.arena, "in_use_mb": info.uordblks, "free_mb": info.fordblks,
              "mmap_mb": info.hblkhd}  # fmt: skip
    return {key: round(value / 2**20, 2) for key, value in fields.items()}


def pymalloc_arenas() -> int | None:
    """CPython's pymalloc arenas in use now (``sys._debugmallocstats``, written to fd 2)."""
    with tempfile.TemporaryFile() as out:
        saved = os.dup(2)
        try:
            os.dup2(out.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        for line in out.read().decode(errors="replace").splitlines():
            if line.startswith("# arenas allocated current"):
                return int(line.rsplit("=", 1)[1].replace(",", ""))
    return None


def _attribute(holder: object, container: object) -> str | None:
    """``Class.attribute`` if ``holder`` holds ``container`` in an attribute or slot."""
    if isinstance(holder, type):
        return None
    attrs = getattr(holder, "__dict__", None)
    names = list(attrs) if isinstance(attrs, dict) else []
    names += list(getattr(type(holder), "__slots__", ()))
    for name in names:
        if getattr(holder, name, None) is container:
            return f"{type(holder).__qualname__}.{name}"
    return None


def _owner(container: object) -> str:
    """``Class.attribute`` of the object holding ``container``, or the container's type."""
    for ref in gc.get_referrers(container):
        if type(ref) is dict and ref is not container:  # an instance's materialized __dict__
            holders = [h for h in gc.get_referrers(ref) if getattr(h, "__dict__", None) is ref]
        else:
            holders = [ref]  # 3.11 keeps an instance's attributes inline; or a slot
        for holder in holders:
            if (name := _attribute(holder, container)) is not None:
                return name
    return type(container).__qualname__


def deep_kib(root: object, limit: int = 300_000) -> float:
    """What ``root`` holds, in KiB: the objects reachable from it (not classes, modules or
    functions: those are shared), each counted once; at most ``limit`` objects are visited."""
    seen = {id(root)}
    todo = [root]
    size = 0
    while todo and len(seen) < limit:
        obj = todo.pop()
        size += sys.getsizeof(obj)
        for ref in gc.get_referents(obj):
            if id(ref) not in seen and not isinstance(ref, SHARED):
                seen.add(id(ref))
                todo.append(ref)
    return round(size / 1024, 1)


def sample(libc: ctypes.CDLL | None, top: int = 25, big: int = 500) -> dict[str, Any]:
    """One probe line (see the module's docstring)."""
    with open("/proc/self/statm") as statm:
        rss = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    objects = gc.get_objects()
    counts = collections.Counter(type(o).__qualname__ for o in objects)
    big_ones = {id(o): o for o in objects if isinstance(o, CONTAINERS) and len(o) >= big}
    for o in objects:  # a dict of plain values (str, int) is not tracked: found by its holder
        for ref in gc.get_referents(o):
            if isinstance(ref, CONTAINERS) and not gc.is_tracked(ref) and len(ref) >= big:
                big_ones[id(ref)] = ref
    sized = sorted(((len(o), o) for o in big_ones.values()), key=lambda p: p[0], reverse=True)
    sized = sized[:top]
    containers: dict[str, tuple[int, float]] = {}
    for length, container in sized:
        name = _owner(container)
        name = f"{name}#{len(containers)}" if name in containers else name
        containers[name] = (length, deep_kib(container))
    del objects, sized, big_ones
    return {"t": round(time.monotonic(), 1), "rss_mb": round(rss, 2), **mallinfo(libc),
            "py_blocks": sys.getallocatedblocks(), "pymalloc_arenas": pymalloc_arenas(),
            "gc_counts": gc.get_count(), "tasks": counts["Task"],
            "types": dict(counts.most_common(top)),
            "containers": containers}  # fmt: skip


def start(out: Path, every_s: float) -> None:
    """A daemon thread writing one line every ``every_s`` seconds to ``out``."""
    libc = _libc()

    def loop() -> None:
        while True:
            time.sleep(every_s)
            line = json.dumps(sample(libc))
            with out.open("a") as f:
                f.write(line + "\n")

    threading.Thread(target=loop, name="soak-probe", daemon=True).start()


def start_trim(every_s: float) -> None:
    """A daemon thread calling glibc's ``malloc_trim(0)`` every ``every_s`` seconds."""
    libc = _libc()
    if libc is None or not hasattr(libc, "malloc_trim"):
        return

    def loop() -> None:
        while True:
            time.sleep(every_s)
            libc.malloc_trim(0)

    threading.Thread(target=loop, name="soak-trim", daemon=True).start()
