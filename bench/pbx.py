"""A real Asterisk 22 for the tests and ``dialer bench asterisk``: ``asterisk_conf/`` plus a world.

The project never builds Asterisk; it finds a build under ``DIALER_ASTERISK_HOME`` (default
``~/.cache/dialer/asterisk-22``, with ``sbin/asterisk`` inside): Asterisk 22 built without
pjproject and installed with that prefix (README, "The real-Asterisk test tier").

:class:`RealAsterisk` writes a complete configuration into a temporary directory: an
``asterisk.conf`` whose ``[directories]`` point every run, log, spool and database directory
into it, the project's ``asterisk_conf/*.conf`` with the AMI and HTTP ports changed to free ones
on 127.0.0.1, and a world appended (carrier contexts, queue members on Local channels that
answer at once): the tests' ``tests/asterisk_real/world/`` or the bench's
``bench/asterisk_world/``. It runs
``asterisk -f -C <tmp>/asterisk.conf`` and waits until Asterisk is fully booted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "asterisk_conf"
WORLD = REPO / "tests" / "asterisk_real" / "world"
AMI_USER, AMI_SECRET = "dialer", "change-me-ami"
ARI_USER, ARI_PASSWORD, ARI_APP = "dialer", "change-me-ari", "dialer"
TRUNK = "Local/{digits}@dialer-test-carrier"
# Test sounds the world's callees play (espeak-ng + sox, like the identification message).
SOUNDS = {
    "dialer-test-hello": "Hi?",  # short: 0.25 s of voice (tests/asterisk_real/world/amd.conf)
    "dialer-test-machine": "Hello, you have reached the voicemail of John Smith. I am not "
    "available to take your call. Please leave a message after the tone.",
    "dialer-identification": "Test identification.",
}


def asterisk_home() -> Path:
    """Where the build is looked for (``DIALER_ASTERISK_HOME``)."""
    default = Path.home() / ".cache" / "dialer" / "asterisk-22"
    return Path(os.environ.get("DIALER_ASTERISK_HOME", str(default))).expanduser()


def find_build() -> Path | None:
    """The build's prefix when ``sbin/asterisk`` exists in it, else ``None``."""
    home = asterisk_home()
    return home if (home / "sbin" / "asterisk").is_file() else None


def skip_reason() -> str:
    return (
        f"no Asterisk 22 build in {asterisk_home()} (set DIALER_ASTERISK_HOME; README, "
        '"The real-Asterisk test tier")'
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _replace(text: str, pattern: str, value: str) -> str:
    new, n = re.subn(pattern, value, text, count=1, flags=re.MULTILINE)
    assert n == 1, pattern
    return new


def make_sounds(target: Path) -> None:
    """Write the world's sounds as 8 kHz WAV; without espeak-ng, the shipped message only."""
    target.mkdir(parents=True, exist_ok=True)
    script = CONF / "sounds" / "make-identification"
    for name, words in SOUNDS.items():
        out = target / f"{name}.wav"
        if shutil.which("espeak-ng") and shutil.which("sox"):
            subprocess.run([str(script), words, str(out)], check=True, capture_output=True)  # noqa: S603
        elif name == "dialer-identification":
            shutil.copy(CONF / "sounds" / "dialer-identification.wav", out)


class RealAsterisk:
    """One Asterisk process with its own directories and ports."""

    def __init__(self, home: Path, world: Path = WORLD) -> None:
        self.home = home
        self.world = world
        self.dir = Path(tempfile.mkdtemp(prefix="dialer-asterisk-"))
        self.ami_port = free_port()
        self.http_port = free_port()
        self._proc: asyncio.subprocess.Process | None = None
        self.started_at = 0.0  # monotonic time of the last start
        self._write_config()

    @property
    def ari_port(self) -> int:
        return self.http_port

    @property
    def log(self) -> Path:
        return self.dir / "stdout.log"

    def _write_config(self) -> None:
        d, h = self.dir, self.home
        etc = d / "etc"
        etc.mkdir()
        for sub in ("run", "log", "spool", "db", "data", "agi"):
            (d / sub).mkdir()
        var = h / "var" / "lib" / "asterisk"
        for entry in var.iterdir():  # documentation, rest-api, keys … of the build
            (d / "data" / entry.name).symlink_to(entry)
        make_sounds(d / "data" / "sounds" / "en")
        (etc / "asterisk.conf").write_text(
            "[directories]\n"
            f"astetcdir => {etc}\nastmoddir => {h}/lib/asterisk/modules\n"
            f"astvarlibdir => {d}/data\nastdbdir => {d}/db\nastkeydir => {d}/data\n"
            f"astdatadir => {d}/data\nastagidir => {d}/agi\nastspooldir => {d}/spool\n"
            f"astrundir => {d}/run\nastlogdir => {d}/log\nastsbindir => {h}/sbin\n"
            "[options]\nverbose = 0\ndebug = 0\ndocumentation_language = en_US\n"
            "defaultlanguage = en\nhideconnect = yes\n"
        )
        for conf in CONF.glob("*.conf"):
            shutil.copy(conf, etc / conf.name)
        manager = (etc / "manager.conf").read_text()
        manager = _replace(manager, r"^port = 5038", f"port = {self.ami_port}")
        manager = _replace(manager, r"^bindaddr = 0\.0\.0\.0", "bindaddr = 127.0.0.1")
        (etc / "manager.conf").write_text(manager)
        http = (etc / "http.conf").read_text()
        http = _replace(http, r"^bindport = 8088", f"bindport = {self.http_port}")
        http = _replace(http, r"^bindaddr = 0\.0\.0\.0", "bindaddr = 127.0.0.1")
        (etc / "http.conf").write_text(http)
        # The test world: agents on Local channels instead of PJSIP phones, carrier contexts.
        queues = (etc / "queues.conf").read_text()
        queues = re.sub(r"^member => PJSIP/.*\n", "", queues, flags=re.MULTILINE)
        (etc / "queues.conf").write_text(queues + "\n" + (self.world / "queues.conf").read_text())
        ext = (etc / "extensions.conf").read_text()
        (etc / "extensions.conf").write_text(
            ext + "\n" + (self.world / "extensions.conf").read_text()
        )
        if (self.world / "amd.conf").is_file():  # the world's own AMD thresholds, if any
            shutil.copy(self.world / "amd.conf", etc / "amd.conf")
        (etc / "pjsip.conf").unlink()  # a build without pjproject: Local/ channels only
        (etc / "logger.conf").write_text(
            "[general]\n[logfiles]\nmessages.log => notice,warning,error\n"
        )

    def _argv(self, *extra: str) -> list[str]:
        return [
            str(self.home / "sbin" / "asterisk"),
            "-C",
            str(self.dir / "etc/asterisk.conf"),
            *extra,
        ]

    async def start(self) -> None:
        self.started_at = asyncio.get_running_loop().time()
        with self.log.open("ab") as out:
            self._proc = await asyncio.create_subprocess_exec(
                *self._argv("-f"), stdin=subprocess.DEVNULL, stdout=out, stderr=out
            )
        await self.fully_booted()

    async def fully_booted(self, within: float = 60.0) -> None:
        """Wait until the control socket answers and Asterisk says it is fully booted."""
        async with asyncio.timeout(within):
            while True:
                if self._proc is not None and self._proc.returncode is not None:
                    raise RuntimeError(f"asterisk exited {self._proc.returncode}: {self.tail()}")
                if (await self.cli("core waitfullybooted", limit_s=10.0)).returncode == 0:
                    return
                await asyncio.sleep(0.2)  # the control socket is not there yet

    async def cli(self, command: str, limit_s: float = 20.0) -> subprocess.CompletedProcess[str]:
        """``asterisk -rx COMMAND`` over this instance's control socket."""
        return await asyncio.to_thread(
            subprocess.run, self._argv("-rx", command), capture_output=True, text=True,
            timeout=limit_s, check=False,
        )  # fmt: skip

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    async def restart_now(self) -> None:
        """``core restart now``: hang up every channel and restart (the same process)."""
        await self.cli("core restart now")

    async def kill(self) -> None:
        """kill -9, as a crash (of a process at least a second old: CoreStartupTime is whole
        seconds, and a production Asterisk never lives less than that)."""
        assert self._proc is not None
        age = asyncio.get_running_loop().time() - self.started_at
        await asyncio.sleep(max(0.0, 1.1 - age))
        self._proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(self._proc.wait(), 10)
        self._proc = None

    async def stop(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                await self.cli("core stop now", limit_s=10.0)
            try:
                await asyncio.wait_for(self._proc.wait(), 15)
            except TimeoutError:
                self._proc.kill()
                await asyncio.wait_for(self._proc.wait(), 10)
            self._proc = None
        shutil.rmtree(self.dir, ignore_errors=True)
