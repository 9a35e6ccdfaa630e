"""The call leg's pure transition function as tables, and the recorded traces replayed through it.

No event loop, no sockets. The first tables give one input in one state and evidence and say
the next state, what the evidence gained and the commands; the out-of-order rows are the
reorderings seen on the real Asterisk 22.10.1 (``/work/shared/asterisk-traces/README.md``, "No
reliable ordering across event types", and ``tests/asterisk_real/traces``). The trace tests then
replay every recorded call: the tracker translates each event into inputs (recorded here), the
recorded inputs go through :func:`~gateway.asterisk.calls.machine.step` alone, and the outcome
must be the one Asterisk really had (the line of the trace that shows it is checked to be
there), with no illegal input anywhere.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.asterisk.ami import events as ami
from gateway.asterisk.ami.events import Response as AmiResponse
from gateway.asterisk.ami.events import parse_event
from gateway.asterisk.ami.parser import AmiParser
from gateway.asterisk.ari.events import parse_frame, to_tracker
from gateway.asterisk.calls import ledger
from gateway.asterisk.calls import machine as m
from gateway.asterisk.calls.leg import Leg
from gateway.asterisk.calls.model import OriginateRequest
from gateway.asterisk.calls.outcome import Evidence, evolve
from gateway.asterisk.calls.state import TRANSITIONS, CallInput, CallState
from gateway.asterisk.calls.tracker import CallTracker
from pacing.calls import AttemptResult
from pacing.outcomes import Outcome, PbxFault
from tests.gateway.traces import TRACES, parse_sent, sent_actions, sent_originates

S, In = CallState, CallInput
REAL_TRACES = Path(__file__).resolve().parents[1] / "asterisk_real" / "traces"

AMI = Evidence()  # the AMI driver, ids unknown in advance (the recorded traces)
AMI_IDS = Evidence(primary_open=True)  # ChannelId / OtherChannelId set: the gateway's way
ARI = Evidence(needs_response=False, primary_open=True)
RINGING = Evidence(seen_channel=True, up=True, primary_open=True)
ANSWERED = Evidence(seen_channel=True, up=True, primary_open=True, live_answer=True)


def ch(kind: CallInput, up: bool = True, primary_open: bool = True, callee: int = 0,
       own: int = 0) -> m.Channel:  # fmt: skip
    return m.Channel(kind, up, primary_open, callee, own)


def failed_response(reason: int, *, up: bool = True, primary_open: bool = True) -> m.Response:
    return m.Response(reason, False, up, primary_open, False)


ANSWER_RESPONSE = m.Response(4, True, True, True, False)


@pytest.mark.parametrize(
    ("state", "ev", "inp", "next_state", "gained", "commands"),
    [
        (S.QUEUED, AMI, m.SENT, S.DIALING, {}, ()),
        (S.DIALING, AMI, m.SENT, S.DIALING, {}, ()),  # the write notice after the first events
        (S.DIALING, AMI_IDS, ch(In.CHANNEL), S.DIALING, {"seen_channel": True, "up": True}, ()),
        (S.DIALING, RINGING, ch(In.RING), S.RINGING, {}, (m.STAMP_RING,)),
        (
            S.RINGING,
            RINGING,
            ch(In.ANSWER),
            S.ANSWERED,
            {"live_answer": True},
            (m.STAMP_ANSWER, m.PROGRESS),
        ),
        (S.ANSWERED, ANSWERED, m.JOIN_QUEUE, S.IN_QUEUE, {}, ()),
        # a queue join whose answer was lost (an AMI cut) or came before an adoption
        (
            S.RINGING,
            RINGING,
            m.JOIN_QUEUE,
            S.IN_QUEUE,
            {"live_answer": True},
            (m.STAMP_ANSWER, m.PROGRESS),
        ),
        (
            S.DIALING,
            AMI_IDS,
            m.JOIN_QUEUE,
            S.IN_QUEUE,
            {"live_answer": True},
            (m.STAMP_ANSWER, m.PROGRESS),
        ),
        (
            S.IN_QUEUE,
            ANSWERED,
            m.Connect("Agent 202"),
            S.CONNECTED,
            {"connected": True, "agent": "Agent 202"},
            (m.STAMP_CONNECT, m.PROGRESS),
        ),
        (S.IN_QUEUE, ANSWERED, m.Abandon(queue=True), S.SETTLED, {"abandoned": True}, ()),
        (
            S.ANSWERED,
            ANSWERED,
            m.Amd("MACHINE"),
            S.SETTLED,
            {"amd_status": "MACHINE", "machine": True},
            (m.PROGRESS,),
        ),
        (
            S.ANSWERED,
            ANSWERED,
            m.Amd("NOTSURE"),
            S.ANSWERED,
            {"amd_status": "NOTSURE"},
            (m.PROGRESS,),
        ),
        (S.RINGING, RINGING, m.Cause(17, 0), S.RINGING, {"callee_cause": 17}, ()),
        (
            S.RINGING,
            RINGING,
            m.Disposition("BUSY", primary=False),
            S.RINGING,
            {"disposition": "BUSY"},
            (),
        ),
        (S.DIALING, AMI_IDS, m.UNCERTAIN, S.DIALING, {"reconciling": True}, (m.RECONCILE,)),
        (S.QUEUED, AMI_IDS, m.LINK_LOST, S.QUEUED, {}, ()),  # never written: nothing to settle
        (S.RINGING, RINGING, m.LINK_LOST, S.RINGING, {"reconciling": True}, (m.RECONCILE,)),
        (S.RINGING, RINGING, m.RESTARTED, S.RINGING, {"fault": PbxFault.PBX_LOST}, ()),
        (S.QUEUED, AMI_IDS, m.RESTARTED, S.QUEUED, {}, ()),
        (S.QUEUED, AMI_IDS, m.ADOPT, S.DIALING, {"reconciling": True}, (m.RECONCILE,)),
        (S.RINGING, RINGING, m.CANCEL, S.RINGING, {"cancelled": True}, ()),  # ends at hang-up
    ],
)
def test_one_input(
    state: CallState,
    ev: Evidence,
    inp: m.Input,
    next_state: CallState,
    gained: dict[str, object],
    commands: tuple[m.Command, ...],
) -> None:
    got = m.step(state, ev, inp)
    assert got.state is next_state
    assert _diff(ev, got.evidence) == gained
    assert got.commands == commands


@pytest.mark.parametrize(
    ("state", "ev", "inp", "outcome", "sent"),
    [
        (S.QUEUED, AMI_IDS, m.CANCEL, Outcome.CANCELLED, False),  # never written
        (S.DIALING, AMI_IDS, m.REFUSED, Outcome.FAILED, True),  # Response: Error / ARI 4xx-5xx
        (
            S.CONNECTED,
            Evidence(
                connected=True,
                live_answer=True,
                seen_channel=True,
                response_seen=True,
                reason=4,
                primary_open=True,
                up=True,
            ),
            ch(In.GONE, up=False, primary_open=False, callee=16, own=16),
            Outcome.ANSWERED,
            True,
        ),
        (
            S.SETTLED,
            Evidence(machine=True, live_answer=True, held=True, seen_channel=True),
            m.SETTLE,
            Outcome.MACHINE,
            True,
        ),
        (S.RINGING, RINGING, m.EXPIRE, Outcome.UNKNOWN, True),  # no response, no hang-up
        (S.RINGING, Evidence(response_seen=True, reason=3), m.EXPIRE, Outcome.NO_ANSWER, True),
        (S.DIALING, Evidence(reconciling=True), m.Ledger(None, last=True), Outcome.UNKNOWN, True),
        # left by our own crashed process, nothing of it ever seen, no ledger line: never sent
        (
            S.DIALING,
            Evidence(reconciling=True),
            m.Ledger(None, last=True, unsent_possible=True),
            Outcome.UNKNOWN,
            False,
        ),
        # … but a call that rang, or had a cause, did reach Asterisk: it stays sent (unknown)
        (
            S.RINGING,
            Evidence(reconciling=True, seen_channel=True),
            m.Ledger(None, last=True, unsent_possible=True),
            Outcome.UNKNOWN,
            True,
        ),
        (
            S.DIALING,
            Evidence(reconciling=True, leg_cause=16),
            m.Ledger(None, last=True, unsent_possible=True),
            Outcome.UNKNOWN,
            True,
        ),
        (
            S.SETTLED,
            Evidence(reconciling=True, live_answer=True, machine=True),
            m.MISSING,
            Outcome.MACHINE,
            True,
        ),  # the link came back without the call: its verdict was known
        (
            S.IN_QUEUE,
            Evidence(reconciling=True, live_answer=True, connected=True),
            m.MISSING,
            Outcome.ANSWERED,
            True,
        ),
    ],
)
def test_inputs_that_end_the_call(
    state: CallState, ev: Evidence, inp: m.Input, outcome: Outcome, sent: bool
) -> None:
    got = m.step(state, ev, inp)
    assert got.state is S.ENDED
    assert got.commands[-1] == m.Finish(outcome, sent)


def test_a_ledger_line_settles_a_call_that_ended_unseen() -> None:
    line = ledger.parse("v1&c:16&a:1796245451.022624&k:ANSWERED&d:&q:&m:Agent 101&e:1796245458")
    assert line is not None
    got = m.step(S.RINGING, Evidence(reconciling=True), m.Ledger(line, last=False))
    assert (got.state, got.evidence.agent) == (S.ENDED, "Agent 101")
    assert got.commands == (m.Finish(Outcome.ANSWERED, True),)
    missing = m.step(S.RINGING, Evidence(reconciling=True), m.MISSING)
    assert (missing.state, missing.commands) == (S.RINGING, (m.ASK_LEDGER,))


def test_found_again_after_the_link_came_back_resumes_and_may_connect() -> None:
    ev = Evidence(reconciling=True, live_answer=True, seen_channel=True)
    got = m.step(S.IN_QUEUE, ev, m.Found("Agent 7"))
    assert got.state is S.CONNECTED
    assert (got.evidence.reconciling, got.evidence.needs_response) == (False, False)
    assert got.commands == (m.RESUME, m.STAMP_CONNECT, m.PROGRESS)


# The reorderings the real Asterisk showed, each as the sequence of inputs it gives.
@dataclass(frozen=True)
class Arrival:
    name: str
    ev: Evidence
    inputs: tuple[m.Input, ...]
    outcome: Outcome
    waits: tuple[float, ...] = ()  # the grace deadlines set on the way
    then: tuple[m.Input, ...] = field(default=())  # after the wait (the sweep)


ARRIVALS = [
    # busy / congestion: OriginateResponse before the Hangups (the cause comes after)
    Arrival(
        "response-before-hangup",
        AMI_IDS,
        (
            m.SENT,
            ch(In.CHANNEL),
            failed_response(5),
            ch(In.GONE, False, True, 17, 0),
            ch(In.GONE, False, False, 0, 0),
        ),
        Outcome.BUSY,
        (m.HANGUP_GRACE_S,),
    ),
    # no answer / no such context: the Hangups before the OriginateResponse
    Arrival(
        "hangup-before-response",
        AMI_IDS,
        (
            m.SENT,
            ch(In.RING),
            ch(In.GONE, False, False, 19, 19),
            failed_response(3, up=False, primary_open=False),
        ),
        Outcome.NO_ANSWER,
    ),
    # a burst: the failed response before the call's Newchannel was even seen
    Arrival(
        "response-before-newchannel",
        AMI_IDS,
        (m.SENT, failed_response(0, up=False), ch(In.CHANNEL), ch(In.GONE, False, False, 1, 1)),
        Outcome.FAILED,
        (m.HANGUP_GRACE_S,),
    ),
    # a failed response whose Hangup never came: the sweep settles it with what it has
    Arrival(
        "response-without-hangup",
        AMI_IDS,
        (m.SENT, failed_response(8, up=False)),
        Outcome.CONGESTION,
        (m.HANGUP_GRACE_S,),
        (m.EXPIRE,),
    ),
    # DialEnd ANSWER after the OriginateResponse said answered (and a late DialState RINGING)
    Arrival(
        "dialend-after-response",
        AMI_IDS,
        (
            m.SENT,
            ch(In.RING),
            ANSWER_RESPONSE,
            m.Dial("ANSWER", end=True),
            m.Dial("RINGING", end=False),
            ch(In.GONE, False, False, 16, 16),
        ),
        Outcome.ABANDONED,
    ),
    # DialEnd ANSWER before the OriginateResponse
    Arrival(
        "dialend-before-response",
        AMI_IDS,
        (
            m.SENT,
            ch(In.RING),
            m.Dial("ANSWER", end=True),
            ch(In.ANSWER),
            ANSWER_RESPONSE,
            ch(In.GONE, False, False, 16, 16),
        ),
        Outcome.ABANDONED,
    ),
    # a Cdr before the Newchannel of the same call
    Arrival(
        "cdr-before-newchannel",
        AMI_IDS,
        (
            m.SENT,
            m.Disposition("BUSY", primary=True),
            ch(In.CHANNEL),
            ch(In.GONE, False, False, 0, 0),
            failed_response(5, up=False, primary_open=False),
        ),
        Outcome.BUSY,
    ),
    # the queue: AgentConnect after QueueCallerLeave, Newstate Up seen again after the connect
    Arrival(
        "agent-connect",
        AMI_IDS,
        (
            m.SENT,
            ch(In.RING),
            ch(In.ANSWER),
            ANSWER_RESPONSE,
            m.JOIN_QUEUE,
            m.Connect("Agent 202"),
            ch(In.ANSWER),
            m.Abandon(queue=True),
            ch(In.GONE, False, False, 16, 16),
        ),
        Outcome.ANSWERED,
    ),
    # ARI: the AMD verdict on the AMI stream beats the StasisStart on the ARI WebSocket
    Arrival(
        "amd-before-ari-answer",
        ARI,
        (m.SENT, ch(In.RING), m.Amd("MACHINE"), ch(In.ANSWER), ch(In.GONE, False, False, 16, 16)),
        Outcome.MACHINE,
    ),
    # ARI: the channel gone before the verdict arrives on the AMI stream (held, then released)
    Arrival(
        "verdict-after-ari-hangup",
        ARI,
        (m.SENT, ch(In.ANSWER), ch(In.GONE, False, False, 16, 16), m.Amd("MACHINE")),
        Outcome.MACHINE,
        (m.VERDICT_GRACE_S,),
    ),
    # AgentConnect before any answer event (the answer implied)
    Arrival(
        "connect-before-answer",
        ARI,
        (
            m.SENT,
            ch(In.RING),
            m.Connect("Agent 1"),
            ch(In.ANSWER),
            ch(In.GONE, False, False, 16, 16),
        ),
        Outcome.ANSWERED,
    ),
    # core restart now: a silent end (every cause 0) held until the Shutdown names the fault
    Arrival(
        "silent-end-then-shutdown",
        AMI_IDS,
        (
            m.SENT,
            ch(In.RING),
            m.Dial("NOANSWER", end=True),
            ch(In.GONE, False, False, 0, 0),
            m.Response(0, False, False, False, False),
            m.Disposition("NO ANSWER", primary=True),
            m.SHUTDOWN,
        ),
        Outcome.FAILED,
        (m.SHUTDOWN_GRACE_S,),
    ),
    # the Hangup action of the gateway (a cancel) after answer
    Arrival(
        "cancel-after-answer",
        AMI_IDS,
        (m.SENT, ch(In.ANSWER), ANSWER_RESPONSE, m.CANCEL, ch(In.GONE, False, False, 16, 16)),
        Outcome.CANCELLED,
    ),
]


@pytest.mark.parametrize("arrival", ARRIVALS, ids=[a.name for a in ARRIVALS])
def test_out_of_order_arrivals(arrival: Arrival) -> None:
    state, ev = S.QUEUED, arrival.ev
    waits: list[float] = []
    finished: list[m.Finish] = []
    for inp in (*arrival.inputs, *arrival.then):
        assert not finished, f"input after the end: {inp}"
        state, ev, commands = m.step(state, ev, inp)
        assert not [c for c in commands if isinstance(c, m.Illegal)], inp
        waits += [c.grace_s for c in commands if isinstance(c, m.Wait)]
        finished += [c for c in commands if isinstance(c, m.Finish)]
    assert state is S.ENDED
    assert finished == [m.Finish(arrival.outcome, True)]
    assert tuple(waits) == arrival.waits


@pytest.mark.parametrize(
    ("state", "inp", "kind"),
    [
        (S.CONNECTED, m.Amd("MACHINE"), In.MACHINE),  # an agent talks to it: AMD is long over
        (S.QUEUED, m.JOIN_QUEUE, In.JOIN_QUEUE),
        (S.CONNECTED, m.Abandon(queue=False), In.ABANDON),
        (S.SETTLED, m.Connect("Agent 1"), In.CONNECT),
        (S.ENDED, ch(In.RING), In.RING),  # ended is terminal
    ],
)
def test_an_illegal_input_keeps_the_state_says_so_and_keeps_the_fact(
    state: CallState, inp: m.Input, kind: CallInput
) -> None:
    ev = Evidence(live_answer=True, connected=state is S.CONNECTED, seen_channel=True, up=True)
    got = m.step(state, ev, inp)
    assert got.state is state
    assert m.Illegal(state, kind) in got.commands
    if state is not S.ENDED and kind is not In.JOIN_QUEUE:
        assert got.evidence != ev  # the fact is recorded; the outcome rules rank it


def test_the_tracker_counts_and_warns_an_illegal_input_with_the_call_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    illegal: list[tuple[str, str]] = []
    results: list[AttemptResult] = []
    tracker = CallTracker("pbx1", on_result=results.append, clock=lambda: 1.0,
                          on_illegal=lambda s, i: illegal.append((s, i)))  # fmt: skip
    aid = "c0ffee"
    tracker.track(OriginateRequest(aid, 1, 1, "+15550001", "+15550100", "D", "q", 30.0),
                  dial_string="Local/1@c")  # fmt: skip
    tracker.sent(aid)
    tracker.handle(ami.ChannelEvent("Newstate", "Local/1@c-1;1", aid, aid, 6))
    tracker.handle(ami.AgentEvent("AgentConnect", "q", aid, aid, "Local/201@m", "Agent 201"))
    tracker.handle(ami.ChannelEvent("Newstate", "Local/1@c-1;1", aid, aid, 5))  # late: harmless
    assert (illegal, caplog.records) == ([], [])
    tracker.handle(ami.UserEvent("AMDResult", aid, aid, aid, amd_status="MACHINE"))
    assert illegal == [("connected", "machine")]
    assert tracker.illegal_inputs == 1
    (record,) = [r for r in caplog.records if r.levelname == "WARNING"]
    assert f"call={aid} illegal input machine in state connected" in record.getMessage()
    assert tracker.state_of(aid) is S.CONNECTED
    for uid in (aid, f"{aid}-2"):
        tracker.handle(ami.Hangup("Local/1@c-1;1", uid, aid, 16, "Normal Clearing"))
    tracker.handle(ami.OriginateResponse(aid, True, 4, "Local/1@c", aid))
    assert [r.outcome for r in results] == [Outcome.ANSWERED]


def test_ended_is_terminal_for_every_kind() -> None:
    assert not [k for k in TRANSITIONS if k[0] is S.ENDED]


def test_the_transition_is_logged_with_the_call_id(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="gateway.asterisk.calls")
    m.step(S.RINGING, RINGING, ch(In.ANSWER), "abc")
    assert "call=abc ringing -[answer]-> answered" in caplog.text


def test_the_leg_and_its_evidence_stay_slotted() -> None:
    req = OriginateRequest("a1", 1, 1, "+15550001", "+15550100", "D", "q", 30.0)
    leg = Leg(req, "pbx1", "Local/1@c", 0.0, datetime.now(UTC), Evidence())
    assert not hasattr(leg, "__dict__")
    assert not hasattr(leg.ev, "__dict__")


def test_evolve_is_replace_for_every_field_and_refuses_an_unknown_one() -> None:
    base = Evidence(reason=3, agent="alice", dial_status="BUSY", fault=PbxFault.PBX_LOST)
    for f in dataclasses.fields(Evidence):
        value: Any = {bool: True, int: 7, str: "X"}.get(type(getattr(base, f.name)), "changed")
        if f.name in ("reason", "fault"):
            value = None
        assert evolve(base, **{f.name: value}) == dataclasses.replace(base, **{f.name: value})
    assert evolve(base) == base
    assert evolve(base) is not base
    assert type(evolve(base, up=True)) is Evidence
    assert base == Evidence(reason=3, agent="alice", dial_status="BUSY", fault=PbxFault.PBX_LOST)
    with pytest.raises(TypeError):
        evolve(base, no_such_field=True)


# --- the recorded traces, through the tracker's translation and the pure function ---------


class RecordingTracker(CallTracker):
    """The real tracker, keeping the inputs it gave the machine, per call, with the start."""

    def __init__(self, clock_step: float) -> None:
        self.results: list[AttemptResult] = []
        self.illegal: list[tuple[str, str]] = []
        ticks = itertools.count()
        self.late = 0.0
        super().__init__("pbx1", on_result=self.results.append,
                         clock=lambda: next(ticks) * clock_step + self.late,
                         on_illegal=lambda s, i: self.illegal.append((s, i)))  # fmt: skip
        self.inputs: dict[str, list[m.Input]] = {}
        self.start: dict[str, tuple[CallState, Evidence]] = {}

    def _step(self, leg: Leg, inp: m.Input, *, gave_up: str = "") -> tuple[m.Command, ...]:
        self.start.setdefault(leg.attempt_id, (leg.state, leg.ev))
        self.inputs.setdefault(leg.attempt_id, []).append(inp)
        return super()._step(leg, inp, gave_up=gave_up)


def replay_ami(path: Path, *, channel_ids: bool, cancel: bool = False) -> RecordingTracker:
    tracker = RecordingTracker(0.01)
    sent = [a for a in sent_actions_at(path) if a.get("Action") == "Originate" and "Channel" in a]
    for a in sent:
        aid = a["ActionID"]
        req = OriginateRequest(aid, 1, 42, "+15550001", "+15550100", "Dialer", "q", 30.0)
        tracker.track(req, dial_string=a["Channel"], channel_ids=channel_ids)
        if a.get("ChannelId") and not channel_ids:
            tracker.accepted(aid, a["ChannelId"])
        tracker.sent(aid)
        if cancel:
            tracker.cancel(aid)
    ids = {a["ActionID"] for a in sent}
    for msg in AmiParser().feed(path.read_bytes()):
        event = parse_event(msg)
        if isinstance(event, AmiResponse) and event.action_id in ids and not event.success:
            tracker.rejected(event.action_id, event.message)
        else:
            tracker.handle(event)
    return tracker


def sent_actions_at(path: Path) -> list[dict[str, str]]:
    if path.parent == TRACES:
        return sent_actions(path.name.removesuffix(".txt"))
    return parse_sent(path.with_name(path.name.replace(".txt", ".sent.txt")).read_bytes().decode())


def replay_ari(name: str) -> RecordingTracker:
    raw = (TRACES / f"{name}-originate.response.http").read_bytes().decode()
    leg1 = raw.partition("\r\n\r\n")[2].split('"id":"')[1].split('"')[0]
    stem, _, seq = leg1.rpartition(".")
    leg2 = f"{stem}.{int(seq) + 1}"
    tracker = RecordingTracker(0.01)
    aid = "a" * 32
    req = OriginateRequest(aid, 1, 1, "+15550001", "+15550100", "D", "sales", 30.0)
    tracker.track(req, dial_string="Local/x@sim-carrier", needs_response=False)
    tracker.sent(aid)
    tracker.accepted(aid, aid)
    for line in (TRACES / f"{name}.jsonl").read_text().splitlines():
        line = line.replace(f'"{leg2}"', f'"{aid}-2"').replace(f'"{leg1}"', f'"{aid}"')
        event = parse_frame(line)
        if event is not None and (translated := to_tracker(event)) is not None:
            tracker.handle(translated)
    tracker.late = m.VERDICT_GRACE_S + 1.0  # only ARI frames here: no verdict will come
    tracker.sweep()
    return tracker


# trace, call (ActionID), outcome, the trace's line that shows what Asterisk did
AMI_CALLS = [
    ("ami-originate-answered", "ami-originate-answered", Outcome.ABANDONED, "Reason: 4"),
    ("ami-originate-answered-channelid", "ami-originate-answered-channelid", Outcome.ABANDONED,
     "Disposition: ANSWERED"),
    ("ami-originate-answered-with-cel", "ami-originate-answered-with-cel", Outcome.ABANDONED,
     "Disposition: ANSWERED"),
    ("ami-originate-answered-amd", "ami-originate-answered-amd", Outcome.ABANDONED,
     "AMDSTATUS: NOTSURE"),
    ("ami-originate-application", "orig-app", Outcome.ABANDONED, "Reason: 4"),
    ("ami-originate-to-stasis", "orig-stasis", Outcome.ABANDONED, "Reason: 4"),
    ("ami-status-during-call", "orig-status", Outcome.ABANDONED, "Reason: 4"),
    ("ami-originate-busy", "ami-originate-busy", Outcome.BUSY, "Disposition: BUSY"),
    ("ami-originate-busy-channelid", "ami-originate-busy-channelid", Outcome.BUSY, "Reason: 5"),
    ("ami-originate-noanswer", "ami-originate-noanswer", Outcome.NO_ANSWER, "Reason: 3"),
    ("ami-originate-noanswer-channelid", "ami-originate-noanswer-channelid", Outcome.NO_ANSWER,
     "Reason: 3"),
    ("ami-originate-congestion", "ami-originate-congestion", Outcome.CONGESTION, "Reason: 8"),
    ("ami-originate-failure-cause34", "ami-originate-failure-cause34", Outcome.CONGESTION,
     "Cause: 34"),
    ("ami-originate-no-such-extension", "ami-originate-no-such-extension", Outcome.FAILED,
     "Disposition: FAILED"),
    ("ami-originate-no-such-context", "ami-originate-no-such-context", Outcome.FAILED,
     "Reason: 0"),
    ("ami-originate-answered-bad-destination-context",
     "ami-originate-answered-bad-destination-context", Outcome.FAILED,
     "Message: Extension does not exist."),
    ("ami-originate-sync-busy", "ami-originate-sync-busy", Outcome.FAILED,
     "Message: Originate failed"),
    ("ami-queue-answered", "ami-queue-answered", Outcome.ANSWERED, "Event: AgentConnect"),
    ("ami-queue-abandon", "ami-queue-abandon", Outcome.ABANDONED, "Event: QueueCallerAbandon"),
    ("ami-bad-actions", "bad-3", Outcome.FAILED, "Reason: 0"),
    ("ami-bad-actions", "bad-4", Outcome.FAILED, "Message: Originate failed"),
    ("ami-bad-actions", "bad-5", Outcome.ABANDONED, "Reason: 4"),
]  # fmt: skip
# The real Asterisk's own recordings (ChannelId set, as the gateway sends), by dialled number
REAL_CALLS = [
    ("ami-local-burst-failures", "15552000001", Outcome.MACHINE, "AMDSTATUS: MACHINE"),
    ("ami-local-burst-failures", "15554000001", Outcome.BUSY, "Cause: 17"),
    ("ami-local-burst-failures", "15555000001", Outcome.CONGESTION, "Cause: 34"),
    ("ami-local-burst-failures", "15556000001", Outcome.FAILED, "Cause: 1"),
    ("ami-core-restart", "15553000001", Outcome.FAILED, "Event: Shutdown"),
    ("ami-core-restart", "15551000001", Outcome.ABANDONED, "Reason: 4"),
]
ARI_CALLS = [
    ("ari-events-busy", Outcome.BUSY, '"cause":17'),
    ("ari-events-noanswer", Outcome.NO_ANSWER, '"cause":19'),
    ("ari-events-congestion", Outcome.CONGESTION, '"cause":34'),
    ("ari-events-failure-cause34", Outcome.CONGESTION, '"cause":34'),
    ("ari-events-answered", Outcome.ABANDONED, '"StasisStart"'),
    ("ari-events-answered-far-end-hangup", Outcome.ABANDONED, '"StasisStart"'),
]


def replayed_through_the_function(tracker: RecordingTracker, attempt_id: str) -> Outcome:
    """The call's recorded inputs through the pure function alone: its one outcome."""
    state, ev = tracker.start[attempt_id]
    finished: list[m.Finish] = []
    for inp in tracker.inputs[attempt_id]:
        assert not finished, f"{attempt_id}: input after the end: {inp}"
        state, ev, commands = m.step(state, ev, inp)
        illegal = [c for c in commands if isinstance(c, m.Illegal)]
        assert not illegal, f"{attempt_id}: {illegal} at {inp}"
        finished += [c for c in commands if isinstance(c, m.Finish)]
    assert state is S.ENDED
    (finish,) = finished
    return finish.outcome


def _check(tracker: RecordingTracker, attempt_id: str, outcome: Outcome) -> None:
    assert tracker.illegal == []
    assert replayed_through_the_function(tracker, attempt_id) is outcome
    (result,) = [r for r in tracker.results if r.attempt_id == attempt_id]
    assert result.outcome is outcome  # the tracker ran the same commands


@pytest.mark.parametrize(("trace", "call", "outcome", "shown"), AMI_CALLS,
                         ids=[f"{t}:{c}" for t, c, _, _ in AMI_CALLS])  # fmt: skip
def test_recorded_ami_calls(trace: str, call: str, outcome: Outcome, shown: str) -> None:
    path = TRACES / f"{trace}.txt"
    assert shown.encode() in path.read_bytes()
    assert call in {o.action_id for o in sent_originates(trace)}
    _check(replay_ami(path, channel_ids=False), call, outcome)


@pytest.mark.parametrize(("trace", "number", "outcome", "shown"), REAL_CALLS,
                         ids=[f"{t}:{n}" for t, n, _, _ in REAL_CALLS])  # fmt: skip
def test_recorded_real_asterisk_calls(
    trace: str, number: str, outcome: Outcome, shown: str
) -> None:
    path = REAL_TRACES / f"{trace}.txt"
    assert shown.encode() in path.read_bytes()
    (call,) = [a["ActionID"] for a in sent_actions_at(path)
               if a.get("Action") == "Originate" and number in a.get("Channel", "")]  # fmt: skip
    _check(replay_ami(path, channel_ids=True), call, outcome)


@pytest.mark.parametrize(("trace", "outcome", "shown"), ARI_CALLS, ids=[c[0] for c in ARI_CALLS])
def test_recorded_ari_calls(trace: str, outcome: Outcome, shown: str) -> None:
    assert shown in (TRACES / f"{trace}.jsonl").read_text()
    _check(replay_ari(trace), "a" * 32, outcome)


def test_the_gateways_hangup_of_an_answered_call_is_cancelled() -> None:
    path = TRACES / "ami-originate-answered-then-hangup-action.txt"
    assert b"Message: Channel Hungup" in path.read_bytes()
    _check(replay_ami(path, channel_ids=False, cancel=True), "orig-hup", Outcome.CANCELLED)


@pytest.mark.parametrize(
    ("path", "channel_ids", "alive"),
    [
        (TRACES / "ami-originate-sync-answered.txt", False, {S.ANSWERED}),  # no OriginateResponse
        (
            REAL_TRACES / "ami-local-burst-failures.txt",
            True,
            {S.CONNECTED, S.RINGING, S.SETTLED},
        ),  # live, ringing, failed awaiting its Hangup
        (REAL_TRACES / "ami-kill-9.txt", True, {S.ANSWERED, S.RINGING}),  # Asterisk killed
    ],
    ids=["sync-answered", "burst-still-up", "kill-9"],
)
def test_calls_still_up_at_the_end_of_a_recording_saw_no_illegal_input(
    path: Path, channel_ids: bool, alive: set[CallState]
) -> None:
    tracker = replay_ami(path, channel_ids=channel_ids)
    assert tracker.illegal == []
    assert {c.state for c in tracker.in_flight().values()} == alive


def test_every_pair_the_traces_give_is_a_row_of_the_table() -> None:
    """The (state, input kind) pairs the recorded calls produced: all rows, the late arrivals
    among them as self-loops."""
    ami_traces = sorted({c[0] for c in AMI_CALLS})
    trackers = [replay_ami(TRACES / f"{t}.txt", channel_ids=False) for t in ami_traces]
    real = ("ami-local-burst-failures", "ami-core-restart", "ami-kill-9")
    trackers += [replay_ami(REAL_TRACES / f"{t}.txt", channel_ids=True) for t in real]
    trackers += [replay_ari(t) for t, _, _ in ARI_CALLS]
    seen: set[tuple[CallState, CallInput]] = set()
    for tracker in trackers:
        for call, inputs in tracker.inputs.items():
            state, ev = tracker.start[call]
            for inp in inputs:
                seen.add((state, m.kind_of(inp, ev)))
                state, ev, _ = m.step(state, ev, inp)
    assert seen <= set(TRANSITIONS)
    late = {(S.SETTLED, In.GONE), (S.SETTLED, In.NOTE), (S.SETTLED, In.CHANNEL),
            (S.SETTLED, In.ABANDON), (S.ANSWERED, In.ANSWER), (S.ANSWERED, In.GONE)}  # fmt: skip
    assert late <= seen


def _diff(before: Evidence, after: Evidence) -> dict[str, object]:
    return {
        name: getattr(after, name)
        for name in Evidence.__slots__
        if getattr(after, name) != getattr(before, name)
    }


def test_the_calls_a_kill_9_of_asterisk_left_up_end_failed_after_its_restart() -> None:
    """The second half of the kill -9 recording: the link breaks, the gateway logs in to a new
    Asterisk process (``CoreStatus`` says so), whose channel list is empty. The ringing call
    ends ``failed`` with the fault (retryable, never ``no_answer``); the answered one, never
    connected, counts as abandoned (the safe side of the 2 s rule); nothing is illegal."""
    tracker = replay_ami(REAL_TRACES / "ami-kill-9.txt", channel_ids=True)
    by_state = {c.state: a for a, c in tracker.in_flight().items()}
    assert set(by_state) == {S.ANSWERED, S.RINGING}
    assert sorted(tracker.link_lost()) == sorted(by_state.values())
    tracker.server_restarted()
    assert tracker.reconcile([]) == []  # the restart explains both: no ledger to read
    outcomes = {r.attempt_id: (r.outcome, r.fault) for r in tracker.results}
    assert outcomes == {
        by_state[S.RINGING]: (Outcome.FAILED, PbxFault.PBX_LOST),
        by_state[S.ANSWERED]: (Outcome.ABANDONED, None),
    }
    assert tracker.illegal == []
    assert len(tracker) == 0
