"""``dialer token|campaign|records …``: the control operations from a shell, on the database.

(``dialer agent …`` is registered here too but asks the running gateway: :mod:`dialer.agent_cli`.)

The handlers use the same services as the HTTP API (``gateway.campaigns``: ``campaigns``,
``records``, ``governance``; downloads through ``control_api.formats``); the acting user is
``cli:<login>``. Resume is not offered here: its checklist must ask the running gateway (agents,
schedule, numbers), so it is API-only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeAlias

from rich.progress import Progress
from sqlalchemy.ext.asyncio import AsyncEngine

from control_api import bodies, formats
from control_api.errors import ApiError
from dialer import agent_cli, why
from dialer.errors import UsageError
from gateway.campaigns import campaigns, governance, records, sheets
from gateway.campaigns.audit import jsonable
from gateway.campaigns.errors import CampaignError
from gateway.campaigns.tokens import create_token
from gateway.db.models import Role
from pacing.lifecycle import Operation, OperationRefused

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Job = Callable[[AsyncEngine, argparse.Namespace], Awaitable[int]]


def actor() -> str:
    return f"cli:{getpass.getuser()}"


@contextlib.asynccontextmanager
async def open_engine(args: argparse.Namespace, pool_size: int = 4) -> AsyncIterator[AsyncEngine]:
    """The configured database (external, or the embedded one started for this command)."""
    from dialer.cli import (
        settings_from,  # the CLI module imports this one; avoid the cycle
    )
    from gateway.db.embedded import EmbeddedPostgres
    from gateway.db.engine import make_engine
    from gateway.db.migrate import upgrade

    settings = settings_from(args)
    embedded = None
    if settings.database.url is not None:
        url = settings.database.url.reveal()
    else:
        embedded = EmbeddedPostgres(settings.pgdata)
        url = await asyncio.to_thread(embedded.start)
    engine = make_engine(url, pool_size=pool_size)
    try:
        if settings.database.auto_migrate:
            await upgrade(url)
        yield engine
    finally:
        await engine.dispose()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


def run(
    job: Job, check: Callable[[argparse.Namespace], None] | None = None
) -> Callable[[argparse.Namespace], int]:
    """A handler running ``job`` on the database; ``check`` refuses bad arguments first."""

    def handler(args: argparse.Namespace) -> int:
        if check is not None:
            check(args)  # UsageError: one line, exit 2, before any database is started

        async def main() -> int:
            async with open_engine(args) as engine:
                return await job(engine, args)

        try:
            return asyncio.run(main())
        except (ApiError, CampaignError, OperationRefused) as exc:
            print(f"dialer: {exc}", file=sys.stderr)
            return 1

    return handler


def show(value: object) -> None:
    print(json.dumps(jsonable(value), indent=2, default=str))


async def token_create(engine: AsyncEngine, args: argparse.Namespace) -> int:
    async with engine.begin() as conn:
        token = await create_token(conn, args.name, Role(args.role), actor(), args.agent_id)
    print(token)
    return 0


async def campaign_create(engine: AsyncEngine, args: argparse.Namespace) -> int:
    data = {
        "name": args.name,
        "time_zone": args.time_zone,
        "queue": args.queue,
        "owner": args.owner or actor(),
        "resume_owner": args.resume_owner or "",
    }
    show(await campaigns.create(engine, actor(), bodies.CREATE.parse(data)))
    return 0


async def campaign_list(engine: AsyncEngine, args: argparse.Namespace) -> int:
    for row in await campaigns.listing(engine, None, 1000, 0):
        print(f"{row.id:>6}  {row.state:<10} {row.name}")
    return 0


async def campaign_show(engine: AsyncEngine, args: argparse.Namespace) -> int:
    campaign = jsonable(await campaigns.get(engine, args.id))
    show(campaign | {"records": await records.counts(engine, args.id)})
    return 0


def _operation(operation: Operation) -> Job:
    async def job(engine: AsyncEngine, args: argparse.Namespace) -> int:
        row, _ = await campaigns.transition(engine, actor(), args.id, operation)
        print(f"campaign {args.id}: {row.state}")
        return 0

    return job


async def campaign_pause(engine: AsyncEngine, args: argparse.Namespace) -> int:
    row = await governance.pause(
        engine, actor(), args.id, args.category, args.text, datetime.now(UTC)
    )
    print(f"campaign {args.id}: {row.state}")
    return 0


async def campaign_reset(engine: AsyncEngine, args: argparse.Namespace) -> int:
    filters: dict[str, Any] = {}
    if args.status:
        filters["status"] = args.status
    if args.disposition:
        filters["dispositions"] = args.disposition
    row, count = await records.reset(engine, actor(), args.id, bodies.RESET.parse(filters))
    print(f"campaign {args.id}: {row.state}, {count} records reset")
    return 0


async def campaign_force_complete(engine: AsyncEngine, args: argparse.Namespace) -> int:
    row, count = await records.force_complete(engine, actor(), args.id)
    print(f"campaign {args.id}: {row.state}, {count} records completed")
    return 0


async def records_import(engine: AsyncEngine, args: argparse.Namespace) -> int:
    path: Path = args.file
    kind = sheets.kind_of("", path.name)
    with path.open("rb") as data, Progress(transient=True) as bar:
        task = bar.add_task(f"importing {path.name}", total=None)
        report = await records.import_upload(
            engine, actor(), args.id, kind, data, progress=lambda n: bar.update(task, completed=n)
        )
    summary = report.as_json()
    print(
        f"rows {summary['rows']}: added {summary['added']}, duplicates {summary['duplicates']}, "
        f"rejected {summary['rejected']}, blank {summary['blank']}"
    )
    for error in summary["errors"]:
        print(f"  row {error['row']}: {error['reason']}")
    return 0 if not report.errors else 3


def _readable_file(args: argparse.Namespace) -> None:
    path: Path = args.file
    if not path.exists():
        raise UsageError(f"records import: {path}: no such file")
    if not path.is_file():
        raise UsageError(f"records import: {path}: not a file")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise UsageError(f"records import: {path}: {exc.strerror}") from None


def _writable_target(args: argparse.Namespace) -> None:
    target: Path = args.output
    folder = target.parent
    if target.is_dir():
        raise UsageError(f"records export: {target} is a folder; give a file name")
    if not folder.is_dir():
        raise UsageError(f"records export: {folder}: no such folder")


async def records_export(engine: AsyncEngine, args: argparse.Namespace) -> int:
    from pacing.lifecycle import CampaignState, apply

    campaign = await campaigns.get(engine, args.id)
    apply(CampaignState(campaign.state), Operation.DOWNLOAD)
    target: Path = args.output
    with target.open("wb") as out:

        async def sink(chunk: bytes) -> None:
            out.write(chunk)

        count = await formats.export(engine, args.id, args.format, sink)
    print(f"{count} records written to {target}")
    return 0


def register(subparsers: Subparsers) -> None:
    """Add ``token``, ``campaign`` and ``records`` to the ``dialer`` command."""
    token = subparsers.add_parser("token", help="API tokens").add_subparsers(
        dest="token_command", metavar="ACTION", required=True
    )
    create = token.add_parser("create", help="create a token and print it (shown once)")
    create.add_argument("--role", required=True, choices=[str(r) for r in Role])
    create.add_argument("--name", required=True)
    create.add_argument(
        "--agent-id", default=None, help="role agent: the agent (queue member name) it acts as"
    )
    create.set_defaults(handler=run(token_create))
    _campaign_commands(subparsers)
    _records_commands(subparsers)
    agent_cli.register(subparsers)


def _campaign_commands(subparsers: Subparsers) -> None:
    sub = subparsers.add_parser("campaign", help="campaigns").add_subparsers(
        dest="campaign_command", metavar="ACTION", required=True
    )
    create = sub.add_parser("create", help="create a campaign")
    create.add_argument("name")
    create.add_argument("--time-zone", default="UTC")
    create.add_argument("--queue", default="")
    create.add_argument("--owner", default=None)
    create.add_argument("--resume-owner", default=None)
    create.set_defaults(handler=run(campaign_create))
    sub.add_parser("list", help="list campaigns").set_defaults(handler=run(campaign_list))
    simple: dict[str, Job] = {
        "show": campaign_show,
        "start": _operation(Operation.START),
        "stop": _operation(Operation.STOP),
        "force-complete": campaign_force_complete,
    }
    for name, job in simple.items():
        p = sub.add_parser(name, help=f"{name} a campaign")
        p.add_argument("id", type=int)
        p.set_defaults(handler=run(job))
    pause = sub.add_parser("pause", help="pause a running campaign now")
    pause.add_argument("id", type=int)
    pause.add_argument("--category", required=True, choices=governance.CATEGORIES)
    pause.add_argument("--text", required=True)
    pause.set_defaults(handler=run(campaign_pause))
    reset = sub.add_parser("reset", help="make matching records dialable; campaign → ready")
    reset.add_argument("id", type=int)
    reset.add_argument("--status", action="append", default=[])
    reset.add_argument("--disposition", action="append", default=[])
    reset.set_defaults(handler=run(campaign_reset))
    why.register(sub)


def _records_commands(subparsers: Subparsers) -> None:
    sub = subparsers.add_parser("records", help="campaign records").add_subparsers(
        dest="records_command", metavar="ACTION", required=True
    )
    imp = sub.add_parser("import", help="add records from a CSV or XLSX file")
    imp.add_argument("id", type=int)
    imp.add_argument("file", type=Path)
    imp.set_defaults(handler=run(records_import, _readable_file))
    exp = sub.add_parser("export", help="download records and outcomes")
    exp.add_argument("id", type=int)
    exp.add_argument("--format", choices=formats.FORMATS, default="csv")
    exp.add_argument("-o", "--output", type=Path, required=True)
    exp.set_defaults(handler=run(records_export, _writable_target))
