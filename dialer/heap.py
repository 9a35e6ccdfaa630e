"""Keeping the garbage collector's full passes short in the long-running server.

CPython's full (generation 2) collection walks every tracked object. After start-up the gateway
holds about 125,000 of them (modules, classes, SQLAlchemy and aiohttp internals) that live as
long as the process, and under 200 concurrent status requests a full pass came every ~0.5 s and
stopped the event loop for 45–60 ms each time: every request in flight waited, and those waits
were the status endpoint's p99 (``dialer bench api``). :func:`freeze_startup_heap` collects once
and moves what is alive then into the permanent generation (:func:`gc.freeze`), which full passes
skip; they then take a few milliseconds. Objects created later are collected as before; cycles
among the frozen ones are never freed, which is why it is called once, after start-up.

Called by ``dialer serve`` when the service is ready, and by ``dialer bench api`` for its server
so that the benchmark runs the way production does. Not in :class:`dialer.app.Service`
itself:
tests run services inside the test process, whose heap must stay collectable.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> int:
    """Collect, then exempt every object alive now from later collections; returns their count."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
