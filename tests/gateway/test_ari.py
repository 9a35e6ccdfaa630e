"""ARI at the edge: recorded error bodies into the error tree, recorded frames into typed events,
and the recorded event streams through the tracker; plus the REST client on a real app."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from gateway.asterisk.ari.client import AriClient, AriEndpoint
from gateway.asterisk.ari.errors import error_for
from gateway.asterisk.ari.events import (
    ApplicationReplaced,
    Dial,
    StasisStart,
    parse_frame,
    to_tracker,
)
from gateway.asterisk.calls.model import OriginateRequest
from gateway.asterisk.calls.tracker import VERDICT_GRACE_S, CallTracker
from gateway.asterisk.errors import (
    AriBadRequest,
    AriError,
    AriNotFound,
    AriServerError,
    AriUnauthorized,
    LinkDown,
    ProtocolError,
)
from pacing.calls import AttemptResult
from pacing.outcomes import Outcome
from tests.gateway.traces import TRACES


def recorded_response(name: str) -> tuple[int, str]:
    raw = (TRACES / f"{name}.response.http").read_bytes().decode()
    head, _, body = raw.partition("\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize(
    ("name", "cls", "message"),
    [
        ("ari-error-400-originate-bad-json", AriBadRequest, "Error parsing request body"),
        ("ari-error-400-originate-missing-endpoint", AriBadRequest, "Endpoint must be specified"),
        ("ari-error-401-bad-password", AriUnauthorized, "Authentication required"),
        ("ari-error-404-channel-not-found", AriNotFound, "Channel not found"),
        ("ari-error-404-unknown-resource", AriNotFound, "Resource not found"),
        ("ari-error-405-method-not-allowed", AriError, "Invalid method"),
        ("ari-error-500-originate-bad-tech", AriServerError, "Allocation failed"),
    ],
)
def test_recorded_errors_map_to_the_tree(name: str, cls: type[AriError], message: str) -> None:
    status, body = recorded_response(name)
    err = error_for(status, body, method="POST", path="/channels")
    assert type(err) is cls
    assert err.status == status
    assert err.message == message


def test_a_body_that_is_not_json_is_kept_as_text() -> None:
    status, body = recorded_response("ari-error-ws-400-missing-app")
    err = error_for(status, body)
    assert type(err) is AriBadRequest
    assert "missing param: [app]" in err.message


def jsonl(name: str) -> list[str]:
    return (TRACES / f"{name}.jsonl").read_text().splitlines()


@pytest.mark.parametrize("path", sorted(TRACES.glob("ari-*.jsonl")), ids=lambda p: p.name)
def test_every_recorded_frame_parses(path: Path) -> None:
    for line in path.read_text().splitlines():
        parse_frame(line)


def test_typed_frames() -> None:
    (replaced,) = [parse_frame(x) for x in jsonl("ari-events-app-replaced")]
    assert replaced == ApplicationReplaced("dialer")
    events = [parse_frame(x) for x in jsonl("ari-events-answered")]
    start = next(e for e in events if isinstance(e, StasisStart))
    assert start.args == ("lead-42", "c1")
    assert start.channel.state == "Up"
    assert [e.dialstatus for e in events if isinstance(e, Dial)] == ["", "RINGING", "ANSWER"]
    with pytest.raises(ProtocolError):
        parse_frame('{"type": "ChannelStateChange", "timestamp": ')
    with pytest.raises(ProtocolError):
        parse_frame('{"type": "ChannelDestroyed", "cause": 16}')


def replay_ari(name: str) -> AttemptResult:
    """The ARI side of a recorded call through the tracker (the originate's channel id)."""
    raw = (TRACES / f"{name}-originate.response.http").read_bytes().decode()
    leg1 = raw.partition("\r\n\r\n")[2].split('"id":"')[1].split('"')[0]
    stem, _, seq = leg1.rpartition(".")
    leg2 = f"{stem}.{int(seq) + 1}"
    results: list[AttemptResult] = []
    ticks = itertools.count()
    late = [0.0]  # moved on past the verdict grace once the frames are replayed
    tracker = CallTracker(
        "pbx1", on_result=results.append, clock=lambda: next(ticks) * 0.01 + late[0]
    )
    req = OriginateRequest("a" * 32, 1, 1, "+15550001", "+15550100", "D", "sales", 30.0)
    # as the gateway sends it: channelId=<attempt>, otherChannelId=<attempt>-2
    tracker.track(req, dial_string="Local/x@sim-carrier", needs_response=False)
    tracker.sent(req.attempt_id)
    tracker.accepted(req.attempt_id, req.attempt_id)
    for line in jsonl(name):
        line = line.replace(f'"{leg2}"', f'"{req.attempt_id}-2"')
        event = parse_frame(line.replace(f'"{leg1}"', f'"{req.attempt_id}"'))
        if event is not None and (translated := to_tracker(event)) is not None:
            tracker.handle(translated)
    # an answered call ended on the ARI stream waits for a verdict from the AMI stream (none
    # here: the traces hold only ARI frames), then settles with what it has
    late[0] = VERDICT_GRACE_S + 1.0
    tracker.sweep()
    assert len(results) == 1, "the attempt did not settle"
    return results[0]


@pytest.mark.parametrize(
    ("name", "outcome", "cause"),
    [
        ("ari-events-busy", Outcome.BUSY, 17),
        ("ari-events-noanswer", Outcome.NO_ANSWER, 19),
        ("ari-events-congestion", Outcome.CONGESTION, 34),
        ("ari-events-failure-cause34", Outcome.CONGESTION, 34),
        ("ari-events-answered", Outcome.ABANDONED, 16),  # answered, never given to an agent
        ("ari-events-answered-far-end-hangup", Outcome.ABANDONED, 16),
    ],
)
def test_recorded_ari_calls_through_the_tracker(name: str, outcome: Outcome, cause: int) -> None:
    result = replay_ari(name)
    assert result.outcome is outcome
    assert result.cause == cause


@pytest.fixture
async def fake_ari() -> AsyncIterator[int]:
    """A real aiohttp app answering like Asterisk did in the recordings."""

    async def originate(request: web.Request) -> web.Response:
        if request.query.get("endpoint", "").startswith("Bogus/"):
            return web.json_response({"error": "Allocation failed"}, status=500)
        if request.headers.get("Authorization") != "Basic ZGlhbGVyOnB3":
            return web.json_response({"message": "Authentication required"}, status=401)
        body = await request.json()
        assert body["variables"]["DIALER_QUEUE"] == "sales"
        cid = request.query["channelId"]
        return web.json_response({"id": cid, "name": "PJSIP/carrier-a-1", "state": "Down"})

    async def hangup(request: web.Request) -> web.Response:
        return web.json_response({"message": "Channel not found"}, status=404)

    async def channels(request: web.Request) -> web.Response:
        return web.json_response([{"id": "c1", "name": "PJSIP/a-1", "state": "Up"}])

    app = web.Application()
    app.router.add_post("/ari/channels", originate)
    app.router.add_delete("/ari/channels/{id}", hangup)
    app.router.add_get("/ari/channels", channels)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


async def test_rest_client_against_a_real_app(fake_ari: int) -> None:
    client = AriClient(AriEndpoint("pbx1", "127.0.0.1", fake_ari, "dialer", "pw"))
    await client.open()
    try:
        args = dict(channel_id="b" * 32, other_channel_id="b" * 32 + "-2",
                    caller_id='"D" <+15550100>', timeout_s=20,
                    variables={"DIALER_QUEUE": "sales"}, app_args="b" * 32)  # fmt: skip
        chan = await client.originate(endpoint="PJSIP/+15551@carrier-a", **args)  # type: ignore[arg-type]
        assert chan.id == "b" * 32
        with pytest.raises(AriServerError, match="Allocation failed"):
            await client.originate(endpoint="Bogus/123", **args)  # type: ignore[arg-type]
        with pytest.raises(AriNotFound):
            await client.hangup("nope")
        assert [c.id for c in await client.channels()] == ["c1"]
    finally:
        await client.close()
    with pytest.raises(LinkDown):
        await client.channels()


async def test_rest_client_unreachable_is_link_down(fake_ari: int) -> None:
    client = AriClient(AriEndpoint("pbx1", "127.0.0.1", 1, "dialer", "pw"), request_timeout=2.0)
    await client.open()
    try:
        with pytest.raises(LinkDown):
            await client.channels()
    finally:
        await client.close()
