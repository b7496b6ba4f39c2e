"""Reading the period of `/stats`: the words it knows, the instants they mean in the reader's
time zone, and that any other text is refused quietly (None), never with an exception."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.figure_period import ALL, Period, parse_period

TORONTO = ZoneInfo("America/Toronto")
NOW = datetime(2026, 10, 6, 12, 30, tzinfo=TORONTO)  # EDT: 16:30 UTC


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(("word", "since", "until", "label"), [
    ("all", None, None, "all"),
    (" TOUT ", None, None, "all"),
    ("30d", utc(2026, 9, 6, 16, 30), None, "30d"),
    ("30j", utc(2026, 9, 6, 16, 30), None, "30d"),
    ("2w", utc(2026, 9, 22, 16, 30), None, "2w"),
    ("2s", utc(2026, 9, 22, 16, 30), None, "2w"),
    ("1m", utc(2026, 9, 6, 16, 30), None, "1m"),
    ("1a", utc(2025, 10, 6, 16, 30), None, "1y"),
    ("2026", utc(2026, 1, 1, 5), utc(2027, 1, 1, 5), "2026"),  # EST: UTC-5
    ("2026-09", utc(2026, 9, 1, 4), utc(2026, 10, 1, 4), "2026-09"),  # EDT: UTC-4
    ("2026-12", utc(2026, 12, 1, 5), utc(2027, 1, 1, 5), "2026-12"),
    ("2026-03-08", utc(2026, 3, 8, 5), utc(2026, 3, 9, 4), "2026-03-08"),  # 23 h: DST starts
    ("2025-2026", utc(2025, 7, 1, 4), utc(2026, 7, 1, 4), "2025-2026"),
    ("2025-09..2026-06", utc(2025, 9, 1, 4), utc(2026, 7, 1, 4), "2025-09..2026-06"),
    ("2026-01..", utc(2026, 1, 1, 5), None, "2026-01.."),
    ("..2025", None, utc(2026, 1, 1, 5), "..2025"),
])
def test_the_words_it_knows(word: str, since: datetime | None, until: datetime | None,
                            label: str) -> None:
    assert parse_period(word, NOW) == Period(since, until, label)


@pytest.mark.parametrize("word", [
    "", "École", "0d", "30x", "2026-13", "2026-02-30", "2026-2025", "2026-2026", "2026..2025",
    "..", "2026..2026..2027", "1969", "99999d", "1 m", "30d..2026", "2025-2026..2027",
    "３０d",  # full-width digits
])
def test_what_is_not_a_period(word: str) -> None:
    assert parse_period(word, NOW) is None


def test_the_31st_counts_back_to_the_end_of_a_shorter_month() -> None:
    march_31 = datetime(2026, 3, 31, 9, tzinfo=TORONTO)
    found = parse_period("1m", march_31)
    assert found is not None and found.since == datetime(2026, 2, 28, 9, tzinfo=TORONTO)


def test_a_naive_now_reads_no_period_but_all() -> None:
    assert parse_period("2026", datetime(2026, 1, 1)) is None
    assert parse_period("all", datetime(2026, 1, 1)) is ALL


zones = st.sampled_from([UTC, TORONTO, ZoneInfo("Europe/Paris"), ZoneInfo("Asia/Kolkata")])
nows = st.builds(lambda moment, zone: moment.replace(tzinfo=UTC).astimezone(zone),
                 st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1)), zones)
years = st.integers(1970, 2999)
months = st.integers(1, 12)


@st.composite
def spelled(draw: st.DrawFn) -> str:
    """Any word the parser knows."""
    year = draw(years)
    month = draw(months)
    day = draw(st.integers(1, 28))
    calendar = draw(st.sampled_from([f"{year}", f"{year}-{month:02d}",
                                     f"{year}-{month:02d}-{day:02d}"]))
    return draw(st.sampled_from([
        calendar,
        f"{draw(st.integers(1, 100))}{draw(st.sampled_from('djwsmya'))}",
        f"{year}-{draw(st.integers(year + 1, 3000))}" if year < 2999 else calendar,
        f"{calendar}..", f"..{calendar}", f"{calendar}..{draw(years)}",
        draw(st.sampled_from(["all", "tout", "ALL", "Tout"])),
    ]))


@given(st.text(max_size=60), nows)
def test_any_text_reads_as_a_period_or_none_never_an_error(text: str, now: datetime) -> None:
    found = parse_period(text, now)
    assert found is None or isinstance(found, Period)


@given(spelled(), nows)
def test_a_period_is_an_interval_in_utc_that_its_label_spells_again(word: str,
                                                                    now: datetime) -> None:
    found = parse_period(word, now)
    if found is None:  # a range whose end comes before its start
        assert ".." in word
        return
    assert found.since is None or found.since.utcoffset() == timedelta(0)
    assert found.until is None or found.until.utcoffset() == timedelta(0)
    if found.since is not None and found.until is not None:
        assert found.since < found.until
    assert parse_period(found.label, now) == found


@given(years, months, nows)
def test_months_tile_and_a_school_year_is_july_to_june(year: int, month: int,
                                                       now: datetime) -> None:
    this = parse_period(f"{year}-{month:02d}", now)
    following = f"{year + month // 12}-{month % 12 + 1:02d}"
    after = parse_period(following, now) if year + month // 12 <= 2999 else None
    assert this is not None
    if year + month // 12 <= 2999:
        assert after is not None and this.until == after.since
    if year < 2999:
        school_year = parse_period(f"{year}-{year + 1}", now)
        by_months = parse_period(f"{year}-07..{year + 1}-06", now)
        assert school_year is not None and by_months is not None
        assert (school_year.since, school_year.until) == (by_months.since, by_months.until)


@given(st.integers(1, 36_600), nows)
def test_the_last_n_days_end_now(n: int, now: datetime) -> None:
    found = parse_period(f"{n}d", now)
    assert found is not None and found.until is None
    assert found.since == (now - timedelta(days=n)).astimezone(UTC)
