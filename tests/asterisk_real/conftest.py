"""Fixtures of the conformance tests: ``peer`` is the simulator or the real Asterisk 22.

The ``asterisk`` parameter is marked ``asterisk`` and skips, with one line saying where the build
was looked for, when no build exists (``tests/asterisk_real/pbx.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.asterisk_real.pbx import find_build, skip_reason
from tests.asterisk_real.peers import Peer, start_peer
from tests.gateway.conftest import make_dialer, recorder

__all__ = ["make_dialer", "recorder"]

PEERS = ["sim", pytest.param("asterisk", marks=pytest.mark.asterisk)]


@pytest.fixture(params=PEERS)
async def peer(request: pytest.FixtureRequest) -> AsyncIterator[Peer]:
    name = str(request.param)
    if name == "asterisk" and find_build() is None:
        pytest.skip(skip_reason())
    started = await start_peer(name)
    try:
        yield started
    finally:
        await started.stop()
