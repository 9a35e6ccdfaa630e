"""The locks (``make lock``) pin every dependency that pyproject.toml asks for, within its range,
with hashes, and the builds install from them: the image from ``requirements.lock``, the venv of
``make`` (and so CI) from ``requirements-test.lock``. Offline: ``make lock-check`` asks the
resolver itself (CI runs it)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^ ;\\]+)")


def pins(lock: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    lines = lock.read_text().splitlines()
    for index, line in enumerate(lines):
        match = _PIN.match(line)
        if match is None:
            continue
        assert lines[index + 1].lstrip().startswith("--hash=sha256:"), line
        found[canonicalize_name(match[1])] = match[2]
    return found


def _project() -> dict[str, list[str]]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return {"runtime": project["dependencies"], "test": project["optional-dependencies"]["test"]}


def _check(requirements: list[str], pinned: dict[str, str]) -> None:
    for text in requirements:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} is not in the lock: run make lock"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"{name}=={pinned[name]} is outside {requirement.specifier}: run make lock"
        )


def test_the_runtime_lock_pins_every_runtime_dependency_in_range() -> None:
    _check(_project()["runtime"], pins(REPO / "requirements.lock"))


def test_the_test_lock_pins_every_dependency_and_test_extra_in_range() -> None:
    deps = _project()
    _check(deps["runtime"] + deps["test"], pins(REPO / "requirements-test.lock"))


def test_the_builds_install_from_the_locks_with_hashes() -> None:
    dockerfile = (REPO / "docker" / "gateway" / "Dockerfile").read_text()
    assert "pip install --no-cache-dir --require-hashes -r requirements.lock" in dockerfile
    assert "pip install --no-cache-dir --no-deps ." in dockerfile
    makefile = (REPO / "Makefile").read_text()
    assert "pip install --quiet --require-hashes -r requirements-test.lock" in makefile
    assert "pip install --quiet --no-deps -e ." in makefile
