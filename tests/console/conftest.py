"""Browser fixtures: Debian's chromium driven by Playwright against a real ``dialer`` service.

One service (the whole gateway over the session database, with the simulated Asterisk) and one
browser serve the module; every test opens its own browser context, so session storage (where
the token lives) starts empty. Each page records its console errors and uncaught exceptions,
and the fixture fails the test if there are any. Chromium also logs a line for every HTTP error
reply; those of refused ``/v1`` calls are kept apart in ``refusals`` (a test that refuses
nothing asserts there are none), every other one is an error, and so is any request the page
makes to another origin. Screenshots go to ``.artefacts/console/`` (git-ignored), kept as test
artefacts; the run's summary prints that directory.

Where no chromium is installed (or Playwright is missing) the browser tests skip with one line:
this module imports Playwright only inside the fixtures that need it.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import secrets
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
import pytest_asyncio

from asterisk_sim import SimAsterisk, SimConfig
from dialer.app import Running
from dialer.demo import (
    daytime_region,
    demo_numbers,
    records_csv,
)
from tests.dbutil import fresh_database
from tests.service import running_service, sim_settings

if TYPE_CHECKING:
    from playwright.async_api import Browser, ConsoleMessage, Page, Request, ViewportSize

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTEFACTS = Path(__file__).resolve().parents[2] / ".artefacts" / "console"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
_SESSION_START = pytest.StashKey[float]()
# Chromium's own line for an HTTP error reply; for an API call the server refused (401-409,
# 413, 415, 422) it is the expected answer, shown to the operator, not a fault of the page.
_REFUSED = re.compile(
    r"Failed to load resource: the server responded with a status of (40[1-9]|413|415|422) "
)


def skip_reason() -> str | None:
    """Why the browser tests cannot run here (one line), or None."""
    try:
        importlib.import_module("playwright.async_api")
    except ImportError:
        return "no playwright installed (pip install -e '.[test]'); browser tests skipped"
    if CHROMIUM is None:
        return "no chromium installed (apt-get install chromium); browser tests skipped"
    return None


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_SESSION_START] = time.time()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Name the screenshots this run kept, so they can be found (and kept by CI)."""
    began = config.stash.get(_SESSION_START, 0.0)
    shots = [p for p in ARTEFACTS.glob("*.png") if p.stat().st_mtime >= began]
    if shots:
        terminalreporter.write_line(f"console screenshots: {len(shots)} in {ARTEFACTS}")


@dataclasses.dataclass(frozen=True, slots=True)
class Tokens:
    admin: str
    owner: str  # ops, the resume owner of the campaigns made here
    other_ops: str  # ops, not the resume owner
    reviewer: str
    viewer: str
    owner_name: str
    other_ops_name: str
    reviewer_name: str


@dataclasses.dataclass
class Served:
    """The running service, its base URL and tokens, and an API session for setting things up."""

    running: Running
    base: str
    tokens: Tokens
    http: aiohttp.ClientSession
    region: str
    pool: set[str] = dataclasses.field(default_factory=set)  # caller IDs already added

    async def call(self, method: str, path: str, **kw: Any) -> Any:
        async with self.http.request(method, f"{self.base}/v1{path}", **kw) as response:
            body = await response.json(content_type=None)
            assert response.status < 400, f"{method} {path}: {response.status} {body}"
            return body

    def region_numbers(self, count: int) -> list[str]:
        """``count`` fresh callee numbers of the region where it is daytime now."""
        return demo_numbers(self.region, count, secrets.randbelow(1_000_000))

    async def campaign(self, records: int, *, queue: str = "sales", **fields: Any) -> Any:
        """A ready campaign with caller IDs and ``records`` generated records."""
        spec = {
            "name": f"console-{uuid.uuid4().hex[:6]}",
            "pacing_mode": "progressive",
            "queue": queue,
            "default_region": self.region,
            "abandon_target": 0.03,
            "max_attempts": 3,
            "owner": self.tokens.owner_name,
            "resume_owner": self.tokens.owner_name,
            **fields,
        }
        campaign = await self.call("POST", "/campaigns", json=spec)
        seed = secrets.randbelow(10_000)
        ids = []
        # Two caller IDs not in the pool yet (fresh random ones may repeat an earlier one).
        fresh = [n for n in demo_numbers(self.region, 40, seed + 1) if n not in self.pool][:2]
        self.pool.update(fresh)
        for number in fresh:
            created = await self.call(
                "POST", "/numbers", json={"number": number, "max_concurrent": 20}
            )
            ids.append(created["id"])
        path = f"/campaigns/{campaign['id']}"
        await self.call("PUT", f"{path}/numbers", json={"number_ids": ids})
        if records:
            await self.call(
                "POST",
                f"{path}/records",
                data=records_csv(demo_numbers(self.region, records, seed)),
                headers={"Content-Type": "text/csv"},
            )
        return campaign


async def _token(served: Served, name: str, role: str) -> str:
    made = await served.call("POST", "/tokens", json={"name": name, "role": role})
    return str(made["token"])


@pytest.fixture(scope="module")
def chromium() -> str:
    reason = skip_reason()
    if reason is not None:
        pytest.skip(reason)
    assert CHROMIUM is not None
    return CHROMIUM


@pytest.fixture(scope="module")
def console_database(database_server_url: str) -> Iterator[str]:
    """A database of the console tests' own: other tests of the session leave webhooks (which
    the resume checklist probes) and caller-ID numbers in the shared one."""
    with fresh_database(database_server_url) as url:
        yield url


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(console_database: str, chromium: str) -> AsyncIterator[Served]:
    """The gateway service with the simulated Asterisk (10 agents, 10x time)."""
    del chromium
    config = SimConfig.demo(agents=10, seed=5, ami_port=0, ari_port=0, time_scale=0.1)
    bootstrap = secrets.token_urlsafe(16)
    instance = f"console-{uuid.uuid4().hex[:6]}"
    async with (
        SimAsterisk(config) as sim,
        running_service(sim_settings(sim, console_database, bootstrap, instance)) as running,
    ):
        base = f"http://127.0.0.1:{running.http_port}"
        headers = {"Authorization": f"Bearer {bootstrap}"}
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(headers=headers, timeout=timeout) as http:
            region = daytime_region(datetime.now(UTC))
            served = Served(running, base, Tokens(*[""] * 8), http, region)
            tag = uuid.uuid4().hex[:6]
            owner_name, ops_name, reviewer_name = (f"{w}-{tag}" for w in ("owner", "ops", "qa"))
            served.tokens = Tokens(
                admin=bootstrap,
                owner=await _token(served, owner_name, "ops"),
                other_ops=await _token(served, ops_name, "ops"),
                reviewer=await _token(served, reviewer_name, "reviewer"),
                viewer=await _token(served, f"viewer-{tag}", "viewer"),
                owner_name=owner_name,
                other_ops_name=ops_name,
                reviewer_name=reviewer_name,
            )
            yield served


@dataclasses.dataclass
class Console:
    """Opens pages of the console in fresh contexts and keeps their console errors."""

    browser: Browser
    base: str
    errors: list[str] = dataclasses.field(default_factory=list)
    refusals: list[str] = dataclasses.field(default_factory=list)

    async def page(self, viewport: ViewportSize = DESKTOP) -> Page:
        context = await self.browser.new_context(
            viewport=viewport,
            accept_downloads=True,
            base_url=self.base,
        )
        page = await context.new_page()

        def on_console(message: ConsoleMessage) -> None:
            if message.type != "error":
                return
            where = str(message.location.get("url", ""))
            if _REFUSED.match(message.text) and where.startswith(f"{self.base}/v1/"):
                self.refusals.append(where)  # chromium logs every 4xx reply of an API call
            else:
                self.errors.append(f"console: {message.text} ({where or page.url})")

        def on_request(request: Request) -> None:
            if not request.url.startswith((f"{self.base}/", "data:", "blob:")):
                self.errors.append(f"request to another origin: {request.url}")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("request", on_request)
        return page

    async def sign_in(self, token: str, viewport: ViewportSize = DESKTOP) -> Page:
        page = await self.page(viewport)
        await page.goto("/console/")
        await page.get_by_label("API token").fill(token)
        await page.get_by_role("button", name="Sign in").click()
        await page.locator("#list-view").wait_for(state="visible")
        return page

    @staticmethod
    async def shot(page: Page, name: str) -> None:
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    from playwright.async_api import async_playwright

    async with async_playwright() as driver:
        launched = await driver.chromium.launch(executable_path=chromium, args=LAUNCH_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def console(browser: Browser, served: Served) -> AsyncIterator[Console]:
    """A console opener; the test fails if any page logged an error or threw."""
    opener = Console(browser, served.base)
    yield opener
    for context in browser.contexts:
        await context.close()
    assert opener.errors == [], opener.errors
