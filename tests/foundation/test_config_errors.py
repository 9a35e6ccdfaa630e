"""Each configuration mistake stops the command with one line naming it and exit 2 (issue 15).

Run as a user runs it: a real ``dialer`` process with the bad file or variable, its whole output
read back. No traceback, no warning, exactly one line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

DIALER = [sys.executable, "-m", "dialer.cli"]
SERVER = '[[servers]]\nname = "ast1"\nhost = "127.0.0.1"\nami_username = "dialer"\n'

# (what is wrong, config file text or None, extra environment, command, words the line must name)
CASES = [
    ("unknown top-level key", "http_port = 1\n", {}, ["serve"], ["http_port", "unknown"]),
    ("unknown key in a table", "[http]\nprot = 1\n", {}, ["serve"], ["http.prot", "unknown"]),
    ("unknown key in [log]", "[log]\nformt = 'json'\n", {}, ["serve"], ["log.formt", "unknown"]),
    ("unknown DIALER_ variable", None, {"DIALER_HTTP_PROT": "1"}, ["serve"], ["DIALER_HTTP_PROT"]),
    ("bad value", None, {"DIALER_HTTP_PORT": "abc"}, ["serve"], ["DIALER_HTTP_PORT"]),
    ("server without ami_secret", SERVER, {}, ["serve"], ["ami_secret"]),
    (
        "import file missing",
        None,
        {},
        ["records", "import", "1", "/nonexistent/records.csv"],
        ["/nonexistent/records.csv"],
    ),
]


@pytest.mark.parametrize(
    ("config", "env", "args", "named"),
    [pytest.param(c, e, a, n, id=what) for what, c, e, a, n in CASES],
)
def test_a_mistake_is_one_line_and_exit_2(
    tmp_path: Path, config: str | None, env: dict[str, str], args: list[str], named: list[str]
) -> None:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith("DIALER_") or "TEST" in k
    }
    environment.update(env, DIALER_DATA_DIR=str(tmp_path / "state"))
    command = list(DIALER)
    if config is not None:
        path = tmp_path / "dialer.toml"
        path.write_text(config)
        command += ["--config", str(path)]
    done = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [*command, *args], env=environment, capture_output=True, text=True, timeout=60
    )
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode == 2, lines
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    for word in named:
        assert word in lines[0], lines[0]
