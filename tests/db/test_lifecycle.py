"""The campaign lifecycle table, rule by rule, against the product document."""

from __future__ import annotations

import pytest

from pacing.lifecycle import (
    TRANSITIONS,
    CampaignState,
    Operation,
    OperationRefused,
    allowed_from,
    apply,
)

S = CampaignState
O = Operation  # noqa: E741

# operation -> (allowed from, resulting state or None when the state is kept)
PRODUCT = {
    O.START: ({S.READY, S.STOPPED}, S.RUNNING),
    O.STOP: ({S.RUNNING, S.PAUSED}, S.STOPPED),
    O.PAUSE: ({S.RUNNING}, S.PAUSED),
    O.RESUME: ({S.PAUSED}, S.RUNNING),
    O.RESET: ({S.STOPPED, S.COMPLETED}, S.READY),
    O.FORCE_COMPLETE: ({S.READY, S.RUNNING, S.PAUSED, S.STOPPED}, S.COMPLETED),
    O.COMPLETE: ({S.RUNNING}, S.COMPLETED),
    O.ADD_DATA: ({S.READY, S.COMPLETED}, None),
    O.DOWNLOAD: ({S.READY, S.COMPLETED}, None),
    O.DELETE_RECORDS: ({S.READY, S.PAUSED, S.STOPPED, S.COMPLETED}, None),
}
CASES = [(state, op) for op in Operation for state in CampaignState]


@pytest.mark.parametrize(("state", "operation"), CASES)
def test_rule(state: CampaignState, operation: Operation) -> None:
    allowed, result = PRODUCT[operation]
    if state in allowed:
        assert apply(state, operation) == (result or state)
    else:
        with pytest.raises(OperationRefused) as refused:
            apply(state, operation)
        assert refused.value.state == state
        assert set(refused.value.allowed) == allowed
        assert str(state) in str(refused.value)


def test_table_has_nothing_else() -> None:
    expected = {(s, o) for o, (states, _) in PRODUCT.items() for s in states}
    assert set(TRANSITIONS) == expected


def test_allowed_from_is_in_state_order() -> None:
    assert allowed_from(O.STOP) == (S.RUNNING, S.PAUSED)
