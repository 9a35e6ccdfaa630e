"""Trunk templates: each number format, refused templates, and the Originate on the wire."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from asterisk_sim import SimAsterisk
from gateway.asterisk import validate
from gateway.asterisk.dialstring import check_template, fill
from gateway.asterisk.errors import InvalidValue
from gateway.settings import SettingsError, load_settings
from pacing.outcomes import Outcome
from tests.gateway.conftest import DialerFactory, Recorder, request, wait_healthy
from tests.gateway.test_sim import server, world


@pytest.fixture
async def sim() -> AsyncIterator[SimAsterisk]:
    async with SimAsterisk(world()) as running:
        yield running


FILLED = [
    ("PJSIP/{number}@carrier-a", "+15551234567", "PJSIP/+15551234567@carrier-a"),
    ("PJSIP/{e164}@carrier-a", "+15551234567", "PJSIP/+15551234567@carrier-a"),
    ("PJSIP/{digits}@carrier-a", "+15551234567", "PJSIP/15551234567@carrier-a"),
    ("PJSIP/{national}@carrier-a", "+15551234567", "PJSIP/5551234567@carrier-a"),
    ("PJSIP/{national}@uk", "+442079460000", "PJSIP/02079460000@uk"),
    ("PJSIP/{national}@fr", "+33142685300", "PJSIP/0142685300@fr"),
    ("Local/9{digits}@carrier/n", "+442079460000", "Local/9442079460000@carrier/n"),
]


@pytest.mark.parametrize(("template", "number", "dial"), FILLED)
def test_each_format(template: str, number: str, dial: str) -> None:
    assert fill(template, number) == dial
    assert validate.dial_string(template, number) == dial


REFUSED = [
    ("PJSIP/5551234567@carrier-a", "exactly one of"),
    ("PJSIP/{number}{digits}@carrier-a", "exactly one of"),
    ("PJSIP/{number}@{number}", "exactly one of"),
    ("PJSIP/{phone}@carrier-a", "unknown placeholder {phone}"),
    ("PJSIP/{number@carrier-a", "exactly one of"),
    ("PJSIP/{digits}}@carrier-a", "exactly one of"),
]


@pytest.mark.parametrize(("template", "why"), REFUSED)
def test_refused_templates(template: str, why: str) -> None:
    with pytest.raises(InvalidValue, match=why):
        check_template(template)


def test_a_bad_template_stops_the_settings_load_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "dialer.toml"
    config.write_text('[[servers]]\nname = "pbx1"\ntrunk = "PJSIP/5551234567@carrier-a"\n')
    with pytest.raises(SettingsError) as caught:
        load_settings({}, config)
    assert caught.value.name.endswith("servers[0].trunk")
    assert "{digits}" in str(caught.value)
    config.write_text(
        '[[servers]]\nname = "pbx1"\nami_secret = "s"\ntrunk = "PJSIP/{national}@carrier-a"\n'
    )
    assert load_settings({}, config).servers[0].trunk == "PJSIP/{national}@carrier-a"


@pytest.mark.parametrize(
    ("template", "channel"),
    [
        ("PJSIP/{digits}@carrier-a", "PJSIP/15551000001@carrier-a"),
        ("PJSIP/{national}@carrier-a", "PJSIP/5551000001@carrier-a"),
        ("PJSIP/{e164}@carrier-a", "PJSIP/+15551000001@carrier-a"),
        ("PJSIP/{number}@carrier-a", "PJSIP/+15551000001@carrier-a"),
    ],
)
async def test_the_channel_asterisk_is_asked_to_dial(
    sim: SimAsterisk,
    make_dialer: DialerFactory,
    recorder: Recorder,
    template: str,
    channel: str,
) -> None:
    """The Originate as the simulator read it off the socket carries the formatted number."""
    dialer = await make_dialer([server(sim, trunk=template)])
    await wait_healthy(dialer, recorder)
    req = request("+15551000001")
    dialer.originate(req)
    await recorder.until(lambda: req.attempt_id in recorder.by_id(), within=20)
    sent = [m for _, m in sim.ami_received if m.action.lower() == "originate"]
    assert [(m.get("ActionID"), m.get("Channel")) for m in sent] == [(req.attempt_id, channel)]
    assert recorder.by_id()[req.attempt_id].outcome is Outcome.ANSWERED
