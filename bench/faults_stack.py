"""The processes of the fault bench: a database of its own, the simulator, gateway instances.

Everything the faults act on is a real process or a real socket, owned here:

- **database**: a fresh database ``dialer_faults_<hex>`` on a PostgreSQL server reached over
  TCP (dropped at the end); the gateways reach it through a :class:`bench.witness.Relay`, so
  "PostgreSQL unavailable" is a cut of that relay and the server itself (which other work may
  share) is never stopped;
- **simulator**: ``dialer sim`` in a child process on fixed ports, so that a restart (SIGKILL,
  then a new process) comes back where the gateways look for it;
- **witness**: the :class:`bench.witness.Witness` between every gateway and the simulator's AMI
  port;
- **gateways**: ``dialer serve`` child processes, each with a config file and a stable
  ``DIALER_INSTANCE_ID``, their output in log files of the run directory.

This module starts and stops processes; it decides nothing about faults (:mod:`bench.faults`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import secrets
import signal
import socket
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bench.witness import Relay, Witness

SERVING = "dialer: serving on "


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclasses.dataclass(frozen=True, slots=True)
class World:
    """The simulated call centre of a run."""

    agents: int
    time_scale: float
    channels: int
    originate_rate: float
    seed: int = 11


def sim_toml(world: World, ami_port: int, ari_port: int, secret: str) -> str:
    """A world where most calls ring and fail, so that many are in flight for few agents."""
    return (
        f"[sim]\nseed = {world.seed}\nami_port = {ami_port}\nari_port = {ari_port}\n"
        f'time_scale = {world.time_scale}\nami_secret = "{secret}"\n'
        f'ari_password = "{secret}"\nplayback_seconds = 0.0\n\n'
        '[[trunk]]\nname = "carrier-a"\nchannels = 100000\ncps = 100000\n\n'
        '[[carrier]]\nprefix = ""\nlive = 0.25\nmachine = 0.05\nno_answer = 0.45\n'
        "busy = 0.15\ncongestion = 0.05\nfailure = 0.05\nring_time = [3, 20]\n"
        'callee_hangup = {dist = "lognormal", mean = 40, sigma = 0.5}\n\n'
        f'[[queue]]\nname = "sales"\nagents = {world.agents}\n'
        'talk_time = {dist = "lognormal", mean = 40, sigma = 0.5}\nwrapup = 3\n'
    )


def gateway_toml(world: World, witness_port: int, ari_port: int, secret: str) -> str:
    return (
        "[[servers]]\n"
        f'name = "sim"\nami_port = {witness_port}\nami_username = "dialer"\n'
        f'ami_secret = "{secret}"\nari_port = {ari_port}\nari_username = "dialer"\n'
        f'ari_password = "{secret}"\nchannels = {world.channels}\n'
        f'originate_rate = {world.originate_rate}\ntrunk = "PJSIP/{{number}}@carrier-a"\n'
    )


class Database:
    """A fresh database on a TCP PostgreSQL server, and the relay the gateways reach it by."""

    def __init__(self, server_url: str, prefix: str = "dialer_faults") -> None:
        parts = urlsplit(server_url.replace("postgresql+asyncpg://", "postgresql://", 1))
        if not parts.hostname or parts.hostname.startswith("/"):
            raise ValueError(f"--database-url must name a TCP host and port, got {server_url!r}")
        self._parts = parts
        self.name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.relay = Relay(parts.port or 5432, parts.hostname)

    def _dsn(self, database: str, port: int | None = None, host: str | None = None) -> str:
        netloc = self._parts.netloc
        if port is not None:
            auth = netloc.rsplit("@", 1)[0] + "@" if "@" in netloc else ""
            netloc = f"{auth}{host}:{port}"
        return urlunsplit(self._parts._replace(netloc=netloc, path=f"/{database}"))

    @property
    def direct(self) -> str:
        """The bench's own URL (not through the relay: the bench must see through outages)."""
        return self._dsn(self.name)

    @property
    def relayed(self) -> str:
        """The gateways' URL, through the relay that a fault cuts."""
        return self._dsn(self.name, self.relay.port, "127.0.0.1")

    async def create(self) -> None:
        conn = await asyncpg.connect(self._dsn(self._parts.path.lstrip("/") or "postgres"))
        try:
            await conn.execute(f'CREATE DATABASE "{self.name}"')
        finally:
            await conn.close()
        await self.relay.start()

    async def drop(self) -> None:
        await self.relay.stop()
        conn = await asyncpg.connect(self._dsn(self._parts.path.lstrip("/") or "postgres"))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            await conn.close()


def _found(log: Path, prefix: str) -> str | None:
    if not log.exists():
        return None
    lines = log.read_text(errors="replace").splitlines()
    return next((line for line in lines if line.startswith(prefix)), None)


async def _wait_line(
    log: Path, proc: asyncio.subprocess.Process, prefix: str, within: float
) -> str:
    """Poll ``log`` for a line starting with ``prefix``; fail if the process exits first."""
    async with asyncio.timeout(within):
        while True:
            line = await asyncio.to_thread(_found, log, prefix)
            if line is not None:
                return line
            if proc.returncode is not None:
                raise RuntimeError(f"{log.name}: the process exited ({proc.returncode}) first")
            await asyncio.sleep(0.1)


class Child:
    """One child process whose stdout and stderr go to a log file of the run."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], run_dir: Path) -> None:
        self.name = name
        self._argv = argv
        self._env = env
        self._run_dir = run_dir
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.stopped = False  # SIGSTOPped

    @property
    def log(self) -> Path:
        return self._run_dir / f"{self.name}-{self.starts}.log"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self, ready_prefix: str, within: float = 90.0) -> str:
        self.starts += 1
        with self.log.open("wb") as out:
            self.proc = await asyncio.create_subprocess_exec(
                *self._argv, env=self._env, stdin=asyncio.subprocess.DEVNULL,
                stdout=out, stderr=asyncio.subprocess.STDOUT)  # fmt: skip
        return await _wait_line(self.log, self.proc, ready_prefix, within)

    def signal(self, sig: signal.Signals) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(sig)
            self.stopped = sig == signal.SIGSTOP or (self.stopped and sig != signal.SIGCONT)

    async def kill(self) -> None:
        """SIGKILL (a crash), then reap."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        self.stopped = False

    async def terminate(self, within: float = 30.0) -> None:
        """SIGTERM (a clean stop); SIGKILL if it does not end in time."""
        if self.proc is None or self.proc.returncode is not None:
            return
        if self.stopped:
            self.proc.send_signal(signal.SIGCONT)
            self.stopped = False
        self.proc.terminate()
        try:
            async with asyncio.timeout(within):
                await self.proc.wait()
        except TimeoutError:
            await self.kill()


class Stack:
    """Database, simulator, witness and gateway instances of one fault run."""

    def __init__(self, world: World, database: Database, run_dir: Path) -> None:
        self.world = world
        self.database = database
        self.run_dir = run_dir
        self.secret = secrets.token_hex(8)
        self.token = secrets.token_urlsafe(16)
        self.sim, self.ami_port, self.ari_port = sim_child(world, run_dir, self.secret)
        self.witness = Witness(self.ami_port)
        self.gateways: dict[str, Child] = {}
        self.api_ports: dict[str, int] = {}

    async def start(self) -> None:
        await self.database.create()
        await self.sim.start("ADMIN ")
        await self.witness.start()

    def gateway(self, instance: str) -> Child:
        if instance not in self.gateways:
            config = self.run_dir / f"{instance}.toml"
            config.write_text(
                gateway_toml(self.world, self.witness.port, self.ari_port, self.secret)
            )
            level = os.environ.get("BENCH_FAULTS_LOG_LEVEL", "WARNING")
            env = {**os.environ, "DIALER_DATABASE_URL": self.database.relayed,
                   "DIALER_INSTANCE_ID": instance, "DIALER_HTTP_PORT": "0",
                   "DIALER_API_TOKEN": self.token,
                   "DIALER_LOG_LEVEL": level}  # fmt: skip
            argv = [sys.executable, "-m", "dialer.cli", "--config", str(config), "serve"]
            self.gateways[instance] = Child(instance, argv, env, self.run_dir)
        return self.gateways[instance]

    async def serve(self, instance: str) -> int:
        """Start (or restart) ``instance``; its API port once it serves."""
        line = await self.gateway(instance).start(SERVING)
        port = int(line.rsplit(":", 1)[1])
        self.api_ports[instance] = port
        return port

    def running(self) -> list[str]:
        return [name for name, child in self.gateways.items() if child.alive]

    async def restart_sim(self, down_s: float) -> None:
        await self.sim.kill()
        await asyncio.sleep(down_s)
        await self.sim.start("ADMIN ")

    async def stop(self) -> None:
        for child in self.gateways.values():
            await child.terminate()
        await self.sim.terminate()
        await self.witness.stop()
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            await self.database.drop()


SimToml = Callable[[World, int, int, str], str]


def sim_child(
    world: World, run_dir: Path, secret: str, render: SimToml = sim_toml
) -> tuple[Child, int, int]:
    """The simulator's process for ``world`` (``dialer sim``, its config written by ``render``
    in ``run_dir``: the fault world's by default), not yet started, with its AMI and ARI ports."""
    ami_port, ari_port = free_port(), free_port()
    sim_cfg = run_dir / "sim.toml"
    sim_cfg.write_text(render(world, ami_port, ari_port, secret))
    argv = [sys.executable, "-m", "dialer.cli", "sim", "--config", str(sim_cfg)]
    return Child("sim", argv, dict(os.environ), run_dir), ami_port, ari_port
