"""The statistics page's charts as SVG geometry, drawn by the template (no script, no CDN).

Each line differs by its dash pattern as well as its colour, and every chart has the table
of its numbers beside it, so the charts read without colour.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 640, 220, 40, 28, 10

SERIES = ("requests", "cancels", "intercepts", "failures")
"""The per-day lines, in the order the legend names them."""


@dataclass(frozen=True)
class Line:
    name: str
    points: str  # "x,y x,y ..." for a <polyline>
    last: int


@dataclass(frozen=True)
class DayChart:
    lines: list[Line]
    ticks: list[tuple[float, str]]  # x and the day shown under it
    top: int  # the value at the top of the chart
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom: int = HEIGHT - BOTTOM
    right: int = WIDTH - 8


def days(series: Sequence[dict[str, Any]], max_ticks: int = 6) -> DayChart | None:
    """Requests, cancels, intercepts and failures per day of request; None without days."""
    if not series:
        return None
    top = max(1, *(point[name] for point in series for name in SERIES))
    span = max(1, len(series) - 1)
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP

    def x(i: int) -> float:
        return round(LEFT + plot_w * (i / span if len(series) > 1 else 0.5), 1)

    def y(v: int) -> float:
        return round(TOP + plot_h * (1 - v / top), 1)

    lines = [
        Line(
            name,
            " ".join(f"{x(i)},{y(point[name])}" for i, point in enumerate(series)),
            series[-1][name],
        )
        for name in SERIES
    ]
    step = max(1, -(-len(series) // max_ticks))
    ticks = [(x(i), series[i]["day"][5:]) for i in range(0, len(series), step)]
    return DayChart(lines, ticks, top)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # a share, 0..1; None when nothing was decided
    width: float
    n: int


def rates(by_carrier: dict[str, dict[str, Any]], full: float = 360) -> list[Bar]:
    """Each carrier's intercept success rate (intercepted of decided), as bar widths."""
    return [
        Bar(
            code,
            figures.get("success_rate"),
            round(full * (figures.get("success_rate") or 0), 1),
            figures.get("decided", 0),
        )
        for code, figures in sorted(by_carrier.items())
    ]
