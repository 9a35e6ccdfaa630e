"""The demo's live terminal view: a pure rendering of one :class:`DemoFrame` with rich.

The demo loop builds a frame about once a second from the runner's statistics and the agents'
snapshot, and hands it to :func:`render`. Nothing here reads clocks, sockets or the database, so
the view is tested by rendering frames to a string.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from pacing.outcomes import Outcome


@dataclass(frozen=True, slots=True)
class DemoFrame:
    """Everything the live view shows at one instant."""

    elapsed_s: float
    campaign: str
    state: str
    calls_last_minute: int
    calls_total: int
    in_flight: int
    outcomes: Mapping[Outcome, int]
    agents_logged_in: int
    agents_on_call: int
    agents_wrapup: int
    agents_free: int
    occupancy: float  # share of logged-in agent time spent talking or wrapping up
    abandon_rate: float  # abandoned / live answers over the run
    abandon_target: float
    dial_level: float  # calls in flight per available agent, as the policy set it
    api_url: str = ""
    notes: tuple[str, ...] = field(default=())


def _pct(value: float) -> str:
    return f"{value * 100:.1f} %"


def _summary(frame: DemoFrame) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    minutes, seconds = divmod(int(frame.elapsed_s), 60)
    table.add_row("campaign", f"{frame.campaign}  [{frame.state}]  {minutes:02d}:{seconds:02d}")
    table.add_row("calls / minute", str(frame.calls_last_minute))
    table.add_row("calls placed", f"{frame.calls_total}  ({frame.in_flight} in flight)")
    table.add_row("pacing level", f"{frame.dial_level:.2f} lines per agent")
    over = frame.abandon_rate > frame.abandon_target
    style = "bold red" if over else "green"
    table.add_row(
        "abandon rate",
        Text(f"{_pct(frame.abandon_rate)}  (target ≤ {_pct(frame.abandon_target)})", style=style),
    )
    return table


def _agents(frame: DemoFrame) -> Table:
    table = Table(title="agents", expand=True)
    for name in ("logged in", "on call", "wrap-up", "free", "occupancy"):
        table.add_column(name, justify="right")
    table.add_row(
        str(frame.agents_logged_in),
        str(frame.agents_on_call),
        str(frame.agents_wrapup),
        str(frame.agents_free),
        _pct(frame.occupancy),
    )
    return table


def _outcomes(frame: DemoFrame) -> Table:
    table = Table(title="outcomes", expand=True)
    shown = [o for o in Outcome if o is not Outcome.DNC]
    for outcome in shown:
        table.add_column(outcome.value, justify="right")
    table.add_row(*(str(frame.outcomes.get(o, 0)) for o in shown))
    return table


def render(frame: DemoFrame) -> Panel:
    """The whole view for one frame."""
    parts: list[Table | Text] = [_summary(frame), _agents(frame), _outcomes(frame)]
    if frame.api_url:
        parts.append(Text(f"control API: {frame.api_url}", style="dim"))
    parts.extend(Text(note, style="dim") for note in frame.notes)
    return Panel(Group(*parts), title="dialer demo", border_style="cyan")
