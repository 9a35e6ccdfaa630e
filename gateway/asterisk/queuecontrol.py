"""Agent control at the edge: log a member in to a queue, out of it, pause and unpause it.

Sent as AMI ``QueueAdd`` / ``QueueRemove`` / ``QueuePause`` on the servers that hold the queue.
Which servers hold it is Asterisk's answer, not a guess: a login is sent to every server whose
AMI link is up, and each answers ``Added interface to queue``, ``Unable to add interface: Already
there`` or ``Unable to add interface to queue: No such queue`` (``apps/app_queue.c``, the
recorded ``ami-queue-member-ops`` trace). A logout or a pause goes to the servers whose agent
board (:mod:`gateway.asterisk.agents`, fed by the queue events and ``QueueStatus``) has the
member in that queue.

Both drivers: with ``driver = "ari"`` the server's runtime still opens its AMI link, reads the
queues over it (``QueueStatus``, the ``QueueMember*`` and ``Agent*`` events) and ARI has no queue
resource, so queue control always goes over AMI; only Originates go over ARI.

Every value is checked by :mod:`gateway.asterisk.validate` before a byte is written: queue,
interface and member name by the strict name grammar, the pause reason as a reason code; the
adapter checks every header again (CR, LF, NUL). The header builders are pure; only
:class:`QueueControl` does I/O (each action under the link's own timeout).

Refusals are typed (:mod:`gateway.asterisk.errors`): :class:`UnknownQueue`, :class:`NotAMember`,
:class:`AlreadyAMember`, :class:`LinkDown` (no link up where the change would have to go, with
the servers named) and :class:`ActionFailed` (Asterisk refused for another reason, or did not
answer in time).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gateway.asterisk import validate
from gateway.asterisk.agents import AgentView
from gateway.asterisk.calls.runtime import ServerRuntime
from gateway.asterisk.errors import (
    ActionFailed,
    AlreadyAMember,
    LinkDown,
    NotAMember,
    UnknownQueue,
)

Headers = list[tuple[str, str]]
_Build = Callable[[str], Headers]  # interface -> the action's headers

_NO_QUEUE = "No such queue"
_ALREADY = "Already there"
_NOT_THERE = "Not there"
_NOT_FOUND = "Interface not found"


def add_headers(queue: str, interface: str, member_name: str, state_interface: str = "") -> Headers:
    """``QueueAdd`` of a dynamic member (values validated)."""
    headers = [
        ("Action", "QueueAdd"),
        ("Queue", validate.name("queue", queue)),
        ("Interface", validate.name("interface", interface)),
        ("MemberName", validate.name("member_name", member_name)),
    ]
    if state_interface:
        headers.append(("StateInterface", validate.name("state_interface", state_interface)))
    return headers


def remove_headers(queue: str, interface: str) -> Headers:
    return [
        ("Action", "QueueRemove"),
        ("Queue", validate.name("queue", queue)),
        ("Interface", validate.name("interface", interface)),
    ]


def pause_headers(queue: str, interface: str, paused: bool, reason: str = "") -> Headers:
    """``QueuePause`` in one queue (``Queue`` given: Asterisk then pauses in that queue only)."""
    headers = [
        ("Action", "QueuePause"),
        ("Queue", validate.name("queue", queue)),
        ("Interface", validate.name("interface", interface)),
        ("Paused", "true" if paused else "false"),
    ]
    if paused and reason:
        headers.append(("Reason", validate.reason_code(reason)))
    return headers


@dataclass(frozen=True, slots=True)
class MemberChange:
    """What was changed, on which servers."""

    queue: str
    interface: str
    member_name: str
    servers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ServerMember:
    """One queue member as a server's agent board has it."""

    server: str
    view: AgentView


class QueueControl:
    """Queue member changes over the AMI links of a set of server runtimes."""

    def __init__(self, runtimes: Callable[[], Sequence[ServerRuntime]]) -> None:
        self._all = runtimes  # the dialer's ``runtimes`` (built when it starts)

    @property
    def _runtimes(self) -> Sequence[ServerRuntime]:
        return self._all()

    def members(self, queue: str) -> list[ServerMember]:
        """Every member of ``queue`` on every server, as the boards have it now."""
        validate.name("queue", queue)
        return [
            ServerMember(rt.config.name, view)
            for rt in self._runtimes
            for view in rt.queue_snapshot(queue).agents
        ]

    async def login(
        self, queue: str, interface: str, member_name: str, state_interface: str = ""
    ) -> MemberChange:
        headers = add_headers(queue, interface, member_name, state_interface)
        up, down = self._split(self._runtimes)
        if not up:
            raise LinkDown(f"no AMI link is up ({', '.join(down)}): queue {queue} cannot change")
        answers = await asyncio.gather(*(_send(rt, headers) for rt in up))
        added = tuple(rt.config.name for rt, answer in zip(up, answers, strict=True) if not answer)
        if added:
            return MemberChange(queue, interface, member_name, added)
        refusals = [(rt.config.name, a) for rt, a in zip(up, answers, strict=True)]
        if any(_ALREADY in a for _, a in refusals):
            raise AlreadyAMember(queue, f"{interface} is logged in to queue {queue} already")
        other = [(s, a) for s, a in refusals if _NO_QUEUE not in a]
        if other:
            raise ActionFailed("QueueAdd", "; ".join(f"{s}: {a}" for s, a in other))
        if down:
            raise LinkDown(
                f"no reachable server holds queue {queue}; the AMI link of {', '.join(down)} "
                "is down, which may hold it"
            )
        raise UnknownQueue(queue, f"no Asterisk server has a queue named {queue!r}")

    async def logout(self, queue: str, agent: str) -> MemberChange:
        return await self._on_holders(queue, agent, lambda iface: remove_headers(queue, iface))

    async def pause(self, queue: str, agent: str, reason: str) -> MemberChange:
        validate.reason_code(reason)
        return await self._on_holders(
            queue, agent, lambda iface: pause_headers(queue, iface, True, reason)
        )

    async def unpause(self, queue: str, agent: str) -> MemberChange:
        return await self._on_holders(queue, agent, lambda i: pause_headers(queue, i, False))

    async def _on_holders(self, queue: str, agent: str, build: _Build) -> MemberChange:
        """Send ``build(interface)`` to each server whose board has ``agent`` in ``queue``."""
        validate.name("queue", queue)
        validate.name("agent", agent)
        holders = [(rt, view) for rt in self._runtimes if (view := rt.queue_member(queue, agent))]
        up, down = self._split([rt for rt, _ in holders] or self._runtimes)
        if not holders:
            if down:
                raise LinkDown(
                    f"{agent} is not logged in to {queue} on a reachable server; the AMI link "
                    f"of {', '.join(down)} is down"
                )
            raise NotAMember(queue, f"{agent} is not logged in to queue {queue}")
        if not up:
            raise LinkDown(f"the AMI link of {', '.join(down)} (where {agent} is) is down")
        views = {rt.config.name: view for rt, view in holders}
        sends = [_send(rt, build(views[rt.config.name].interface)) for rt in up]
        answers = await asyncio.gather(*sends)
        done = tuple(rt.config.name for rt, answer in zip(up, answers, strict=True) if not answer)
        view = views[(done or (up[0].config.name,))[0]]
        if done:
            return MemberChange(queue, view.interface, view.name, done)
        if all(_NOT_THERE in a or _NOT_FOUND in a for a in answers):
            raise NotAMember(queue, f"{agent} is not logged in to queue {queue}")
        action = build(view.interface)[0][1]
        raise ActionFailed(action, "; ".join(a for a in answers if a))

    @staticmethod
    def _split(runtimes: Sequence[ServerRuntime]) -> tuple[list[ServerRuntime], list[str]]:
        up = [rt for rt in runtimes if rt.ami.ready]
        down = [rt.config.name for rt in runtimes if not rt.ami.ready]
        return up, down


async def _send(rt: ServerRuntime, headers: Headers) -> str:
    """Send one action; ``""`` when it succeeded, else Asterisk's message (or why it failed)."""
    try:
        await rt.ami.action(headers)
    except ActionFailed as exc:
        return exc.message
    except LinkDown as exc:
        return f"link down: {exc}"
    return ""
