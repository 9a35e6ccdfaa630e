"""What ``dialer serve`` loads before it can dial: none of the modules only other commands or
rare API routes need (a restarted gateway dials again sooner; issue 15's 5 s target).

Each check runs a fresh interpreter, as ``dialer serve`` starts one, and reads ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dialer.cli import CORE_COMMANDS, build_parser, command_of

# What `serve` imports: the CLI and its parser, then the service (dialer.cli.serve).
SERVE = "from dialer.cli import build_parser; build_parser(['serve']); import dialer.app"
# Loaded on first use only: XLSX and PDF downloads, migrations that must run, other commands.
NOT_AT_START = {"openpyxl", "fpdf", "alembic", "mako", "pygments", "rich", "asterisk_sim", "bench"}


def _loaded_after(code: str) -> set[str]:
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(  # noqa: S603 - fixed argv (this interpreter), no shell
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_serve_loads_no_module_it_does_not_need_to_dial() -> None:
    loaded = _loaded_after(SERVE)
    assert "dialer.app" in loaded  # the service itself is there
    assert {m.split(".")[0] for m in loaded} & NOT_AT_START == set()
    # the API's holiday-country enum comes from the registry, not from ~280 country modules
    assert [m for m in loaded if m.startswith("holidays.countries.")] == []


def test_other_commands_still_get_their_areas() -> None:
    loaded = _loaded_after("from dialer.cli import build_parser; build_parser(['bench', 'faults'])")
    assert {"bench.faults", "asterisk_sim"} <= loaded


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["serve"], "serve"),
        (["--config", "x.toml", "serve"], "serve"),
        (["--config", "serve", "db", "upgrade"], "db"),  # a config file named "serve"
        (["serve", "--config", "x.toml"], "serve"),
        (["bench", "faults", "--json"], "bench"),
        (["--help"], None),
        (["--version"], None),
        ([], None),
    ],
)
def test_command_of(argv: list[str], command: str | None) -> None:
    assert command_of(argv) == command


@pytest.mark.parametrize("command", sorted(CORE_COMMANDS))
def test_the_core_parser_parses_its_commands_as_the_full_one(command: str) -> None:
    argv = [command, "upgrade", "0003"] if command == "db" else [command]
    light, full = build_parser(argv).parse_args(argv), build_parser().parse_args(argv)
    assert vars(light) == vars(full)
