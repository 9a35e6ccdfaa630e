"""The ARI REST client (aiohttp): originate, continue, hang up, list channels.

Every request has a total timeout; transport failures become :class:`LinkDown`, failing statuses
become the typed error for the status (see :mod:`gateway.asterisk.ari.errors`). Every value that
goes into
a URL or body is validated by :mod:`gateway.asterisk.validate` before the request is built. This
module
owns one ``ClientSession`` per server (opened by :meth:`AriClient.open`, closed by
:meth:`AriClient.close`) and does nothing else: no retries (an originate must never be repeated)
and no event handling.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from gateway.asterisk import validate
from gateway.asterisk.ari.errors import error_for
from gateway.asterisk.ari.events import AriChannel, channel_of
from gateway.asterisk.errors import LinkDown, ProtocolError


@dataclass(frozen=True, slots=True)
class AriEndpoint:
    server: str
    host: str
    port: int
    username: str
    password: str = field(repr=False)
    app: str = "dialer"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/ari"


class AriClient:
    """REST calls to one Asterisk's ARI."""

    def __init__(self, endpoint: AriEndpoint, *, request_timeout: float = 5.0) -> None:
        self.endpoint = endpoint
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        if self._session is None:
            auth = aiohttp.encode_basic_auth(self.endpoint.username, self.endpoint.password)
            connector = aiohttp.TCPConnector(limit=64)
            self._session = aiohttp.ClientSession(
                headers={"Authorization": auth}, timeout=self._timeout, connector=connector
            )

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise LinkDown(f"{self.endpoint.server}: ARI client is not open")
        return self._session

    async def request(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None, body: Any = None
    ) -> Any:
        """One REST call; returns the decoded JSON (``None`` for an empty body)."""
        url = f"{self.endpoint.base_url}{path}"
        try:
            async with self.session.request(method, url, params=params, json=body) as resp:
                text = await resp.text()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise LinkDown(f"{self.endpoint.server}: ARI {method} {path}: {exc!r}") from exc
        if status >= 400:
            raise error_for(status, text, method=method, path=path)
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ProtocolError(f"ARI {method} {path}: body is not JSON") from exc

    async def originate(
        self,
        *,
        endpoint: str,
        channel_id: str,
        other_channel_id: str,
        caller_id: str,
        timeout_s: int,
        variables: Mapping[str, str],
        app_args: str,
        hangup_handler: str | None = None,
    ) -> AriChannel:
        """``POST /channels`` into the Stasis app; the outcome arrives on the WebSocket.

        ``hangup_handler`` (``context,exten,priority``) is pushed on the new channel, as the
        outcome ledger needs (:mod:`gateway.asterisk.calls.ledger`).
        """
        validate.text("endpoint", endpoint, max_len=128)
        validate.text("caller_id", caller_id, max_len=100)
        validate.text("appArgs", app_args, max_len=128)
        validate.text("channelId", channel_id, max_len=64)
        validate.text("otherChannelId", other_channel_id, max_len=64)
        checked = dict(validate.variable(k, v) for k, v in variables.items())
        if hangup_handler is not None:
            validate.text("hangup_handler", hangup_handler, max_len=128)
            checked["CHANNEL(hangup_handler_push)"] = hangup_handler
        params = {"endpoint": endpoint, "app": self.endpoint.app, "appArgs": app_args,
                  "channelId": channel_id, "otherChannelId": other_channel_id,
                  "callerId": caller_id, "timeout": str(int(timeout_s))}  # fmt: skip
        data = await self.request("POST", "/channels", params=params, body={"variables": checked})
        return channel_of(data)

    async def continue_in_dialplan(
        self, channel_id: str, *, context: str, extension: str, priority: int
    ) -> None:
        validate.text("channel id", channel_id, max_len=64)
        validate.name("context", context)
        validate.name("extension", extension)
        params = {"context": context, "extension": extension, "priority": str(priority)}
        await self.request("POST", f"/channels/{channel_id}/continue", params=params)

    async def hangup(self, channel_id: str, *, reason: str = "normal") -> None:
        validate.text("channel id", channel_id, max_len=64)
        validate.name("reason", reason)
        await self.request("DELETE", f"/channels/{channel_id}", params={"reason": reason})

    async def channels(self) -> list[AriChannel]:
        data = await self.request("GET", "/channels")
        if not isinstance(data, list):
            raise ProtocolError("ARI GET /channels did not return a list")
        return [channel_of(item) for item in data]
