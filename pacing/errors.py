"""Errors of the pacing core.

PacingError               root of every error raised by ``pacing``
├── ScheduleError         a schedule or retry rule is malformed (bad zone, bad hours, bad country)
├── CallerIdError         a caller-ID pool or number is malformed (bad E.164, bad caps)
├── SnapshotError         a pacing snapshot is inconsistent (negative counts, unknown mode)
└── LeaseTermsError       pacer lease terms that would fence a healthy holder (also ValueError)

Nothing here does I/O; these are raised while building or reading pure values.
"""

from __future__ import annotations


class PacingError(Exception):
    """Root of every error raised by the pacing core."""


class ScheduleError(PacingError):
    """A schedule, calling window or retry rule is malformed."""


class CallerIdError(PacingError):
    """A caller-ID pool or number is malformed."""


class SnapshotError(PacingError):
    """A pacing snapshot is inconsistent."""


class LeaseTermsError(PacingError, ValueError):
    """Pacer lease terms that would fence a healthy holder (:mod:`pacing.fencing`)."""
