"""The README's configuration table documents every setting the code knows."""

from __future__ import annotations

from pathlib import Path

from gateway.settings import FIELDS

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented_with_its_default() -> None:
    text = README.read_text()
    for spec in FIELDS:
        rows = [line for line in text.splitlines() if line.startswith(f"| `{spec.env}` |")]
        assert rows, f"{spec.env} is not documented in README.md"
        assert spec.default.strip("()") in rows[0], f"{spec.env}: default not in README"


def test_quickstart_names_exactly_the_two_commands() -> None:
    text = README.read_text()
    quick = text.split("## Quickstart", 1)[1].split("##", 1)[0]
    commands = [
        line.split("#")[0].strip() for line in quick.splitlines() if line.startswith("make ")
    ]
    assert commands == ["make demo", "make test"]


def test_architecture_table_names_existing_folders_and_every_package() -> None:
    text = README.read_text()
    table = text.split("## Architecture", 1)[1].split("\n\n", 2)[1]
    folders = [line.split("`")[1] for line in table.splitlines() if line.startswith("| `")]
    root = README.parent
    assert [f for f in folders if not (root / f).is_dir()] == []
    packages = {p.parent.name for p in root.glob("*/__init__.py")} - {"tests"}
    assert packages <= {f.strip("/") for f in folders}
    for sub in ("gateway/campaigns/", "gateway/asterisk/", "gateway/db/"):
        assert sub in folders
