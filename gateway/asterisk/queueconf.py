"""Queue-level rules from ``queues.conf``, as AMI ``GetConfig`` returns it. Pure.

Why this exists. Asterisk applies a queue's ``wrapuptime`` to a member whose own wrap-up is
unset, yet ``QueueStatus`` and the ``QueueMember*`` events report only the member's own value
(``Wrapuptime: 0`` when the wrap-up is set on the queue, as the project's ``queues.conf`` does),
and ``QueueParams`` carries no wrap-up at all. Read from events alone, an agent in a queue-level
wrap-up looks free, and the pacing core dials for an agent who will not be offered the call:
the callee is abandoned. So at link-up (and at every queue resync) the gateway reads
``queues.conf`` through ``GetConfig`` and keeps, per queue, what the events leave out.

The answer is one ``Response: Success`` whose headers are ``Category-NNNNNN: name``, optional
``IsTemplate-NNNNNN: 1`` and ``Templates-NNNNNN: a,b``, and ``Line-NNNNNN-MMMMMM: key=value``
(Asterisk's ``action_getconfig``). Templates are skipped as queues; a category's values inherited
from its templates are listed in it by Asterisk already, and are filled in here from the
templates too, in case a build lists only its own lines. ``[general]`` gives
``shared_lastcall`` (wrap-up after a call in one queue holds in every queue of the member).

The wrap-up rule is Asterisk's (``app_queue``'s ``get_wrapuptime``): the member's own wrap-up if
it has one, else the queue's. Nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

_CATEGORY = re.compile(r"Category-(\d{6})")
_LINE = re.compile(r"Line-(\d{6})-(\d{6})")
_TRUE = frozenset({"yes", "true", "y", "t", "1", "on"})


@dataclass(frozen=True, slots=True)
class QueueRules:
    """What one queue's configuration says that its events do not."""

    wrapup_s: int = 0
    ringinuse: bool = True  # Asterisk's default


@dataclass(frozen=True, slots=True)
class QueueConfigView:
    """Every queue of ``queues.conf`` with its rules, and the ``[general]`` switches."""

    queues: Mapping[str, QueueRules] = field(default_factory=dict)
    shared_lastcall: bool = False

    def rules(self, queue: str) -> QueueRules:
        return self.queues.get(queue, QueueRules())


def wrapup_for(member_wrapup_s: int, rules: QueueRules) -> int:
    """Seconds of wrap-up Asterisk applies after a member's call (member's own, else queue's)."""
    return member_wrapup_s if member_wrapup_s > 0 else max(rules.wrapup_s, 0)


def _int(raw: str | None) -> int:
    try:
        return int(raw or "0")
    except ValueError:
        return 0


def parse_getconfig(headers: Iterable[tuple[str, str]]) -> QueueConfigView:
    """The queues of a ``GetConfig`` (``Filename: queues.conf``) response's headers."""
    names: dict[str, str] = {}
    templates: dict[str, list[str]] = {}
    is_template: set[str] = set()
    values: dict[str, dict[str, str]] = {}
    for key, value in headers:
        if (m := _CATEGORY.fullmatch(key)) is not None:
            names[m.group(1)] = value.strip()
        elif key.startswith("IsTemplate-") and value.strip() == "1":
            is_template.add(key.removeprefix("IsTemplate-"))
        elif key.startswith("Templates-"):
            templates[key.removeprefix("Templates-")] = [
                t.strip() for t in value.split(",") if t.strip()
            ]
        elif (m := _LINE.fullmatch(key)) is not None:
            var, _, val = value.partition("=")
            values.setdefault(m.group(1), {}).setdefault(var.strip().lower(), val.strip())
    by_name = {name: values.get(n, {}) for n, name in names.items()}
    general = by_name.get("general", {})
    queues: dict[str, QueueRules] = {}
    for number, name in names.items():
        if name == "general" or number in is_template:
            continue
        own = dict(by_name.get(name, {}))
        for template in templates.get(number, []):
            for var, val in by_name.get(template, {}).items():
                own.setdefault(var, val)
        queues[name] = QueueRules(
            wrapup_s=_int(own.get("wrapuptime")),
            ringinuse=own.get("ringinuse", "yes").lower() in _TRUE,
        )
    return QueueConfigView(queues, general.get("shared_lastcall", "no").lower() in _TRUE)
