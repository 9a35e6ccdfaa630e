"""CLI registrar: ``dialer sim`` (run a simulated Asterisk); ``dialer bench sim`` lives in
:mod:`bench.sim`.

``register(subparsers)`` and ``register_bench(bench_subparsers)`` are imported by the lead's
``dialer/cli.py``. ``dialer sim`` prints one line per listener with the credentials it
accepts
and runs until SIGINT/SIGTERM, then stops cleanly (exit 0). This module must not hold sim logic.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import errno
import signal
import sys

from asterisk_sim.config import SimConfig
from asterisk_sim.errors import ConfigError
from asterisk_sim.sim import SimAsterisk


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("sim", help="run the simulated Asterisk (AMI + ARI)")
    parser.add_argument("--config", metavar="FILE", help="TOML world description")
    parser.add_argument("--host", default=None, help="listen address (default 127.0.0.1)")
    parser.add_argument("--ami-port", type=int, default=None, help="AMI port (0 picks one)")
    parser.add_argument("--ari-port", type=int, default=None, help="ARI port (0 picks one)")
    parser.add_argument("--seed", type=int, default=None, help="random seed of the world")
    parser.add_argument(
        "--agents", type=int, default=20, help="agents in queue sales (no --config)"
    )
    parser.add_argument("--time-scale", type=float, default=None, help="0.1 = 10x faster")
    parser.set_defaults(handler=run_sim)


def build_config(args: argparse.Namespace) -> SimConfig:
    config = SimConfig.from_toml(args.config) if args.config else SimConfig.demo(agents=args.agents)
    overrides = {
        "host": args.host,
        "ami_port": args.ami_port,
        "ari_port": args.ari_port,
        "seed": args.seed,
        "time_scale": args.time_scale,
    }
    return dataclasses.replace(config, **{k: v for k, v in overrides.items() if v is not None})


def run_sim(args: argparse.Namespace) -> int:
    try:
        config = build_config(args)
    except ConfigError as exc:
        print(f"dialer sim: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_serve(config))
    except OSError as exc:  # a port already in use, an address not on this machine
        print(f"dialer sim: error: cannot listen: {_why(exc)}", file=sys.stderr)
        return 2


def _why(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    if exc.errno == errno.EADDRINUSE:
        return f"{reason} (choose --ami-port / --ari-port, or stop the other listener)"
    return reason


async def _serve(config: SimConfig) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with SimAsterisk(config) as sim:
        c = sim.credentials
        host = config.host
        print(f"AMI  tcp://{host}:{sim.ami_port}  user={c.ami_user} secret={c.ami_secret}")
        print(
            f"ARI  http://{host}:{sim.ari_port}/ari  user={c.ari_user} password={c.ari_password}"
            f" app={c.ari_app}"
        )
        print(f"ADMIN http://{host}:{sim.admin_port}/sim/  (faults, stats; ARI auth)", flush=True)
        await stop.wait()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)
    return 0
