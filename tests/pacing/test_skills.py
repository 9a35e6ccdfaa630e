"""Skill routing and the per-group shares, by table (pure: no loop, no clock)."""

from __future__ import annotations

import pytest

from pacing.skills import (
    SkillError,
    SkillGroup,
    groups,
    parse_skill_queues,
    partition_agents,
    queue_for,
    share,
)
from pacing.snapshot import Agent, AgentState

MAP = {"spanish": "sales-es", "french": "sales-fr", "vip": "sales"}


@pytest.mark.parametrize(
    ("skill", "queue"),
    [
        ("", "sales"),  # no skill: the campaign's queue
        ("spanish", "sales-es"),
        ("vip", "sales"),  # a skill may map to the campaign's queue
        ("german", None),  # no queue has it: never dialled
    ],
)
def test_queue_for(skill: str, queue: str | None) -> None:
    assert queue_for(skill, "sales", MAP) == queue


def test_without_a_mapping_every_record_goes_to_the_campaign_queue() -> None:
    assert queue_for("german", "sales", {}) == "sales"
    assert groups("sales", {}) == ()


def test_groups_one_per_queue_campaign_queue_first() -> None:
    assert groups("sales", MAP) == (
        SkillGroup("sales", ("", "vip")),
        SkillGroup("sales-es", ("spanish",)),
        SkillGroup("sales-fr", ("french",)),
    )
    assert groups("sales", {"a": "q2", "b": "q2"}) == (
        SkillGroup("sales", ("",)),
        SkillGroup("q2", ("a", "b")),
    )


@pytest.mark.parametrize(
    "value",
    [
        [],
        {"": "q"},
        {"sp anish": "q"},
        {"spanish": "q,1"},
        {"spanish": ""},
        {"spanish": 3},
        {f"s{i}": "q" for i in range(65)},
    ],
)
def test_bad_mappings_are_refused(value: object) -> None:
    with pytest.raises(SkillError):
        parse_skill_queues(value)


def test_good_mapping_parses() -> None:
    assert parse_skill_queues(MAP) == MAP


def _a(agent_id: str) -> Agent:
    return Agent(agent_id, AgentState.FREE, 0.0)


def test_an_agent_in_two_queues_counts_once_in_the_first() -> None:
    parts = partition_agents([[_a("x"), _a("y")], [_a("y"), _a("z")], [_a("x")]])
    assert [[a.agent_id for a in p] for p in parts] == [["x", "y"], ["z"], []]


@pytest.mark.parametrize(
    ("room", "wants", "given"),
    [
        (None, [3, 2], [3, 2]),
        (10, [3, 2], [3, 2]),
        (5, [3, 2], [3, 2]),
        (4, [3, 1], [3, 1]),
        (2, [3, 1], [2, 0]),  # 1.5 / 0.5: the larger fraction first, ties by order
        (3, [2, 2, 2], [1, 1, 1]),
        (1, [2, 2], [1, 0]),
        (0, [2, 2], [0, 0]),
        (-3, [2], [0]),
        (5, [0, -1, 7], [0, 0, 5]),
    ],
)
def test_share(room: int | None, wants: list[int], given: list[int]) -> None:
    assert share(room, wants) == given
    assert sum(given) <= (sum(max(0, w) for w in wants) if room is None else max(room, 0))
