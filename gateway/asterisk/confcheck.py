"""Consistency check of an Asterisk configuration directory against what the gateway uses.

Holds a small parser for Asterisk's ``.conf`` format (sections, ``(!)`` templates and
``(template)`` inheritance, ``key = value`` / ``key => value``, ``;`` comments), the checks, and
the ``dialer config check-asterisk`` registrar. The checks read files and nothing else: they
never connect to Asterisk, and they do not judge settings the gateway does not depend on.

What is checked (each finding is one :class:`Problem` line, ``file:line: message``):

- manager.conf: AMI enabled; each AMI user of the gateway exists with a secret, an ACL (deny and
  permit), the read and write classes the gateway needs and none it must not have
  (``all``, ``system``, ``command``, ``config``), and event filters that let every event the
  gateway parses through (:data:`gateway.asterisk.ami.events.USED_EVENTS`).
- http.conf / ari.conf: the HTTP server and ARI enabled; each ARI user exists, may write, has a
  password.
- extensions.conf: context ``dialer-outbound``, extension ``s``, runs in order AMD (only when
  ``DIALER_AMD`` is 1), ``UserEvent(AMDResult,…)``, a MACHINE hang-up, ``Queue(${DIALER_QUEUE},…,
  ${QUEUE_WAIT})`` (or ``${DIALER_CONNECT_TIMEOUT}``), the QUEUESTATUS test,
  ``UserEvent(DialerAbandoned,…)`` and ``Playback(dialer-identification)``; the 2 s rule with AMD
  (AMD's total analysis time bounded by ``${DIALER_CONNECT_TIMEOUT}``, ``QUEUE_WAIT`` computed
  from ``CONNECT_BY``); Queue()'s ``b()`` predial handler present and setting ``PJSIP_HEADER``
  only behind a ``CHANNEL(channeltype)`` test; the agent-only callback's path
  (``DIALER_AGENT_INTERFACE`` tested before ``Queue()``,
  ``Dial(${DIALER_AGENT_INTERFACE},…,U(dialer-agent-connect^…))`` and that subroutine's
  ``UserEvent(DialerAgentConnect,…)``); no ``${DIALER_*}`` variable outside the contract; a
  ``Stasis(<app>)`` entry for each ARI application.
- queues.conf: the expected queues exist, ``timeoutpriority`` is not ``conf`` (the 2 s limit
  must win), no ``ringinuse = yes``, every ``PJSIP/`` member is a pjsip.conf endpoint.
- pjsip.conf (optional: required only when a trunk template or a queue member is ``PJSIP/``; a
  build without pjproject with ``Local/`` trunks needs none): the endpoint of every trunk
  template exists; no ``direct_media = yes`` (Asterisk must stay in the media path to report
  RTCP). rtp.conf: RTCP not disabled. amd.conf: present (``AMD()`` reads it).
- modules.conf: the modules the contract needs are not ``noload``-ed (and are loaded when
  ``autoload = no``; ``res_pjsip``/``chan_pjsip`` only when PJSIP is needed). cdr_manager.conf:
  enabled (the gateway reads ``Cdr`` events).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias

from gateway.asterisk.ami.events import USED_EVENTS
from gateway.settings import load_settings

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

CONTRACT_CONTEXT = "dialer-outbound"
CONTRACT_VARIABLES = frozenset(
    {"DIALER_ATTEMPT_ID", "DIALER_CAMPAIGN", "DIALER_QUEUE", "DIALER_AMD", "DIALER_CONNECT_TIMEOUT",
     "DIALER_AGENT_INTERFACE"}
)  # fmt: skip
REQUIRED_READ = frozenset({"system", "call", "agent", "user", "cdr", "reporting"})
REQUIRED_WRITE = frozenset({"originate", "call", "reporting"})
FORBIDDEN_WRITE = frozenset({"all", "system", "command", "config"})
REQUIRED_MODULES = (
    "pbx_config", "app_amd", "app_queue", "app_userevent", "app_playback", "app_stasis",
    "res_stasis", "res_ari", "res_http_websocket", "res_rtp_asterisk", "cdr_manager",
    "func_db", "func_cdr", "app_stack", "app_dial",
)  # fmt: skip
LEDGER_CONTEXT = "dialer-hangup"  # the hangup handler every Originate pushes
LEDGER_WRITE = re.compile(
    r"DB\(dialer-outcome/[^)]*\$\{DIALER_ATTEMPT_ID\}\)=v1&c:\$\{HANGUPCAUSE\}&a:\$\{CDR\(answer,u\)\}"
    r"&k:\$\{CDR\(disposition\)\}&d:\$\{AMDSTATUS\}&q:\$\{QUEUESTATUS\}&m:\$\{MEMBERNAME\}&e:.*"
)
PJSIP_MODULES = ("res_pjsip", "chan_pjsip")  # needed only by PJSIP/ trunks and queue members
FILES = (
    "manager.conf", "http.conf", "ari.conf", "extensions.conf", "queues.conf", "pjsip.conf",
    "rtp.conf", "modules.conf", "cdr_manager.conf", "amd.conf",
)  # fmt: skip
OPTIONAL_FILES = frozenset({"pjsip.conf"})  # required only when something uses PJSIP

# The dialplan steps of the contract, in order: (what, application, pattern over its arguments).
CONTRACT_STEPS: tuple[tuple[str, str, str], ...] = (
    ("AMD()", "amd", r".*"),
    (
        "UserEvent(AMDResult,…)",
        "userevent",
        r"AMDResult,\s*AttemptId: \$\{DIALER_ATTEMPT_ID\},\s*AMDSTATUS: \$\{AMDSTATUS\},"
        r"\s*AMDCAUSE: \$\{AMDCAUSE\}",
    ),
    ("the MACHINE hang-up", "gotoif|execif", r".*AMDSTATUS.*MACHINE.*"),
    ("Queue(${DIALER_QUEUE},…,${QUEUE_WAIT})", "queue",
     r"\$\{DIALER_QUEUE\},[^,]*,[^,]*,[^,]*,\$\{(?:DIALER_CONNECT_TIMEOUT|QUEUE_WAIT)\}.*"),
    ("the QUEUESTATUS test", "gotoif|execif", r".*QUEUESTATUS.*TIMEOUT.*"),
    (
        "UserEvent(DialerAbandoned,…)",
        "userevent",
        r"DialerAbandoned,\s*AttemptId: \$\{DIALER_ATTEMPT_ID\},\s*QueueStatus: \$\{QUEUESTATUS\}",
    ),
    ("Playback(dialer-identification)", "playback|background", r"dialer-identification\b.*"),
)  # fmt: skip
QUEUE_STATUSES_NO_AGENT = ("TIMEOUT", "FULL", "JOINEMPTY", "LEAVEEMPTY")
# An agent-only callback: Dial() of the member with the subroutine that reports the connect.
AGENT_CONTEXT = "dialer-agent-connect"
AGENT_DIAL = re.compile(
    r"\$\{DIALER_AGENT_INTERFACE\},\s*\$\{(?:QUEUE_WAIT|DIALER_CONNECT_TIMEOUT)\},.*U\(dialer-agent-connect"
    r"\^\$\{DIALER_ATTEMPT_ID\}\^\$\{DIALER_QUEUE\}\^\$\{DIALER_AGENT_INTERFACE\}\).*"
)
AGENT_EVENT = re.compile(
    r"DialerAgentConnect,\s*AttemptId: \$\{ARG1\},\s*Queue: \$\{ARG2\},\s*"
    r"Interface: \$\{ARG3\}"
)

_SECTION = re.compile(r"^\[([^\]]+)\]\s*(?:\(([^)]*)\))?\s*$")
_ITEM = re.compile(r"^([^=]+?)\s*=>?\s*(.*)$")
_VARIABLE = re.compile(r"\$\{(DIALER_[A-Z0-9_]*)")
_FILTER_NAME = re.compile(r"name\(([^)]*)\)")
_TRUNK_ENDPOINT = re.compile(r"^PJSIP/[^@]*@([^/@\s]+)$")


@dataclass(frozen=True, slots=True)
class Item:
    key: str
    value: str
    line: int


@dataclass(frozen=True, slots=True)
class Section:
    """One ``[name]`` block; ``templates`` are the ``(a,b)`` it inherits from."""

    name: str
    line: int
    is_template: bool
    templates: tuple[str, ...]
    items: tuple[Item, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """One inconsistency, printed as ``file:line: message``."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class Expectations:
    """What the gateway will use: its AMI/ARI users, ARI apps, trunks' endpoints and queues."""

    ami_users: tuple[str, ...] = ("dialer",)
    ari_users: tuple[str, ...] = ("dialer",)
    ari_apps: tuple[str, ...] = ("dialer",)
    trunk_endpoints: tuple[str, ...] = ("carrier-a",)
    queues: tuple[str, ...] = ()
    used_events: tuple[str, ...] = field(default=USED_EVENTS)


class Conf:
    """A parsed ``.conf`` file with template inheritance resolved on lookup."""

    def __init__(self, name: str, sections: Sequence[Section]) -> None:
        self.name = name
        self.sections = tuple(sections)

    def find(self, name: str) -> list[Section]:
        return [s for s in self.sections if s.name == name and not s.is_template]

    def items(self, section: Section) -> list[Item]:
        """The section's items after those of its templates (depth first, in order)."""
        inherited: list[Item] = []
        for template in section.templates:
            for parent in (s for s in self.sections if s.name == template and s is not section):
                inherited.extend(self.items(parent))
        return [*inherited, *section.items]

    def get(self, section: Section, key: str) -> Item | None:
        found = [i for i in self.items(section) if i.key == key]
        return found[-1] if found else None

    def value(self, section: Section, key: str, default: str = "") -> str:
        item = self.get(section, key)
        return item.value if item is not None else default

    def values(self, section: Section, key: str) -> list[str]:
        return [i.value for i in self.items(section) if i.key == key]


def parse_conf(text: str) -> list[Section]:
    """Parse Asterisk ``.conf`` text; lines that are neither sections nor items are ignored."""
    sections: list[Section] = []
    current: tuple[str, int, bool, tuple[str, ...]] | None = None
    items: list[Item] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw).strip()
        if not line or line.startswith("#"):
            continue
        header = _SECTION.match(line)
        if header:
            if current is not None:
                sections.append(Section(*current, tuple(items)))
            options = [o.strip() for o in (header.group(2) or "").split(",") if o.strip()]
            current = (header.group(1).strip(), number, "!" in options,
                       tuple(o for o in options if o != "!"))  # fmt: skip
            items = []
            continue
        item = _ITEM.match(line)
        if item and current is not None:
            items.append(Item(item.group(1).strip(), item.group(2).strip(), number))
    if current is not None:
        sections.append(Section(*current, tuple(items)))
    return sections


def _strip_comment(line: str) -> str:
    out = []
    escaped = False
    for char in line:
        if char == ";" and not escaped:
            break
        escaped = char == "\\" and not escaped
        out.append(char)
    return "".join(out)


def load(directory: Path) -> tuple[dict[str, Conf], list[Problem]]:
    """Parse every file the gateway depends on; a missing file is a problem."""
    confs: dict[str, Conf] = {}
    problems: list[Problem] = []
    for name in FILES:
        path = directory / name
        try:
            confs[name] = Conf(name, parse_conf(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            if name not in OPTIONAL_FILES:
                problems.append(Problem(name, 0, f"missing (expected in {directory})"))
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(name, 0, f"unreadable: {exc}"))
    return confs, problems


def check(directory: Path, expect: Expectations | None = None) -> list[Problem]:
    """Every inconsistency between ``directory`` and what the gateway uses (empty: consistent)."""
    expect = expect or Expectations()
    confs, problems = load(directory)
    if "pjsip.conf" not in confs and needs_pjsip(confs, expect):
        problems.append(
            Problem(
                "pjsip.conf", 0, f"missing (expected in {directory}): {needs_pjsip(confs, expect)}"
            )
        )
    checks = (
        ("manager.conf", _check_manager),
        ("http.conf", _check_http),
        ("ari.conf", _check_ari),
        ("extensions.conf", _check_dialplan),
        ("queues.conf", _check_queues),
        ("pjsip.conf", _check_pjsip),
        ("rtp.conf", _check_rtp),
        ("modules.conf", _check_modules),
        ("cdr_manager.conf", _check_cdr_manager),
    )
    for name, run in checks:
        if name in confs:
            problems.extend(run(confs, expect))
    return problems


def needs_pjsip(confs: dict[str, Conf], expect: Expectations) -> str:
    """What needs PJSIP (a trunk template or a queue member), in words; empty when nothing does."""
    if expect.trunk_endpoints:
        return f"the trunk endpoint {expect.trunk_endpoints[0]} is PJSIP"
    queues = confs.get("queues.conf")
    if queues is not None:
        for section in queues.sections:
            for member in (i for i in queues.items(section) if i.key == "member"):
                if member.value.split("/", 1)[0].strip().upper() == "PJSIP":
                    return f"the queue member {member.value.split(',')[0].strip()} is PJSIP"
    return ""


def _enabled(conf: Conf, section: str, key: str = "enabled") -> Iterator[Problem]:
    found = conf.find(section)
    if not found:
        yield Problem(conf.name, 0, f"no [{section}] section")
        return
    item = conf.get(found[0], key)
    if item is None or item.value.lower() not in {"yes", "true", "on", "1"}:
        yield Problem(conf.name, item.line if item else found[0].line, f"{key} is not yes")


def _classes(raw: Iterable[str]) -> set[str]:
    return {c.strip().lower() for value in raw for c in value.split(",") if c.strip()}


def _check_manager(confs: dict[str, Conf], expect: Expectations) -> Iterator[Problem]:
    conf = confs["manager.conf"]
    yield from _enabled(conf, "general")
    for user in expect.ami_users:
        found = conf.find(user)
        if not found:
            yield Problem(conf.name, 0, f"no AMI user [{user}] (the gateway logs in as {user})")
            continue
        section = found[0]
        where = section.line
        if not conf.values(section, "secret"):
            yield Problem(conf.name, where, f"[{user}] has no secret")
        if not conf.values(section, "deny") or not conf.values(section, "permit"):
            yield Problem(conf.name, where, f"[{user}] has no ACL (deny all, then permit)")
        read = _classes(conf.values(section, "read"))
        write = _classes(conf.values(section, "write"))
        if "all" not in read:
            for missing in sorted(REQUIRED_READ - read):
                yield Problem(conf.name, where, f"[{user}] lacks read class {missing!r}")
        for missing in sorted(REQUIRED_WRITE - write if "all" not in write else set()):
            yield Problem(conf.name, where, f"[{user}] lacks write class {missing!r}")
        for extra in sorted(write & FORBIDDEN_WRITE):
            yield Problem(conf.name, where, f"[{user}] write class {extra!r} is more than needed")
        yield from _check_event_filters(conf, section, expect)


def _check_event_filters(conf: Conf, section: Section, expect: Expectations) -> Iterator[Problem]:
    filters = [i for i in conf.items(section) if i.key.startswith("eventfilter")]
    if not filters:
        yield Problem(conf.name, section.line, f"[{section.name}] has no eventfilter")
        return
    included: set[str] = set()
    for item in filters:
        if "action(exclude)" in item.key or item.value.startswith("!"):
            continue
        named = _FILTER_NAME.search(item.key)
        if named:
            included.add(named.group(1).strip())
        elif match := re.fullmatch(r"Event:\s*([A-Za-z]+)", item.value):
            included.add(match.group(1))
    for event in expect.used_events:
        if event not in included:
            message = f"[{section.name}] eventfilter drops {event}, which the gateway uses"
            yield Problem(conf.name, section.line, message)


def _check_http(confs: dict[str, Conf], expect: Expectations) -> Iterator[Problem]:
    yield from _enabled(confs["http.conf"], "general")


def _check_ari(confs: dict[str, Conf], expect: Expectations) -> Iterator[Problem]:
    conf = confs["ari.conf"]
    yield from _enabled(conf, "general")
    for user in expect.ari_users:
        found = [s for s in conf.find(user) if conf.value(s, "type") == "user"]
        if not found:
            yield Problem(conf.name, 0, f"no ARI user [{user}] with type = user")
            continue
        section = found[0]
        if not conf.values(section, "password"):
            yield Problem(conf.name, section.line, f"[{user}] has no password")
        read_only = conf.get(section, "read_only")
        if read_only is not None and read_only.value.lower() in {"yes", "true", "1"}:
            yield Problem(conf.name, read_only.line, f"[{user}] is read_only: it cannot originate")


@dataclass(frozen=True, slots=True)
class Step:
    app: str
    args: str
    line: int


def _steps(section: Section) -> Iterator[tuple[str | None, Step]]:
    """``(extension, step)`` for each ``exten =>`` / ``same =>`` line, in file order."""
    extension: str | None = None
    for item in section.items:
        if item.key not in {"exten", "same"}:
            continue
        parts = item.value.split(",", 2 if item.key == "exten" else 1)
        if item.key == "exten":
            extension = parts[0].strip()
        app, _, args = parts[-1].partition("(")
        yield extension, Step(app.strip().lower(), args.rstrip().removesuffix(")"), item.line)


def dialplan_steps(conf: Conf, context: str, extension: str) -> list[Step]:
    """The applications of ``context``/``extension`` in priority order."""
    return [s for sec in conf.find(context) for ext, s in _steps(sec) if ext == extension]


def _check_dialplan(confs: dict[str, Conf], expect: Expectations) -> Iterator[Problem]:
    conf = confs["extensions.conf"]
    steps = dialplan_steps(conf, CONTRACT_CONTEXT, "s")
    if not steps:
        yield Problem(conf.name, 0, f"no extension s in context [{CONTRACT_CONTEXT}]")
    else:
        yield from _check_contract_order(conf, steps)
        yield from _check_agent_path(conf, steps)
    for section in conf.sections:
        for item in section.items:
            for name in _VARIABLE.findall(item.value):
                if name not in CONTRACT_VARIABLES:
                    yield Problem(conf.name, item.line, f"${{{name}}} is not a gateway variable")
    ledger = dialplan_steps(conf, LEDGER_CONTEXT, "s")
    if not any(s.app == "set" and LEDGER_WRITE.fullmatch(s.args.strip()) for s in ledger):
        yield Problem(
            conf.name, ledger[0].line if ledger else 0,
            f"[{LEDGER_CONTEXT}] s does not write the outcome ledger line (README, 'The outcome "
            "ledger'): calls that end while the link is down would be recorded unknown",
        )  # fmt: skip
    all_steps = [s for sec in conf.sections for _, s in _steps(sec)]
    for app in expect.ari_apps:
        if not any(s.app == "stasis" and s.args.split(",")[0].strip() == app for s in all_steps):
            yield Problem(conf.name, 0, f"no Stasis({app}) entry for the ARI application {app!r}")


def _check_agent_path(conf: Conf, steps: list[Step]) -> Iterator[Problem]:
    """An agent-only callback goes to its agent (README, "The dialplan contract"): without this
    path its DIALER_AGENT_INTERFACE is ignored and the queue gives the call to anyone."""
    first = steps[0].line
    queue = next((s.line for s in steps if s.app == "queue"), None)
    if not any(s.app in ("gotoif", "execif") and "DIALER_AGENT_INTERFACE" in s.args
               and (queue is None or s.line < queue) for s in steps):  # fmt: skip
        yield Problem(conf.name, first, "${DIALER_AGENT_INTERFACE} is not tested before Queue()")
    if not any(s.app == "dial" and AGENT_DIAL.fullmatch(s.args.strip()) for s in steps):
        yield Problem(
            conf.name, first,
            f"[{CONTRACT_CONTEXT}] s: no Dial(${{DIALER_AGENT_INTERFACE}},"
            f"${{QUEUE_WAIT}},U({AGENT_CONTEXT}^…)) for agent-only callbacks",
        )  # fmt: skip
    sub = dialplan_steps(conf, AGENT_CONTEXT, "s")
    if not any(s.app == "userevent" and AGENT_EVENT.fullmatch(s.args.strip()) for s in sub):
        yield Problem(
            conf.name, sub[0].line if sub else 0,
            f"[{AGENT_CONTEXT}] s does not send UserEvent(DialerAgentConnect,AttemptId: "
            "${ARG1},Queue: ${ARG2},Interface: ${ARG3}): an agent-only callback's connect "
            "would not be seen",
        )  # fmt: skip


def _check_contract_order(conf: Conf, steps: list[Step]) -> Iterator[Problem]:
    position = 0
    first = steps[0].line
    for what, apps, pattern in CONTRACT_STEPS:
        wanted = set(apps.split("|"))
        found = next(
            (i for i in range(position, len(steps))
             if steps[i].app in wanted and re.fullmatch(pattern, steps[i].args.strip())),
            None,
        )  # fmt: skip
        if found is None:
            yield Problem(
                conf.name, first, f"[{CONTRACT_CONTEXT}] s: {what} missing or out of order"
            )
            continue
        position = found + 1
    amd = [s for s in steps if s.app == "amd"]
    guarded = any("DIALER_AMD" in s.args for s in steps if amd and s.line < amd[0].line)
    if amd and not guarded:
        yield Problem(conf.name, amd[0].line, "AMD() runs without testing ${DIALER_AMD}")
    yield from _check_connect_clock(conf, steps)
    tests = " ".join(s.args for s in steps if "QUEUESTATUS" in s.args and s.app != "userevent")
    for status in QUEUE_STATUSES_NO_AGENT:
        if status not in tests:
            yield Problem(conf.name, first, f"QUEUESTATUS {status} does not lead to the message")


def _check_connect_clock(conf: Conf, steps: list[Step]) -> Iterator[Problem]:
    """The 2 s rule with AMD (README, "The dialplan contract"): AMD's total analysis time is
    bounded by the limit, and a ``${QUEUE_WAIT}`` is what is left of it (``CONNECT_BY``)."""
    for amd in (s for s in steps if s.app == "amd"):
        fields = amd.args.split(",")
        if len(fields) < 4 or "DIALER_CONNECT_TIMEOUT" not in fields[3]:
            yield Problem(
                conf.name, amd.line,
                "AMD()'s total analysis time (4th argument) is not bounded by "
                "${DIALER_CONNECT_TIMEOUT}: the callee would wait through AMD past the limit",
            )  # fmt: skip
    queue = next((s for s in steps if s.app == "queue"), None)
    if queue is not None:
        yield from _check_predial(conf, queue)
    if queue is None or "${QUEUE_WAIT}" not in queue.args:
        return
    sets = [s for s in steps if s.app == "set" and s.line < queue.line]
    clock = any(
        s.args.startswith("CONNECT_BY=") and "DIALER_CONNECT_TIMEOUT" in s.args for s in sets
    )
    wait = any(s.args.startswith("QUEUE_WAIT=") and "CONNECT_BY" in s.args for s in sets)
    if not (clock and wait):
        yield Problem(
            conf.name, queue.line,
            "Queue()'s ${QUEUE_WAIT} is not set from CONNECT_BY (the answer time plus "
            "${DIALER_CONNECT_TIMEOUT}): the time AMD took would not count against the limit",
        )  # fmt: skip


_PREDIAL = re.compile(r"(?:^|[,)(])b\(([^)^]+)(?:\^([^)^]+))?")


def _check_predial(conf: Conf, queue: Step) -> Iterator[Problem]:
    """Queue()'s ``b(context^exten^priority)`` predial handler (auto-answer headers) exists, and
    sets ``PJSIP_HEADER`` only behind a channel-type test: a ``Local/`` member, or an Asterisk
    built without pjproject, must never run it."""
    options = queue.args.split(",")[1] if "," in queue.args else ""
    found = _PREDIAL.search(options)
    if found is None:
        return
    context, exten = found.group(1), found.group(2) or "s"
    handler = dialplan_steps(conf, context, exten)
    if not handler:
        yield Problem(conf.name, queue.line, f"Queue() b() handler [{context}] {exten} missing")
        return
    guarded = False
    for step in handler:
        guarded = guarded or ("channeltype" in step.args and "PJSIP" in step.args)
        if "PJSIP_HEADER" in step.args and not guarded:
            yield Problem(
                conf.name, step.line,
                f"[{context}] sets PJSIP_HEADER without testing CHANNEL(channeltype) = PJSIP",
            )  # fmt: skip


def _check_queues(confs: dict[str, Conf], expect: Expectations) -> Iterator[Problem]:
    conf = confs["queues.conf"]
    queues = [s for s in conf.sections if not s.is_template and s.name != "general"]
    if not queues:
        yield Problem(conf.name, 0, "no queue defined")
    for name in expect.queues:
        if not conf.find(name):
            yield Problem(conf.name, 0, f"no queue [{name}] (a campaign uses it)")
    endpoints = _endpoint_names(confs.get("pjsip.conf"))
    for queue in queues:
        priority = conf.get(queue, "timeoutpriority")
        if priority is not None and priority.value.lower() == "conf":
            message = f"[{queue.name}] timeoutpriority = conf overrides the 2 s connect limit"
            yield Problem(conf.name, priority.line, message)
        ringinuse = conf.get(queue, "ringinuse")
        if ringinuse is not None and ringinuse.value.lower() in {"yes", "true", "1"}:
            yield Problem(conf.name, ringinuse.line, f"[{queue.name}] ringinuse offers busy agents")
        for member in (i for i in conf.items(queue) if i.key == "member"):
            interface = member.value.split(",")[0].strip()
            tech, _, resource = interface.partition("/")
            if tech.upper() == "PJSIP" and endpoints is not None and resource not in endpoints:
                yield Problem(conf.name, member.line, f"member {interface}: no such pjsip endpoint")


def _endpoint_names(conf: Conf | None) -> set[str] | None:
    if conf is None:
        return None
    return {
        s.name for s in conf.sections if not s.is_template and conf.value(s, "type") == "endpoint"
    }


def _check_pjsip(confs: dict[str, Conf], expect: Expectations) -> Iterator[Problem]:
    conf = confs["pjsip.conf"]
    endpoints = _endpoint_names(conf) or set()
    for name in expect.trunk_endpoints:
        if name not in endpoints:
            yield Problem(conf.name, 0, f"no endpoint [{name}] for the trunk template")
    for section in conf.sections:
        if section.is_template or section.name not in endpoints:
            continue
        direct = conf.get(section, "direct_media")
        if direct is not None and direct.value.lower() in {"yes", "true", "1"}:
            message = f"[{section.name}] direct_media = yes: Asterisk would not see RTCP"
            yield Problem(conf.name, direct.line, message)


def _check_rtp(confs: dict[str, Conf], expect: Expectations) -> Iterator[Problem]:
    conf = confs["rtp.conf"]
    for section in conf.find("general"):
        interval = conf.get(section, "rtcpinterval")
        if interval is not None and interval.value.strip() == "0":
            yield Problem(conf.name, interval.line, "rtcpinterval = 0 disables RTCP reports")


def _check_modules(confs: dict[str, Conf], expect: Expectations) -> Iterator[Problem]:
    conf = confs["modules.conf"]
    found = conf.find("modules")
    if not found:
        yield Problem(conf.name, 0, "no [modules] section")
        return
    section = found[0]
    loaded = {v.removesuffix(".so") for k in ("load", "require", "preload", "preload-require")
              for v in conf.values(section, k)}  # fmt: skip
    autoload = conf.value(section, "autoload", "no").lower() == "yes"
    required = REQUIRED_MODULES + (PJSIP_MODULES if needs_pjsip(confs, expect) else ())
    for item in conf.items(section):
        if item.key == "noload" and item.value.removesuffix(".so") in required:
            yield Problem(conf.name, item.line, f"noload {item.value}: the dialer needs it")
    if not autoload:
        for module in required:
            if module not in loaded:
                yield Problem(conf.name, section.line, f"{module} is not loaded (autoload = no)")


def _check_cdr_manager(confs: dict[str, Conf], expect: Expectations) -> Iterator[Problem]:
    yield from _enabled(confs["cdr_manager.conf"], "general")


# --- command line ----------------------------------------------------------------------------


def expectations_from_settings(config: Path | None, queues: Sequence[str]) -> Expectations:
    """Build the expectations from the gateway's settings (its ``[[servers]]``), if any."""
    if config is None:
        return Expectations(queues=tuple(queues))
    servers = load_settings(os.environ, config).servers
    if not servers:
        return Expectations(queues=tuple(queues))
    endpoints = {m.group(1) for s in servers if (m := _TRUNK_ENDPOINT.match(s.trunk))}
    return Expectations(
        ami_users=tuple(sorted({s.ami_username for s in servers})),
        ari_users=tuple(sorted({s.ari_username for s in servers})),
        ari_apps=tuple(sorted({s.ari_app for s in servers})),
        trunk_endpoints=tuple(sorted(endpoints)),
        queues=tuple(queues),
    )


def _run_check(args: argparse.Namespace) -> int:
    expect = expectations_from_settings(getattr(args, "config", None), args.queue)
    problems = check(args.dir, expect)
    for problem in problems:
        sys.stdout.write(f"{args.dir}/{problem}\n")
    if problems:
        return 1
    sys.stdout.write(f"{args.dir}: consistent with the gateway ({len(FILES)} files checked)\n")
    return 0


def register(subparsers: Subparsers) -> None:
    """Add ``config check-asterisk [--dir DIR] [--queue NAME]…``."""
    config = subparsers.add_parser("config", help="configuration checks")
    checks = config.add_subparsers(dest="config_command", metavar="CHECK", required=True)
    parser = checks.add_parser(
        "check-asterisk",
        help="check an Asterisk configuration directory against what the gateway uses",
        description="Exit 0 when consistent; otherwise print one line per problem and exit 1. "
        "With the global --config, the AMI/ARI users, ARI apps and trunks come from [[servers]].",
    )
    parser.add_argument("--dir", type=Path, default=Path("asterisk_conf"), metavar="DIR")
    parser.add_argument(
        "--queue", action="append", default=[], metavar="NAME", help="a queue a campaign uses"
    )
    parser.set_defaults(handler=_run_check)
