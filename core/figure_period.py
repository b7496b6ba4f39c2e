"""The period of `/stats` and `/export`, as a coordinator types it.

One word, read in the coordinator's own time zone (calendar days, months and years start at their
local midnight) and turned into a half-open interval [since, until) in UTC for the store:

    30d 30j      the last 30 days (d: days, j: jours)      12w 12s   the last 12 weeks
    6m           the last 6 calendar months                1y 1a     the last year
    2026         a calendar year                           2026-09   a month
    2026-09-15   a day                                     2025-2026 a school year (1 July 2025
                                                                     to 30 June 2026; 2023-2026:
                                                                     three school years)
    2025-09..2026-06   from the start of the first to the end of the second (years, months or
                       days; either side may be left empty: `2026-01..`, `..2025-12`)
    all tout     all time (the default)

Anything else is not a period (None): the caller then reads the word as part of a school's name.
The parser never raises, whatever it is given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

ALL_WORDS = frozenset({"all", "tout"})
SCHOOL_YEAR_MONTH = 7  # a school year runs from 1 July to 30 June: consecutive ones tile

_RELATIVE = re.compile(r"([0-9]{1,5})([djwsmya])")
_UNITS = {"d": "d", "j": "d", "w": "w", "s": "w", "m": "m", "y": "y", "a": "y"}
_LIMITS = {"d": 36_600, "w": 5_200, "m": 1_200, "y": 100}  # a century back at most
_DATE = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")
_SCHOOL_YEARS = re.compile(r"([0-9]{4})-([0-9]{4})")  # ASCII digits only
_FIRST_YEAR, _LAST_YEAR = 1970, 2999


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open interval of time; None on a side: unbounded on that side."""

    since: datetime | None = None  # the first instant included (UTC)
    until: datetime | None = None  # the first instant after the period (UTC)
    label: str = "all"  # the canonical spelling: parse_period(label) gives this period back

    @property
    def last(self) -> datetime | None:
        """The last instant included, for saying "to <that day>"."""
        return self.until - timedelta(microseconds=1) if self.until is not None else None


ALL = Period()


def parse_period(text: str, now: datetime) -> Period | None:
    """The period `text` names, seen from `now` (aware; its zone is the reader's), or None."""
    word = text.strip().lower()
    if word in ALL_WORDS:
        return ALL
    if now.tzinfo is None or len(word) > 40:
        return None
    for reader in (_relative, _school_years, _range):
        found = reader(word, now)
        if found is not None:
            return found
    bounds = _calendar(word, now.tzinfo)
    return _period(bounds[0], bounds[1], word) if bounds else None


def _period(since: datetime | None, until: datetime | None, label: str) -> Period | None:
    if since is not None and until is not None and since >= until:
        return None
    return Period(_utc(since), _utc(until), label)


def _utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment is not None else None


def _relative(word: str, now: datetime) -> Period | None:
    """`30d`: from the same time 30 days ago, up to now (open: nothing is later than now)."""
    found = _RELATIVE.fullmatch(word)
    if found is None:
        return None
    n, unit = int(found.group(1)), _UNITS[found.group(2)]
    if not 1 <= n <= _LIMITS[unit]:
        return None
    if unit in ("d", "w"):
        since = now - timedelta(days=n * (7 if unit == "w" else 1))
    else:
        since = _months_back(now, n * (12 if unit == "y" else 1))
    return Period(_utc(since), None, f"{n}{unit}")


def _months_back(moment: datetime, months: int) -> datetime:
    """The same local time `months` calendar months earlier (the 31st becomes the month's
    last day when the month is shorter)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, _days_in(year, month + 1))
    return moment.replace(year=year, month=month + 1, day=day)


def _days_in(year: int, month: int) -> int:
    following = datetime(year + month // 12, month % 12 + 1, 1)
    return (following - timedelta(days=1)).day


def _school_years(word: str, now: datetime) -> Period | None:
    found = _SCHOOL_YEARS.fullmatch(word)
    if found is None:
        return None
    first, last = int(found.group(1)), int(found.group(2))
    if not _FIRST_YEAR <= first < last <= _LAST_YEAR:
        return None
    zone = now.tzinfo
    return _period(datetime(first, SCHOOL_YEAR_MONTH, 1, tzinfo=zone),
                   datetime(last, SCHOOL_YEAR_MONTH, 1, tzinfo=zone), word)


def _range(word: str, now: datetime) -> Period | None:
    """`A..B`: from the start of A to the end of B (each a year, a month or a day)."""
    if word.count("..") != 1:
        return None
    start, end = word.split("..")
    if not start and not end:
        return None
    zone = now.tzinfo
    assert zone is not None
    since = _calendar(start, zone) if start else (None, None)
    until = _calendar(end, zone) if end else (None, None)
    if since is None or until is None:
        return None
    return _period(since[0], until[1], word)


def _calendar(word: str, zone: tzinfo) -> tuple[datetime, datetime] | None:
    """The local start and end (excluded) of the year, month or day `word` spells exactly."""
    found = _DATE.fullmatch(word)
    if found is None:
        return None
    year, month, day = (int(g) if g else None for g in found.groups())
    assert year is not None
    if not _FIRST_YEAR <= year <= _LAST_YEAR:
        return None
    if month is None:
        return datetime(year, 1, 1, tzinfo=zone), datetime(year + 1, 1, 1, tzinfo=zone)
    if not 1 <= month <= 12:
        return None
    if day is None:
        start = datetime(year, month, 1, tzinfo=zone)
        return start, datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone)
    if not 1 <= day <= _days_in(year, month):
        return None
    start = datetime(year, month, day, tzinfo=zone)
    following = start.date() + timedelta(days=1)
    return start, datetime(following.year, following.month, following.day, tzinfo=zone)
