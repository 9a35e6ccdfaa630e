"""Strict names at the edge: values with Asterisk separators never reach the simulator's socket.

The control API refuses them first (``tests/api/test_strict_names.py``); these tests bypass the
API and hand the dialer the values directly, as configuration or an old stored row would.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from asterisk_sim import SimAsterisk
from asterisk_sim.amiproto import AmiMessage
from gateway.asterisk import validate
from gateway.asterisk.errors import InvalidValue
from gateway.asterisk.pool import ServerConfig
from gateway.asterisk.validate import LEDGER_PUSH_HEADER
from tests.gateway.conftest import DialerFactory, Recorder, request, wait_healthy
from tests.gateway.test_sim import server, world

INJECTED = "DIALER_CONNECT_TIMEOUT=600"
BAD_VALUES = [
    ("queue", f"sales,{INJECTED}"),
    ("queue", "sales support"),
    ("queue", "sales|x"),
    ("queue", "sales(1)"),
    ("queue", "sales;x"),
    ("queue", "${EXTEN}"),
    ("queue", "{sales}"),
    ("caller_id_name", f"Acme,{INJECTED}"),
    ("caller_id_name", "Acme $(x)"),
    ("caller_id_name", "Acme;"),
    ("caller_id_name", "Acme|{y}"),
]


@pytest.fixture
async def sim() -> AsyncIterator[SimAsterisk]:
    async with SimAsterisk(world()) as running:
        yield running


@pytest.mark.parametrize(("field", "bad"), BAD_VALUES, ids=[repr(b) for _, b in BAD_VALUES])
async def test_separators_never_reach_the_ami_socket(
    sim: SimAsterisk, make_dialer: DialerFactory, recorder: Recorder, field: str, bad: str
) -> None:
    dialer = await make_dialer([server(sim)])
    await wait_healthy(dialer, recorder)
    req = dataclasses.replace(request("+15551000001"), **{field: bad})  # type: ignore[arg-type]
    with pytest.raises(InvalidValue) as err:
        dialer.originate(req)
    assert err.value.field == field
    good = request("+15551000001")
    dialer.originate(good)  # a clean request still goes out: the socket is being read

    def originates() -> list[AmiMessage]:
        return [m for _, m in sim.ami_received if m.action.lower() == "originate"]

    await sim.wait_received(lambda: bool(originates()))
    sent = originates()
    assert [m.get("ActionID") for m in sent] == [good.attempt_id]
    variables = [v for m in sent for v in m.get_all("Variable")]
    assert variables.count(LEDGER_PUSH_HEADER) == len(sent)  # the gateway's own constant
    assert not [v for v in variables if v != LEDGER_PUSH_HEADER and (INJECTED in v or "," in v)]
    assert bad not in str([m.get("CallerID") for m in sent])


@pytest.mark.parametrize(
    "headers",
    [
        [("Action", "Originate"), ("Variable", f"DIALER_QUEUE=sales,{INJECTED}")],
        [("Action", "Originate"), ("Variable", "DIALER_QUEUE=a b")],
        [("Action", "Originate"), ("Variable", "DIALER_QUEUE=${X}")],
    ],
)
def test_the_last_check_before_the_wire_refuses_split_variables(
    headers: list[tuple[str, str]],
) -> None:
    with pytest.raises(InvalidValue):
        validate.header_values(headers)


@pytest.mark.parametrize(
    "trunk",
    ["PJSIP/{number}@a&PJSIP/{number}@b", "PJSIP/{number}@a,20", "PJSIP/{number}@a b"],
)
def test_trunk_templates_with_separators_are_refused(trunk: str) -> None:
    with pytest.raises(InvalidValue):
        ServerConfig("pbx1", trunk=trunk)


@pytest.mark.parametrize(
    ("func", "value", "ok"),
    [
        (validate.caller_id_name, "Acme Sales - Ünïcode", True),
        (validate.caller_id_name, "O'Brien & Co.", True),
        (validate.caller_id_name, "a,b", False),
        (lambda v: validate.name("queue", v), "sales-east_2", True),
        (lambda v: validate.name("queue", v), "sales,x", False),
        (lambda v: validate.variable("DIALER_QUEUE", v), "sales", True),
        (lambda v: validate.variable("DIALER_QUEUE", v), "", True),
        (lambda v: validate.variable("DIALER_QUEUE", v), "sales,x=1", False),
    ],
)
def test_grammar_table(func: object, value: str, ok: bool) -> None:
    if ok:
        func(value)  # type: ignore[operator]
    else:
        with pytest.raises(InvalidValue):
            func(value)  # type: ignore[operator]


def _refused_field(headers: list[tuple[str, str]]) -> str | None:
    """The one-by-one checks of ``header_values`` (its slow path): the field refused, if any."""
    try:
        for key, value in headers:
            validate.text("AMI header name", key, max_len=64)
            validate.text(f"AMI header {key}", value, max_len=1024)
            if key.lower() == "variable" and value != LEDGER_PUSH_HEADER:
                name_, _, val = value.partition("=")
                validate.variable(name_, val)
    except InvalidValue as exc:
        return exc.field
    return None


@pytest.mark.parametrize(
    "headers",
    [
        [("Action", "Originate"), ("Variable", "DIALER_QUEUE=sales")],
        [("Action", "Originate"), ("Variable", LEDGER_PUSH_HEADER)],
        [("Action", "Originate"), ("variable", "A=b=c")],  # the first "=" splits; "=" is a token
        [("Action", "Originate"), ("Variable", "NOVALUE")],  # no "=": a name with an empty value
        [("Action", "Originate"), ("Variable", "=x")],
        [("Action", "Originate"), ("Variable", "1A=x")],
        [("Action", "Originate"), ("Variable", "A" * 65 + "=x")],
        [("Action", "Originate"), ("Variable", "A=" + "x" * 257)],
        [("Action", "Originate"), ("Variable", "A=x\x85")],
        [("Action", "Originate"), ("CallerID", '"Acme" <+15551234567>')],
        [("Action", "Originate"), ("CallerID", "Acme\u2028Action: Hangup")],
        [("Action", "Originate"), ("ActionID", "x\r\nAction: Originate")],
        [("Action", "Origi\x00nate")],
        [("A" * 65, "x")],
        [("Action", "x" * 1025)],
        [("Action", "x" * 1024)],
        [("Action", 5)],  # not text at all
    ],
)
def test_the_one_pass_header_check_agrees_with_the_full_checks(
    headers: list[tuple[str, str]],
) -> None:
    """The fast path of ``header_values`` never lets through what a full check refuses: the
    verdict (and, when refused, the field named) is that of the checks one by one."""
    field = _refused_field(headers)
    if field is None:
        validate.header_values(headers)
    else:
        with pytest.raises(InvalidValue) as refused:
            validate.header_values(headers)
        assert refused.value.field == field
        assert not validate._plain_headers(headers)
