"""The tier's real Asterisk 22: :mod:`bench.pbx` (shared with ``dialer bench asterisk``), with the
test world of ``tests/asterisk_real/world/`` by default."""

from __future__ import annotations

from bench.pbx import (
    AMI_SECRET,
    AMI_USER,
    ARI_APP,
    ARI_PASSWORD,
    ARI_USER,
    TRUNK,
    RealAsterisk,
    asterisk_home,
    find_build,
    skip_reason,
)

__all__ = [
    "AMI_SECRET",
    "AMI_USER",
    "ARI_APP",
    "ARI_PASSWORD",
    "ARI_USER",
    "TRUNK",
    "RealAsterisk",
    "asterisk_home",
    "find_build",
    "skip_reason",
]
