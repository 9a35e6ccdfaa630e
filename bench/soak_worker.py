"""The gateway process of ``dialer bench soak --tracemalloc``: ``dialer serve`` under tracemalloc.

Started by :mod:`bench.soak` as ``python -m bench.soak_worker DIR FRAMES -- <dialer argv>``, it
runs the ``dialer`` command line in this process. On ``SIGUSR1`` it writes a snapshot to
``DIR/snapshot-<n>.pickle`` (``n`` counts from 0); the first signal also starts
:mod:`tracemalloc` with ``FRAMES`` frames (tracing the imports and the start would take minutes),
so the last snapshot holds what was allocated since then and is still alive. Never imported by
the gateway at run time.

``BENCH_SOAK_PROBE_S`` (seconds) starts :mod:`bench.soak_probe`'s sampler (``DIR/probe.jsonl``);
``BENCH_SOAK_TRIM_S`` calls glibc's ``malloc_trim(0)`` that often (a comparison of the soak).
"""

from __future__ import annotations

import itertools
import os
import signal
import sys
import tracemalloc
from pathlib import Path
from types import FrameType

from bench import soak_probe
from dialer import cli


def main(argv: list[str]) -> int:
    out, frames, rest = Path(argv[0]), int(argv[1]), argv[3:]
    numbers = itertools.count()

    def dump(_signum: int, _frame: FrameType | None) -> None:
        if not tracemalloc.is_tracing():
            tracemalloc.start(frames)
        path = out / f"snapshot-{next(numbers)}.pickle"
        snapshot = tracemalloc.take_snapshot()
        snapshot.dump(str(path) + ".tmp")
        Path(str(path) + ".tmp").rename(path)

    signal.signal(signal.SIGUSR1, dump)
    if probe_s := float(os.environ.get("BENCH_SOAK_PROBE_S") or 0):
        soak_probe.start(out / "probe.jsonl", probe_s)
        vars(cli)["freeze_startup_heap"] = lambda: 0  # frozen objects are hidden from the probe
    if trim_s := float(os.environ.get("BENCH_SOAK_TRIM_S") or 0):
        soak_probe.start_trim(trim_s)
    return int(cli.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
