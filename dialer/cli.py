"""The ``dialer`` command line: one parser, sub-commands registered by each area.

Settings are loaded inside each handler (so ``--help`` and ``--version`` need no environment); a
bad setting prints one line naming it and exits 2. Handlers return the process exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from dialer.errors import UsageError
from dialer.heap import freeze_startup_heap, hold_collection, pin_mmap_threshold, resume_collection
from gateway import __version__
from gateway.db.errors import DatabaseError
from gateway.logs import configure
from gateway.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from dialer.app import Running

EXIT_USAGE = 2
# The commands defined in this module. For these the other areas' modules (benchmarks, demo,
# simulator, control CLI) are not imported: a restarted `serve` dials again ~0.4 s sooner.
CORE_COMMANDS = frozenset({"serve", "db"})

# Seconds from "serving" to the heap's one full collection and freeze (dialer.heap): by then
# the first supervision rounds have run and the first calls are out; before them, the
# collection (~0.15 s) held up the first call of a restarted gateway.
HEAP_SETTLE_S = 3.0

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def settings_from(args: argparse.Namespace) -> Settings:
    """Load settings from the environment and ``--config``, configure logging."""
    settings = load_settings(os.environ, args.config)
    configure(settings.log.format, settings.log.level)
    return settings


def _serve(args: argparse.Namespace) -> int:
    pin_mmap_threshold()  # socket reads no longer leave holes in the heap (dialer.heap)
    settings = settings_from(args)
    hold_collection()  # no collection while the start creates its long-lived objects (dialer.heap)
    asyncio.run(serve(settings))
    return 0


def _settle_heap() -> None:
    freeze_startup_heap()  # full GC passes no longer stall requests (dialer.heap)
    resume_collection()


async def serve(settings: Settings) -> None:
    """Run the service until SIGINT or SIGTERM."""
    from dialer.app import Service  # the service's modules: imported by `serve` alone (~1.5 s)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    settle: list[asyncio.TimerHandle] = []

    def announce(running: Running) -> None:
        print(f"dialer: serving on http://{settings.http.host}:{running.http_port}", flush=True)
        settle.append(loop.call_later(HEAP_SETTLE_S, _settle_heap))

    try:
        await Service(settings).run(stop, on_ready=announce)
    finally:
        for handle in settle:
            handle.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _db_upgrade(args: argparse.Namespace) -> int:
    # Here, not at the top: `serve` imports SQLAlchemy only after hold_collection().
    from gateway.db.embedded import EmbeddedPostgres
    from gateway.db.migrate import upgrade_sync

    settings = settings_from(args)
    if settings.database.url is not None:
        upgrade_sync(settings.database.url.reveal(), args.revision)
    else:
        embedded = EmbeddedPostgres(settings.pgdata)
        try:
            upgrade_sync(embedded.start(), args.revision)
        finally:
            embedded.stop()
    print(f"dialer: database upgraded to {args.revision}")
    return 0


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv``: every command (None: for ``--help`` and tests), or only the core
    ones when ``argv`` names one of :data:`CORE_COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="dialer", description="Outbound predictive dialing gateway for Asterisk."
    )
    parser.add_argument("--version", action="version", version=f"dialer {__version__}")
    _config_option(parser, default=None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve_parser = sub.add_parser("serve", help="run the gateway service and control API")
    serve_parser.set_defaults(handler=_serve)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = db_sub.add_parser("upgrade", help="apply migrations")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(handler=_db_upgrade)

    bench = sub.add_parser("bench", help="benchmarks that print measured numbers")
    bench_sub = bench.add_subparsers(dest="bench_command", metavar="BENCH", required=True)
    if argv is None or command_of(argv) not in CORE_COMMANDS:
        _register_areas(sub, bench_sub)
    _config_everywhere(parser)
    return parser


def command_of(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names: its first word that is neither an option nor the value of a
    ``--config`` before it (None: only options, such as ``--help``)."""
    words = iter(argv)
    for word in words:
        if word == "--config":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def _config_option(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=default,
        metavar="FILE",
        help="TOML settings file (environment variables DIALER_* win over it)",
    )


def _config_everywhere(parser: argparse.ArgumentParser) -> None:
    """``--config FILE`` is taken after any command too (``dialer serve --config x.toml``), not
    only before it; given in both places, the later one wins."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                if "--config" not in child._option_string_actions:
                    _config_option(child, default=argparse.SUPPRESS)
                _config_everywhere(child)


def _register_areas(sub: Subparsers, bench_sub: Subparsers) -> None:
    """Sub-commands owned by the other areas (simulator, gateway, pacing, API, deploy)."""
    # Imported here so that `dialer --help` stays light.
    from asterisk_sim import cli as sim_cli
    from bench import api as api_bench
    from bench.asterisk_run import register_bench as register_asterisk_bench
    from bench.faults import register_bench as register_faults_bench
    from bench.gateway import register_bench as register_gateway_bench
    from bench.leasing import register_bench as register_leasing_bench
    from bench.pacing import register_bench as register_pacing_bench
    from bench.pipeline import register_bench as register_pipeline_bench
    from bench.sim import register_bench as register_sim_bench
    from bench.soak import register_bench as register_soak_bench
    from dialer import control_cli as api_cli
    from dialer import demo
    from gateway.asterisk import confcheck

    api_cli.register(sub)
    api_bench.register_bench(bench_sub)
    demo.register(sub)
    confcheck.register(sub)
    sim_cli.register(sub)
    register_sim_bench(bench_sub)
    register_pacing_bench(bench_sub)
    register_gateway_bench(bench_sub)
    register_leasing_bench(bench_sub)
    register_faults_bench(bench_sub)
    register_asterisk_bench(bench_sub)
    register_pipeline_bench(bench_sub)
    register_soak_bench(bench_sub)


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    args = build_parser(words).parse_args(words)
    try:
        code: int = args.handler(args)
    except (SettingsError, UsageError) as exc:
        print(f"dialer: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DatabaseError as exc:
        print(f"dialer: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
