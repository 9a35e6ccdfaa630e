"""``dialer campaign why ID``: ask the running gateway why a campaign places no (or few) calls.

Only the running service knows agents, guards, links and the last pacing decision, so this asks
its ``GET /v1/campaigns/{id}/diagnostics`` rather than the database. The URL defaults to the
configured HTTP address; the token to ``DIALER_API_TOKEN`` or ``--token``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

import aiohttp
from rich.console import Console
from rich.table import Table


def register(campaign_sub: Any) -> None:
    """Add ``why`` to the ``campaign`` group."""
    why = campaign_sub.add_parser("why", help="why a running campaign places no or few calls")
    why.add_argument("id", type=int)
    why.add_argument("--record", type=int, default=None, help="explain one record too")
    why.add_argument("--url", default=None, help="service base URL (default: the configured one)")
    why.add_argument("--token", default=None, help="API token (default: DIALER_API_TOKEN)")
    why.set_defaults(handler=_handler)


def _handler(args: argparse.Namespace) -> int:
    from dialer.cli import settings_from  # the CLI imports this module

    settings = settings_from(args)
    url = args.url or f"http://{settings.http.host}:{settings.http.port}"
    token = args.token or os.environ.get("DIALER_API_TOKEN", "")
    if not token:
        print("dialer: error: an API token is needed (--token or DIALER_API_TOKEN)")
        return 2
    try:
        body = asyncio.run(fetch(url, token, args.id, args.record))
    except aiohttp.ClientError as exc:
        print(f"dialer: error: cannot reach the gateway at {url}: {exc}")
        return 1
    show(body, Console())
    return 0 if "findings" in body else 1


async def fetch(url: str, token: str, campaign_id: int, record: int | None) -> dict[str, Any]:
    params = {"record": str(record)} if record is not None else {}
    headers = {"Authorization": f"Bearer {token}"}
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        aiohttp.ClientSession(headers=headers, timeout=timeout) as http,
        http.get(f"{url}/v1/campaigns/{campaign_id}/diagnostics", params=params) as resp,
    ):
        body: dict[str, Any] = await resp.json(content_type=None)
    # The API wraps what the running gateway said under "runtime"; flatten it for the terminal.
    runtime = body.pop("runtime", None)
    if isinstance(runtime, dict):
        body.update({k: v for k, v in runtime.items() if k not in body})
    return body


def show(body: dict[str, Any], console: Console) -> None:
    """Print the diagnosis: the summary line, then one row per finding."""
    if "findings" not in body:
        console.print(body.get("detail") or body)
        return
    console.print(
        f"campaign {body.get('campaign_id')} [{body.get('state')}]: {body['text']}", markup=False
    )
    if body["findings"]:
        table = Table("holds calls back", "why")
        for finding in body["findings"]:
            table.add_row(finding["blocker"], finding["text"])
        console.print(table)
    for key in ("held", "note"):
        if key in body:
            console.print(f"{key}: {body[key]}", markup=False)
    if "record" in body:
        console.print(f"record {body['record']['id']}: {body['record']['why']}", markup=False)
