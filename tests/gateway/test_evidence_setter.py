"""outcome.setter: the positional evidence setters the leg machine uses on its hot path."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from gateway.asterisk.calls.outcome import Evidence, setter
from pacing.outcomes import PbxFault


def test_setter_is_replace_for_every_field_and_pair_and_refuses_unknown_or_repeated() -> None:
    base = Evidence(reason=3, agent="alice", dial_status="BUSY", fault=PbxFault.PBX_LOST)
    names = [f.name for f in dataclasses.fields(Evidence)]
    for name, other in zip(names, names[1:] + names[:1], strict=True):
        value: Any = {bool: True, int: 7, str: "X"}.get(type(getattr(base, name)))
        value2: Any = {bool: True, int: 9, str: "Y"}.get(type(getattr(base, other)))
        one = setter(name)(base, value)
        assert one == dataclasses.replace(base, **{name: value})
        assert type(one) is Evidence
        two = setter(name, other)(base, value, value2)
        assert two == dataclasses.replace(base, **{name: value, other: value2})
    assert base == Evidence(reason=3, agent="alice", dial_status="BUSY", fault=PbxFault.PBX_LOST)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setter("up")(base, True).up = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        setter("no_such_field")
    with pytest.raises(TypeError):
        setter("up", "up")
