"""The demo's live view renders every number it is given."""

from __future__ import annotations

from rich.console import Console

from dialer.demo_view import DemoFrame, render
from pacing.outcomes import Outcome


def _text(frame: DemoFrame) -> str:
    console = Console(width=140, record=True, color_system=None)
    console.print(render(frame))
    return console.export_text()


def _frame(abandon_rate: float) -> DemoFrame:
    return DemoFrame(
        elapsed_s=125,
        campaign="demo",
        state="running",
        calls_last_minute=87,
        calls_total=412,
        in_flight=23,
        outcomes={Outcome.ANSWERED: 101, Outcome.ABANDONED: 2, Outcome.BUSY: 31},
        agents_logged_in=20,
        agents_on_call=15,
        agents_wrapup=3,
        agents_free=2,
        occupancy=0.9,
        abandon_rate=abandon_rate,
        abandon_target=0.03,
        dial_level=1.75,
        api_url="http://127.0.0.1:8080/v1",
    )


def test_view_shows_volume_agents_outcomes_and_abandon_rate() -> None:
    text = _text(_frame(0.0194))
    for expected in (
        "87",
        "412",
        "23 in flight",
        "1.75",
        "1.9 %",
        "3.0 %",
        "90.0 %",
        "02:05",
        "answered",
        "101",
        "abandoned",
        "busy",
        "31",
        "http://127.0.0.1:8080/v1",
    ):
        assert expected in text


def test_view_marks_an_abandon_rate_over_target() -> None:
    console = Console(width=140, record=True, force_terminal=True, color_system="standard")
    console.print(render(_frame(0.05)))
    styled = console.export_text(styles=True)
    assert "5.0 %" in styled
    assert "\x1b[1;31m" in styled  # bold red
