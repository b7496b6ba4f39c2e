"""Draws the figures' chart (core.figure_chart.ChartSpec) as a PNG, with matplotlib.

Uses matplotlib's object-oriented API on the Agg canvas, never pyplot: pyplot keeps every figure
in a global registry (a leak unless closed) and is not thread-safe, while a bare `Figure` is
garbage like any object once drawn. The panels are stacked, one under the other, so the picture
reads on a phone. matplotlib is imported on the first chart, not at start-up: it takes most of a
second to import, and most processes (the CLI, most tests) never draw one.
"""

from __future__ import annotations

import io
import textwrap
from typing import TYPE_CHECKING

from core.figure_chart import ChartPanel, ChartSpec

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# Okabe–Ito: told apart by colour-blind readers too.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
WIDTH, DPI = 8.0, 100  # inches, dots per inch: 800 pixels wide
# Heights in inches. The layout is computed here, not by a layout engine: matplotlib's
# "constrained" layout doubles the drawing time.
TITLE, BAR, PANEL_TITLE, NOTE, FOOTER_LINE = 0.75, 0.42, 0.4, 0.2, 0.22
CHAR = 0.08  # the width of an average character of a 10-point label
FOOTER_CHARS = 95


def render_chart(spec: ChartSpec) -> bytes:
    """PNG bytes of `spec`: a horizontal bar chart per panel, the title and period on top."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    footer = footer_lines(spec.footer)
    heights = [BAR * max(len(panel.values), 1.5) for panel in spec.panels]
    height = (TITLE + sum(PANEL_TITLE + h + below(panel)
                          for h, panel in zip(heights, spec.panels, strict=True))
              + FOOTER_LINE * len(footer) + 0.15)
    figure = Figure(figsize=(WIDTH, height), dpi=DPI)
    FigureCanvasAgg(figure)
    figure.suptitle(f"{spec.title}\n{spec.subtitle}", fontsize=13, y=1 - 0.1 / height,
                    va="top")
    longest = max((len(label) for panel in spec.panels for label in panel.labels), default=0)
    left = min(max(1.0, CHAR * longest + 0.3), WIDTH / 2) / WIDTH
    top = height - TITLE
    for h, panel in zip(heights, spec.panels, strict=True):
        top -= PANEL_TITLE + h
        draw_panel(figure.add_axes((left, top / height, 0.94 - left, h / height)), panel)
        top -= below(panel)
    if footer:
        figure.text(0.5, 0.1 / height, "\n".join(footer), ha="center", va="bottom",
                    fontsize=9.5)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI)
    figure.clear()
    return out.getvalue()


def footer_lines(footer: str) -> list[str]:
    """The footer on as few lines as fit, broken between its " · "-separated parts."""
    lines: list[str] = []
    for part in footer.split(" · ") if footer else ():
        if lines and len(lines[-1]) + 3 + len(part) <= FOOTER_CHARS:
            lines[-1] += " · " + part
        else:
            lines += textwrap.wrap(part, FOOTER_CHARS) or [""]
    return lines


def below(panel: ChartPanel) -> float:
    """The height under a panel's bars: its scale (shares only) and its note."""
    return (0.35 if panel.percent else 0.15) + (NOTE if panel.note else 0)


def draw_panel(ax: Axes, panel: ChartPanel) -> None:
    """Bars with their values written at their ends, so no scale is needed under counts (each
    tick is costly to draw); a share gets 0, 50 and 100 %."""
    ax.set_title(panel.title, loc="left", fontsize=11, fontweight="bold")
    if not panel.values:
        ax.text(0.5, 0.5, panel.note, ha="center", va="center", transform=ax.transAxes,
                color="#555555")
        ax.set_axis_off()
        return
    places = range(len(panel.values))
    bars = ax.barh(places, panel.values, color=COLOURS[:len(panel.values)])
    ax.set_yticks(list(places), labels=panel.labels)
    ax.tick_params(axis="y", length=0)
    ax.invert_yaxis()  # the first label on top, as it is read
    ax.bar_label(bars, labels=[value_label(v, panel.percent) for v in panel.values], padding=3)
    top = 100.0 if panel.percent else max(max(panel.values), 1)
    ax.set_xlim(0, top * 1.12)
    ax.set_xticks([0, 50, 100] if panel.percent else [],
                  labels=["0 %", "50 %", "100 %"] if panel.percent else [])
    ax.spines[["top", "right"] if panel.percent else ["top", "right", "bottom"]].set_visible(
        False)
    if panel.note:
        ax.set_xlabel(panel.note, fontsize=9, color="#555555")


def value_label(value: float, percent: bool) -> str:
    return f"{value:.0f} %" if percent else f"{value:.0f}"
