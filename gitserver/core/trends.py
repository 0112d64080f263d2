"""Score trends: a series of scores (oldest first) laid out for a small line chart.

Pure geometry, no HTTP and no SVG: the pages draw the plot as inline SVG from these numbers. The
y axis is pylint's whole range, 0 to 10, so two charts read alike and a fall from 9.8 to 9.6
does not look like a collapse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

SCORE_MAX = 10.0


@dataclass(frozen=True)
class TrendPoint:
    """One score of the series: what it is of (`label`), its state and where it links."""
    label: str
    score: float
    state: str | None
    url: str


@dataclass(frozen=True)
class PlottedPoint:
    """A point of the series at its place in the chart."""
    x: float
    y: float
    point: TrendPoint


@dataclass(frozen=True)
class Plot:
    """The laid-out chart: its size, its points, the line through them and the y gridlines."""
    width: int
    height: int
    points: list[PlottedPoint]
    line: str  # the `points` attribute of an SVG polyline
    grid: list[tuple[float, str]]  # (y, label)

    @property
    def first(self) -> float:
        """The oldest score."""
        return self.points[0].point.score

    @property
    def last(self) -> float:
        """The newest score."""
        return self.points[-1].point.score

    @property
    def low(self) -> float:
        """The lowest score."""
        return min(p.point.score for p in self.points)

    @property
    def high(self) -> float:
        """The highest score."""
        return max(p.point.score for p in self.points)


def plot(series: Sequence[TrendPoint], width: int = 400, height: int = 120,
         margin: int = 28) -> Plot | None:
    """The chart of `series` (oldest first); None when it has no point."""
    if not series:
        return None
    inner_w, inner_h = width - 2 * margin, height - 2 * (margin // 2)
    step = inner_w / (len(series) - 1) if len(series) > 1 else 0.0

    def y_of(score: float) -> float:
        clamped = min(max(score, 0.0), SCORE_MAX)
        return round(margin // 2 + inner_h * (1 - clamped / SCORE_MAX), 1)

    points = [PlottedPoint(round(margin + (index * step if len(series) > 1 else inner_w / 2), 1),
                           y_of(point.score), point) for index, point in enumerate(series)]
    return Plot(width, height, points, " ".join(f"{p.x},{p.y}" for p in points),
                [(y_of(value), f"{value:g}") for value in (0.0, 5.0, 10.0)])
