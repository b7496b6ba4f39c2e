"""`/stats [school] [period]` and `/export [school] [period]`: the figures the program publishes,
for a coordinator's scope, as a text (with a chart where a renderer is configured) or a CSV file.

A school's coordinator sees their school (its students and their matches; mentors are counted
program-wide, as they serve every school); program staff (a coordinator with no school) see the
whole program, or one school by name. Every look is written to the audit log, with its scope and
period.

How the words are read: if all of them name a school, that school, all time; else the last word
is the period if it reads as one (core.figure_period), the words before it the school; else all of
them are a school's name. So "/stats École 2000" finds the school "École 2000", and
"/stats École 2000 2026" its figures for 2026.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, tzinfo

from core.admin_scope import is_coordinator, school_in_scope
from core.context import Context
from core.figure_chart import figures_chart
from core.figure_export import Row, figures_csv
from core.figure_period import ALL, Period, parse_period
from core.model import Attachment, Figures, Participant
from core.nudges import local_time

log = logging.getLogger("passerelle.figures")

HELP_WORDS = frozenset({"aide", "help", "?"})


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose figures, over which period, as the reader counts days (their time zone)."""

    school_id: int | None  # None: the whole program
    school: str | None  # the school's name
    period: Period
    zone: tzinfo


def stats(ctx: Context, p: Participant, args: str) -> None:
    scope = read_scope(ctx, p, args)
    if scope is None:
        return
    lang = p.language
    f = figures_of(ctx, scope, scope.school_id)
    shown = shown_values(ctx, lang, scope, f)
    attachment = chart(ctx, lang, scope, f, shown)  # drawn before the audit row is written
    audit(ctx, p, "stats", scope)
    ctx.tell(p, "stats.show", attachment=attachment, **shown)


def export(ctx: Context, p: Participant, args: str) -> None:
    """The same figures as a CSV file (core.figure_export says what is in it)."""
    scope = read_scope(ctx, p, args)
    if scope is None:
        return
    lang = p.language
    heading = scope.school or ctx.t(lang, "stats.program")
    rows = [Row(heading, scope.school_id, figures_of(ctx, scope, scope.school_id))]
    if scope.school_id is None:
        rows += [Row(s.name, s.id, figures_of(ctx, scope, s.id))
                 for s in ctx.store.school_list()]
    since, last = days_of(scope)
    data = figures_csv(rows, scope.period, since, last)
    audit(ctx, p, "export", scope, rows=len(rows))
    ctx.tell(p, "stats.export", scope=heading, period=describe(ctx, lang, scope),
             rows=len(rows),
             attachment=Attachment(file_name(scope, "csv"), "text/csv", data))


# Who asks for what ---------------------------------------------------------------------------

def read_scope(ctx: Context, p: Participant, args: str) -> Scope | None:
    """The scope and period `p` asked for, or None once they were told why not."""
    if not is_coordinator(ctx, p):
        return None
    text = args.strip()
    if text.lower() in HELP_WORDS:
        ctx.tell(p, "stats.usage")
        return None
    now = local_time(p, ctx.now, ctx.services.nudge_rules)
    assert now.tzinfo is not None
    named, period = split_words(ctx, text, now)
    if period is None:
        ctx.tell(p, "stats.bad_period", word=text.rsplit(None, 1)[-1][:40])
        return None
    school_id, school = p.school_id, None
    if named:
        found = school_in_scope(ctx, p, named, refused="stats.not_yours")
        if found is None:
            return None
        school_id, school = found.id, found.name
    elif p.school_id is not None:
        own = ctx.store.school(p.school_id)
        school = own.name if own else None
    return Scope(school_id, school, period, now.tzinfo)


def split_words(ctx: Context, text: str, now: datetime) -> tuple[str, Period | None]:
    """(the school's name, the period): the period None when the last word tried to be one
    and is not (then nothing else is looked up)."""
    if not text:
        return "", ALL
    if ctx.store.find_school(text) is not None:
        return text, ALL
    words = text.rsplit(None, 1)
    period = parse_period(words[-1], now)
    if period is not None:
        return (words[0] if len(words) == 2 else ""), period
    if looks_like_a_period(words[-1]):
        return text, None
    return text, ALL


def looks_like_a_period(word: str) -> bool:
    """A word starting with a digit, or a range: someone meant a period (and mistyped it)."""
    return word[:1].isdigit() or ".." in word


def audit(ctx: Context, p: Participant, action: str, scope: Scope, **more: object) -> None:
    period = scope.period
    ctx.audit(p, action, {  # with the platform it was typed on
        "school_id": scope.school_id, "period": period.label,
        "since": period.since.isoformat() if period.since else None,
        "until": period.until.isoformat() if period.until else None, **more,
    })


# What is counted and how it reads -------------------------------------------------------------

def figures_of(ctx: Context, scope: Scope, school_id: int | None) -> Figures:
    return ctx.store.figures(school_id, since=scope.period.since, until=scope.period.until)


def shown_values(ctx: Context, lang: str, scope: Scope, f: Figures) -> dict[str, object]:
    """The values of `stats.show` (the chart reuses them)."""
    share = (f"{100 * f.influenced / f.influence_answers:.0f} %" if f.influence_answers
             else "—")
    days = f"{f.average_days:.0f}" if f.average_days is not None else "—"
    response = (f"{decimal(lang, f.first_response_hours)} h"
                if f.first_response_hours is not None else "—")
    return dict(
        scope=scope.school or ctx.t(lang, "stats.program"), period=describe(ctx, lang, scope),
        participants=f.participants, students=f.students, mentors=f.mentors,
        vetted=f.vetted_mentors, active_mentors=f.active_mentors,
        coordinators=f.coordinators, schools=f.schools, active=f.active_matches,
        ended=f.ended_matches, days=days, response=response, answered=f.answered_matches,
        waiting=f.waiting_matches, relayed=f.relayed, share=share, answers=f.influence_answers,
    )


def decimal(lang: str, value: float) -> str:
    """One decimal, with the reader's decimal mark (3,5 in French, 3.5 in English)."""
    text = f"{value:.1f}"
    return text.replace(".", ",") if lang == "fr" else text


def days_of(scope: Scope) -> tuple[str, str]:
    """The period's first and last day, as the reader counts them (empty: open)."""
    period = scope.period
    since = period.since.astimezone(scope.zone).date().isoformat() if period.since else ""
    last = period.last.astimezone(scope.zone).date().isoformat() if period.last else ""
    return since, last


def describe(ctx: Context, lang: str, scope: Scope) -> str:
    since, last = days_of(scope)
    if since and last:
        return ctx.t(lang, "stats.period.range", since=since, last=last)
    if since:
        return ctx.t(lang, "stats.period.since", since=since)
    if last:
        return ctx.t(lang, "stats.period.until", last=last)
    return ctx.t(lang, "stats.period.all")


# The files ----------------------------------------------------------------------------------

def chart(ctx: Context, lang: str, scope: Scope, f: Figures,
          shown: dict[str, object]) -> Attachment | None:
    """The figures drawn as a PNG, or None (no renderer, or it failed: the text still goes)."""
    render = ctx.services.chart
    if render is None:
        return None
    try:
        data = render(figures_chart(ctx, lang, f, shown))
    except Exception:  # a drawing library's failure must not cost the coordinator the figures
        log.exception("the figures' chart could not be drawn; sending the text alone")
        return None
    return Attachment(file_name(scope, "png"), "image/png", data)


def file_name(scope: Scope, extension: str) -> str:
    """e.g. passerelle-stats-ecole-a-2026-09.png: ASCII, so every platform keeps it."""
    where = slug(scope.school) if scope.school else "program"
    when = scope.period.label.replace("..", "_")
    return f"passerelle-stats-{where or 'school'}-{when}.{extension}"


def slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:40]
