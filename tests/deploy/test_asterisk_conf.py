"""asterisk_conf/: asterisklint passes, and the gateway's own consistency check agrees with it."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.asterisk.confcheck import Conf as ParsedConf
from gateway.asterisk.confcheck import (
    Expectations,
    check,
    dialplan_steps,
    expectations_from_settings,
    parse_conf,
    register,
)
from tests.deploy.conftest import ASTERISK_CONF, REPO

EXPECT = Expectations(queues=("sales",))


def asterisklint(extensions: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed argv, no shell
        [sys.executable, "-m", "tests.deploy.asterisklint_run", "dialplan-check", str(extensions)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    """A copy of asterisk_conf/ that a test may break."""
    copy = tmp_path / "asterisk_conf"
    shutil.copytree(ASTERISK_CONF, copy)
    return copy


def edit(directory: Path, name: str, old: str, new: str) -> None:
    path = directory / name
    text = path.read_text()
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new))


def test_asterisklint_passes_on_the_dialplan() -> None:
    result = asterisklint(ASTERISK_CONF / "extensions.conf")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == ""


def test_asterisklint_still_reports_an_unknown_application(broken: Path) -> None:
    edit(broken, "extensions.conf", "n,Playback(dialer-identification)", "n,Plaback(x)")
    result = asterisklint(broken / "extensions.conf")
    assert result.returncode == 1
    assert "E_APP_MISSING: app 'Plaback' does not exist" in result.stdout + result.stderr


def test_the_shipped_configuration_is_consistent() -> None:
    assert [str(p) for p in check(ASTERISK_CONF, EXPECT)] == []


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        (
            "extensions.conf",
            "Queue(${DIALER_QUEUE},b(dialer-agent-predial^s^1),,,${QUEUE_WAIT})",
            "Queue(${DIALER_QUEUE},,,,30)",
            "extensions.conf:{line}: [dialer-outbound] s: "
            "Queue(${DIALER_QUEUE},…,${QUEUE_WAIT}) missing or out of order",
        ),
        ("extensions.conf", "AMD(,,,$[${DIALER_CONNECT_TIMEOUT} * 1000 - 1000])", "AMD()",
         "AMD()'s total analysis time (4th argument) is not bounded by"),
        ("extensions.conf", "[dialer-agent-predial]", "[dialer-agent-predial-old]",
         "Queue() b() handler [dialer-agent-predial] s missing"),
        ("extensions.conf", 'GotoIf($["${CHANNEL(channeltype)}" != "PJSIP"]?done)', "NoOp()",
         "[dialer-agent-predial] sets PJSIP_HEADER without testing CHANNEL(channeltype) = PJSIP"),
        ("extensions.conf", "QUEUE_WAIT=$[FLOOR(${CONNECT_BY} -", "QUEUE_WAIT=$[FLOOR(2 -",
         "Queue()'s ${QUEUE_WAIT} is not set from CONNECT_BY"),
        ("extensions.conf", "campaign ${DIALER_CAMPAIGN}", "campaign ${DIALER_CAMPAING}",
         "${DIALER_CAMPAING} is not a gateway variable"),
        ("extensions.conf", "Playback(dialer-identification)", "Playback(goodbye)",
         "Playback(dialer-identification) missing or out of order"),
        ("extensions.conf", ' same => n,GotoIf($["${DIALER_AMD}" != "1"]?queue)\n', "",
         "AMD() runs without testing ${DIALER_AMD}"),
        ("extensions.conf", 'GotoIf($["${QUEUESTATUS}" = "JOINEMPTY" | ', 'GotoIf($[',
         "QUEUESTATUS JOINEMPTY does not lead to the message"),
        ("extensions.conf", "Stasis(dialer,", "Stasis(other,",
         "no Stasis(dialer) entry for the ARI application 'dialer'"),
        ("extensions.conf", "&m:${MEMBERNAME}", "&m:${AGENT}",
         "[dialer-hangup] s does not write the outcome ledger line"),
        ("extensions.conf", "[dialer-hangup]", "[dialer-hangup-old]",
         "[dialer-hangup] s does not write the outcome ledger line"),
        ("modules.conf", "noload = chan_iax2.so", "noload = func_db.so",
         "noload func_db.so: the dialer needs it"),
        ("manager.conf", "eventfilter(action(include),name(RTCPSent)) =\n", "",
         "[dialer] eventfilter drops RTCPSent, which the gateway uses"),
        ("manager.conf", "write = originate,call,agent,reporting", "write = call,agent,system",
         "[dialer] lacks write class 'originate'"),
        ("manager.conf", "write = originate,call,agent,reporting", "write = all",
         "[dialer] write class 'all' is more than needed"),
        ("manager.conf", "deny = 0.0.0.0/0.0.0.0\n", "", "[dialer] has no ACL"),
        ("manager.conf", "[dialer]", "[dialler]", "no AMI user [dialer]"),
        ("ari.conf", "read_only = no", "read_only = yes", "[dialer] is read_only"),
        ("queues.conf", "PJSIP/agent-103,0", "PJSIP/agent-199,0",
         "member PJSIP/agent-199: no such pjsip endpoint"),
        ("queues.conf", "timeoutpriority = app", "timeoutpriority = conf",
         "timeoutpriority = conf overrides the 2 s connect limit"),
        ("pjsip.conf", "[carrier-a](carrier-endpoint)", "[carrier-b](carrier-endpoint)",
         "no endpoint [carrier-a] for the trunk template"),
        ("pjsip.conf", "direct_media = no               ;", "direct_media = yes ;",
         "[carrier-a] direct_media = yes: Asterisk would not see RTCP"),
        ("rtp.conf", "rtcpinterval = 5000", "rtcpinterval = 0", "rtcpinterval = 0 disables RTCP"),
        ("modules.conf", "noload = chan_iax2.so", "noload = app_amd.so",
         "noload app_amd.so: the dialer needs it"),
        ("cdr_manager.conf", "enabled = yes", "enabled = no",
         "cdr_manager.conf:5: enabled is not yes"),
        ("extensions.conf", "U(dialer-agent-connect^", "U(dialer-agent-connex^",
         "no Dial(${DIALER_AGENT_INTERFACE},${QUEUE_WAIT},U(dialer-agent-connect^…))"),
        ("extensions.conf", "UserEvent(DialerAgentConnect,", "UserEvent(DialerAgentConnected,",
         "[dialer-agent-connect] s does not send UserEvent(DialerAgentConnect"),
        ("extensions.conf", 'GotoIf($["${DIALER_AGENT_INTERFACE}" != ""]?agent)', "NoOp()",
         "${DIALER_AGENT_INTERFACE} is not tested before Queue()"),
        ("modules.conf", "noload = chan_iax2.so", "noload = app_dial.so",
         "noload app_dial.so: the dialer needs it"),
    ],
)  # fmt: skip
def test_a_broken_copy_fails_with_a_clear_line(
    broken: Path, name: str, old: str, new: str, expected: str
) -> None:
    edit(broken, name, old, new)
    lines = [str(p) for p in check(broken, EXPECT)]
    if "{line}" in expected:
        first = dialplan_steps(
            ParsedConf(name, parse_conf((broken / name).read_text())), "dialer-outbound", "s"
        )[0].line
        expected = expected.replace("{line}", str(first))
    assert any(expected in line for line in lines), lines
    assert all(line.startswith(f"{name}:") for line in lines), lines


def test_a_missing_file_and_a_missing_queue_are_reported(broken: Path) -> None:
    (broken / "ari.conf").unlink()
    lines = [str(p) for p in check(broken, Expectations(queues=("sales", "support")))]
    assert lines == [
        f"ari.conf:0: missing (expected in {broken})",
        "queues.conf:0: no queue [support] (a campaign uses it)",
    ]


def test_expectations_come_from_the_gateway_settings(tmp_path: Path) -> None:
    config = tmp_path / "dialer.toml"
    config.write_text(
        "[[servers]]\n"
        'name = "ast1"\nami_username = "gw"\nari_app = "dialer"\nami_secret = "s1"\n'
        'trunk = "PJSIP/{number}@carrier-b"\n'
        "[[servers]]\n"
        'name = "ast2"\ntrunk = "PJSIP/{number}@carrier-a"\nami_secret = "s2"\n'
    )
    expect = expectations_from_settings(config, ["sales"])
    assert expect.ami_users == ("dialer", "gw")
    assert expect.trunk_endpoints == ("carrier-a", "carrier-b")
    lines = [str(p) for p in check(ASTERISK_CONF, expect)]
    assert lines == [
        "manager.conf:0: no AMI user [gw] (the gateway logs in as gw)",
        "pjsip.conf:0: no endpoint [carrier-b] for the trunk template",
    ]


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="dialer")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


def test_cli_exit_codes_and_lines(broken: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        run_cli(["config", "check-asterisk", "--dir", str(ASTERISK_CONF), "--queue", "sales"]) == 0
    )
    assert "consistent with the gateway" in capsys.readouterr().out
    edit(broken, "rtp.conf", "rtcpinterval = 5000", "rtcpinterval = 0")
    edit(broken, "ari.conf", "password = change-me-ari\n", "")
    assert run_cli(["config", "check-asterisk", "--dir", str(broken)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert out[0].startswith(f"{broken}/ari.conf:")
    assert out[0].endswith("[dialer] has no password")
    assert out[1].startswith(f"{broken}/rtp.conf:")
    assert "disables RTCP" in out[1]


def test_parse_conf_templates_comments_and_arrows() -> None:
    text = (
        "; comment\n"
        "[base](!)\ntype = endpoint ; trailing comment\nallow = ulaw\n"
        "[ep1](base)\nallow = alaw\nnote = a\\;b\n"
        "[ctx]\nexten => s,1,NoOp(x)\n same => n(l),Hangup()\n"
    )
    conf = ParsedConf("t.conf", parse_conf(text))
    (ep1,) = conf.find("ep1")
    assert conf.value(ep1, "type") == "endpoint"
    assert conf.values(ep1, "allow") == ["ulaw", "alaw"]
    assert conf.value(ep1, "note") == "a\\;b"
    assert conf.find("base") == []  # templates are not sections of their own
    assert [(s.app, s.args, s.line) for s in dialplan_steps(conf, "ctx", "s")] == [
        ("noop", "x", 9),
        ("hangup", "", 10),
    ]


def _local_only(directory: Path) -> None:
    """Queue members on Local/ channels: nothing in the directory needs PJSIP any more."""
    path = directory / "queues.conf"
    path.write_text(path.read_text().replace("member => PJSIP/agent-", "member => Local/agent-"))


def test_pjsip_conf_is_optional_when_no_trunk_or_member_uses_pjsip(broken: Path) -> None:
    local = Expectations(trunk_endpoints=(), queues=("sales",))
    (broken / "pjsip.conf").unlink()
    assert [str(p) for p in check(broken, local)] == [
        f"pjsip.conf:0: missing (expected in {broken}): the queue member PJSIP/agent-101 is PJSIP"
    ]
    _local_only(broken)
    assert [str(p) for p in check(broken, local)] == []
    edit(broken, "modules.conf", "noload = chan_iax2.so", "noload = chan_pjsip.so")
    assert [str(p) for p in check(broken, local)] == []  # not needed, so not missed
    assert [str(p) for p in check(broken, Expectations(queues=("sales",)))] == [
        f"pjsip.conf:0: missing (expected in {broken}): the trunk endpoint carrier-a is PJSIP",
        "modules.conf:{}: noload chan_pjsip.so: the dialer needs it".format(
            next(
                i
                for i, line in enumerate((broken / "modules.conf").read_text().splitlines(), 1)
                if line.startswith("noload = chan_pjsip.so")
            )
        ),
    ]


def test_local_trunks_from_the_settings_need_no_pjsip(broken: Path, tmp_path: Path) -> None:
    config = tmp_path / "dialer.toml"
    config.write_text(
        '[[servers]]\nname = "ast1"\nami_secret = "s1"\ntrunk = "Local/{digits}@carrier"\n'
    )
    expect = expectations_from_settings(config, ["sales"])
    assert expect.trunk_endpoints == ()
    (broken / "pjsip.conf").unlink()
    _local_only(broken)
    assert [str(p) for p in check(broken, expect)] == []
    (broken / "amd.conf").unlink()
    assert [str(p) for p in check(broken, expect)] == [
        f"amd.conf:0: missing (expected in {broken})"
    ]
