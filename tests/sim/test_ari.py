"""ARI against the simulator with a plain aiohttp client: REST errors, originate, WS events."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from asterisk_sim import SimAsterisk
from tests.sim.traces import TRACES

AUTH = {"Authorization": aiohttp.encode_basic_auth("dialer", "dialer-secret")}


def _recorded(name: str) -> tuple[int, Any]:
    raw = (TRACES / f"{name}.response.http").read_bytes().decode()
    head, _, body = raw.partition("\r\n\r\n")
    status = int(head.split()[1])
    return status, json.loads(body) if body.strip().startswith(("{", "[")) else body


def _request_line(name: str) -> tuple[str, str]:
    first = (TRACES / f"{name}.request.http").read_text().splitlines()[0]
    method, target, _ = first.split()
    return method, target


@pytest.mark.parametrize(
    "name",
    [
        "ari-error-404-channel-not-found",
        "ari-error-404-hangup-unknown-channel",
        "ari-error-404-unknown-resource",
        "ari-error-405-method-not-allowed",
        "ari-error-500-originate-bad-tech",
        "ari-error-400-originate-missing-endpoint",
        "ari-error-originate-no-app-no-exten",
        "ari-applications-list",
    ],
)
async def test_ari_errors_match_trace(sim: SimAsterisk, name: str) -> None:
    method, target = _request_line(name)
    async with aiohttp.ClientSession(headers=AUTH) as http:
        resp = await http.request(method, f"http://127.0.0.1:{sim.ari_port}{target}")
        status, body = _recorded(name)
        assert resp.status == status
        assert await resp.json() == body


async def test_ari_auth_and_bad_json(sim: SimAsterisk) -> None:
    base = f"http://127.0.0.1:{sim.ari_port}"
    async with aiohttp.ClientSession() as http:
        resp = await http.get(f"{base}/ari/asterisk/info")
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"] == 'Basic realm="Asterisk REST Interface"'
        assert await resp.json() == {"message": "Authentication required"}
        resp = await http.get(f"{base}/ari/asterisk/info?api_key=dialer:dialer-secret")
        assert (await resp.json())["system"]["version"] == "22.10.1"
        resp = await http.post(
            f"{base}/ari/channels?endpoint=Local%2F10001%40sim-carrier&app=dialer",
            data=b"{not json",
            headers={**AUTH, "Content-Type": "application/json"},
        )
        assert resp.status == 400
        assert await resp.json() == {"message": "Error parsing request body"}
        ws_fail = await http.get(f"{base}/ari/events?api_key=dialer:wrong&app=dialer")
        assert ws_fail.status == 401


async def _events_until(
    ws: aiohttp.ClientWebSocketResponse, last: str, chan_id: str
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while True:
        msg = await asyncio.wait_for(ws.receive(), 10)
        assert msg.type is aiohttp.WSMsgType.TEXT
        event = json.loads(msg.data)
        events.append(event)
        if event["type"] == last and event.get("channel", {}).get("id") == chan_id:
            return events


def _by_channel(events: list[dict[str, Any]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in events:
        chan = e.get("channel") or e.get("peer")
        assert chan is not None
        key = chan["name"].rsplit("-", 1)[1][-2:]  # ";1" / ";2"
        out.setdefault(key, []).append(e["type"])
    return out


@pytest.mark.parametrize(
    "scenario", ["ari-events-busy", "ari-events-noanswer", "ari-events-answered"]
)
async def test_ari_originate_event_sequences_match_trace(sim: SimAsterisk, scenario: str) -> None:
    _method, target = _request_line(f"{scenario}-originate")
    body = (
        (TRACES / f"{scenario}-originate.request.http")
        .read_bytes()
        .decode()
        .partition("\r\n\r\n")[2]
    )
    recorded = [
        json.loads(line) for line in (TRACES / f"{scenario}.jsonl").read_text().splitlines()
    ]
    base = f"http://127.0.0.1:{sim.ari_port}"
    async with aiohttp.ClientSession(headers=AUTH) as http:
        ws = await http.ws_connect(f"{base}/ari/events?app=dialer&api_key=dialer:dialer-secret")
        resp = await http.post(
            f"{base}{target}", data=body, headers={"Content-Type": "application/json"}
        )
        assert resp.status == 200
        chan = await resp.json()
        assert chan["state"] == "Down"
        assert chan["caller"] == {"name": "Dialer", "number": "5550100"}
        if scenario == "ari-events-answered":
            events = await _events_until(ws, "StasisStart", chan["id"])
            assert events[-1]["args"] == ["lead-42", "c1"]
            resp = await http.delete(f"{base}/ari/channels/{chan['id']}?reason=normal")
            assert resp.status == 204
            events += await _events_until(ws, "ChannelDestroyed", chan["id"] + "")
            more = await _events_until(ws, "ChannelDestroyed", _other(events))
            events += more
        else:
            first = await _events_until(ws, "ChannelDestroyed", chan["id"])
            events = first + await _events_until(ws, "ChannelDestroyed", _other(first))
        await ws.close()
    got = _by_channel([e for e in events if e["type"] != "ChannelDialplan"])
    want = _by_channel([e for e in recorded if e["type"] != "ChannelDialplan"])
    assert got == want


def _other(events: list[dict[str, Any]]) -> str:
    for e in events:
        chan = e.get("channel")
        if chan is not None and chan["name"].endswith(";2"):
            return str(chan["id"])
    raise AssertionError("no ;2 channel seen")


async def test_application_replaced_and_continue(sim: SimAsterisk) -> None:
    base = f"http://127.0.0.1:{sim.ari_port}"
    url = f"{base}/ari/events?app=dialer&api_key=dialer:dialer-secret"
    async with aiohttp.ClientSession(headers=AUTH) as http:
        first = await http.ws_connect(url)
        second = await http.ws_connect(url)
        msg = await asyncio.wait_for(first.receive(), 5)
        assert json.loads(msg.data)["type"] == "ApplicationReplaced"
        apps = await (await http.get(f"{base}/ari/applications")).json()
        assert [a["name"] for a in apps] == ["dialer"]
        resp = await http.post(
            f"{base}/ari/channels?endpoint=Local/10001@sim-carrier&app=dialer&appArgs=a1"
        )
        chan = await resp.json()
        await _events_until(second, "StasisStart", chan["id"])
        var = await http.post(
            f"{base}/ari/channels/{chan['id']}/variable?variable=DISPO&value=SALE"
        )
        assert var.status == 204
        got = await (
            await http.get(f"{base}/ari/channels/{chan['id']}/variable?variable=DISPO")
        ).json()
        assert got == {"value": "SALE"}
        play = await http.post(f"{base}/ari/channels/{chan['id']}/play?media=sound:hello")
        assert play.status == 201
        events = await _events_until(second, "ChannelVarset", chan["id"])
        cont = await http.post(
            f"{base}/ari/channels/{chan['id']}/continue?context=sim-hangup&extension=s"
        )
        assert cont.status == 204
        events = await _events_until(second, "ChannelDestroyed", chan["id"])
        assert "StasisEnd" in [e["type"] for e in events]
        await first.close()
        await second.close()


async def test_ws_upgrade_without_app_is_refused_twice_as_recorded(sim: SimAsterisk) -> None:
    """A missing ``app`` gets the recorded HTML 400, then a bare 400, then the socket closes."""
    recorded = (TRACES / "ari-error-ws-400-missing-app.response.http").read_bytes()
    request = (
        "GET /ari/events?api_key=dialer:dialer-secret HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{sim.ari_port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.ari_port)
    try:
        writer.write(request.encode())
        async with asyncio.timeout(5):
            received = await reader.read()  # until the simulator closes the socket
    finally:
        writer.close()
    assert received.count(b"HTTP/1.1 400 Bad Request\r\n") == 2
    first, _, second = received.partition(b"</html>\r\n")
    assert b"HTTP request is missing param: [app]" in first
    assert recorded.split(b"\r\n\r\n", 1)[1].split(b"HTTP/1.1")[0] in first + b"</html>\r\n"
    assert second.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"Sec-WebSocket-Version: 7, 8, 13\r\n" in second
    assert second.endswith(b"Content-Length: 0\r\n\r\n")
