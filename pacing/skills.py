"""Skills: a queue per skill, and pacing per skill group. Pure: no I/O, no clock.

Design. A record may carry a ``skill``; it must be offered only to agents who have it. The
simplest sound way with Asterisk is a queue per skill: agents with the skill are members of that
skill's queue (``asterisk_conf/queues.conf`` has an example), and a call is sent into the queue of
its record's skill (the ``DIALER_QUEUE`` variable of the Originate), so Asterisk itself never
rings an agent outside that queue. A campaign maps skills to queues in its pacing settings
(``pacing.skill_queues``: ``{"spanish": "sales-es"}``); records without a skill go to the
campaign's own queue; a record whose skill no queue takes is never dialled (no agent has it).
Without a mapping nothing changes: one group, every record, the campaign's queue.

Pacing counts supply and demand per group: the runner builds one snapshot per group (the free
agents of that group's queue, the calls in flight sent into it) and asks the policy for each,
so a free Spanish agent never makes the runner dial an English record, and a queue whose agents
are all busy gets no calls however idle the others are. Two things are shared and settled here:

* an agent in several of the campaign's queues is counted once, in the first group (in group
  order) that has it (:func:`partition_agents`); the other groups may still get it from
  Asterisk, so this can under-dial them, never over-dial;
* the campaign-wide room (free trunk channels, the campaign's channel cap, a controlled
  resume's cap) is shared among the groups' wants (:func:`share`): each gets its want when the
  room allows, else a share in proportion, the remainders to the largest fractions first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pacing.errors import PacingError
from pacing.snapshot import Agent

SKILL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"
QUEUE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@/+:-]{0,79}$"  # the edge's strict name grammar
MAX_SKILLS = 64


class SkillError(PacingError):
    """A skill-to-queue mapping is malformed."""


@dataclass(frozen=True, slots=True)
class SkillGroup:
    """The records of ``skills`` (``""``: no skill) are dialled into ``queue``."""

    queue: str
    skills: tuple[str, ...]


def parse_skill_queues(value: object) -> dict[str, str]:
    """A campaign's ``skill_queues`` setting, checked: skill codes to queue names."""
    if not isinstance(value, Mapping):
        raise SkillError("skill_queues must be an object of skill to queue")
    if len(value) > MAX_SKILLS:
        raise SkillError(f"at most {MAX_SKILLS} skills")
    parsed: dict[str, str] = {}
    for skill, queue in value.items():
        if not isinstance(skill, str) or re.fullmatch(SKILL_PATTERN, skill) is None:
            raise SkillError(f"skill {skill!r}: letters, digits and _ . - (at most 32)")
        if not isinstance(queue, str) or re.fullmatch(QUEUE_PATTERN, queue) is None:
            raise SkillError(f"queue {queue!r} of skill {skill!r} is not a valid queue name")
        parsed[skill] = queue
    return parsed


def groups(campaign_queue: str, skill_queues: Mapping[str, str]) -> tuple[SkillGroup, ...]:
    """The campaign's skill groups, one per queue (``()``: no skill routing, dial every record).

    The campaign's queue comes first and takes the records without a skill (and those whose
    skill maps to it); the others follow by queue name. The order is the order of
    :func:`partition_agents`.
    """
    if not skill_queues:
        return ()
    by_queue: dict[str, list[str]] = {campaign_queue: [""]}
    for skill, queue in sorted(skill_queues.items()):
        by_queue.setdefault(queue, []).append(skill)
    first = SkillGroup(campaign_queue, tuple(by_queue.pop(campaign_queue)))
    rest = (SkillGroup(q, tuple(s)) for q, s in sorted(by_queue.items()))
    return (first, *rest)


def queue_for(skill: str, campaign_queue: str, skill_queues: Mapping[str, str]) -> str | None:
    """Where a record with ``skill`` is dialled (None: no queue has the skill: never dialled)."""
    if not skill_queues or not skill:
        return campaign_queue
    return skill_queues.get(skill)


def partition_agents(per_group: Sequence[Sequence[Agent]]) -> list[tuple[Agent, ...]]:
    """Each agent counted once: in the first group that has it."""
    seen: set[str] = set()
    parts = []
    for agents in per_group:
        mine = tuple(a for a in agents if a.agent_id not in seen)
        seen.update(a.agent_id for a in mine)
        parts.append(mine)
    return parts


def share(room: int | None, wants: Sequence[int]) -> list[int]:
    """Split ``room`` calls among the groups' ``wants`` (None: no shared limit)."""
    wants = [max(0, w) for w in wants]
    total = sum(wants)
    if room is None or total <= room:
        return wants
    room = max(0, room)
    exact = [w * room / total for w in wants]
    given = [int(x) for x in exact]
    left = room - sum(given)
    by_fraction = sorted(range(len(wants)), key=lambda i: (given[i] - exact[i], i))
    for i in by_fraction[:left]:
        given[i] += 1
    return given
