"""The AMI link against a real TCP peer: login, filters, keep-alive, reconnect, no replays."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest

from gateway.asterisk.ami import events as ev
from gateway.asterisk.ami.adapter import AmiEndpoint, AmiLink, serialize
from gateway.asterisk.ami.linkstate import LinkState
from gateway.asterisk.errors import InvalidValue, LinkDown
from tests.gateway.conftest import FAST
from tests.gateway.fake_ami import FakeAmi


class LinkUnderTest:
    def __init__(self, fake: FakeAmi, secret: str = "s3cret") -> None:
        self.states: list[LinkState] = []
        self.events: list[ev.AmiEvent] = []
        self.lost = 0
        self.changed = asyncio.Event()
        self.link = AmiLink(
            AmiEndpoint("pbx1", "127.0.0.1", fake.port, "dialer", secret),
            on_event=self._event,
            on_state=self._state,
            on_lost=self._lost,
            timing=FAST,
        )
        self.task: asyncio.Task[None] | None = None

    def _event(self, e: ev.AmiEvent) -> None:
        self.events.append(e)
        self.changed.set()

    def _state(self, s: LinkState) -> None:
        self.states.append(s)
        self.changed.set()

    def _lost(self) -> None:
        self.lost += 1

    async def until(self, predicate: Callable[[], bool], within: float = 10.0) -> None:
        async with asyncio.timeout(within):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
async def make_link(fake_ami: FakeAmi) -> AsyncIterator[Callable[..., LinkUnderTest]]:
    links: list[LinkUnderTest] = []

    def make(secret: str = "s3cret") -> LinkUnderTest:
        lut = LinkUnderTest(fake_ami, secret)
        lut.task = asyncio.create_task(lut.link.run())
        links.append(lut)
        return lut

    yield make
    for lut in links:
        await lut.link.stop()
        if lut.task is not None:
            async with asyncio.timeout(5):
                await lut.task


async def test_login_then_filters_then_ready(
    make_link: Callable[..., LinkUnderTest], fake_ami: FakeAmi
) -> None:
    lut = make_link()
    await lut.until(lambda: lut.link.ready)
    assert lut.states == [LinkState.CONNECTING, LinkState.AUTHENTICATING, LinkState.READY]
    assert fake_ami.count("Login") == 1
    names = {m.get("Filter") for m in fake_ami.actions if m.get("Action") == "Filter"}
    assert names == {f"Event: {e}" for e in ev.USED_EVENTS}
    assert next(m.get("Action") for m in fake_ami.actions) == "Login"
    assert lut.link.banner == "Asterisk Call Manager/11.0.0"


async def test_bad_secret_backs_off_and_is_never_ready(
    make_link: Callable[..., LinkUnderTest], fake_ami: FakeAmi
) -> None:
    lut = make_link(secret="wrong")
    await lut.until(lambda: lut.states.count(LinkState.BACKOFF) >= 2)
    assert LinkState.READY not in lut.states
    assert fake_ami.logins == 0
    assert lut.link.reconnects >= 1


async def test_drop_reconnects_and_never_resends_an_originate(
    make_link: Callable[..., LinkUnderTest], fake_ami: FakeAmi
) -> None:
    lut = make_link()
    await lut.until(lambda: lut.link.ready)
    assert lut.link.write_originate(
        [
            ("Action", "Originate"),
            ("ActionID", "a" * 32),
            ("Channel", "PJSIP/+15551@carrier-a"),
            ("Async", "true"),
        ]
    )
    await fake_ami.wait_for(lambda: fake_ami.count("Originate") == 1)
    pending = asyncio.create_task(lut.link.action([("Action", "Status")]))
    await fake_ami.wait_for(lambda: fake_ami.count("Status") == 1)
    fake_ami.drop()
    with pytest.raises(LinkDown):  # an unanswered action fails; it is not replayed later
        await pending
    await lut.until(lambda: lut.states.count(LinkState.READY) == 2)
    assert lut.lost == 1
    assert fake_ami.logins == 2
    assert lut.states[3:] == [
        LinkState.BACKOFF,
        LinkState.CONNECTING,
        LinkState.AUTHENTICATING,
        LinkState.READY,
    ]
    await lut.link.action([("Action", "Ping")])  # the new session works ...
    assert fake_ami.count("Originate") == 1  # ... and nothing was sent twice
    assert fake_ami.count("Status") == 1


async def test_originate_is_refused_while_not_ready(fake_ami: FakeAmi) -> None:
    link = AmiLink(
        AmiEndpoint("pbx1", "127.0.0.1", fake_ami.port, "dialer", "s3cret"),
        on_event=lambda e: None,
        timing=FAST,
    )
    assert not link.write_originate([("Action", "Originate"), ("ActionID", "x")])
    with pytest.raises(LinkDown):
        await link.action([("Action", "Ping")])


async def test_keepalive_ping_measures_rtt(
    make_link: Callable[..., LinkUnderTest], fake_ami: FakeAmi
) -> None:
    lut = make_link()
    await lut.until(lambda: lut.link.ready)
    await fake_ami.wait_for(lambda: fake_ami.count("Ping") >= 1)
    await lut.link.action([("Action", "Ping")])
    await fake_ami.wait_for(lambda: fake_ami.count("Ping") >= 3)
    assert lut.link.ping_rtt_s is not None
    assert 0 <= lut.link.ping_rtt_s < 2
    assert lut.link.stats().state == "ready"


async def test_a_late_ping_while_bytes_arrive_keeps_the_link_within_the_idle_bound(
    make_link: Callable[..., LinkUnderTest], fake_ami: FakeAmi
) -> None:
    """A Ping answered late behind a stream of events is a busy link, not a dead one; but no
    Ping answered for ``idle_timeout`` (5 s here) ends the session even while bytes flow."""
    lut = make_link()
    await lut.until(lambda: lut.link.ready)
    fake_ami.answer_ping = False
    event = b"Event: VarSet\r\nChannel: PJSIP/x-1\r\nVariable: a\r\nValue: b\r\n\r\n"

    async def chatter() -> None:
        while True:
            fake_ami.send_event(event)
            await asyncio.sleep(0.1)

    task = asyncio.create_task(chatter())
    try:
        pings = fake_ami.count("Ping")
        await asyncio.sleep(3.5)  # past one ping_timeout (2 s) since a Ping went unanswered
        assert fake_ami.count("Ping") > pings
        assert lut.lost == 0
        assert fake_ami.logins == 1
        await lut.until(lambda: lut.lost == 1, within=8.0)  # the idle bound: dropped all the same
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    fake_ami.answer_ping = True
    await lut.until(lambda: lut.link.ready and fake_ami.logins == 2, within=10.0)


async def test_an_unanswered_ping_on_a_silent_link_ends_the_session(
    make_link: Callable[..., LinkUnderTest], fake_ami: FakeAmi
) -> None:
    lut = make_link()
    await lut.until(lambda: lut.link.ready)
    fake_ami.answer_ping = False
    await lut.until(lambda: lut.lost == 1, within=4.0)  # one ping_interval + ping_timeout
    fake_ami.answer_ping = True
    await lut.until(lambda: lut.link.ready and fake_ami.logins == 2, within=10.0)


async def test_refused_filters_still_get_ready(
    make_link: Callable[..., LinkUnderTest], fake_ami: FakeAmi
) -> None:
    fake_ami.accept_filters = False
    lut = make_link()
    await lut.until(lambda: lut.link.ready)
    assert fake_ami.count("Filter") == 1  # gave up after the first refusal


async def test_an_unreachable_server_backs_off_within_the_cap() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    states: list[LinkState] = []
    changed = asyncio.Event()

    def on_state(s: LinkState) -> None:
        states.append(s)
        changed.set()

    link = AmiLink(
        AmiEndpoint("pbx1", "127.0.0.1", port, "u", "p"),
        on_event=lambda e: None,
        on_state=on_state,
        timing=FAST,
    )
    task = asyncio.create_task(link.run())
    loop = asyncio.get_running_loop()
    start = loop.time()
    async with asyncio.timeout(10):
        while states.count(LinkState.CONNECTING) < 5:
            changed.clear()
            await changed.wait()
    # 4 backoffs, each at most the 0.4 s cap
    assert loop.time() - start < 4 * FAST.backoff_cap + 1.0
    await link.stop()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert states[-1] is LinkState.CLOSED


def test_serialize_refuses_injection() -> None:
    with pytest.raises(InvalidValue):
        serialize([("Action", "Ping"), ("ActionID", "x\r\nAction: Originate")])
    assert serialize([("Action", "Ping")]) == b"Action: Ping\r\n\r\n"
