"""``dialer agent list|login|logout|pause|unpause CAMPAIGN …``: agent control from a shell.

Agents live in Asterisk, reached through the running gateway's AMI links, so these commands ask
its control API (``/v1/campaigns/{id}/agents``…) rather than the database, as ``campaign why``
does. The URL defaults to the configured HTTP address, the token to ``DIALER_API_TOKEN`` or
``--token``. Every mistake is one line: a malformed name or reason code is refused here before
anything is sent (exit 2), a refusal of the gateway prints its problem's ``detail`` and status
(exit 1), and so does an unreachable gateway.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from typing import Any
from urllib.parse import quote

import aiohttp

from dialer.errors import UsageError
from gateway.asterisk.validate import NAME_PATTERN, REASON_PATTERN


def check(args: argparse.Namespace) -> None:
    """Refuse a malformed name or reason code before anything is sent (one line, exit 2)."""
    names = [("interface", "interface"), ("name", "member name"), ("agent", "agent"),
             ("queue", "queue")]  # fmt: skip
    for attr, kind in names:
        value = getattr(args, attr, None)
        if value is not None and re.fullmatch(NAME_PATTERN, value) is None:
            raise UsageError(
                f"agent {args.agent_command}: {kind} {value!r}: letters, digits and _ . @ / + : - "
                "only, no spaces"
            )
    reason = getattr(args, "reason", None)
    if reason is not None and re.fullmatch(REASON_PATTERN, reason) is None:
        raise UsageError(
            f"agent pause: reason {reason!r}: a code of letters, digits and _ . - (at most 32), "
            "no spaces"
        )


def register(subparsers: Any) -> None:
    """Add ``agent`` to the ``dialer`` command."""
    sub = subparsers.add_parser("agent", help="log agents in and out of a campaign's queue, pause")
    actions = sub.add_subparsers(dest="agent_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="members of the campaign's queue and their state")
    _common(listing)
    login = actions.add_parser("login", help="log an agent in to the campaign's queue")
    _common(login)
    login.add_argument("interface", help="e.g. PJSIP/1001")
    login.add_argument("name", help="the agent's id, e.g. a1001")
    for action, text in (("logout", "log an agent out"), ("unpause", "unpause an agent")):
        p = actions.add_parser(action, help=text)
        _common(p)
        p.add_argument("agent", help="member name or interface")
    pause = actions.add_parser("pause", help="pause an agent with a reason code")
    _common(pause)
    pause.add_argument("agent", help="member name or interface")
    pause.add_argument("--reason", required=True)
    sub.set_defaults(handler=_handler)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("campaign", type=int)
    if p.prog.split()[-1] != "list":
        p.add_argument("--queue", default=None, help="one of the campaign's skill queues")
    p.add_argument("--url", default=None, help="service base URL (default: the configured one)")
    p.add_argument("--token", default=None, help="API token (default: DIALER_API_TOKEN)")


def request_of(args: argparse.Namespace) -> tuple[str, str, dict[str, str] | None]:
    """The method, path (under ``/v1``) and JSON body of the command."""
    base = f"/campaigns/{args.campaign}/agents"
    command = args.agent_command
    if command == "list":
        return "GET", base, None
    queue = getattr(args, "queue", None)
    if command == "login":
        body = {"interface": args.interface, "name": args.name}
        return "POST", base, body if queue is None else {**body, "queue": queue}
    agent = quote(args.agent, safe="")  # PJSIP/1001 -> PJSIP%2F1001: one path segment
    query = "" if queue is None else f"?queue={quote(queue, safe='')}"
    if command == "logout":
        return "DELETE", f"{base}/{agent}{query}", None
    if command == "pause":
        return "POST", f"{base}/{agent}/pause{query}", {"reason": args.reason}
    return "POST", f"{base}/{agent}/unpause{query}", None


def _handler(args: argparse.Namespace) -> int:
    from dialer.cli import settings_from  # the CLI imports this module

    check(args)
    settings = settings_from(args)
    url = args.url or f"http://{settings.http.host}:{settings.http.port}"
    token = args.token or os.environ.get("DIALER_API_TOKEN", "")
    if not token:
        raise UsageError(f"agent {args.agent_command}: an API token is needed (--token or "
                         "DIALER_API_TOKEN)")  # fmt: skip
    method, path, body = request_of(args)
    try:
        status, answer = asyncio.run(send(url, token, method, path, body))
    except (aiohttp.ClientError, TimeoutError) as exc:
        print(f"dialer: error: cannot reach the gateway at {url}: {exc or type(exc).__name__}",
              file=sys.stderr)  # fmt: skip
        return 1
    if status >= 400:
        detail = answer.get("detail") if isinstance(answer, dict) else None
        print(f"dialer: error: {detail or answer} (HTTP {status})", file=sys.stderr)
        return 1
    print(describe(args.agent_command, answer))
    return 0


async def send(
    url: str, token: str, method: str, path: str, body: dict[str, str] | None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    timeout = aiohttp.ClientTimeout(total=15)
    async with (
        aiohttp.ClientSession(headers=headers, timeout=timeout) as http,
        http.request(method, f"{url}/v1{path}", json=body) as resp,
    ):
        try:
            answer = await resp.json(content_type=None)
        except ValueError:
            answer = (await resp.text()).strip()[:200]
        return resp.status, answer


def describe(command: str, answer: Any) -> str:
    """What the terminal shows for a successful reply."""
    if command == "list":
        rows = [
            f"{a['name']:<20} {a['interface']:<32} {a['state']:<11} {a['paused_reason']:<12} "
            f"{a['server']}"
            for a in answer["agents"]
        ]
        return "\n".join(rows) if rows else "no agent is logged in to this campaign's queue"
    servers = ", ".join(answer["servers"])
    reason = f" ({answer['reason']})" if answer.get("reason") else ""
    return f"{answer['name']} ({answer['interface']}): {command}{reason} on {servers}"
