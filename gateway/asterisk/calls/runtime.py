"""One Asterisk server at run time: its links, its call tracker, its send queue and budgets.

Holds everything the facade needs per server and owns every task it starts (the AMI link, the
ARI stream and workers, the sender, housekeeping); :meth:`ServerRuntime.stop` cancels and awaits
them all. Event callbacks only update in-memory state (tracker, agent board) and never await.

Sending. :meth:`submit` writes the Originate at once when the link is ready, nothing is queued
before it and the rate budget allows; otherwise the call waits in the send queue and the sender
task writes it when the budget refills or the link comes back. A call is written at most once:
after a write it is only ever settled from events, by reconciliation, or as ``unknown``.
With the ARI driver the send goes to a small pool of worker tasks that do the REST calls (the
``continue`` after ``StasisStart`` goes through the same workers).

Restarts. A session is reconciled only once Asterisk says it is fully booted (``FullyBooted``,
sent at login when it is, else once it is): right after ``core restart now`` the manager takes
logins before app_queue is loaded, and ``QueueStatus`` is then an unknown command. The
startup time of ``CoreStatus`` tells whether Asterisk started again since the last session
(:class:`BootWatch`); if so, the calls it no longer has are failed with ``pbx_lost`` (or
``pbx_restart`` after a ``Shutdown``), not ``unknown``.

Agents. Queue events go to the agent board, then to the agent feed
(:mod:`gateway.asterisk.agentfeed`), whose changes go to ``on_agent_call``. After the queue
resync of a link-up, the feed says the member changes the link missed (one ``state`` each,
:meth:`AgentFeed.resynced`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from gateway.asterisk import validate
from gateway.asterisk.agentfeed import AgentChange, AgentFeed
from gateway.asterisk.agents import AgentBoard, AgentView, QueueSnapshot
from gateway.asterisk.ami import events as ev
from gateway.asterisk.ami.adapter import AmiEndpoint, AmiLink, LinkStats, LinkTiming
from gateway.asterisk.ami.linkstate import LinkState
from gateway.asterisk.ari import events as ari_ev
from gateway.asterisk.ari.client import AriClient, AriEndpoint
from gateway.asterisk.ari.stream import AriEventStream
from gateway.asterisk.calls import ledger
from gateway.asterisk.calls.model import CallProgress, OriginateRequest
from gateway.asterisk.calls.tracker import CallTracker, LedgerQuery
from gateway.asterisk.errors import AriError, GatewayError, InvalidValue, LinkDown
from gateway.asterisk.pool import ServerCapacity, ServerConfig, ServerView, TokenBucket
from gateway.asterisk.queuesync import QueueSync
from pacing.calls import AttemptResult

log = logging.getLogger("gateway.asterisk.calls")

CONTEXT = "dialer-outbound"
CONNECT_TIMEOUT_S = "2"
ARI_WORKERS = 16
LEDGER_READERS = 32  # DBGet actions in flight while reading the outcome ledger
LEDGER_RETRY_S = 1.0
LEDGER_AFTER_END_S = 0.2  # a resumed call ended undecided: its ledger line is read after this
BOOT_WAIT_S = 60.0  # how long a new session waits for FullyBooted before reconciling anyway


class BootWatch:
    """Whether Asterisk started again between two sessions.

    ``CoreStatus``'s ``CoreStartupDate``/``CoreStartupTime`` name the second the process started
    (``core restart now`` exec()s a new one): another stamp at the next login means another
    process. A session that logged in before Asterisk had booted (no ``FullyBooted`` at login)
    also met a new process, which tells even a restart within the same second. Pure.
    """

    def __init__(self) -> None:
        self._last: str | None = None

    def seen(self, stamp: str, *, booting_at_login: bool = False) -> bool:
        """Record a session's startup stamp; ``True`` if Asterisk started since the last one."""
        last, self._last = self._last, stamp
        return last is not None and (stamp != last or booting_at_login)


def device_of(channel: str) -> str:
    """A channel's device: ``PJSIP/agent-101-0000000a`` → ``PJSIP/agent-101``, a Local
    channel's ``Local/101@agents-0000000a;1`` → ``Local/101@agents``."""
    return (
        channel.rpartition(";")[0].rpartition("-")[0]
        if ";" in channel
        else (channel.rpartition("-")[0])
    )


def originate_headers(req: OriginateRequest, dial: str) -> list[tuple[str, str]]:
    """The AMI Originate of the dialplan contract (values already validated)."""
    a = req.attempt_id
    return [
        ("Action", "Originate"), ("ActionID", a), ("Channel", dial), ("Context", CONTEXT),
        ("Exten", "s"), ("Priority", "1"),
        ("CallerID", f'"{req.caller_id_name}" <{req.caller_id_number}>'),
        ("Timeout", str(int(req.ring_timeout_s * 1000))), ("Async", "true"),
        ("ChannelId", a), ("OtherChannelId", f"{a}-2"),
        ("Variable", ledger.AMI_PUSH_HEADER),
        *(("Variable", f"{k}={v}") for k, v in dialer_variables(req).items()),
    ]  # fmt: skip


def dialer_variables(req: OriginateRequest) -> dict[str, str]:
    variables = {
        "DIALER_ATTEMPT_ID": req.attempt_id,
        "DIALER_CAMPAIGN": str(req.campaign_id),
        "DIALER_QUEUE": req.queue,
        "DIALER_AMD": "1" if req.amd else "0",
        "DIALER_CONNECT_TIMEOUT": CONNECT_TIMEOUT_S,
    }
    if req.agent_interface:  # an agent-only callback: the dialplan dials this member directly
        variables["DIALER_AGENT_INTERFACE"] = req.agent_interface
    return variables


@dataclass(frozen=True, slots=True)
class _Pending:
    req: OriginateRequest
    dial: str
    submitted: float


class ServerRuntime:
    """Links, tracker and budgets of one server."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        on_result: Callable[[AttemptResult], None],
        on_link_state: Callable[[str, str, str], None] | None,
        on_agent_change: Callable[[str], None] | None = None,
        on_agent_call: Callable[[AgentChange], None] | None = None,
        on_progress: Callable[[CallProgress], None] | None = None,
        on_sent: Callable[[str], None] | None = None,
        on_illegal: Callable[[str, str], None] | None = None,
        clock: Callable[[], float],
        timing: LinkTiming,
        reconcile_wait_s: float,
        resync_interval_s: float,
        send_gate: Callable[[], bool] = lambda: True,
    ) -> None:
        self.config = config
        self._gate = send_gate  # False: this instance is fenced, write no Originate
        self._on_sent = on_sent  # an attempt's Originate was handed to the socket (benchmarks)
        self._clock = clock
        self._on_link_state = on_link_state
        self._on_agent_change = on_agent_change
        self._on_agent_call = on_agent_call
        self.feed = AgentFeed(config.name)
        self.tracker = CallTracker(
            config.name,
            on_result=on_result,
            clock=clock,
            reconcile_wait_s=reconcile_wait_s,
            on_progress=on_progress,
            on_illegal=on_illegal,
            on_ask_ledger=self._ledger_asked,
        )
        self.agents = AgentBoard()
        self.bucket = TokenBucket(config.originate_rate, clock())
        self._queue: deque[_Pending] = deque()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._ledger_tasks: set[asyncio.Task[None]] = set()
        self._ledger_pending: asyncio.Task[None] | None = None
        self._ledger_kept = False  # a ledger line was read: this server's dialplan keeps them
        self._resync_interval = resync_interval_s
        self.send_delays: deque[float] = deque(maxlen=20000)
        self.ami = AmiLink(
            AmiEndpoint(
                config.name, config.host, config.ami_port, config.ami_username, config.ami_secret
            ),
            on_event=self._on_ami_event,
            on_state=self._state_reporter("ami"),
            on_ready=self._ami_ready,
            on_lost=self._ami_lost,
            timing=timing,
            clock=clock,
        )
        # A server takes new calls only once its link is back *and* reconciled: calls in flight
        # settled against the live channels, the agents resynced (see ``healthy``).
        self._ami_synced = False
        self._ari_synced = False
        self._booted = asyncio.Event()  # this AMI session saw FullyBooted
        self._boot_checked = asyncio.Event()  # … and asked CoreStatus whether it restarted
        self.boots = BootWatch()
        self.restarts_seen = 0
        self.queue_sync = QueueSync(
            config.name, self.ami, self.agents, on_change=self._agent_changed, clock=clock,
            declared_wrapup=dict(config.queue_wrapup),
        )  # fmt: skip
        self.ari: AriClient | None = None
        self.stream: AriEventStream | None = None
        self._ari_jobs: asyncio.Queue[Callable[[], Coroutine[Any, Any, None]]] = asyncio.Queue()
        if config.driver == "ari":
            self._make_ari(timing)

    def _make_ari(self, timing: LinkTiming) -> None:
        c = self.config
        self.ari = AriClient(
            AriEndpoint(c.name, c.host, c.ari_port, c.ari_username, c.ari_password, c.ari_app)
        )
        client = self.ari
        self.stream = AriEventStream(
            lambda: client.session,
            server=c.name,
            url=f"ws://{c.host}:{c.ari_port}/ari/events",
            app=c.ari_app,
            api_key=f"{c.ari_username}:{c.ari_password}",
            on_event=self._on_ari_event,
            on_state=self._state_reporter("ari"),
            on_ready=self._ari_stream_ready,
            on_lost=self._ari_lost,
            backoff_base=timing.backoff_base,
            backoff_cap=timing.backoff_cap,
        )

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        spawn = self._tasks.append
        spawn(asyncio.create_task(self.ami.run(), name=f"ami-{self.config.name}"))
        if self.ari is not None and self.stream is not None:
            await self.ari.open()
            spawn(asyncio.create_task(self.stream.run(), name=f"ari-{self.config.name}"))
            for i in range(ARI_WORKERS):
                spawn(asyncio.create_task(self._ari_worker(), name=f"ari-worker-{i}"))
        spawn(asyncio.create_task(self._sender(), name=f"sender-{self.config.name}"))
        spawn(asyncio.create_task(self._housekeeping(), name=f"house-{self.config.name}"))

    async def stop(self) -> None:
        await self.ami.stop()
        if self.stream is not None:
            await self.stream.stop()
        tasks = [*self._tasks, *self._ledger_tasks]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self.tracker.settle_held()  # ended calls that waited for a verdict: no event will come
        while self._queue:  # never written: these calls were not placed
            self.tracker.cancel(self._queue.popleft().req.attempt_id)
        if self.ari is not None:
            await self.ari.close()

    # --- health and capacity -------------------------------------------------------------

    @property
    def healthy(self) -> bool:
        """The server takes new calls: its links are ready and were reconciled after connecting."""
        if not (self.ami.ready and self._ami_synced):
            return False
        return self.stream is None or (self.stream.state is LinkState.READY and self._ari_synced)

    def view(self) -> ServerView:
        c = self.config
        return ServerView(
            c.name, self.healthy, c.channels, len(self.tracker), len(self._queue), c.originate_rate
        )

    def capacity(self) -> ServerCapacity:
        v = self.view()
        return ServerCapacity(
            v.name,
            v.healthy,
            self.config.driver,
            v.channels,
            v.used,
            v.free,
            v.backlog,
            v.rate,
            str(self.ami.state),
            None if self.stream is None else str(self.stream.state),
            v.room,
        )

    def link_stats(self) -> list[LinkStats]:
        stats = [self.ami.stats()]
        if self.stream is not None:
            s = self.stream
            stats.append(
                LinkStats(self.config.name, "ari", str(s.state), s.reconnects, None, s.events, 0, 0)
            )
        return stats

    def queue_snapshot(self, queue: str) -> QueueSnapshot:
        return self.agents.snapshot(queue, self._clock())

    def queue_member(self, queue: str, agent: str) -> AgentView | None:
        """One member of ``queue`` by interface or member name (None: not logged in here)."""
        return self.agents.member(queue, agent, self._clock())

    # --- sending -------------------------------------------------------------------------

    def submit(self, req: OriginateRequest, dial: str) -> None:
        """Track the call and write it now if possible, else queue it for the sender."""
        ami_driver = self.config.driver == "ami"
        self.tracker.track(req, dial_string=dial, needs_response=ami_driver)
        item = _Pending(req, dial, self._clock())
        if not self._queue and self._can_send_now() and self.bucket.take(self._clock()):
            self._send(item)
        else:
            self._queue.append(item)
            self._wake.set()

    def _can_send_now(self) -> bool:
        return self.healthy and self._gate()

    def wake(self) -> None:
        """Look at the send queue again (the fence was lifted)."""
        self._wake.set()

    def unsent(self) -> list[str]:
        """Attempt ids waiting in the send queue (never written)."""
        return [item.req.attempt_id for item in self._queue]

    def drop_unsent(self, attempt_ids: set[str]) -> int:
        """Never send these: they leave the queue and end as withdrawn (``sent`` False)."""
        dropped = [item for item in self._queue if item.req.attempt_id in attempt_ids]
        for item in dropped:
            self._queue.remove(item)
            self.tracker.cancel(item.req.attempt_id)
        return len(dropped)

    def _send(self, item: _Pending) -> None:
        if self.ari is not None:
            self.tracker.sent(item.req.attempt_id)
            self._ari_jobs.put_nowait(lambda: self._ari_originate(item))
        elif self.ami.write_originate(originate_headers(item.req, item.dial)):
            self.tracker.sent(item.req.attempt_id)
        else:  # the link went down between the check and the write: not sent, queue again
            self._queue.appendleft(item)
            return
        self.send_delays.append(self._clock() - item.submitted)
        if self._on_sent is not None:
            self._on_sent(item.req.attempt_id)

    async def _sender(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue and self._can_send_now():
                wait = self.bucket.wait_s(self._clock())
                if wait > 0:
                    await asyncio.sleep(wait)  # the rate budget refills: not an event to await
                    continue
                if not self._can_send_now():  # fenced or down while waiting (a freeze)
                    break
                self.bucket.take(self._clock())
                self._send(self._queue.popleft())

    def cancel_unsent(self, attempt_id: str) -> bool:
        for item in self._queue:
            if item.req.attempt_id == attempt_id:
                self._queue.remove(item)
                self.tracker.cancel(attempt_id)
                return True
        return False

    async def hangup(self, attempt_id: str) -> bool:
        """End a call the gateway no longer wants; its outcome becomes ``cancelled``."""
        if self.cancel_unsent(attempt_id):
            return True
        if not self.tracker.cancel(attempt_id):
            return False
        if self.ari is not None:
            with contextlib.suppress(AriError, LinkDown):
                await self.ari.hangup(attempt_id)
            return True
        channel = self.tracker.channel_of(attempt_id)
        if channel is not None:
            with contextlib.suppress(GatewayError):
                await self.ami.action([("Action", "Hangup"), ("Channel", channel)])
        return True

    # --- events --------------------------------------------------------------------------

    def _on_ami_event(self, event: ev.AmiEvent) -> None:
        kind = type(event)
        if kind is ev.FullyBooted:
            self._fully_booted(event)  # type: ignore[arg-type]
            return
        if kind is ev.Shutdown:
            log.warning("server %s: Asterisk is shutting down (%s)", self.config.name, event)
            self._ami_synced = self._ari_synced = False  # no new calls until it is back
            self.tracker.handle(event)
            return
        if kind is ev.Response:
            resp: ev.Response = event  # type: ignore[assignment]
            if not resp.success and resp.action_id in self.tracker:
                self.tracker.rejected(resp.action_id, resp.message)
            return
        if kind is ev.QueueMemberEvent:
            member: ev.QueueMemberEvent = event  # type: ignore[assignment]
            direct_ended = self.agents.on_member(member, self._clock())
            self._agent_changed(member.queue)
            if direct_ended:  # the agent-only callback's end: the feed's ``ended``
                done = ev.AgentEvent("AgentComplete", member.queue, "", "", member.interface,
                                     member.member_name, direct=True)  # fmt: skip
                self._agent_calls(self.feed.on_agent(done, None, self.agents, self._clock()))
            self._agent_calls(self.feed.on_member(member, self.agents, self._clock()))
            return
        if isinstance(event, ev.UserEvent) and event.user_event == ev.DIRECT_CONNECT:
            direct = self._direct_connect(event)
            if direct is None:
                return
            event, kind = direct, ev.AgentEvent
        if kind is ev.AgentEvent:
            agent: ev.AgentEvent = event  # type: ignore[assignment]
            req = self.tracker.request_of(agent.uniqueid)  # before the tracker may forget it
            self.agents.on_agent(agent, self._clock())
            self._agent_changed(agent.queue)
            self.tracker.handle(event)
            self._agent_calls(self.feed.on_agent(agent, req, self.agents, self._clock()))
            return
        self.tracker.handle(event)

    def _direct_connect(self, user: ev.UserEvent) -> ev.AgentEvent | None:
        """An agent-only callback's member answered (``DialerAgentConnect``): the
        ``AgentConnect`` it stands for, with the member's name as queue events give it. Only
        for an attempt of a gateway (ours, or another instance's: the board counts the member
        busy and the feed leaves that call to the instance that placed it), a queue and
        interface that are valid names (the event's fields came back from the dialplan)."""
        ours = user.attempt_id in self.tracker
        if not ours and not validate.is_attempt_id(user.attempt_id):
            return None
        try:
            validate.name("queue", user.queue)
            validate.member_interface(user.interface)
        except InvalidValue:
            log.warning("call=%s DialerAgentConnect with bad fields ignored", user.attempt_id)
            return None
        now = self._clock()
        # the member's queue: the attempt's, else one it is in (a skill queue); in none (logged
        # out meanwhile), the attempt is connected all the same but no board member is made up
        for queue in (user.queue, *self.agents.queues()):
            view = self.agents.member(queue, user.interface, now)
            if view is not None:
                return ev.direct_connect(user, view.name, queue)
        if ours:
            self.tracker.handle(ev.direct_connect(user, ""))
        return None

    def _fully_booted(self, event: ev.FullyBooted) -> None:
        self._booted.set()

    async def _check_boot(self) -> None:
        """Once booted: did Asterisk start again since the last session? Then its calls are lost."""
        booting = not self._booted.is_set()  # FullyBooted comes right after the login reply
        try:
            await asyncio.wait_for(self._booted.wait(), BOOT_WAIT_S)
        except TimeoutError:
            log.warning(
                "server %s: no FullyBooted within %g s of login; reconciling anyway",
                self.config.name,
                BOOT_WAIT_S,
            )
            booting = False
        try:
            status = await self.ami.action([("Action", "CoreStatus")])
        except GatewayError as exc:
            log.warning("server %s: CoreStatus failed (%s); restart unknown", self.config.name, exc)
            return
        fields = dict(status.fields)
        stamp = f"{fields.get('CoreStartupDate', '')} {fields.get('CoreStartupTime', '')}"
        log.info("server %s: Asterisk started at %s", self.config.name, stamp)
        if self.boots.seen(stamp, booting_at_login=booting):
            self.restarts_seen += 1
            log.warning(
                "server %s: Asterisk started again (at %s); the calls it had are lost",
                self.config.name,
                stamp,
            )
            self.tracker.server_restarted()

    def _agent_calls(self, changes: list[AgentChange]) -> None:
        if self._on_agent_call is not None:
            for change in changes:
                self._on_agent_call(change)

    def _agent_changed(self, queue: str) -> None:
        if self._on_agent_change is not None:
            self._on_agent_change(queue)

    def _on_ari_event(self, event: ari_ev.AriEvent) -> None:
        if isinstance(event, ari_ev.StasisStart) and event.channel.id in self.tracker:
            channel_id = event.channel.id
            self._ari_jobs.put_nowait(lambda: self._ari_continue(channel_id))
        translated = ari_ev.to_tracker(event)
        if translated is not None:
            self.tracker.handle(translated)

    def _state_reporter(self, link: str) -> Callable[[LinkState], None]:
        """Report a link's states; ``ready`` only once the link is reconciled (``_synced``)."""

        def report(state: LinkState) -> None:
            if state is not LinkState.READY and self._on_link_state is not None:
                self._on_link_state(self.config.name, link, str(state))

        return report

    def _link_lost(self) -> None:
        lost = self.tracker.link_lost()
        if lost:
            log.warning(
                "server %s: link lost with %d calls in flight; reconciling",
                self.config.name,
                len(lost),
            )

    def _ami_lost(self) -> None:
        self._ami_synced = False
        self._booted.clear()
        self._boot_checked.clear()
        self._link_lost()

    def _ari_lost(self) -> None:
        self._ari_synced = False
        self._link_lost()

    def _synced(self, link: str) -> None:
        """Reconciled after (re)connecting: the link is reported ``ready``, the sender woken."""
        self._wake.set()
        if self._on_link_state is not None:
            self._on_link_state(self.config.name, link, str(LinkState.READY))

    async def _ami_ready(self) -> None:
        self.queue_sync.session_started()
        try:
            await self._check_boot()
        finally:
            self._boot_checked.set()
        try:
            # the queues first: the reconcile names the agent bridged to a call by the board's
            # members, which a restarted gateway does not know before its first QueueStatus (its
            # calls connected while it was down ended unknown, not answered)
            await self.resync_queues()
            # the member changes made while the link was down, one ``state`` each
            self._agent_calls(self.feed.resynced(self.agents, self._clock()))
        except GatewayError as exc:  # the next resync repairs it
            log.warning("server %s: queue resync after link-up failed: %s", self.config.name, exc)
        try:
            await self.reconcile_now()
        except GatewayError as exc:  # the tracker's deadlines retry
            log.warning("server %s: reconcile after link-up failed: %s", self.config.name, exc)
        self._ami_synced = True
        self._synced("ami")

    async def _ari_stream_ready(self) -> None:
        try:  # reconcile only once the AMI session knows whether Asterisk restarted
            await asyncio.wait_for(self._boot_checked.wait(), BOOT_WAIT_S)
        except TimeoutError:
            log.warning("server %s: ARI reconciles without the AMI boot check", self.config.name)
        try:
            await self._ari_ready()
        except GatewayError as exc:
            log.warning("server %s: ARI reconcile after link-up failed: %s", self.config.name, exc)
        self._ari_synced = True
        self._synced("ari")

    async def _ari_ready(self) -> None:
        if self.ari is not None and self.tracker.reconciling():
            channels = await self.ari.channels()
            agents: dict[str, str] = {}
            if self.ami.ready:  # ARI's channel list names no bridges; AMI's does
                with contextlib.suppress(GatewayError):
                    items = await self.ami.list_action([("Action", "CoreShowChannels")])
                    agents = self._bridged_agents(
                        [i for i in items if isinstance(i, ev.CoreShowChannel)]
                    )
            await self._read_ledger(self.tracker.reconcile((ch.id for ch in channels), agents))

    async def reconcile_now(self) -> None:
        """Settle calls marked for reconciliation against the server's live channels."""
        if not self.tracker.reconciling() or not self.ami.ready:
            return
        if self.ari is not None:
            await self._ari_ready()
            return
        items = await self.ami.list_action([("Action", "CoreShowChannels")])
        channels = [i for i in items if isinstance(i, ev.CoreShowChannel)]
        live = (c.uniqueid for c in channels)
        await self._read_ledger(self.tracker.reconcile(live, self._bridged_agents(channels)))

    async def _read_ledger(self, queries: list[LedgerQuery]) -> None:
        """Settle calls that ended while the link was down from Asterisk's outcome ledger.

        A line not found now is read once more after ``LEDGER_RETRY_S``, in the background
        (the hangup handler may still be writing it); then the call ends ``unknown``. A link
        that fails meanwhile leaves the rest reconciling: the next reconcile reads them again.
        """
        missing = await self._read_lines(queries, last=False)
        if missing:
            task = asyncio.create_task(self._read_again(missing), name="ledger-retry")
            self._ledger_tasks.add(task)
            task.add_done_callback(self._ledger_tasks.discard)

    def _ledger_asked(self) -> None:
        """A call found alive after a lost link ended undecided: read its ledger line soon
        (one reader task takes every line asked for meanwhile)."""
        if self._ledger_pending is None or self._ledger_pending.done():
            task = asyncio.create_task(self._read_asked(), name="ledger-asked")
            self._ledger_pending = task
            self._ledger_tasks.add(task)
            task.add_done_callback(self._ledger_tasks.discard)

    async def _read_asked(self) -> None:
        await asyncio.sleep(LEDGER_AFTER_END_S)  # the hangup handler writes as the call ends
        queries = self.tracker.take_ledger_queries()
        self._ledger_pending = None  # lines asked for from now on get a reader of their own
        if not queries or not self.ami.ready:
            return  # a lost link: the reconcile after link-up reads them (they are reconciling)
        try:
            await self._read_ledger(queries)
        except GatewayError as exc:  # the next reconcile reads them again
            log.warning("server %s: outcome ledger not read: %s", self.config.name, exc)

    async def _read_again(self, queries: list[LedgerQuery]) -> None:
        await asyncio.sleep(LEDGER_RETRY_S)
        try:
            await self._read_lines(queries, last=True)
        except GatewayError as exc:  # the sweep or the next reconcile settles them
            log.warning("server %s: outcome ledger not read: %s", self.config.name, exc)

    async def _read_lines(self, queries: list[LedgerQuery], *, last: bool) -> list[LedgerQuery]:
        """Read each query's line and settle its call; return those still without a line."""
        limit = asyncio.Semaphore(LEDGER_READERS)

        async def read(query: LedgerQuery) -> str | None:
            async with limit:
                for family in query.families:
                    value = await self.ami.db_get(family, query.attempt_id)
                    if value is not None:
                        return value
                return None

        values = await asyncio.gather(*(read(q) for q in queries))
        self._ledger_kept = self._ledger_kept or any(v is not None for v in values)
        kept = self._ledger_kept
        return [
            q
            for q, value in zip(queries, values, strict=True)
            if not self.tracker.recovered(q.attempt_id, value, last=last, ledger_kept=kept)
            and q.attempt_id in self.tracker
        ]

    def _bridged_agents(self, channels: list[ev.CoreShowChannel]) -> dict[str, str]:
        """Callers in ``Queue()`` that share a bridge with a queue member: caller → member name."""
        by_bridge: dict[str, list[ev.CoreShowChannel]] = {}
        for c in channels:
            if c.bridge_id:
                by_bridge.setdefault(c.bridge_id, []).append(c)
        found: dict[str, str] = {}
        for members in by_bridge.values():
            callers = [c for c in members if c.application == "Queue"]
            for caller in callers:
                for other in members:
                    name = self.agents.member_named(device_of(other.channel))
                    if other is not caller and name is not None:
                        found[caller.uniqueid] = name
        return found

    async def resync_queues(self) -> None:
        """Every queue of the server: its rules and members (:mod:`gateway.asterisk.queuesync`)."""
        await self.queue_sync.resync()

    def watch_queue(self, queue: str) -> None:
        """Make sure ``queue`` is resynced even before any of its events arrived."""
        if queue not in self.agents.queues():
            self.agents.resync(queue, [], self._clock())

    async def _housekeeping(self) -> None:
        last_resync = self._clock()
        while True:
            await asyncio.sleep(1.0)
            self.tracker.sweep()
            if self._clock() - last_resync >= self._resync_interval and self.ami.ready:
                last_resync = self._clock()
                with contextlib.suppress(GatewayError):
                    await self.resync_queues()
                    await self.reconcile_now()

    # --- ARI work ------------------------------------------------------------------------

    async def _ari_worker(self) -> None:
        while True:
            job = await self._ari_jobs.get()
            await job()

    async def _ari_originate(self, item: _Pending) -> None:
        assert self.ari is not None
        req = item.req
        try:
            channel = await self.ari.originate(
                endpoint=item.dial,
                channel_id=req.attempt_id,
                other_channel_id=f"{req.attempt_id}-2",
                caller_id=f'"{req.caller_id_name}" <{req.caller_id_number}>',
                timeout_s=int(req.ring_timeout_s),
                variables=dialer_variables(req),
                hangup_handler=ledger.HANDLER,
                app_args=req.attempt_id,
            )
        except AriError as exc:
            self.tracker.rejected(req.attempt_id, str(exc))
        except GatewayError as exc:  # timeout or dropped: it may exist; never send it again
            log.warning("call=%s ARI originate uncertain: %s", req.attempt_id, exc)
            self.tracker.uncertain(req.attempt_id)
        else:
            self.tracker.accepted(req.attempt_id, channel.id)

    async def _ari_continue(self, channel_id: str) -> None:
        assert self.ari is not None
        try:
            await self.ari.continue_in_dialplan(
                channel_id, context=CONTEXT, extension="s", priority=1
            )
        except GatewayError as exc:
            log.warning("call=%s ARI continue failed: %s", channel_id, exc)
