"""What the `/stats` chart shows, in the reader's language, for any renderer to draw.

The core describes the chart (titles, labels, values) and a `ChartRenderer` (core.ports; the
matplotlib one is adapters/charts.py) turns the description into PNG bytes: the words come from
the catalogs like every other sentence, and the core never imports a drawing library.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.context import Context
from core.model import Figures


@dataclass(frozen=True, slots=True)
class ChartPanel:
    """One bar chart: a bar per label."""

    title: str
    labels: tuple[str, ...]
    values: tuple[float, ...]
    percent: bool = False  # shares out of 100: the axis runs from 0 to 100
    note: str = ""  # under the panel, e.g. how many answers a share is out of


@dataclass(frozen=True, slots=True)
class ChartSpec:
    title: str
    subtitle: str  # the period
    panels: tuple[ChartPanel, ...]
    footer: str = ""


def figures_chart(ctx: Context, lang: str, f: Figures, shown: dict[str, object]) -> ChartSpec:
    """The chart of figures `f`; `shown` holds the values the text gives (scope, period, the
    formatted duration and response time), so the chart and the text always agree."""

    def t(key: str, **values: object) -> str:
        return ctx.t(lang, key, **values)

    people = ChartPanel(
        t("stats.chart.people"),
        (t("stats.chart.students"), t("stats.chart.mentors"), t("stats.chart.vetted"),
         t("stats.chart.active_mentors"), t("stats.chart.coordinators")),
        (f.students, f.mentors, f.vetted_mentors, f.active_mentors, f.coordinators),
    )
    matches = ChartPanel(
        t("stats.chart.matches"),
        (t("stats.chart.active"), t("stats.chart.ended"), t("stats.chart.waiting")),
        (f.active_matches, f.ended_matches, f.waiting_matches),
    )
    return ChartSpec(
        title=t("stats.chart.title", scope=shown["scope"]),
        subtitle=str(shown["period"]),
        panels=(people, matches, influence_panel(ctx, lang, f)),
        footer=t("stats.chart.footer", relayed=f.relayed, response=shown["response"],
                 days=shown["days"]),
    )


def influence_panel(ctx: Context, lang: str, f: Figures) -> ChartPanel:
    title = ctx.t(lang, "stats.chart.influence")
    if not f.influence_answers:
        return ChartPanel(title, (), (), percent=True, note=ctx.t(lang, "stats.chart.no_answers"))
    share = 100 * f.influenced / f.influence_answers
    return ChartPanel(
        title, (ctx.t(lang, "stats.chart.yes"), ctx.t(lang, "stats.chart.no")),
        (share, 100 - share), percent=True,
        note=ctx.t(lang, "stats.chart.answers", answers=f.influence_answers),
    )
