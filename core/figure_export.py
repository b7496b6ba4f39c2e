"""The figures as a CSV file: what `/export` sends.

One row per scope: the scope asked for first (a school, or the whole program), then, when program
staff export the whole program, one row per school. Columns have stable English names (below) so
a spreadsheet built on them keeps working whatever the reader's language; numbers use a dot for
decimals, an empty cell where there is no value (no ended match, no answer yet). The file is UTF-8
with a byte-order mark, so Excel shows accented school names right.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.figure_period import Period
from core.model import Figures


@dataclass(frozen=True, slots=True)
class Row:
    scope: str  # a school's name, or the program's (in the reader's language)
    school_id: int | None
    figures: Figures


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not read as a formula (a school called "=…")."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text


def _one(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _share(f: Figures) -> str:
    return _one(100 * f.influenced / f.influence_answers if f.influence_answers else None)


COLUMNS: tuple[tuple[str, Callable[[Figures], object]], ...] = (
    ("participants", lambda f: f.participants),
    ("students", lambda f: f.students),
    ("mentors", lambda f: f.mentors),
    ("vetted_mentors", lambda f: f.vetted_mentors),
    ("active_mentors", lambda f: f.active_mentors),
    ("coordinators", lambda f: f.coordinators),
    ("schools", lambda f: f.schools),
    ("active_matches", lambda f: f.active_matches),
    ("ended_matches", lambda f: f.ended_matches),
    ("average_days", lambda f: _one(f.average_days)),
    ("first_response_hours", lambda f: _one(f.first_response_hours)),
    ("answered_matches", lambda f: f.answered_matches),
    ("waiting_matches", lambda f: f.waiting_matches),
    ("relayed", lambda f: f.relayed),
    ("influenced", lambda f: f.influenced),
    ("influence_answers", lambda f: f.influence_answers),
    ("influenced_percent", _share),
)
HEADER = ("scope", "school_id", "period", "since", "last_day",
          *(name for name, _ in COLUMNS))


def figures_csv(rows: Sequence[Row], period: Period, since: str, last_day: str) -> bytes:
    """`since` and `last_day`: the period's first and last day as the reader counts them
    (YYYY-MM-DD, empty when open)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in rows:
        writer.writerow((_cell(row.scope), "" if row.school_id is None else row.school_id,
                         period.label, since, last_day,
                         *(value(row.figures) for _, value in COLUMNS)))
    return buffer.getvalue().encode("utf-8-sig")
