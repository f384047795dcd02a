"""Server-side SVG bar charts: geometry computed here, drawn by ``reports/_bar_chart.html``.

No JavaScript and no chart library: a chart is a list of bars with their coordinates in a fixed
``viewBox`` that scales to the page width. Every chart is shown next to a ``<table>`` of the same
figures (the accessible version); the SVG itself carries a title and each bar a ``<title>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

WIDTH = 600
HEIGHT = 220
LABEL_SPACE = 36  # below the bars, for the category labels
TOP_SPACE = 18  # above the tallest bar, for its value
LABEL_CHAR_WIDTH = (
    6.6  # a category label's average character width (11 px DejaVu Sans), viewBox units
)
LABEL_MAX_CHARS = 26


@dataclass(frozen=True)
class Bar:
    label: str
    short_label: str  # the label cut to its bar's slot, so that neighbours never overlap
    value: Decimal
    display: str  # the value as people read it ("$ 1.234.000", "87,5 %")
    x: float
    y: float
    width: float
    height: float
    label_x: float
    value_y: float
    colour: int  # index into the stylesheet's palette (chart-c0 … chart-c4)


@dataclass(frozen=True)
class BarChart:
    title: str
    bars: list[Bar]
    width: int = WIDTH
    height: int = HEIGHT
    baseline: int = HEIGHT - LABEL_SPACE
    label_y: int = HEIGHT - LABEL_SPACE + 16

    @property
    def empty(self) -> bool:
        return not self.bars


def bar_chart(
    title: str,
    points: Sequence[tuple[str, Decimal, str]],
    *,
    colours: Sequence[int] | None = None,
) -> BarChart:
    """Bars for ``points`` (label, value, display); heights are proportional to the largest value."""
    if not points:
        return BarChart(title=title, bars=[])
    plot_height = HEIGHT - LABEL_SPACE - TOP_SPACE
    largest = max((value for _, value, _ in points), default=Decimal(0))
    slot = WIDTH / len(points)
    bar_width = max(4.0, min(60.0, slot * 0.6))
    label_chars = max(3, min(LABEL_MAX_CHARS, int(slot * 0.9 / LABEL_CHAR_WIDTH)))
    bars = []
    for i, (label, value, display) in enumerate(points):
        height = float(value / largest) * plot_height if largest > 0 and value > 0 else 0.0
        x = i * slot + (slot - bar_width) / 2
        bars.append(
            Bar(
                label=label,
                short_label=shorten(label, label_chars),
                value=value,
                display=display,
                x=round(x, 1),
                y=round(HEIGHT - LABEL_SPACE - height, 1),
                width=round(bar_width, 1),
                height=round(height, 1),
                label_x=round(i * slot + slot / 2, 1),
                value_y=round(HEIGHT - LABEL_SPACE - height - 4, 1),
                colour=(colours[i] if colours else 0) % 5,
            )
        )
    return BarChart(title=title, bars=bars)


def shorten(label: str, chars: int) -> str:
    """``label`` in at most ``chars`` characters, an ellipsis marking a cut."""
    return label if len(label) <= chars else label[: chars - 1].rstrip() + "…"
