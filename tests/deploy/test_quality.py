"""Call quality: RTCP units and the simplified E-model, checked against hand-computed tables."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.asterisk.quality import (
    G711_NO_PLC,
    G711_PLC,
    G729A,
    Codec,
    delay_impairment,
    estimate_mos,
    from_report,
    jitter_seconds,
    loss_impairment,
    loss_ratio,
    mos_from_r,
    r_factor,
)


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [(0, 0.0), (1, 1 / 256), (64, 0.25), (128, 0.5), (255, 255 / 256), (-1, 0.0), (300, 255 / 256)],
)
def test_loss_ratio_from_256ths(fraction: int, expected: float) -> None:
    assert loss_ratio(fraction) == expected


@pytest.mark.parametrize(
    ("units", "clock", "expected"),
    [(0, 8000, 0.0), (80, 8000, 0.010), (8, 8000, 0.001), (160, 16000, 0.010), (-5, 8000, 0.0)],
)
def test_jitter_from_rtp_timestamp_units(units: int, clock: int, expected: float) -> None:
    assert jitter_seconds(units, clock) == pytest.approx(expected)


def test_jitter_needs_a_positive_clock() -> None:
    with pytest.raises(ValueError, match="clock_hz"):
        jitter_seconds(80, 0)


@pytest.mark.parametrize(
    ("r", "mos"),
    [
        (-5.0, 1.0),
        (0.0, 1.0),
        (50.0, 2.575),  # 1 + 1.75 + 50·(−10)·50·7e-6
        (70.0, 3.597),  # 1 + 2.45 + 70·10·30·7e-6
        (5.0, 1.0),  # the cubic gives 0.992 here: clamped
        (80.0, 4.0240),  # 1 + 2.8 + 80·20·20·7e-6
        (93.2, 4.4093),  # the default R: 1 + 3.262 + 93.2·33.2·6.8·7e-6
        (100.0, 4.5),
        (120.0, 4.5),
    ],
)
def test_mos_from_r(r: float, mos: float) -> None:
    assert mos_from_r(r) == pytest.approx(mos, abs=1e-4)


@pytest.mark.parametrize(
    ("one_way_s", "id_"),
    [(0.0, 0.0), (0.1, 2.4), (0.1773, 4.2552), (0.2, 7.297), (0.4, 34.097)],
)
def test_delay_impairment(one_way_s: float, id_: float) -> None:
    assert delay_impairment(one_way_s) == pytest.approx(id_, abs=1e-3)


@pytest.mark.parametrize(
    ("loss", "codec", "ie_eff"),
    [
        (0.0, G711_PLC, 0.0),
        (0.01, G711_PLC, 95 / 26.1),  # 95·1/(1 + 25.1)
        (0.05, G711_PLC, 95 * 5 / 30.1),
        (0.01, G711_NO_PLC, 95 / 5.3),
        (0.02, G729A, 19.0),  # 11 + 84·2/(2 + 19)
        (1.0, G711_PLC, 95 * 100 / 125.1),
        (2.0, G711_PLC, 95 * 100 / 125.1),  # clamped to 1
    ],
)
def test_loss_impairment(loss: float, codec: Codec, ie_eff: float) -> None:
    assert loss_impairment(loss, codec) == pytest.approx(ie_eff)


@pytest.mark.parametrize(
    ("jitter_s", "loss", "rtt_s", "r"),
    [
        # d = 0 + 0 + 20 ms packetisation → Id 0.48
        (0.0, 0.0, 0.0, 92.72),
        # d = 50 + 2·10 + 20 = 90 ms → Id 2.16; Ie_eff(1 %) = 3.6398
        (0.010, 0.01, 0.100, 93.2 - 2.16 - 95 / 26.1),
        # d = 200 + 2·30 + 20 = 280 ms → Id 6.72 + 0.11·102.7; Ie_eff(5 %) = 15.7807
        (0.030, 0.05, 0.400, 93.2 - 6.72 - 0.11 * 102.7 - 95 * 5 / 30.1),
    ],
)
def test_r_factor(jitter_s: float, loss: float, rtt_s: float, r: float) -> None:
    assert r_factor(jitter_s, loss, rtt_s) == pytest.approx(r, abs=1e-3)


def test_from_report_converts_ami_fields() -> None:
    q = from_report(fraction_lost_256=3, iajitter_units=80, rtt_s=0.100)
    assert q.loss_ratio == 3 / 256
    assert q.jitter_s == pytest.approx(0.010)
    assert q.rtt_s == 0.100
    assert q.r_factor == pytest.approx(r_factor(0.010, 3 / 256, 0.100))
    assert q.mos == pytest.approx(mos_from_r(q.r_factor))
    assert 4.0 < q.mos < 4.4


def test_a_clean_g711_call_scores_about_4_4() -> None:
    assert estimate_mos(0.001, 0.0, 0.020) == pytest.approx(4.40, abs=0.01)


@given(
    jitter=st.floats(0, 0.5),
    loss=st.floats(0, 1),
    rtt=st.floats(0, 3),
    extra_loss=st.floats(0.001, 0.2),
    extra_rtt=st.floats(0.001, 1),
)
def test_mos_is_bounded_and_worse_with_more_loss_or_delay(
    jitter: float, loss: float, rtt: float, extra_loss: float, extra_rtt: float
) -> None:
    mos = estimate_mos(jitter, loss, rtt)
    assert 1.0 <= mos <= 4.5
    assert estimate_mos(jitter, min(loss + extra_loss, 1.0), rtt) <= mos
    assert estimate_mos(jitter, loss, rtt + extra_rtt) <= mos
