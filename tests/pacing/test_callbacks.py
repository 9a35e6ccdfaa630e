"""Table test of :func:`pacing.callbacks.decide`: when a callback is dialled, and for whom."""

from __future__ import annotations

import datetime as dt

import pytest

from pacing.callbacks import Hold, Verdict, decide

AT = dt.datetime(2026, 1, 6, 16, 0, tzinfo=dt.UTC)
MIN = dt.timedelta(minutes=1)
GRACE = 15 * MIN
FREE = {"ann"}
IN = {"ann", "bob"}  # logged in: ann free, bob on a call


@pytest.mark.parametrize(
    ("agent", "now", "expected"),
    [
        (None, AT - MIN, Verdict(False, hold=Hold.NOT_DUE, until=AT)),
        ("ann", AT - MIN, Verdict(False, hold=Hold.NOT_DUE, until=AT)),
        (None, AT, Verdict(True)),
        (None, AT + GRACE * 3, Verdict(True)),
        ("ann", AT, Verdict(True, "ann")),  # her callback, she is free: for her only
        ("ann", AT + GRACE - MIN, Verdict(True, "ann")),
        ("bob", AT, Verdict(False, hold=Hold.AGENT_BUSY, until=AT + GRACE)),
        ("cy", AT + MIN, Verdict(False, hold=Hold.AGENT_LOGGED_OUT, until=AT + GRACE)),
        ("bob", AT + GRACE, Verdict(True)),  # the grace is over: anyone
        ("cy", AT + GRACE + MIN, Verdict(True)),
    ],
)
def test_decide(agent: str | None, now: dt.datetime, expected: Verdict) -> None:
    assert decide(AT, agent, now, GRACE, free=FREE, logged_in=IN) == expected


def test_no_grace_means_anyone_at_once() -> None:
    assert decide(AT, "cy", AT, dt.timedelta(0), free=(), logged_in=()) == Verdict(True)
