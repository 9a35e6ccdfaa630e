"""Injection: CR, LF, NUL and other control characters are refused before anything is sent."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from gateway.asterisk import validate
from gateway.asterisk.ari.client import AriClient, AriEndpoint
from gateway.asterisk.errors import InvalidValue
from gateway.asterisk.pool import ServerConfig
from tests.gateway.conftest import DialerFactory, Recorder, request, wait_healthy
from tests.gateway.fake_ami import FakeAmi

BAD = ["\r\n", "\n", "\r", "\x00", "\x1b", "\x07", "\x7f", "\x85", "\u2028"]
INJECT = "\r\nAction: Originate\r\nChannel: PJSIP/+19005550000@carrier-a"


@pytest.mark.parametrize("bad", BAD, ids=[repr(b) for b in BAD])
@pytest.mark.parametrize("field", ["number", "caller_id_number", "caller_id_name", "queue"])
async def test_dialer_refuses_control_characters_and_sends_nothing(
    fake_ami: FakeAmi, make_dialer: DialerFactory, recorder: Recorder, field: str, bad: str
) -> None:
    dialer = await make_dialer([ServerConfig("pbx1", ami_port=fake_ami.port,
                                             ami_secret="s3cret")])  # fmt: skip
    await wait_healthy(dialer, recorder)
    good = request()
    req = dataclasses.replace(good, **{field: getattr(good, field) + bad + "X-Injected: 1"})
    with pytest.raises(InvalidValue) as err:
        dialer.originate(req)
    assert err.value.field == field
    assert dialer.in_flight() == {}
    dialer.originate(request())  # a clean request still goes through ...
    await fake_ami.wait_for(lambda: fake_ami.count("Originate") == 1)
    assert b"X-Injected" not in fake_ami.received  # ... and the bad one never reached the socket


@pytest.mark.parametrize(
    ("func", "args"),
    [
        (validate.e164, ("number", "+1555" + INJECT)),
        (validate.caller_id_name, ("Dialer" + INJECT,)),
        (validate.caller_id_name, ('Dialer" <+1900>',)),
        (validate.attempt_id, ("a" * 31 + "\n",)),
        (validate.attempt_id, ("A" * 32,)),
        (validate.name, ("queue", "sales\x00")),
        (validate.name, ("queue", "sales support")),
        (validate.variable, ("DIALER_QUEUE", "sales\r\nVariable: X=1")),
        (validate.variable, ("BAD-NAME", "1")),
        (validate.text, ("note", "tab\tinside")),
        (validate.dial_string, ("PJSIP/{number}@carrier-a\r\n", "+15551234567")),
        (validate.dial_string, ("PJSIP/carrier-a", "+15551234567")),
        # an agent-only callback's member interface goes into Dial() and its U() arguments
        (validate.member_interface, ("PJSIP/agent-101\r\nAction: Originate",)),
        (validate.member_interface, ("PJSIP/agent-101&PJSIP/agent-102",)),  # Dial's list
        (validate.member_interface, ("PJSIP/agent-101^x",)),  # U()'s argument separator
        (validate.member_interface, ("PJSIP/agent-101,30,U(evil)",)),
        (validate.member_interface, ("PJSIP/${EVIL}",)),
        (validate.member_interface, ("Agent 101",)),  # a member name, not an interface
        (validate.member_interface, ("agent-101",)),  # no TECH/
    ],
)
def test_validators_refuse(func: object, args: tuple[str, ...]) -> None:
    with pytest.raises(InvalidValue, match="invalid"):
        func(*args)  # type: ignore[operator]


def test_validators_accept_normal_values() -> None:
    assert validate.e164("number", "+15551234567") == "+15551234567"
    assert validate.caller_id_name("Acme Sales - Ünïcode") == "Acme Sales - Ünïcode"
    assert validate.dial_string("PJSIP/{number}@carrier-a", "+15551234567") == (
        "PJSIP/+15551234567@carrier-a"
    )
    assert validate.ring_timeout(15.0) == 15.0
    with pytest.raises(InvalidValue):
        validate.ring_timeout(14.9)


def test_server_config_refuses_injected_settings_and_hides_secrets() -> None:
    with pytest.raises(InvalidValue):
        ServerConfig("pbx1", trunk="PJSIP/{number}@a\r\nAction: Logoff")
    with pytest.raises(InvalidValue):
        ServerConfig("pbx1", ami_secret="x\r\nAction: Originate")
    cfg = ServerConfig("pbx1", ami_secret="topsecret", ari_password="alsosecret")
    assert "topsecret" not in repr(cfg)
    assert "alsosecret" not in repr(cfg)


@pytest.fixture
async def ari_recorder() -> AsyncIterator[tuple[int, list[str]]]:
    seen: list[str] = []

    async def any_request(request: web.Request) -> web.Response:
        seen.append(request.path_qs)
        return web.json_response({"id": "x", "name": "PJSIP/x", "state": "Down"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", any_request)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield port, seen
    finally:
        await runner.cleanup()


async def test_ari_requests_refuse_injection_before_sending(
    ari_recorder: tuple[int, list[str]],
) -> None:
    port, seen = ari_recorder
    client = AriClient(AriEndpoint("pbx1", "127.0.0.1", port, "dialer", "pw"))
    await client.open()
    try:
        ok = dict(endpoint="PJSIP/+15551234567@carrier-a", channel_id="a" * 32,
                  other_channel_id="a" * 32 + "-2", caller_id='"D" <+15550100>', timeout_s=20,
                  variables={"DIALER_QUEUE": "sales"}, app_args="a" * 32)  # fmt: skip
        for key, bad in [
            ("endpoint", "PJSIP/+1555\r\n@x"),
            ("caller_id", "D\x00"),
            ("variables", {"DIALER_QUEUE": "sales\nX"}),
            ("app_args", "a\rb"),
        ]:
            with pytest.raises(InvalidValue):
                await client.originate(**{**ok, key: bad})  # type: ignore[arg-type]
        with pytest.raises(InvalidValue):
            await client.hangup("chan\r\n")
        assert seen == []
        await client.originate(**ok)  # type: ignore[arg-type]
        assert len(seen) == 1
        assert seen[0].startswith("/ari/channels?")
    finally:
        await client.close()


def test_an_agent_only_callback_carries_its_member_interface_as_one_variable() -> None:
    from gateway.asterisk.calls.runtime import originate_headers

    req = dataclasses.replace(request(), agent_interface="Local/302@dialer-test-agents/n")
    headers = originate_headers(req, "PJSIP/+15551000001@carrier-a")
    validate.header_values(headers)
    variables = [v for k, v in headers if k == "Variable"]
    assert "DIALER_AGENT_INTERFACE=Local/302@dialer-test-agents/n" in variables
    plain = originate_headers(request(), "PJSIP/+15551000001@carrier-a")
    assert not any(v.startswith("DIALER_AGENT_INTERFACE") for k, v in plain if k == "Variable")


async def test_dialer_refuses_a_bad_agent_interface_and_sends_nothing(
    fake_ami: FakeAmi, make_dialer: DialerFactory, recorder: Recorder
) -> None:
    dialer = await make_dialer([ServerConfig("pbx1", ami_port=fake_ami.port,
                                             ami_secret="s3cret")])  # fmt: skip
    await wait_healthy(dialer, recorder)
    req = dataclasses.replace(request(), agent_interface="PJSIP/a\r\nX-Injected: 1")
    with pytest.raises(InvalidValue) as err:
        dialer.originate(req)
    assert err.value.field == "agent_interface"
    assert dialer.in_flight() == {}
    assert b"X-Injected" not in fake_ami.received
