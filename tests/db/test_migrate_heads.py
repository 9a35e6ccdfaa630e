"""The start's migration check: heads read from the scripts without Alembic, Alembic run only
when the database is behind them (:func:`gateway.db.migrate.upgrade_to_head`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from gateway.db.engine import make_engine
from gateway.db.migrate import (
    MIGRATIONS,
    alembic_config,
    database_revisions,
    script_heads,
    upgrade,
    upgrade_to_head,
)
from tests.dbutil import blank_database


def test_the_heads_read_from_the_scripts_are_alembics() -> None:
    script = ScriptDirectory.from_config(alembic_config("postgresql://unused/db"))
    assert script_heads(MIGRATIONS / "versions") == frozenset(script.get_heads())


def _script(folder: Path, name: str, body: str) -> None:
    (folder / f"{name}.py").write_text(f'"""{name}"""\n{body}\n\ndef upgrade() -> None: ...\n')


@pytest.mark.parametrize(
    ("scripts", "heads"),
    [
        ({"a": 'revision = "a"\ndown_revision = None'}, {"a"}),
        ({"a": 'revision = "a"\ndown_revision = None',
          "b": 'revision = "b"\ndown_revision = "a"'}, {"b"}),
        ({"a": 'revision: str = "a"\ndown_revision: str | None = None',
          "b": 'revision: str = "b"\ndown_revision: str | None = "a"',
          "c": 'revision: str = "c"\ndown_revision: str | None = "a"'}, {"b", "c"}),
        ({"a": 'revision = "a"\ndown_revision = None',
          "b": 'revision = "b"\ndown_revision = "a"',
          "c": 'revision = "c"\ndown_revision = "a"',
          "m": 'revision = "m"\ndown_revision = ("b", "c")'}, {"m"}),
        ({"a": 'revision = "a"\ndown_revision = None',
          "b": 'revision = "b"\ndown_revision = "a"\ndepends_on = "x"'}, None),
        ({"a": 'revision = "a"\ndown_revision = None\nbranch_labels = ("x",)'}, None),
        ({"a": 'revision = "a" + "1"\ndown_revision = None'}, None),
        ({"a": 'down_revision = None'}, None),
        ({}, None),
    ],
)  # fmt: skip
def test_script_heads(tmp_path: Path, scripts: dict[str, str], heads: set[str] | None) -> None:
    for name, body in scripts.items():
        _script(tmp_path, name, body)
    (tmp_path / "__init__.py").write_text('revision = "not a script"\n')
    assert script_heads(tmp_path) == (None if heads is None else frozenset(heads))


async def test_alembic_runs_only_while_the_database_is_behind(database_server_url: str) -> None:
    with blank_database(database_server_url) as url:
        engine = make_engine(url, pool_size=1)
        try:
            assert await database_revisions(engine) == frozenset()  # no alembic_version yet
            await upgrade(url, "rev_dispo_1")
            assert await database_revisions(engine) == {"rev_dispo_1"}
            assert await upgrade_to_head(engine, url) is True  # behind: Alembic upgrades
            assert await database_revisions(engine) == script_heads()
            assert await upgrade_to_head(engine, url) is False  # at head: nothing loaded, run
        finally:
            await engine.dispose()
