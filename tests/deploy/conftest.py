"""Shared helpers of the deployment tests: repository paths and the Prometheus binaries.

Holds fixtures only; it must not start anything at import time.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
PROMETHEUS_DIR = DEPLOY / "prometheus"
RULES_FILE = PROMETHEUS_DIR / "rules" / "dialer.rules.yml"
DASHBOARDS_DIR = DEPLOY / "grafana" / "dashboards"
ASTERISK_CONF = REPO / "asterisk_conf"

INSTALL_HINT = (
    "needs Debian's prometheus package (promtool and the server): "
    "apt-get update && apt-get install -y prometheus"
)


@pytest.fixture(scope="session")
def promtool() -> str:
    """Path of ``promtool``; skips the test when it is not installed."""
    path = shutil.which("promtool")
    if path is None:
        pytest.skip(f"promtool not found: {INSTALL_HINT}")
    return path


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    """Path of the ``prometheus`` server; skips the test when it is not installed."""
    path = shutil.which("prometheus")
    if path is None:
        pytest.skip(f"prometheus not found: {INSTALL_HINT}")
    return path
