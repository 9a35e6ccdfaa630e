"""Traces recorded from the real Asterisk 22.10.1 (``record_trace.py``), replayed through the
parser and the tracker: no Asterisk needed.

``ami-local-burst-failures``: seven Originates at once (every outcome) on a Local trunk. Asterisk
sent the failed ``OriginateResponse`` of the congested and the unallocated number before their
channels' ``Newchannel`` and ``Hangup`` (which carry the Q.850 cause): the tracker used to
settle on the response alone and recorded the unallocated number as ``no_answer`` with no
cause. The simulator always sent the
Hangups first (the recorded single-call traces do), so only the real Asterisk showed it.

``ami-amd-bounded``: a person, a machine and a silent line at once into ``dialer-outbound`` with
AMD bounded to 1 s (the 2 s rule; the world's amd.conf): the machine is MACHINE
(LONGGREETING), the person and the silent line NOTSURE (TOOLONG, at the bound), the person takes
the only agent and the silent line leaves the queue after ``QUEUE_WAIT`` = 1 s (HoldTime 1).
"""

from __future__ import annotations

import itertools
from pathlib import Path

from gateway.asterisk.ami.events import QueueCaller, UserEvent, parse_event
from gateway.asterisk.ami.parser import AmiParser
from gateway.asterisk.calls.model import OriginateRequest
from gateway.asterisk.calls.tracker import CallTracker
from pacing.calls import AttemptResult
from pacing.outcomes import Outcome, PbxFault

TRACES = Path(__file__).resolve().parent / "traces"


def _sent(name: str) -> list[dict[str, str]]:
    actions = []
    for block in (TRACES / f"{name}.sent.txt").read_bytes().decode().split("\r\n\r\n"):
        fields: dict[str, str] = {}
        for line in block.split("\r\n"):
            key, _, value = line.partition(": ")
            fields.setdefault(key, value)
        if fields.get("Action") == "Originate":
            actions.append(fields)
    return actions


def replay(name: str) -> dict[str, AttemptResult]:
    results: list[AttemptResult] = []
    ticks = itertools.count()
    tracker = CallTracker("pbx1", on_result=results.append, clock=lambda: next(ticks) * 0.001)
    numbers = {}
    for action in _sent(name):
        aid, channel = action["ActionID"], action["Channel"]
        numbers[aid] = channel.removeprefix("Local/").partition("@")[0]
        req = OriginateRequest(aid, 1, 42, "+" + numbers[aid], "+15550100", "Dialer", "q", 15.0)
        tracker.track(req, dial_string=channel, channel_ids=True)
        tracker.sent(aid)
    parser = AmiParser()
    for msg in parser.feed((TRACES / f"{name}.txt").read_bytes()):  # banner included
        tracker.handle(parse_event(msg))
    return {numbers[r.attempt_id]: r for r in results}


def test_failed_originates_answered_before_their_hangups_keep_the_cause() -> None:
    # the live and the ringing calls are still up when the recording ends; the rest settle
    got = {n: (r.outcome, r.cause) for n, r in replay("ami-local-burst-failures").items()}
    assert got == {
        "15552000001": (Outcome.MACHINE, 16), "15554000001": (Outcome.BUSY, 17),
        "15555000001": (Outcome.CONGESTION, 34), "15556000001": (Outcome.FAILED, 1),
    }  # fmt: skip


def test_core_restart_fails_the_ringing_call_with_pbx_restart() -> None:
    # ``core restart now`` with a call ringing (…300…) and one answered, in AMD (…100…): the
    # ringing one ends with Reason 0, every cause 0, DialEnd NOANSWER and Cdr NO ANSWER (read as
    # a no-answer before), then Shutdown; the answered one was a live answer never connected
    got = {n: (r.outcome, r.fault) for n, r in replay("ami-core-restart").items()}
    assert got == {
        "15553000001": (Outcome.FAILED, PbxFault.PBX_RESTART),
        "15551000001": (Outcome.ABANDONED, None),
    }


def test_amd_bounded_to_the_connect_limit() -> None:
    # the person is still talking to the agent when the recording ends; the others settle
    got = {n: (r.outcome, r.amd_status) for n, r in replay("ami-amd-bounded").items()}
    assert got == {
        "15552000001": (Outcome.MACHINE, "MACHINE"), "15557000001": (Outcome.ABANDONED, "NOTSURE"),
    }  # fmt: skip
    events = [
        parse_event(m) for m in AmiParser().feed((TRACES / "ami-amd-bounded.txt").read_bytes())
    ]
    causes = sorted(e.amd_cause for e in events if isinstance(e, UserEvent) and e.amd_cause)
    assert causes == ["LONGGREETING-400-400", "TOOLONG-900", "TOOLONG-900"]  # within 1000 ms
    left = [e for e in events if isinstance(e, QueueCaller) and e.name == "QueueCallerAbandon"]
    assert [e.hold_time for e in left] == [1]  # QUEUE_WAIT: 2 s less AMD's 1 s, in whole seconds
