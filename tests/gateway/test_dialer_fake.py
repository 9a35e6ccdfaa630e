"""The whole dialer against a real TCP AMI peer that replays recorded Asterisk bytes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gateway.asterisk.ami.parser import Message
from gateway.asterisk.errors import InvalidValue, NoCapacity
from gateway.asterisk.pool import ServerConfig
from pacing.outcomes import Outcome
from tests.gateway.conftest import DialerFactory, Recorder, request, wait_healthy
from tests.gateway.fake_ami import FakeAmi, trace_events


def replaying(name: str, channel_id: str) -> Callable[[Message], bytes]:
    """Replay ``name``'s events with its ActionID and ChannelId replaced by the request's."""
    recorded = trace_events(name)

    def events(msg: Message) -> bytes:
        attempt = msg.get("ActionID")
        assert msg.get("ChannelId") == attempt
        assert msg.get("OtherChannelId") == f"{attempt}-2"
        return (recorded.replace(name.encode(), attempt.encode())
                .replace(f"{channel_id};2".encode(), f"{attempt}-2".encode())
                .replace(channel_id.encode(), attempt.encode()))  # fmt: skip

    return events


def config(fake: FakeAmi, **kw: object) -> ServerConfig:
    fields: dict[str, object] = dict(
        name="pbx1",
        ami_port=fake.port,
        ami_secret="s3cret",
        trunk="PJSIP/{number}@carrier-a",
        originate_rate=1000.0,
    )
    fields.update(kw)
    return ServerConfig(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("trace", "channel_id", "outcome", "cause"),
    [
        ("ami-originate-busy-channelid", "dialer-call-0002", Outcome.BUSY, 17),
        ("ami-originate-noanswer-channelid", "dialer-call-0003", Outcome.NO_ANSWER, 19),
        ("ami-originate-answered-channelid", "dialer-call-0001", Outcome.ABANDONED, 16),
    ],
)
async def test_recorded_calls_through_the_dialer(
    fake_ami: FakeAmi, make_dialer: DialerFactory, recorder: Recorder,
    trace: str, channel_id: str, outcome: Outcome, cause: int,
) -> None:  # fmt: skip
    fake_ami.on_originate = replaying(trace, channel_id)
    dialer = await make_dialer([config(fake_ami)])
    await wait_healthy(dialer, recorder)
    req = request()
    assert dialer.originate(req) == "pbx1"
    await recorder.until(lambda: len(recorder.results) == 1)
    (result,) = recorder.results
    assert (result.attempt_id, result.outcome, result.cause) == (req.attempt_id, outcome, cause)
    assert (result.campaign_id, result.record_id, result.server) == (7, 42, "pbx1")
    assert dialer.in_flight() == {}
    (sent,) = [m for m in fake_ami.actions if m.get("Action") == "Originate"]
    assert sent.get("Channel") == "PJSIP/+15551000001@carrier-a"
    assert sent.get("CallerID") == '"Dialer" <+15550100>'
    assert sent.get("Timeout") == "20000"
    assert sent.get("Async") == "true"
    assert (sent.get("Context"), sent.get("Exten"), sent.get("Priority")) == (
        "dialer-outbound",
        "s",
        "1",
    )
    assert sent.getall("Variable") == [
        "CHANNEL(hangup_handler_push)=dialer-hangup\\,s\\,1",  # the outcome ledger
        f"DIALER_ATTEMPT_ID={req.attempt_id}", "DIALER_CAMPAIGN=7", "DIALER_QUEUE=sales",
        "DIALER_AMD=1", "DIALER_CONNECT_TIMEOUT=2",
    ]  # fmt: skip


async def test_an_originate_refused_by_asterisk_is_failed(
    fake_ami: FakeAmi, make_dialer: DialerFactory, recorder: Recorder
) -> None:
    fake_ami.on_originate = lambda msg: (
        f"Response: Error\r\nActionID: {msg.get('ActionID')}\r\n"
        "Message: Extension does not exist.\r\n\r\n").encode()  # fmt: skip
    dialer = await make_dialer([config(fake_ami)])
    await wait_healthy(dialer, recorder)
    dialer.originate(request())
    await recorder.until(lambda: len(recorder.results) == 1)
    assert recorder.results[0].outcome is Outcome.FAILED
    assert "Extension does not exist" in recorder.results[0].detail


async def test_no_capacity_when_down_or_full(
    fake_ami: FakeAmi, make_dialer: DialerFactory, recorder: Recorder
) -> None:
    dialer = await make_dialer([config(fake_ami, channels=2)])
    with pytest.raises(NoCapacity):  # the link is not ready yet
        dialer.originate(request())
    await wait_healthy(dialer, recorder)
    dialer.originate(request())
    dialer.originate(request())
    with pytest.raises(NoCapacity):
        dialer.originate(request())
    snap = dialer.capacity()
    assert (snap.servers[0].used, snap.servers[0].free, snap.free) == (2, 0, 0)
    assert len(dialer.in_flight()) == 2


async def test_the_same_attempt_is_never_originated_twice(
    fake_ami: FakeAmi, make_dialer: DialerFactory, recorder: Recorder
) -> None:
    dialer = await make_dialer([config(fake_ami)])
    await wait_healthy(dialer, recorder)
    req = request()
    dialer.originate(req)
    with pytest.raises(InvalidValue, match="already in flight"):
        dialer.originate(req)
    await fake_ami.wait_for(lambda: fake_ami.count("Originate") == 1)


async def test_rate_limit_queues_and_then_sends(
    fake_ami: FakeAmi, make_dialer: DialerFactory, recorder: Recorder
) -> None:
    dialer = await make_dialer([config(fake_ami, originate_rate=20.0)])
    await wait_healthy(dialer, recorder)
    for _ in range(6):
        dialer.originate(request())
    assert fake_ami.count("Originate") <= 2  # a burst of 2, then 20/s
    assert dialer.capacity().servers[0].backlog >= 4
    await fake_ami.wait_for(lambda: fake_ami.count("Originate") == 6, within=5)


async def test_hangup_of_an_unsent_call_is_cancelled(
    fake_ami: FakeAmi, make_dialer: DialerFactory, recorder: Recorder
) -> None:
    dialer = await make_dialer([config(fake_ami, originate_rate=1.0)])
    await wait_healthy(dialer, recorder)
    dialer.originate(request())  # takes the one token
    queued = request()
    dialer.originate(queued)
    assert await dialer.hangup(queued.attempt_id)
    assert recorder.by_id()[queued.attempt_id].outcome is Outcome.CANCELLED
    assert recorder.by_id()[queued.attempt_id].sent is False  # withdrawn, not a call
    assert not await dialer.hangup("f" * 32)
