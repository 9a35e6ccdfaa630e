"""ARI JSON shapes, pure: channel objects, timestamps, ``/asterisk/info``.

Shapes follow the recorded responses: ``<unknown>`` caller ids become empty strings, times look
like ``2026-11-23T02:22:01.525+0000``. This module must not do I/O.
"""

from __future__ import annotations

import time
from typing import Any

from asterisk_sim.channels import UNKNOWN, Channel

ASTERISK_ID = "02:fc:00:00:00:01"


def timestamp(epoch: float) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))
    return f"{stamp}.{int(epoch * 1000) % 1000:03d}+0000"


def _id(value: str) -> str:
    return "" if value == UNKNOWN else value


def channel_json(chan: Channel, callerid: tuple[str, str] | None = None) -> dict[str, Any]:
    """The ARI Channel object; ``callerid`` overrides caller/connected (originate reply)."""
    if callerid is not None:
        caller = {"name": callerid[1], "number": callerid[0]}
        connected = dict(caller)
    else:
        caller = {"name": _id(chan.cid_name), "number": _id(chan.cid_num)}
        connected = {"name": _id(chan.conn_name), "number": _id(chan.conn_num)}
    return {
        "id": chan.uniqueid,
        "name": chan.name,
        "state": chan.state.value,
        "protocol_id": "",
        "caller": caller,
        "connected": connected,
        "accountcode": "",
        "dialplan": {
            "context": chan.context,
            "exten": chan.exten,
            "priority": chan.priority,
            "app_name": chan.app,
            "app_data": chan.app_data,
        },
        "creationtime": timestamp(chan.created_wall),
        "language": "en",
    }


def info_json(started: float) -> dict[str, Any]:
    return {
        "build": {
            "os": "Linux",
            "kernel": "sim",
            "machine": "x86_64",
            "options": "OPTIONAL_API",
            "date": timestamp(started),
            "user": "sim",
        },
        "system": {"version": "22.10.1", "entity_id": ASTERISK_ID},
        "config": {"name": "", "default_language": "en", "setid": {"user": "", "group": ""}},
        "status": {"startup_time": timestamp(started), "last_reload_time": timestamp(started)},
    }
