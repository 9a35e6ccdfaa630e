"""The ARI driver's two event streams: a verdict on the AMI stream after the end on the ARI one.

With ``driver = "ari"`` a call's end comes on the ARI WebSocket (``ChannelDestroyed``) and what
the dialplan said before it (``UserEvent AMDResult``, ``AgentConnect``) on the AMI stream; under
load the AMI stream lags. Seen on the real Asterisk 22 (test_every_outcome[asterisk-ari] under
CPU load): a machine hung up after AMD was recorded ``abandoned``. Pure: events in, results out.
"""

from __future__ import annotations

import itertools

import pytest

from gateway.asterisk.ami import events as ev
from gateway.asterisk.calls.model import OriginateRequest
from gateway.asterisk.calls.runtime import device_of
from gateway.asterisk.calls.tracker import VERDICT_GRACE_S, CallTracker
from pacing.calls import AttemptResult
from pacing.outcomes import Outcome

AID = "a" * 32


def _ari_call() -> tuple[CallTracker, list[AttemptResult], list[float]]:
    results: list[AttemptResult] = []
    now = [0.0]
    tracker = CallTracker("pbx1", on_result=results.append, clock=lambda: now[0])
    req = OriginateRequest(AID, 1, 42, "+15552000001", "+15550100", "Dialer", "sales", 15.0)
    tracker.track(req, dial_string="Local/15552000001@carrier", needs_response=False)
    tracker.sent(AID)
    tracker.accepted(AID, AID)
    tracker.handle(ev.ChannelEvent("Newstate", "Local/x;1", AID, AID, 6))  # answered
    tracker.handle(ev.Hangup("Local/x;1", AID, AID, 16, "Normal Clearing"))  # ARI's end first
    return tracker, results, now


def test_a_machine_verdict_after_the_ari_end_still_counts() -> None:
    tracker, results, _ = _ari_call()
    assert results == []  # held for the verdict
    tracker.handle(ev.UserEvent("AMDResult", AID, AID, AID, "MACHINE", "MAXWORDS-4-3"))
    assert [r.outcome for r in results] == [Outcome.MACHINE]


def test_an_answer_with_no_verdict_is_abandoned_after_the_grace() -> None:
    tracker, results, now = _ari_call()
    now[0] += VERDICT_GRACE_S - 0.1
    tracker.sweep()
    assert results == []
    now[0] += 0.2
    tracker.sweep()
    assert [r.outcome for r in results] == [Outcome.ABANDONED]
    assert len(tracker) == 0


def test_an_agent_connect_after_the_ari_end_is_answered() -> None:
    tracker, results, _ = _ari_call()
    tracker.handle(ev.AgentEvent("AgentConnect", "sales", AID, AID, "Local/101", "Agent 101"))
    assert [(r.outcome, r.agent) for r in results] == [(Outcome.ANSWERED, "Agent 101")]


def test_with_ami_the_end_settles_at_once() -> None:
    results: list[AttemptResult] = []
    ticks = itertools.count()
    tracker = CallTracker("pbx1", on_result=results.append, clock=lambda: next(ticks) * 0.001)
    req = OriginateRequest(AID, 1, 42, "+15551000001", "+15550100", "Dialer", "sales", 15.0)
    tracker.track(req, dial_string="Local/15551000001@carrier")
    tracker.sent(AID)
    tracker.handle(ev.OriginateResponse(AID, True, 4, "Local/x;1", AID))
    tracker.handle(ev.ChannelEvent("Newchannel", "Local/x;1", AID, AID, 6))
    tracker.handle(ev.Hangup("Local/x;1", AID, AID, 16, "Normal Clearing"))
    assert [r.outcome for r in results] == [Outcome.ABANDONED]  # one ordered stream: no wait


def test_a_connect_missed_during_a_cut_is_learnt_from_the_channel_list() -> None:
    results: list[AttemptResult] = []
    now = [0.0]
    tracker = CallTracker("pbx1", on_result=results.append, clock=lambda: now[0])
    req = OriginateRequest(AID, 1, 42, "+15551000001", "+15550100", "Dialer", "sales", 15.0)
    tracker.track(req, dial_string="Local/15551000001@carrier")
    tracker.sent(AID)
    tracker.handle(ev.OriginateResponse(AID, True, 4, "Local/x;1", AID))
    tracker.handle(ev.ChannelEvent("Newchannel", "Local/x;1", AID, AID, 6))
    tracker.link_lost()  # AgentConnect is sent while the link is down
    tracker.reconcile([AID], {AID: "Agent 101"})  # in Queue(), bridged with Agent 101
    tracker.handle(ev.Hangup("Local/x;1", AID, AID, 16, "Normal Clearing"))
    assert [(r.outcome, r.agent) for r in results] == [(Outcome.ANSWERED, "Agent 101")]


@pytest.mark.parametrize(
    ("channel", "device"),
    [
        ("PJSIP/agent-101-0000000a", "PJSIP/agent-101"),
        ("Local/101@dialer-test-agents-00000006;1", "Local/101@dialer-test-agents"),
    ],
)
def testdevice_of_a_channel(channel: str, device: str) -> None:
    assert device_of(channel) == device
