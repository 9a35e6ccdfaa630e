"""The pure AMI parser on raw bytes: splits, several messages per read, banner, repeats."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.asterisk.ami.events import (
    Cdr,
    OriginateResponse,
    QueueMemberEvent,
    Response,
    UserEvent,
    parse_event,
)
from gateway.asterisk.ami.parser import AmiParser, Message, split
from gateway.asterisk.errors import ProtocolError
from tests.gateway.traces import TRACES, ami_traces

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
TWO = (
    b"Response: Success\r\nActionID: a1\r\nMessage: Authentication accepted\r\n\r\n"
    b"Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n"
)


def test_several_messages_in_one_read_and_the_banner() -> None:
    parser = AmiParser()
    messages = parser.feed(BANNER + TWO)
    assert parser.banner == "Asterisk Call Manager/11.0.0"
    assert [m.kind for m in messages] == ["Response", "FullyBooted"]
    assert messages[0].get("ActionID") == "a1"


def test_a_frame_split_across_every_byte_boundary() -> None:
    data = BANNER + TWO
    for cut in range(1, len(data)):
        parser = AmiParser()
        got = parser.feed(data[:cut]) + parser.feed(data[cut:])
        assert [m.fields for m in got] == [m.fields for m in AmiParser().feed(data)], cut


def test_split_returns_the_incomplete_tail() -> None:
    messages, rest = split(TWO + b"Event: Hangup\r\nCause: 16\r\n")
    assert len(messages) == 2
    assert rest == b"Event: Hangup\r\nCause: 16\r\n"


def test_repeated_keys_are_a_multimap_and_empty_values_kept() -> None:
    raw = b"Response: Success\r\nOutput: line one\r\nOutput: line: two\r\nAccountCode: \r\n\r\n"
    (msg,) = split(raw)[0]
    assert msg.getall("Output") == ["line one", "line: two"]
    assert msg.get("AccountCode") == ""
    assert msg.getall("Missing") == []


def test_not_a_banner_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        AmiParser().feed(b"HTTP/1.1 200 OK\r\n")


@pytest.mark.parametrize("path", ami_traces(), ids=lambda p: p.name)
def test_every_trace_parses_in_odd_sized_reads(path: Path) -> None:
    data = path.read_bytes()
    whole = AmiParser().feed(data)
    parser = AmiParser()
    pieces: list[Message] = []
    for start in range(0, len(data), 1017):
        pieces.extend(parser.feed(data[start : start + 1017]))
    assert [m.fields for m in pieces] == [m.fields for m in whole]
    assert len(whole) == data.count(b"\r\n\r\n")
    for msg in whole:
        parse_event(msg)  # every message types without error


def test_typed_events_from_a_trace() -> None:
    data = (TRACES / "ami-originate-busy.txt").read_bytes()
    typed = [parse_event(m) for m in AmiParser().feed(data)]
    (resp,) = [e for e in typed if isinstance(e, OriginateResponse)]
    assert (resp.success, resp.reason, resp.uniqueid) == (False, 5, "<unknown>")
    assert {e.disposition for e in typed if isinstance(e, Cdr)} == {"BUSY"}
    replies = [e for e in typed if isinstance(e, Response)]
    assert replies[0].action_id == "login-1"
    assert replies[0].success


def test_status_variables_and_queue_items() -> None:
    data = (TRACES / "ami-status-during-call.txt").read_bytes()
    msgs = AmiParser().feed(data)
    assert any(len(m.getall("Variable")) > 1 for m in msgs)
    data = (TRACES / "ami-ping-events-command.txt").read_bytes()
    members = [parse_event(m) for m in AmiParser().feed(data)]
    q = [e for e in members if isinstance(e, QueueMemberEvent)]
    assert q
    assert q[0].member_name.startswith("Agent")
    assert q[0].interface.startswith("Local/")


def test_user_event_amd_fields() -> None:
    data = (TRACES / "ami-originate-answered-amd.txt").read_bytes()
    (amd,) = [e for e in map(parse_event, AmiParser().feed(data)) if isinstance(e, UserEvent)]
    assert (amd.user_event, amd.amd_status, amd.amd_cause) == (
        "AMDResult",
        "NOTSURE",
        "TOOLONG-4900",
    )


def test_a_bad_integer_is_a_protocol_error() -> None:
    (msg,) = split(b"Event: OriginateResponse\r\nActionID: x\r\nReason: four\r\n\r\n")[0]
    with pytest.raises(ProtocolError):
        parse_event(msg)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=200), min_size=1, max_size=30))
def test_any_chunking_gives_the_same_messages(cuts: list[int]) -> None:
    data = (TRACES / "ami-queue-member-ops.txt").read_bytes()
    parser = AmiParser()
    got: list[Message] = []
    pos = 0
    for size in cuts * (len(data) // max(1, sum(cuts)) + 1):
        if pos >= len(data):
            break
        got.extend(parser.feed(data[pos : pos + size]))
        pos += size
    got.extend(parser.feed(data[pos:]))
    assert [m.fields for m in got] == [m.fields for m in AmiParser().feed(data)]
