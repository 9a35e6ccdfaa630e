"""The recorded raw traces replayed through the parser and the tracker give the right outcomes."""

from __future__ import annotations

import itertools

import pytest

from gateway.asterisk.ami.events import Response, parse_event
from gateway.asterisk.ami.parser import AmiParser
from gateway.asterisk.calls.model import OriginateRequest
from gateway.asterisk.calls.tracker import CallTracker
from pacing.calls import AttemptResult
from pacing.outcomes import Outcome
from tests.gateway.traces import TRACES, SentOriginate, sent_originates

# The filter trace has no .sent.txt; the README says what was sent.
FILTER_TRACE_ORIGINATE = [SentOriginate("o1", "Local/10001@sim-carrier", None, 30000)]


def replay(name: str, *, data: bytes | None = None, cancel: bool = False) -> list[AttemptResult]:
    """Feed one trace to a tracker that tracks the trace's own Originates."""
    results: list[AttemptResult] = []
    ticks = itertools.count()
    tracker = CallTracker("pbx1", on_result=results.append, clock=lambda: next(ticks) * 0.01)
    originates = sent_originates(name) if name != "ami-filter-action" else FILTER_TRACE_ORIGINATE
    for o in originates:
        req = OriginateRequest(o.action_id, 1, 42, "+15550001", "+15550100", "Dialer", "q", 30.0)
        tracker.track(req, dial_string=o.channel, channel_ids=False)
        if o.channel_id:  # the trace set ChannelId: the ids are known in advance
            tracker.accepted(o.action_id, o.channel_id)
        tracker.sent(o.action_id)
        if cancel:
            tracker.cancel(o.action_id)
    ids = {o.action_id for o in originates}
    raw = data if data is not None else (TRACES / f"{name}.txt").read_bytes()
    parser = AmiParser()
    for start in range(0, len(raw), 997):
        for msg in parser.feed(raw[start : start + 997]):
            event = parse_event(msg)
            if isinstance(event, Response) and event.action_id in ids and not event.success:
                tracker.rejected(event.action_id, event.message)
            else:
                tracker.handle(event)
    assert len(tracker) == 0, f"unsettled: {list(tracker.in_flight())}"
    return results


CASES = [
    ("ami-originate-answered", Outcome.ABANDONED, 16),
    ("ami-originate-answered-channelid", Outcome.ABANDONED, 16),
    ("ami-originate-answered-with-cel", Outcome.ABANDONED, 16),
    ("ami-originate-application", Outcome.ABANDONED, None),
    ("ami-originate-to-stasis", Outcome.ABANDONED, None),
    ("ami-filter-action", Outcome.ABANDONED, 16),
    ("ami-originate-busy", Outcome.BUSY, 17),
    ("ami-originate-busy-channelid", Outcome.BUSY, 17),
    ("ami-originate-noanswer", Outcome.NO_ANSWER, 19),
    ("ami-originate-noanswer-channelid", Outcome.NO_ANSWER, 19),
    ("ami-originate-congestion", Outcome.CONGESTION, 34),
    ("ami-originate-failure-cause34", Outcome.CONGESTION, 34),
    ("ami-originate-no-such-extension", Outcome.FAILED, None),
    ("ami-originate-no-such-context", Outcome.FAILED, None),
    ("ami-originate-answered-bad-destination-context", Outcome.FAILED, None),
    ("ami-queue-answered", Outcome.ANSWERED, 16),
    ("ami-queue-abandon", Outcome.ABANDONED, None),
    ("ami-originate-answered-amd", Outcome.ABANDONED, 16),
]


@pytest.mark.parametrize(("name", "outcome", "cause"), CASES, ids=[c[0] for c in CASES])
def test_trace_outcome(name: str, outcome: Outcome, cause: int | None) -> None:
    (result,) = replay(name)
    assert result.outcome is outcome
    if cause is not None:
        assert result.cause == cause


def test_filter_trace_needs_only_the_filtered_events() -> None:
    (result,) = replay("ami-filter-action")
    assert result.answered_at is not None
    assert result.ended_at >= result.answered_at


def test_queue_answered_records_agent_and_times() -> None:
    (r,) = replay("ami-queue-answered")
    assert r.agent == "Agent 202"
    assert r.rang_at is not None
    assert r.answered_at is not None
    assert r.connected_at is not None
    assert r.originated_at <= r.rang_at <= r.answered_at <= r.connected_at <= r.ended_at
    assert r.hold_s is not None
    assert r.talk_s is not None
    assert r.post_dial_delay_s is not None
    assert r.caller_id == "+15550100"
    assert r.server == "pbx1"


def test_amd_status_is_recorded() -> None:
    (r,) = replay("ami-originate-answered-amd")
    assert r.amd_status == "NOTSURE"


def test_machine_from_a_recorded_amd_event() -> None:
    raw = (TRACES / "ami-originate-answered-amd.txt").read_bytes()
    (r,) = replay("ami-originate-answered-amd", data=raw.replace(b"NOTSURE", b"MACHINE"))
    assert r.outcome is Outcome.MACHINE


def test_dialer_abandoned_user_event() -> None:
    raw = (TRACES / "ami-originate-answered-amd.txt").read_bytes()
    raw = raw.replace(b"UserEvent: AMDResult", b"UserEvent: DialerAbandoned")
    (r,) = replay("ami-originate-answered-amd", data=raw)
    assert r.outcome is Outcome.ABANDONED


def test_hangup_by_the_gateway_is_cancelled() -> None:
    (r,) = replay("ami-originate-answered-then-hangup-action", cancel=True)
    assert r.outcome is Outcome.CANCELLED


def test_bad_actions_trace_settles_every_originate() -> None:
    results = {r.attempt_id: r.outcome for r in replay("ami-bad-actions")}
    # bad-3: unknown tech, async (Reason 0); bad-4: sync "Originate failed";
    # bad-5: answered, then hung up in an empty context (a live answer nobody took)
    assert results == {"bad-3": Outcome.FAILED, "bad-4": Outcome.FAILED, "bad-5": Outcome.ABANDONED}


def test_every_outcome_seen_in_the_traces() -> None:
    seen = {replay(name)[0].outcome for name, _, _ in CASES}
    seen.add(replay("ami-originate-answered-then-hangup-action", cancel=True)[0].outcome)
    raw = (TRACES / "ami-originate-answered-amd.txt").read_bytes()
    seen.add(
        replay("ami-originate-answered-amd", data=raw.replace(b"NOTSURE", b"MACHINE"))[0].outcome
    )
    expected = set(Outcome) - {Outcome.DNC, Outcome.UNKNOWN}
    assert seen == expected
