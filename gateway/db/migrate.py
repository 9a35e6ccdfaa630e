"""Alembic migrations, run programmatically (``dialer db upgrade`` and service start).

The Alembic environment lives in ``gateway/db/migrations``; the URL is handed to it through
``Config.attributes`` so it never sits in a file or a log line.

A service start on a database already at the scripts' head does not load Alembic at all
(:func:`upgrade_to_head`): the heads are read from the scripts' ``revision`` and
``down_revision`` assignments and compared with ``alembic_version``, which spares a restarted
gateway ~0.2 s of imports (Alembic, Mako, Pygments) and a connection of its own. Any script
this reading cannot be sure of (a revision that is not a literal, a branch label, a
``depends_on``) leaves the decision to Alembic.
"""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.db.engine import async_url

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
_FIELDS = ("revision", "down_revision", "branch_labels", "depends_on")


def alembic_config(url: str) -> Config:
    from alembic.config import Config  # Alembic is loaded only when a migration may run

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = async_url(url)
    return config


def upgrade_sync(url: str, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` (blocks; runs its own event loop)."""
    from alembic import command  # see alembic_config

    command.upgrade(alembic_config(url), revision)


async def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade from async code: Alembic runs in a worker thread with its own loop."""
    await asyncio.to_thread(upgrade_sync, url, revision)


def _assigned(path: Path) -> dict[str, object] | None:
    """The literal values of the revision fields a script assigns (None: one is not literal)."""
    values: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in _FIELDS:
            try:
                values[target.id] = ast.literal_eval(value)
            except ValueError:
                return None
    return values


def script_heads(versions: Path = MIGRATIONS / "versions") -> frozenset[str] | None:
    """The head revisions of the scripts in ``versions``, read without Alembic; None when a
    script is not plain enough to be sure (then only Alembic can tell)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(versions.glob("*.py")):
        if path.name == "__init__.py" or path.name.startswith(".#"):
            continue  # Alembic skips these too
        values = _assigned(path)
        if values is None or values.get("branch_labels") or values.get("depends_on"):
            return None
        revision, down = values.get("revision"), values.get("down_revision")
        downs = down if isinstance(down, tuple | list) else () if down is None else (down,)
        if not isinstance(revision, str) or not all(isinstance(d, str) for d in downs):
            return None
        revisions.add(revision)
        parents.update(str(d) for d in downs)
    heads = frozenset(revisions - parents)
    return heads or None


async def database_revisions(engine: AsyncEngine) -> frozenset[str]:
    """The revisions ``alembic_version`` holds (empty: none, or no such table yet)."""
    async with engine.connect() as conn:
        found = (await conn.execute(text("SELECT to_regclass('alembic_version')"))).scalar()
        if found is None:
            return frozenset()
        rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
        return frozenset(str(v) for v in rows.scalars())


async def upgrade_to_head(engine: AsyncEngine, url: str) -> bool:
    """Upgrade to the scripts' head unless the database is there already; True if Alembic ran."""
    heads = script_heads()
    if heads is not None and heads == await database_revisions(engine):
        return False
    await upgrade(url)
    return True
