"""Channels of the simulated Asterisk: state machine, identity, and cached AMI header blocks.

A :class:`Channel` is mutable world state (it is not an event). Its AMI header block
(``Channel: … Linkedid: …``) is rebuilt only when a field it shows changes, because the same
block starts most of the ~40 events of a call; every mutator clears the cache. The state machine
(:class:`ChanState`, ``_TRANSITIONS``, :func:`apply_state`) follows Asterisk's channel states as
the traces show them. This module must not schedule anything or emit events.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Iterator
from typing import Any

from asterisk_sim.errors import IllegalTransition


class ChanState(enum.StrEnum):
    """Asterisk channel states (the ``ChannelStateDesc`` text)."""

    DOWN = "Down"
    RING = "Ring"
    RINGING = "Ringing"
    UP = "Up"
    BUSY = "Busy"

    @property
    def code(self) -> int:
        return _CODES[self]


_CODES = {
    ChanState.DOWN: 0,
    ChanState.RING: 4,
    ChanState.RINGING: 5,
    ChanState.UP: 6,
    ChanState.BUSY: 7,
}

_TRANSITIONS: dict[tuple[ChanState, ChanState], ChanState] = {
    (ChanState.DOWN, ChanState.RINGING): ChanState.RINGING,
    (ChanState.DOWN, ChanState.UP): ChanState.UP,
    (ChanState.DOWN, ChanState.BUSY): ChanState.BUSY,
    (ChanState.RING, ChanState.UP): ChanState.UP,
    (ChanState.RING, ChanState.BUSY): ChanState.BUSY,
    (ChanState.RING, ChanState.RINGING): ChanState.RINGING,
    (ChanState.RINGING, ChanState.UP): ChanState.UP,
    (ChanState.RINGING, ChanState.BUSY): ChanState.BUSY,
}


def apply_state(current: ChanState, target: ChanState) -> ChanState:
    """The next state, or :class:`IllegalTransition` (the channel keeps its state)."""
    try:
        return _TRANSITIONS[(current, target)]
    except KeyError:
        raise IllegalTransition("channel", current, target) from None


UNKNOWN = "<unknown>"


class Channel:
    """One channel. ``peer`` is the other half of a Local pair; ``owner`` the driving call."""

    __slots__ = (
        "_cache",
        "answered_at",
        "app",
        "app_data",
        "ari_app",
        "ari_args",
        "ari_sticky",
        "bridge_id",
        "cid_name",
        "cid_num",
        "conn_name",
        "conn_num",
        "context",
        "created_at",
        "created_wall",
        "disposition",
        "exten",
        "gone",
        "linkedid",
        "name",
        "owner",
        "peer",
        "priority",
        "state",
        "tech",
        "uniqueid",
        "vanished",
        "variables",
    )

    def __init__(
        self,
        name: str,
        uniqueid: str,
        linkedid: str,
        state: ChanState,
        context: str,
        exten: str,
        tech: str,
        created_at: float,
        created_wall: float,
    ) -> None:
        self.name = name
        self.uniqueid = uniqueid
        self.linkedid = linkedid
        self.state = state
        self.context = context
        self.exten = exten
        self.priority = 1
        self.tech = tech
        self.cid_num = UNKNOWN
        self.cid_name = UNKNOWN
        self.conn_num = UNKNOWN
        self.conn_name = UNKNOWN
        self.app = ""
        self.app_data = ""
        self.variables: dict[str, str] = {}
        self.created_at = created_at
        self.created_wall = created_wall
        self.answered_at: float | None = None
        self.disposition = "NO ANSWER"
        self.peer: Channel | None = None
        self.owner: Any = None
        self.ari_app: str | None = None
        self.ari_args: tuple[str, ...] = ()
        self.ari_sticky = False
        self.bridge_id = ""
        self.gone = False
        self.vanished = False  # taken by a restart: nothing of it is ever emitted again
        self._cache: dict[str, str] = {}

    def set_state(self, target: ChanState) -> None:
        self.state = apply_state(self.state, target)
        self._cache.clear()

    def set_location(self, context: str, exten: str, priority: int) -> None:
        self.context = context
        self.exten = exten
        self.priority = priority
        self._cache.clear()

    def set_priority(self, priority: int) -> None:
        self.priority = priority
        self._cache.clear()

    def set_callerid(self, num: str, name: str) -> None:
        self.cid_num = num
        self.cid_name = name
        self._cache.clear()

    def set_connected(self, num: str, name: str) -> None:
        self.conn_num = num
        self.conn_name = name
        self._cache.clear()

    def block(self, prefix: str = "") -> str:
        """The channel snapshot headers with an optional prefix (``Dest``, ``LocalOne``)."""
        cached = self._cache.get(prefix)
        if cached is not None:
            return cached
        p = prefix
        text = "".join(
            (
                f"{p}Channel: {self.name}\r\n",
                f"{p}ChannelState: {self.state.code}\r\n",
                f"{p}ChannelStateDesc: {self.state.value}\r\n",
                f"{p}CallerIDNum: {self.cid_num}\r\n",
                f"{p}CallerIDName: {self.cid_name}\r\n",
                f"{p}ConnectedLineNum: {self.conn_num}\r\n",
                f"{p}ConnectedLineName: {self.conn_name}\r\n",
                f"{p}Language: en\r\n",
                f"{p}AccountCode: \r\n",
                f"{p}Context: {self.context}\r\n",
                f"{p}Exten: {self.exten}\r\n",
                f"{p}Priority: {self.priority}\r\n",
                f"{p}Uniqueid: {self.uniqueid}\r\n",
                f"{p}Linkedid: {self.linkedid}\r\n",
            )
        )
        self._cache[prefix] = text
        return text

    @property
    def is_up(self) -> bool:
        return self.state is ChanState.UP


class ChannelRegistry:
    """Live channels by name and by uniqueid; hands out names and ids like Asterisk."""

    def __init__(self, epoch: int) -> None:
        self._by_name: dict[str, Channel] = {}
        self._by_id: dict[str, Channel] = {}
        self._seq = 0
        self._local_seq = 0
        self.epoch = epoch
        self.idle = asyncio.Event()
        self.idle.set()

    def reset(self, epoch: int) -> None:
        """A restart: every channel is gone without a trace, counters start again."""
        for chan in self._by_name.values():
            chan.gone = True
            chan.vanished = True
        self._by_name.clear()
        self._by_id.clear()
        self.idle.set()
        self._seq = 0
        self._local_seq = 0
        self.epoch = epoch

    def next_uniqueid(self) -> str:
        uid = f"{self.epoch}.{self._seq}"
        self._seq += 1
        return uid

    def next_suffix(self) -> str:
        suffix = f"{self._local_seq:08x}"
        self._local_seq += 1
        return suffix

    def add(self, chan: Channel) -> None:
        self._by_name[chan.name] = chan
        self._by_id[chan.uniqueid] = chan
        self.idle.clear()

    def remove(self, chan: Channel) -> None:
        chan.gone = True
        self._by_name.pop(chan.name, None)
        self._by_id.pop(chan.uniqueid, None)
        if not self._by_name:
            self.idle.set()

    def find(self, key: str) -> Channel | None:
        """By channel name or by uniqueid."""
        return self._by_name.get(key) or self._by_id.get(key)

    def __len__(self) -> int:
        return len(self._by_name)

    def __iter__(self) -> Iterator[Channel]:
        return iter(list(self._by_name.values()))
