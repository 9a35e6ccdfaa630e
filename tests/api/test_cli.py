"""The CLI registrars add their commands to an argparse tree the way ``dialer`` builds it."""

from __future__ import annotations

import argparse

import pytest

from bench.api import register_bench
from dialer.control_cli import register


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="dialer")
    root.add_argument("--config", default=None)
    sub = root.add_subparsers(dest="command", required=True)
    register(sub)
    bench = sub.add_parser("bench").add_subparsers(dest="bench_command", required=True)
    register_bench(bench)
    return root


@pytest.mark.parametrize(
    "argv",
    [
        ["token", "create", "--role", "ops", "--name", "ann"],
        ["campaign", "create", "spring", "--time-zone", "Europe/London"],
        ["campaign", "list"],
        ["campaign", "pause", "42", "--category", "timing", "--text", "late"],
        ["campaign", "reset", "42", "--disposition", "no_answer"],
        ["campaign", "force-complete", "42"],
        ["records", "import", "42", "file.xlsx"],
        ["records", "export", "42", "--format", "csv", "-o", "out.csv"],
        ["agent", "list", "42"],
        ["agent", "login", "42", "PJSIP/1001", "a1001", "--url", "http://127.0.0.1:8080"],
        ["agent", "logout", "42", "a1001"],
        ["agent", "pause", "42", "a1001", "--reason", "lunch", "--token", "t"],
        ["agent", "unpause", "42", "PJSIP/1001"],
        ["bench", "api", "--scale", "0.1", "--json"],
        ["bench", "api", "--only", "import,status"],
    ],
)
def test_commands_parse_to_a_handler(argv: list[str]) -> None:
    args = parser().parse_args(argv)
    assert callable(args.handler)


def test_bad_role_and_category_are_refused() -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["token", "create", "--role", "root", "--name", "x"])
    with pytest.raises(SystemExit):
        parser().parse_args(["campaign", "pause", "1", "--category", "whim", "--text", "x"])


def test_bench_parts_are_checked() -> None:
    assert parser().parse_args(["bench", "api", "--only", "status"]).only == {"status"}
    assert parser().parse_args(["bench", "api"]).only == {"import", "reset", "export", "status"}
    with pytest.raises(SystemExit):
        parser().parse_args(["bench", "api", "--only", "import,speed"])


@pytest.mark.parametrize(
    ("argv", "request_"),
    [
        (["agent", "list", "7"], ("GET", "/campaigns/7/agents", None)),
        (["agent", "login", "7", "PJSIP/1", "a1"],
         ("POST", "/campaigns/7/agents", {"interface": "PJSIP/1", "name": "a1"})),
        (["agent", "logout", "7", "Local/1@agents/n"],
         ("DELETE", "/campaigns/7/agents/Local%2F1%40agents%2Fn", None)),
        (["agent", "pause", "7", "a1", "--reason", "lunch"],
         ("POST", "/campaigns/7/agents/a1/pause", {"reason": "lunch"})),
        (["agent", "unpause", "7", "a1"], ("POST", "/campaigns/7/agents/a1/unpause", None)),
        (["agent", "login", "7", "PJSIP/1", "a1", "--queue", "sales-es"],
         ("POST", "/campaigns/7/agents",
          {"interface": "PJSIP/1", "name": "a1", "queue": "sales-es"})),
        (["agent", "pause", "7", "a1", "--reason", "lunch", "--queue", "sales-es"],
         ("POST", "/campaigns/7/agents/a1/pause?queue=sales-es", {"reason": "lunch"})),
    ],
)  # fmt: skip
def test_agent_commands_become_api_requests(argv: list[str], request_: tuple[object, ...]) -> None:
    from dialer.agent_cli import request_of

    assert request_of(parser().parse_args(argv)) == request_


def test_a_new_token_never_reads_as_a_command_line_option() -> None:
    from gateway.campaigns.tokens import new_token

    tokens = {new_token() for _ in range(500)}
    assert len(tokens) == 500
    assert all(t.startswith("dlr_") and len(t) == 47 for t in tokens)
