"""The outcome ledger: what Asterisk itself wrote down when an attempt's channel hung up.

AMI and ARI events reach only the sessions connected when they happen. A call that ends while
the gateway's link is down (a network cut, a gateway crash, another instance taking over) would
otherwise be settled ``unknown``. So every Originate pushes a hangup handler on the callee
channel (``CHANNEL(hangup_handler_push)=dialer-hangup,s,1``, both drivers), and the dialplan's
``[dialer-hangup]`` (``asterisk_conf/extensions.conf``) writes one line into Asterisk's own
database (AstDB, kept on disk across Asterisk restarts)::

    family  dialer-outcome/<UTC hour of the hang-up, YYYYMMDDHH>
    key     <attempt id>
    value   v1&c:<HANGUPCAUSE>&a:<CDR(answer,u)>&k:<CDR(disposition)>&d:<AMDSTATUS>
              &q:<QUEUESTATUS>&m:<MEMBERNAME>&e:<end epoch>

The handler runs for every hang-up, answered or not (seen on Asterisk 22.10.1: busy,
congestion, unallocated and ring-timeout calls write their line too). After a reconnect the
gateway reads the line of each call it lost track of with AMI ``DBGet`` (the ``reporting``
privilege; the AMI user keeps no ``system`` right) and turns it into the same
:class:`~gateway.asterisk.calls.outcome.Evidence` the live events would have given. The
dialplan deletes hours older than the retention itself, once an hour (``DBdeltree``).

The CDR's answer time says "answered" even when the call never reached ``dialer-outbound``
(with ARI, a link cut while the channel waited in Stasis: a live answer nobody took, so
``abandoned``), and its disposition says BUSY or CONGESTION where a Local channel's ``;1`` half
reports cause 0 (the test world). A line that says nothing more than "ended before answer" is
``failed`` (retryable), never ``unknown``.

Pure: no I/O. The runtime sends the ``DBGet`` actions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gateway.asterisk import validate
from gateway.asterisk.calls.outcome import Evidence, evolve

FAMILY = "dialer-outcome"
VERSION = "v1"
HANDLER = "dialer-hangup,s,1"
PUSH_VARIABLE = "CHANNEL(hangup_handler_push)"
# AMI splits an Originate ``Variable:`` header on commas; a backslash keeps them (Asterisk 22).
AMI_PUSH_HEADER = validate.LEDGER_PUSH_HEADER
# Hours probed around a call's own time: the PBX clock may differ from ours by minutes.
CLOCK_MARGIN = timedelta(minutes=10)
MAX_HOURS = 6  # the dialplan keeps two hours; an adopted call older than this is not looked up
_ABANDONED_QUEUE_STATUSES = frozenset(
    {"TIMEOUT", "FULL", "JOINEMPTY", "LEAVEEMPTY", "JOINUNAVAIL", "LEAVEUNAVAIL"}
)


@dataclass(frozen=True, slots=True)
class LedgerLine:
    """One attempt's line, parsed."""

    cause: int
    answered_epoch: float | None
    disposition: str
    amd_status: str
    queue_status: str
    member: str
    ended_epoch: float | None

    @property
    def answered(self) -> bool:
        return self.answered_epoch is not None


def family(at: datetime) -> str:
    """The AstDB family of hang-ups in ``at``'s UTC hour."""
    return f"{FAMILY}/{at.astimezone(UTC):%Y%m%d%H}"


def families(since: datetime, now: datetime) -> list[str]:
    """Families to probe for a call placed at ``since``, newest first (at most ``MAX_HOURS``)."""
    start = (since - CLOCK_MARGIN).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hour = (now + CLOCK_MARGIN).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    found: list[str] = []
    while hour >= start and len(found) < MAX_HOURS:
        found.append(family(hour))
        hour -= timedelta(hours=1)
    return found


def _epoch(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value > 0 else None


def parse(value: str) -> LedgerLine | None:
    """A ledger value, or ``None`` when it is not one this gateway wrote (another version)."""
    version, _, rest = value.partition("&")
    if version != VERSION:
        return None
    fields: dict[str, str] = {}
    for item in rest.split("&"):
        key, sep, text = item.partition(":")
        if sep:
            fields[key] = text.strip()
    try:
        cause = int(fields.get("c", "") or 0)
    except ValueError:
        cause = 0
    return LedgerLine(
        cause=cause,
        answered_epoch=_epoch(fields.get("a", "")),
        disposition=fields.get("k", "").upper(),
        amd_status=fields.get("d", "").upper(),
        queue_status=fields.get("q", "").upper(),
        member=fields.get("m", ""),
        ended_epoch=_epoch(fields.get("e", "")),
    )


def evidence(line: LedgerLine, ev: Evidence) -> Evidence:
    """``ev`` with what the line says added to what the live events already told (never removes
    evidence)."""
    live_answer, connected = ev.live_answer, ev.connected
    machine, abandoned = ev.machine, ev.abandoned
    if line.answered:
        live_answer = True
        if line.member:
            connected = True
        elif line.amd_status == "MACHINE":
            machine = True
        elif line.queue_status in _ABANDONED_QUEUE_STATUSES:
            abandoned = True
    callee_cause = ev.callee_cause or line.cause
    disposition = ev.disposition or line.disposition
    reason = ev.reason
    if not line.answered and reason is None and not callee_cause and not disposition:
        reason = 0  # ended before answer with no cause: `failed` (retryable), not unknown
    return evolve(
        ev, live_answer=live_answer, connected=connected, machine=machine, abandoned=abandoned,
        callee_cause=callee_cause, disposition=disposition, reason=reason,
    )  # fmt: skip
