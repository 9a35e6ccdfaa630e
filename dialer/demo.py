"""``dialer demo``: a full campaign on embedded defaults, watched live in the terminal.

Starts the embedded PostgreSQL (through the service), the simulated Asterisk with a world of
agents and a realistic carrier (unless real servers are configured, in which case it runs the
same against them), the gateway with its control API, then sets up a demo campaign *through the
control API* — caller-ID pool, a few thousand generated records, predictive pacing — starts it
and shows a live view until ``--duration`` runs out or Ctrl-C. It prints the API address, a token,
the browser console's address and three ``curl`` commands that work while it runs.

The callee numbers are generated in a country where it is daytime now, so the callee-window rule
(08:00–21:00 local) lets the demo dial whatever the hour.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import io
import random
import signal
import time
from collections.abc import Coroutine, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import phonenumbers
from rich.console import Console
from rich.live import Live

from asterisk_sim import SimAsterisk, SimConfig
from dialer.app import Running, Service
from dialer.demo_view import DemoFrame, render
from dialer.errors import UsageError
from gateway.campaigns.tokens import new_token
from gateway.settings import AsteriskServer, Secret, Settings
from pacing.outcomes import Outcome
from pacing.runner import CampaignRunner
from pacing.snapshot import AgentState

# (region, a representative zone): the demo dials the first region where it is 09:00–19:00.
_REGIONS = (
    ("GB", "Europe/London"),
    ("US", "America/New_York"),
    ("DE", "Europe/Berlin"),
    ("IN", "Asia/Kolkata"),
    ("JP", "Asia/Tokyo"),
    ("AU", "Australia/Sydney"),
    ("BR", "America/Sao_Paulo"),
)


def daytime_region(now: datetime) -> str:
    """A region where local time is between 09:00 and 19:00 now (GB if none is)."""
    for region, zone in _REGIONS:
        if 9 <= now.astimezone(ZoneInfo(zone)).hour < 19:
            return region
    return "GB"


def demo_numbers(region: str, count: int, seed: int) -> list[str]:
    """``count`` distinct valid mobile numbers of ``region`` in E.164 (all in one time zone).

    Numbers are the region's example mobile number with its last digits replaced. The tails are
    visited in a seeded order without repetition (``start + i * step`` modulo 10**width, ``step``
    coprime to 10), four digits first and more when those run out, so any count ends: either
    enough numbers are found or :class:`UsageError` says how many the region allows.
    """
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    assert example is not None
    national = str(example.national_number)
    zones = set(phonenumbers.timezone.time_zones_for_number(example))
    rng = random.Random(seed)
    numbers: set[str] = set()
    for width in range(4, len(national)):
        space = 10**width
        start, step = rng.randrange(space), _coprime_step(rng, space)
        for i in range(space):
            tail = f"{(start + i * step) % space:0{width}d}"
            candidate = phonenumbers.parse(f"+{example.country_code}{national[:-width]}{tail}")
            if (
                phonenumbers.is_valid_number(candidate)
                and set(phonenumbers.timezone.time_zones_for_number(candidate)) == zones
            ):
                numbers.add(
                    phonenumbers.format_number(candidate, phonenumbers.PhoneNumberFormat.E164)
                )
                if len(numbers) >= count:
                    return sorted(numbers)
    raise UsageError(f"--records {count}: region {region} has only {len(numbers)} demo numbers")


def _coprime_step(rng: random.Random, space: int) -> int:
    """A step coprime to ``space`` (a power of ten): odd and not a multiple of 5."""
    step = rng.randrange(1, space) | 1
    return step + 2 if step % 5 == 0 else step


def records_csv(numbers: list[str], custom: Sequence[str] = ()) -> bytes:
    """The demo's upload: phone, name, priority and, per column named in ``custom``, a custom
    field whose value is ``<column>-<row number>``."""
    out = io.StringIO()
    out.write(",".join(("phone", "name", "priority", *custom)) + "\n")
    for index, number in enumerate(numbers):
        extra = "".join(f",{column}-{index + 1}" for column in custom)
        out.write(f"{number},Demo contact {index + 1},{50 + index % 10}{extra}\n")
    return out.getvalue().encode()


@dataclasses.dataclass(frozen=True, slots=True)
class DemoCampaign:
    campaign_id: int
    name: str
    abandon_target: float


async def _call(http: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> Any:
    async with http.request(method, url, **kw) as resp:
        body = await resp.json(content_type=None)
        if resp.status >= 400:
            raise RuntimeError(f"{method} {url}: {resp.status} {body}")
        return body


async def set_up_campaign(
    base: str,
    token: str,
    records: int,
    seed: int,
    name: str | None = None,
    max_attempts: int = 3,
    custom: Sequence[str] = (),
) -> DemoCampaign:
    """Create the caller-ID pool and the campaign, upload records, start it — via the API."""
    headers = {"Authorization": f"Bearer {token}"}
    region = daytime_region(datetime.now(UTC))
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as http:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        name = name or f"demo-{stamp}"
        campaign = await _call(http, "POST", f"{base}/campaigns", json={
            "name": name, "pacing_mode": "predictive", "queue": "sales", "default_region": region,
            "abandon_target": 0.03, "max_attempts": max_attempts, "owner": "demo",
            "resume_owner": "demo",
            "pacing": {"caller_id_name": "Demo", "ring_timeout_s": 20},
        })  # fmt: skip
        cid = int(campaign["id"])
        listed = await _call(http, "GET", f"{base}/numbers", params={"limit": 1000})
        known = {n["number"]: int(n["id"]) for n in listed["numbers"]}
        ids = []
        for number in demo_numbers(region, 12, seed + 1):
            if number not in known:  # a second demo run reuses the pool of the first
                spec = {"number": number, "max_concurrent": 50, "max_per_day": 20000}
                created = await _call(http, "POST", f"{base}/numbers", json=spec)
                known[number] = int(created["id"])
            ids.append(known[number])
        await _call(http, "PUT", f"{base}/campaigns/{cid}/numbers", json={"number_ids": ids})
        numbers = await asyncio.to_thread(demo_numbers, region, records, seed)
        body = records_csv(numbers, custom)
        await _call(http, "POST", f"{base}/campaigns/{cid}/records", data=body,
                    headers={"Content-Type": "text/csv"})  # fmt: skip
        await _call(http, "POST", f"{base}/campaigns/{cid}/start")
    return DemoCampaign(cid, name, 0.03)


def console_url(settings: Settings, running: Running) -> str:
    """The browser console's address for the running service."""
    return f"http://{settings.http.host}:{running.http_port}/console/"


def curl_examples(base: str, token: str, campaign_id: int) -> list[str]:
    auth = f"-H 'Authorization: Bearer {token}'"
    url = f"{base}/campaigns/{campaign_id}"
    return [
        f"curl -s -X POST {auth} -H 'Content-Type: application/json' "
        f'-d \'{{"category": "call_quality", "text": "checking audio"}}\' {url}/pause',
        f"curl -s -X POST {auth} -H 'Content-Type: application/json' "
        f'-d \'{{"review_minutes": 5, "max_concurrent_calls": 10}}\' {url}/resume',
        f"curl -s {auth} {url}/diagnostics",
    ]


class FrameBuilder:
    """Builds the live view's frames from the running service."""

    def __init__(self, running: Running, campaign: DemoCampaign, api: str, started: float) -> None:
        self._running = running
        self._campaign = campaign
        self._api = api
        self._started = started
        self._placed: list[tuple[float, int]] = []
        self._runner: CampaignRunner | None = None

    def frame(self, state: str) -> DemoFrame:
        now = time.monotonic()
        # The runner leaves the supervisor when the campaign stops: keep showing its last state.
        runner = self._running.supervisor.runners.get(self._campaign.campaign_id) or self._runner
        self._runner = runner
        placed = runner.status.placed if runner else 0
        self._placed.append((now, placed))
        while self._placed and now - self._placed[0][0] > 60:
            self._placed.pop(0)
        snapshot = runner.last_snapshot if runner else None
        outcomes: Mapping[Outcome, int] = dict(runner.status.outcomes) if runner else {}
        live = outcomes.get(Outcome.ANSWERED, 0) + outcomes.get(Outcome.ABANDONED, 0)
        count = snapshot.count if snapshot else (lambda _state: 0)
        active = snapshot.active_agents if snapshot else 0
        working = count(AgentState.BUSY) + count(AgentState.WRAP)
        in_flight = len(snapshot.calls) if snapshot else 0
        return DemoFrame(
            elapsed_s=now - self._started,
            campaign=self._campaign.name,
            state=state,
            calls_last_minute=placed - self._placed[0][1],
            calls_total=placed,
            in_flight=in_flight,
            outcomes=outcomes,
            agents_logged_in=len(snapshot.agents) if snapshot else 0,
            agents_on_call=count(AgentState.BUSY),
            agents_wrapup=count(AgentState.WRAP),
            agents_free=count(AgentState.FREE),
            occupancy=working / active if active else 0.0,
            abandon_rate=outcomes.get(Outcome.ABANDONED, 0) / live if live else 0.0,
            abandon_target=self._campaign.abandon_target,
            dial_level=in_flight / active if active else 0.0,
            api_url=self._api,
        )


def with_simulated_servers(settings: Settings, sim: SimAsterisk | None, token: str) -> Settings:
    changes: dict[str, Any] = {"api_token": settings.api_token or Secret(token)}
    if sim is not None:
        creds = sim.credentials
        server = AsteriskServer(
            name="sim",
            ami_port=sim.ami_port,
            ami_username=creds.ami_user,
            ami_secret=Secret(creds.ami_secret),
            ari_port=sim.ari_port,
            ari_username=creds.ari_user,
            ari_password=Secret(creds.ari_password),
            ari_app=creds.ari_app,
            channels=400,
            originate_rate=100.0,
            trunk="PJSIP/{number}@carrier-a",
        )
        changes["servers"] = (server,)
    return dataclasses.replace(settings, **changes)


async def run_demo(settings: Settings, args: argparse.Namespace, console: Console) -> int:
    """The whole demo; returns the exit code."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    token = new_token()
    deadline = None if args.duration is None else time.monotonic() + args.duration
    async with contextlib.AsyncExitStack() as stack:
        sim = None
        if not settings.servers:
            config = SimConfig.demo(agents=args.agents, seed=args.seed, ami_port=0, ari_port=0)
            sim = await stack.enter_async_context(SimAsterisk(config))
            console.print(f"simulated Asterisk: AMI 127.0.0.1:{sim.ami_port}, "
                          f"ARI 127.0.0.1:{sim.ari_port}, {args.agents} agents")  # fmt: skip
        configured = with_simulated_servers(settings, sim, token)
        ready: asyncio.Future[Running] = loop.create_future()
        service = asyncio.create_task(Service(configured).run(stop, on_ready=ready.set_result))
        stack.push_async_callback(_finish, service, stop)
        running = await wait_ready(ready, service)
        api = f"http://{settings.http.host}:{running.http_port}/v1"
        bearer = (configured.api_token or Secret(token)).reveal()
        setup = set_up_campaign(api, bearer, args.records, args.seed)
        campaign = await _unless_stopped(setup, stop, deadline)
        if campaign is None:
            console.print("demo stopped before the campaign was set up")
            return 0
        console.print(f"control API: {api}   token: {bearer}")
        console.print(f"console: {console_url(settings, running)}   (sign in with the token)")
        console.print("try, while it runs:")
        for line in curl_examples(api, bearer, campaign.campaign_id):
            console.print(f"  {line}", soft_wrap=True, highlight=False)
        await _watch(running, campaign, api, deadline, stop, console)
    return 0


async def _unless_stopped(
    work: Coroutine[Any, Any, DemoCampaign], stop: asyncio.Event, deadline: float | None
) -> DemoCampaign | None:
    """Await ``work``; None (and ``work`` cancelled) on Ctrl-C or when ``--duration`` ends."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
    try:
        await asyncio.wait({task, stopped}, timeout=left, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return None


async def wait_ready(ready: asyncio.Future[Running], service: asyncio.Task[None]) -> Running:
    waiters: set[asyncio.Future[Any]] = {ready, service}
    done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    if ready in done:
        return ready.result()
    service.result()  # raises the service's error
    raise RuntimeError("the service stopped before it was ready")


async def _finish(service: asyncio.Task[None], stop: asyncio.Event) -> None:
    stop.set()
    await service


async def _watch(
    running: Running,
    campaign: DemoCampaign,
    api: str,
    deadline: float | None,
    stop: asyncio.Event,
    console: Console,
) -> None:
    frames = FrameBuilder(running, campaign, api, time.monotonic())
    with Live(render(frames.frame("running")), console=console, refresh_per_second=2) as live:
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await stop.wait()
            state = await _state(running, campaign.campaign_id)
            live.update(render(frames.frame(state)))


async def _state(running: Running, campaign_id: int) -> str:
    view = await running.store.campaign(campaign_id)
    return view.state if view is not None else "deleted"


def register(subparsers: Any) -> None:
    """``dialer demo``."""
    parser = subparsers.add_parser("demo", help="run a full demo campaign with a live view")
    parser.add_argument("--duration", type=float, default=None, help="stop after N seconds")
    parser.add_argument("--agents", type=int, default=20, help="simulated agents (default 20)")
    parser.add_argument("--records", type=_positive, default=3000, help="generated records")
    parser.add_argument("--seed", type=int, default=7)
    parser.set_defaults(handler=_handler)


def _positive(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def _handler(args: argparse.Namespace) -> int:
    from dialer.cli import settings_from

    settings = settings_from(args)
    return asyncio.run(run_demo(settings, args, Console()))
