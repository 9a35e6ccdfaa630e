"""The outcome ledger's lines (asterisk_conf/extensions.conf, [dialer-hangup]) as evidence.

The lines in the table are the ones Asterisk 22.10.1 wrote for the project's test world
(tests/asterisk_real/test_ledger.py reads them on the real peer): a Local-channel busy and
congestion with cause 0 and the CDR disposition, a ring timeout, an unallocated number, a
machine, a person connected to an agent, and an answered call that never reached the queue.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.asterisk.calls import ledger
from gateway.asterisk.calls.outcome import Evidence, decide
from pacing.outcomes import Outcome

LINES = [
    ("v1&c:0&a:0.000000&k:BUSY&d:&q:&m:&e:1796245450", Outcome.BUSY),
    ("v1&c:0&a:0.000000&k:CONGESTION&d:&q:&m:&e:1796245450", Outcome.CONGESTION),
    ("v1&c:19&a:0.000000&k:FAILED&d:&q:&m:&e:1796245453", Outcome.NO_ANSWER),
    ("v1&c:1&a:0.000000&k:NO ANSWER&d:&q:&m:&e:1796245450", Outcome.FAILED),
    ("v1&c:17&a:&k:&d:&q:&m:&e:1796245450", Outcome.BUSY),  # a PJSIP trunk: the real cause
    ("v1&c:0&a:&k:&d:&q:&m:&e:1796245450", Outcome.FAILED),  # nothing known but "ended"
    ("v1&c:16&a:1796245451.022249&k:ANSWERED&d:MACHINE&q:&m:&e:1796245453", Outcome.MACHINE),
    ("v1&c:16&a:1796245451.022624&k:ANSWERED&d:&q:&m:Agent 101&e:1796245458", Outcome.ANSWERED),
    ("v1&c:16&a:1796245451.5&k:ANSWERED&d:HUMAN&q:TIMEOUT&m:&e:1796245455", Outcome.ABANDONED),
    ("v1&c:16&a:1796245451.5&k:ANSWERED&d:&q:&m:&e:1796245459", Outcome.ABANDONED),  # Stasis
]


@pytest.mark.parametrize(("value", "outcome"), LINES)
def test_each_line_decides_the_outcome_the_live_events_would(value: str, outcome: Outcome) -> None:
    line = ledger.parse(value)
    assert line is not None
    assert decide(ledger.evidence(line, Evidence())) is outcome


def test_the_fields_of_a_connected_call() -> None:
    line = ledger.parse("v1&c:16&a:1796245451.022624&k:ANSWERED&d:&q:&m:Agent 101&e:1796245458")
    assert line is not None
    assert line.member == "Agent 101"
    assert line.answered_epoch == pytest.approx(1796245451.022624)
    assert line.ended_epoch == 1796245458.0
    assert line.disposition == "ANSWERED"


@pytest.mark.parametrize("value", ["", "v2&c:16", "garbage", "c:16&a:1"])
def test_a_line_of_another_format_is_not_read(value: str) -> None:
    assert ledger.parse(value) is None


def test_evidence_from_live_events_is_kept() -> None:
    ev = Evidence(connected=True, callee_cause=16)
    line = ledger.parse("v1&c:19&a:0.000000&k:FAILED&d:&q:&m:&e:1")
    assert line is not None
    got = ledger.evidence(line, ev)
    assert got.callee_cause == 16
    assert decide(got) is Outcome.ANSWERED


def test_families_cover_the_call_hours_newest_first_with_a_clock_margin() -> None:
    placed = datetime(2026, 12, 2, 20, 55, tzinfo=UTC)
    now = datetime(2026, 12, 2, 21, 3, tzinfo=UTC)
    assert ledger.families(placed, now) == [
        "dialer-outcome/2026120221", "dialer-outcome/2026120220",
    ]  # fmt: skip
    assert ledger.families(now, now + timedelta(minutes=55)) == [
        "dialer-outcome/2026120222", "dialer-outcome/2026120221", "dialer-outcome/2026120220",
    ]  # fmt: skip
    old = ledger.families(now - timedelta(days=2), now)
    assert len(old) == ledger.MAX_HOURS
    assert old[0] == "dialer-outcome/2026120221"


def test_the_originate_header_escapes_the_handlers_commas() -> None:
    assert ledger.AMI_PUSH_HEADER == r"CHANNEL(hangup_handler_push)=dialer-hangup\,s\,1"
    assert ledger.AMI_PUSH_HEADER.replace("\\,", ",") == f"{ledger.PUSH_VARIABLE}={ledger.HANDLER}"
