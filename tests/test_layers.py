"""The layers' import directions and the control API's "no SQL", read from the source (AST).

Every ``import``/``from … import`` anywhere in a module counts, also inside functions (lazy
imports) and ``importlib.import_module("…")`` with a literal name; relative imports are resolved
against the importing module. The rules:

* ``pacing`` (the pure core) imports none of the other packages;
* ``gateway.campaigns`` (the campaign domain) imports no HTTP (aiohttp), nothing of
  ``control_api`` and nothing of the Asterisk edge (``gateway.asterisk``);
* no module of ``gateway`` imports ``control_api`` or ``dialer`` (the composition root);
* ``asterisk_sim`` (the simulated Asterisk) imports nothing of ``gateway``: it speaks the wire
  formats itself, so no shared module is allowed (:data:`SIM_MAY_IMPORT` is empty);
* the domain's public functions return typed rows, never ``dict[str, Any]``/``Mapping[str, Any]``;
* no module of ``control_api`` executes SQL: no SQL-building names imported from SQLAlchemy, no
  ``.execute(`` (or other statement-running) calls, no string literal that is a SQL statement.

Each rule is checked by a function that returns the violations of a set of parsed modules, so
the tests also show that each rule catches a planted violation.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("pacing", "gateway", "control_api", "dialer", "asterisk_sim", "bench")
SIM_MAY_IMPORT: frozenset[str] = frozenset()  # a shared wire-format module would be named here
SQL_NAMES = frozenset(
    {"text", "select", "insert", "update", "delete", "literal_column", "table", "column"}
)
SQL_CALLS = frozenset(
    {
        "execute",
        "exec_driver_sql",
        "scalar",
        "scalars",
        "stream",
        "stream_scalars",
        "copy_from_query",
        "copy_from_table",
        "copy_records_to_table",
        "copy_to_table",
        "fetch",
        "fetchrow",
        "fetchval",
        "executemany",
    }
)
SQL_LITERAL = re.compile(
    r"^\s*(SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|WITH\s+\w+\s+AS|COPY)\b"
)


@dataclass(frozen=True, slots=True)
class Module:
    name: str  # dotted, e.g. gateway.campaigns.records
    path: Path
    tree: ast.Module

    @property
    def package(self) -> str:
        """The package a relative import is resolved against."""
        return self.name if self.path.name == "__init__.py" else self.name.rpartition(".")[0]


def parse(name: str, source: str, path: Path | None = None) -> Module:
    return Module(name, path or Path(name.replace(".", "/") + ".py"), ast.parse(source))


def modules(package: str) -> list[Module]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found.append(parse(name, path.read_text(encoding="utf-8"), path))
    return found


def imported(module: Module) -> Iterator[tuple[int, str]]:
    """Every module name ``module`` imports (``from a import b`` yields ``a`` and ``a.b``)."""
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}" if base else alias.name
        elif (
            isinstance(node, ast.Call)
            and _call_name(node) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def _call_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    if isinstance(node.func, ast.Name):
        return node.func.id
    return None


def _within(name: str, prefixes: Iterable[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


Rule = Callable[[Iterable[Module]], list[str]]


def forbid(forbidden: tuple[str, ...], allowed: frozenset[str] = frozenset()) -> Rule:
    """A rule: no module imports anything within ``forbidden`` (except ``allowed`` modules)."""

    def check(found: Iterable[Module]) -> list[str]:
        return [
            f"{m.path.relative_to(ROOT) if m.path.is_absolute() else m.path}:{line} imports {name}"
            for m in found
            for line, name in imported(m)
            if _within(name, forbidden) and not _within(name, allowed)
        ]

    return check


def executes_sql(found: Iterable[Module]) -> list[str]:
    """SQL-building imports, statement-running calls and SQL statement literals."""
    problems = []
    for m in found:
        for node in ast.walk(m.tree):
            if isinstance(node, ast.ImportFrom) and _within(node.module or "", ("sqlalchemy",)):
                names = {a.name for a in node.names} & SQL_NAMES
                if names or (node.module or "").startswith("sqlalchemy.sql"):
                    problems.append(f"{m.name}:{node.lineno} imports {sorted(names)} of SQL")
            elif isinstance(node, ast.Import) and any(
                _within(a.name, ("sqlalchemy.sql",)) for a in node.names
            ):
                problems.append(f"{m.name}:{node.lineno} imports sqlalchemy.sql")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr in SQL_CALLS:
                    problems.append(f"{m.name}:{node.lineno} calls .{node.func.attr}(")
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and SQL_LITERAL.match(node.value)
            ):
                problems.append(f"{m.name}:{node.lineno} holds SQL text {node.value[:40]!r}")
    return problems


ROW_AS_DICT = re.compile(r"\b(dict|Mapping)\[str, Any\]")
JSON_DOCUMENTS = frozenset({"as_json"})  # the import report's document, stored in the audit log


def rows_as_dicts(found: Iterable[Module]) -> list[str]:
    """Public functions of the domain annotated to return rows as ``dict[str, Any]``."""
    return [
        f"{m.name}:{node.lineno} {node.name} returns {ast.unparse(node.returns)}"
        for m in found
        for node in ast.walk(m.tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and not node.name.startswith("_")
        and node.name not in JSON_DOCUMENTS
        and node.returns is not None
        and ROW_AS_DICT.search(ast.unparse(node.returns))
    ]


PACING_ALONE = forbid(("gateway", "control_api", "dialer", "asterisk_sim", "bench"))
DOMAIN_BELOW = forbid(("aiohttp", "control_api", "gateway.asterisk", "dialer"))
GATEWAY_BELOW = forbid(("control_api", "dialer"))
SIM_APART = forbid(("gateway",), allowed=SIM_MAY_IMPORT)


def test_the_packages_are_all_read() -> None:
    names = {m.name for p in PACKAGES for m in modules(p)}
    assert {"pacing.runner", "gateway.campaigns.records", "control_api.routes_admin"} <= names
    assert "asterisk_sim.ami_server" in names
    assert len(names) > 150


def test_pacing_imports_no_other_package() -> None:
    assert PACING_ALONE(modules("pacing")) == []


def test_campaign_domain_imports_no_http_api_or_asterisk_edge() -> None:
    assert DOMAIN_BELOW(modules("gateway/campaigns")) == []


def test_gateway_imports_neither_control_api_nor_dialer() -> None:
    assert GATEWAY_BELOW(modules("gateway")) == []


def test_simulator_imports_nothing_of_the_gateway() -> None:
    assert SIM_APART(modules("asterisk_sim")) == []


def test_control_api_executes_no_sql() -> None:
    assert executes_sql(modules("control_api")) == []


def test_campaign_domain_returns_typed_rows() -> None:
    assert rows_as_dicts(modules("gateway/campaigns")) == []


# Each rule catches what it forbids (planted in a module parsed from text, never on disk).
PLANTED = [
    (PACING_ALONE, "pacing.runner", "from gateway.campaigns import leasing\n"),
    (PACING_ALONE, "pacing.policies.model", "def f():\n    import bench.pacing\n"),
    (PACING_ALONE, "pacing.policies.model", "from pacing import x\nfrom dialer import app\n"),
    (DOMAIN_BELOW, "gateway.campaigns.records", "import aiohttp\n"),
    (DOMAIN_BELOW, "gateway.campaigns.records", "from control_api.errors import Invalid\n"),
    (DOMAIN_BELOW, "gateway.campaigns.store", "from gateway.asterisk.calls import model\n"),
    (DOMAIN_BELOW, "gateway.campaigns.store", "from ..asterisk.calls.model import X\n"),
    (GATEWAY_BELOW, "gateway.db.engine", "from control_api import app\n"),
    (GATEWAY_BELOW, "gateway.metrics", "import importlib\nimportlib.import_module('dialer.app')\n"),
    (SIM_APART, "asterisk_sim.world", "from gateway.asterisk.ami.parser import parse\n"),
    (executes_sql, "control_api.routes_admin", "from sqlalchemy import text\n"),
    (executes_sql, "control_api.routes_admin", "import sqlalchemy.sql.expression\n"),
    (executes_sql, "control_api.routes_admin", "async def f(c):\n    await c.execute(q)\n"),
    (executes_sql, "control_api.http", "Q = 'SELECT id FROM campaigns'\n"),
    (executes_sql, "control_api.http", "Q = 'DELETE FROM webhooks WHERE id = :id'\n"),
    (rows_as_dicts, "gateway.campaigns.numbers", "async def f() -> list[dict[str, Any]]: ...\n"),
    (rows_as_dicts, "gateway.campaigns.numbers", "def f() -> tuple[Mapping[str, Any], int]: ...\n"),
]


@pytest.mark.parametrize(("rule", "name", "source"), PLANTED)
def test_each_rule_catches_a_planted_violation(rule: Rule, name: str, source: str) -> None:
    assert rule([parse(name, source)]) != []


def test_relative_imports_are_resolved() -> None:
    found = {n for _, n in imported(parse("pacing.policies.model", "from ..runner import x\n"))}
    assert found == {"pacing.runner", "pacing.runner.x"}
    package = parse(
        "gateway.campaigns", "from . import records\n", Path("gateway/campaigns/__init__.py")
    )
    assert {n for _, n in imported(package)} == {"gateway.campaigns", "gateway.campaigns.records"}


def test_allowed_imports_pass() -> None:
    clean = [
        (PACING_ALONE, "pacing.runner", "from pacing.ports import Store\nimport asyncio\n"),
        (DOMAIN_BELOW, "gateway.campaigns.records", "from gateway.db.models import Role\n"),
        (GATEWAY_BELOW, "gateway.campaigns.store", "from pacing.runner import Runner\n"),
        (executes_sql, "control_api.http", "from sqlalchemy.ext.asyncio import AsyncEngine\n"),
        (executes_sql, "control_api.http", "D = 'Select a campaign to see its records'\n"),
    ]
    for rule, name, source in clean:
        assert rule([parse(name, source)]) == [], source
