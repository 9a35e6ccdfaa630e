"""The console's pages: strict headers on every response, nothing loaded from another origin.

Runs the console sub-application alone on a real aiohttp server (no browser, no database).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from control_api.console import CSP, console_app
from tests.console.expected import OPERATIONS, permission_of, states_of

Client = TestClient[web.Request, web.Application]
PAGES = ("/console/", "/console/app.js", "/console/app.css")


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    root = web.Application()
    root.add_subapp("/console", console_app())
    async with TestClient(TestServer(root, port=0)) as test_client:
        yield test_client


class _Tags(HTMLParser):
    """Every tag with its attributes, and the text inside <script> and <style> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline: list[str] = []
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._open = tag

    def handle_endtag(self, tag: str) -> None:
        self._open = None

    def handle_data(self, data: str) -> None:
        if self._open in ("script", "style") and data.strip():
            self.inline.append(data)


async def _text(client: Client, path: str) -> str:
    response = await client.get(path)
    assert response.status == 200, path
    return await response.text()


@pytest.mark.parametrize("path", [*PAGES, "/console/missing.js"])
async def test_every_response_carries_the_csp_and_strict_headers(client: Client, path: str) -> None:
    response = await client.get(path)
    assert response.status == (404 if "missing" in path else 200)
    assert response.headers["Content-Security-Policy"] == CSP
    assert "script-src 'self'" in CSP
    assert "unsafe-inline" not in CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-cache"
    assert "Set-Cookie" not in response.headers


async def test_content_types(client: Client) -> None:
    expected = {"/console/": "text/html", "/console/app.js": "text/javascript"}
    expected["/console/app.css"] = "text/css"
    for path, content_type in expected.items():
        assert (await client.get(path)).content_type == content_type


async def test_the_page_loads_only_its_own_files_and_has_no_inline_script(client: Client) -> None:
    parser = _Tags()
    parser.feed(await _text(client, "/console/"))
    assert parser.inline == []
    sources = []
    for tag, attrs in parser.tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        if tag == "script":
            assert attrs.get("src"), "every script is a file of the console"
        sources += [v for k, v in attrs.items() if k in ("src", "href", "action") and v]
    assert sources, "the page links its script and style sheet"
    for value in sources:
        assert value.startswith(("#", "data:")) or re.fullmatch(r"[a-z]+\.(js|css)", value), value


async def test_script_and_style_name_no_other_origin(client: Client) -> None:
    for path in PAGES:
        text = await _text(client, path)
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", text), path
        assert not re.search(r"@import|\.innerHTML|\.outerHTML|\beval\(|new Function", text)
    script = await _text(client, "/console/app.js")
    assert "fetch(`/v1${path}`" in script  # the one network call, same origin
    assert "sessionStorage" in script
    assert "localStorage" not in script
    assert "cookie" not in script


async def test_no_directory_listing_or_path_from_the_request(client: Client) -> None:
    for path in ("/console/static/app.js", "/console/../pyproject.toml", "/console/%2e%2e/x"):
        assert (await client.get(path)).status == 404


def _rules(script: str) -> dict[str, tuple[frozenset[str], str]]:
    """``RULES`` of app.js: operation -> (states it is allowed from, permission it needs)."""
    block = re.search(r"const RULES = \{(.*?)\n\};", script, re.S)
    assert block is not None, "app.js keeps its lifecycle copy in RULES"
    found = re.findall(r'(\w+): \[\[([^\]]*)\], "(\w+)"\]', block.group(1))
    return {op: (frozenset(re.findall(r'"(\w+)"', states)), perm) for op, states, perm in found}


async def test_the_buttons_rules_are_the_servers_lifecycle_table_and_roles(client: Client) -> None:
    rules = _rules(await _text(client, "/console/app.js"))
    assert set(rules) == set(OPERATIONS)
    for op, (states, permission) in rules.items():
        assert states == states_of(op), op
        assert permission == str(permission_of(op)), op
