"""The pacing benchmark: a deterministic discrete-event simulation on a virtual clock.

``register_bench`` adds ``dialer bench pacing``. Nothing here opens a socket or reads the wall clock
except the CLI timing its own run.
"""

from __future__ import annotations

from bench.pacing.cli import register_bench

__all__ = ["register_bench"]
