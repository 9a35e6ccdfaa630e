"""One gateway process of ``dialer bench pipeline``: the service as ``dialer serve`` runs it,
with counters.

Started by :mod:`bench.pipeline` as ``python -m bench.pipeline_worker --config FILE`` with the
``DIALER_*`` environment of an instance. It runs :class:`dialer.app.Service` in this process
(result writer, progress writer, supervisor and runners, API, observer, heartbeat: everything
``dialer serve`` runs), and adds only what the benchmark reads:

- every database round trip of the service's engine, counted from SQLAlchemy's events: each
  statement sent (``before_cursor_execute``; an ``executemany`` is one pipelined send), each
  ``BEGIN``, ``COMMIT`` and ``ROLLBACK``;
- the result writer's backlog (results received, not yet stored), sampled every 0.25 s;
- the results stored (sent calls, and withdrawn attempts that were never sent, by why).

It answers commands from stdin, one a line, each with one JSON line on stdout: ``acquire CID``
(take the campaign's pacer lease for this instance, so that each instance paces its own
campaign), ``mark`` (zero the counters, start sampling), ``read`` (the counters now) and
``stop`` (stop the service and exit). The first line it prints says it is ready. Its logs go
to stderr. Never imported by the gateway at run time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from dialer.app import Running, Service
from gateway.campaigns import leasing
from gateway.logs import configure
from gateway.settings import load_settings
from pacing.calls import AttemptResult

SAMPLE_S = 0.25


class RoundTrips:
    """Database round trips of one engine, from SQLAlchemy's connection events."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.counts = {"statements": 0, "begin": 0, "commit": 0, "rollback": 0}
        sync = engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._counter("statements"))
        for name in ("begin", "commit", "rollback"):
            event.listen(sync, name, self._counter(name))

    def _counter(self, name: str) -> Any:
        def count(*_: Any, **__: Any) -> None:
            self.counts[name] += 1

        return count

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def zero(self) -> None:
        for name in self.counts:
            self.counts[name] = 0


class Probe:
    """What the benchmark reads of a running service."""

    def __init__(self, running: Running) -> None:
        self.running = running
        self.trips = RoundTrips(running.engine)
        self.sent = 0
        self.withdrawn = 0
        self.withdrawn_why: dict[str, int] = {}  # withdrawn attempts by the tracker's detail
        self.marked = time.monotonic()
        self.backlog: list[tuple[float, int]] = []
        self.peak_backlog = 0
        running.writer.add_listener(self._stored)

    def _stored(self, result: AttemptResult) -> None:
        if result.sent:
            self.sent += 1
        else:
            self.withdrawn += 1
            why = re.split("[:,]", result.detail or "not sent")[0][:60]
            self.withdrawn_why[why] = self.withdrawn_why.get(why, 0) + 1

    def mark(self) -> None:
        self.trips.zero()
        self.sent = self.withdrawn = self.peak_backlog = 0
        self.withdrawn_why = {}
        self.backlog = []
        self.marked = time.monotonic()

    async def sample(self) -> None:
        while True:
            pending = self.running.writer.pending
            self.peak_backlog = max(self.peak_backlog, pending)
            self.backlog.append((round(time.monotonic() - self.marked, 2), pending))
            await asyncio.sleep(SAMPLE_S)

    def read(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "withdrawn": self.withdrawn,
            "withdrawn_why": dict(self.withdrawn_why),
            "round_trips": self.trips.total,
            "round_trip_kinds": dict(self.trips.counts),
            "backlog_peak": self.peak_backlog,
            "backlog": self.backlog,
            "transient_retries": self.running.writer.transient_retries,
            "placed": sum(r.status.placed for r in self.running.supervisor.runners.values()),
            # counted, not built: the map of every call in flight cost the measured process ~3 %
            "in_flight": sum(len(rt.tracker) for rt in self.running.dialer.runtimes()),
            "decisions": [
                (d.calls, str(d.reason))
                for r in self.running.supervisor.runners.values()
                if (d := r.status.last_decision) is not None
            ],
        }


def _say(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


async def _commands(probe: Probe, instance: str) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().split():
        if line[0] == "acquire":
            held = await leasing.acquire_pacer(probe.running.engine, int(line[1]), instance, 10.0)
            _say({"held": held})
        elif line[0] == "mark":
            probe.mark()
            _say({"marked": True})
        elif line[0] == "read":
            _say(probe.read())
        elif line[0] == "stop":
            return


async def main(config: Path) -> None:
    settings = load_settings(os.environ, config)
    configure(settings.log.format, settings.log.level)
    stop = asyncio.Event()
    ready: asyncio.Future[Running] = asyncio.get_running_loop().create_future()
    service = asyncio.create_task(Service(settings).run(stop, on_ready=ready.set_result))
    either: list[asyncio.Future[Any]] = [service, ready]
    await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
    if service.done():
        service.result()  # the service ended before it was ready: say why
        return
    running = ready.result()
    probe = Probe(running)
    sampler = asyncio.create_task(probe.sample())
    _say({"ready": True, "http_port": running.http_port})
    try:
        await _commands(probe, settings.instance_id)
    finally:
        sampler.cancel()
        stop.set()
        await service
    _say({"stopped": True})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline_worker")
    parser.add_argument("--config", type=Path, required=True)
    asyncio.run(main(parser.parse_args().config))
