"""AstDB and the outcome ledger's hangup handler, as the project's dialplan runs them.

Real Asterisk runs ``[dialer-hangup]`` (``asterisk_conf/extensions.conf``) on every channel
whose Originate pushed it (``CHANNEL(hangup_handler_push)=dialer-hangup,s,1``), and that
handler writes one line per attempt into AstDB (:mod:`gateway.asterisk.calls.ledger` has the
format). The simulator writes the same line when such a channel hangs up; AMI ``DBGet``
(:mod:`asterisk_sim.ami_actions`) reads it back as Asterisk 22 answers (the trace in
``tests/asterisk_real/traces/ami-dbget.txt``).

One difference, on purpose: the line's epochs and hour family come from the real wall clock,
not the simulated one (which runs ``1/time_scale`` times faster), so that a gateway reading the
ledger finds the hour it placed the call in and times that agree with its own clock. Values
live in memory: a simulator process that is killed loses them, as real Asterisk loses nothing
(its AstDB is on disk) but also runs no hangup handler when it is killed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from asterisk_sim.channels import Channel

HANDLER_VARIABLE = "CHANNEL(hangup_handler_push)"
LEDGER_HANDLER = "dialer-hangup,s,1"
LEDGER_FAMILY = "dialer-outcome"


class AstDb:
    """Families of keys, as ``DBGet`` / ``DBGetTree`` see them."""

    def __init__(self, sim_now: Callable[[], float], scale: float) -> None:
        self._values: dict[tuple[str, str], str] = {}
        self._sim_now = sim_now
        self._scale = scale

    def get(self, family: str, key: str) -> str | None:
        return self._values.get((family, key))

    def put(self, family: str, key: str, value: str) -> None:
        self._values[(family, key)] = value

    def tree(self, family: str) -> list[tuple[str, str]]:
        """``(/family/key, value)`` of every key under ``family``, sorted like Asterisk."""
        prefix = family.strip("/")
        found = [
            (f"/{fam}/{key}", value)
            for (fam, key), value in self._values.items()
            if fam == prefix or fam.startswith(prefix + "/")
        ]
        return sorted(found)

    def __len__(self) -> int:
        return len(self._values)

    def _real_epoch(self, sim_epoch: float | None) -> str:
        if sim_epoch is None:
            return ""
        return f"{time.time() - (self._sim_now() - sim_epoch) * self._scale:.6f}"

    def hung_up(self, ch: Channel, cause: int) -> None:
        """Run the dialer's hangup handler if the channel's Originate pushed it."""
        if ch.vanished or ch.name.endswith(";2"):
            return  # a restart took it without running anything
        if ch.variables.get(HANDLER_VARIABLE) != LEDGER_HANDLER:
            return
        v = ch.variables
        attempt = v.get("DIALER_ATTEMPT_ID", "")
        if not attempt:
            return
        now = time.time()
        answered = self._real_epoch(ch.answered_at)  # CDR(answer,u)
        disposition = "ANSWERED" if ch.answered_at is not None else ch.disposition
        line = (
            f"v1&c:{cause}&a:{answered or '0.000000'}&k:{disposition}&d:{v.get('AMDSTATUS', '')}"
            f"&q:{v.get('QUEUESTATUS', '')}&m:{v.get('MEMBERNAME', '')}&e:{int(now)}"
        )
        self.put(f"{LEDGER_FAMILY}/{time.strftime('%Y%m%d%H', time.gmtime(now))}", attempt, line)
