"""Keeping one server's agent board in step with Asterisk: ``GetConfig`` and ``QueueStatus``.

Owned by the server's runtime, which calls :meth:`QueueSync.resync` when the AMI link is ready
and then every resync interval. One ``QueueStatus`` without ``Queue`` answers for every queue of
the server, so the agents of a campaign's queue are known from link-up on, before any campaign
on it has dialled (a resume on a fresh server used to be refused with ``agents_logged_in``
count 0). ``queues.conf`` is read with ``GetConfig`` at link-up and at most once a minute after,
for the queue-level rules the events leave out (:mod:`gateway.asterisk.queueconf`). A refused
``GetConfig`` is logged once and the board keeps the members' own wrap-up: Asterisk checks an
action against the user's *write* classes, and GetConfig needs ``system`` or ``config``, which the
project's AMI user does not have (they would also allow ``UpdateConfig``), so with
``asterisk_conf/manager.conf`` the wrap-up is set on each member, where ``QueueStatus`` reports it,
or the server's ``queue_wrapup`` setting declares each queue's queue-level one (``sales=5``),
which the board then applies as it would ``GetConfig``'s (Asterisk's ``get_wrapuptime``: the
member's own if set, else the queue's). When ``GetConfig`` is allowed, its answer wins.
After the link-up resync the runtime has the agent feed say the member changes the link missed
(:meth:`gateway.asterisk.agentfeed.AgentFeed.resynced`); this module only fills the board.
Every await here is an AMI action under the link's own timeout.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from gateway.asterisk.agents import AgentBoard
from gateway.asterisk.ami import events as ev
from gateway.asterisk.ami.adapter import AmiLink
from gateway.asterisk.errors import ActionFailed
from gateway.asterisk.queueconf import QueueConfigView, QueueRules, parse_getconfig

log = logging.getLogger("gateway.asterisk.agents")

RULES_EVERY_S = 60.0  # how often queues.conf is read again, at most


class QueueSync:
    """Resyncs one server's :class:`AgentBoard` from its AMI link."""

    def __init__(
        self,
        server: str,
        ami: AmiLink,
        board: AgentBoard,
        *,
        on_change: Callable[[str], None],
        clock: Callable[[], float],
        declared_wrapup: Mapping[str, int] | None = None,
    ) -> None:
        self._server = server
        self._ami = ami
        self._board = board
        self._on_change = on_change
        self._clock = clock
        self._rules_at: float | None = None
        self._refused = False
        self._declared = QueueConfigView(
            {q: QueueRules(wrapup_s=s) for q, s in (declared_wrapup or {}).items()}
        )

    def session_started(self) -> None:
        """A new AMI session: read queues.conf again at the next resync (it may be reloaded)."""
        self._rules_at = None

    async def resync(self) -> None:
        """Every queue at once: its rules, then its members."""
        await self._load_rules()
        items = await self._ami.list_action([("Action", "QueueStatus")])
        by_queue: dict[str, list[ev.QueueMemberEvent]] = {}
        for item in items:
            if isinstance(item, ev.QueueMemberEvent):
                by_queue.setdefault(item.queue, []).append(item)
        board = self._board
        names = set(board.queues()) | set(by_queue) | set(board.config.queues)
        for queue in sorted(names):
            board.resync(queue, by_queue.get(queue, []), self._clock())
            self._on_change(queue)

    async def _load_rules(self) -> None:
        now = self._clock()
        if self._rules_at is not None and now - self._rules_at < RULES_EVERY_S:
            return
        self._rules_at = now
        try:
            answer = await self._ami.action([("Action", "GetConfig"), ("Filename", "queues.conf")])
        except ActionFailed as exc:
            if self._declared.queues:
                self._board.configure(self._declared)
            elif not self._refused:
                # the shipped manager.conf grants no write `config` (it would allow UpdateConfig
                # too), so this is the normal case: said once, at start, not as a warning
                log.info(
                    "server %s: GetConfig queues.conf refused (%s): a queue-level wrapuptime "
                    "is not known; the wrap-up is each member's own (the member line's sixth "
                    "field, AddQueueMember's seventh argument: asterisk_conf/queues.conf) or "
                    "the server's queue_wrapup setting",
                    self._server,
                    exc,
                )
            self._refused = True
            return
        self._refused = False
        self._board.configure(parse_getconfig(answer.fields))
