"""`/stats` and `/export`: the program's figures for a coordinator's scope and a period, checked
against values counted by hand on a small seeded program; the chart is a real PNG and the CSV
says what the text says."""

from __future__ import annotations

import csv
import io
import struct
from dataclasses import replace

import pytest
from sqlalchemy import Engine

from core import figures
from core.context import Context, Services
from core.model import Attachment, Envelope, School
from tests.group_scenes import enrol_coordinator, enrol_student
from tests.harness import Harness
from tests.inbox import audit_rows, news, settle, t

HOUR, DAY = 3600, 86400
EVERYONE = ("claire", "paul", "zoe", "leo", "max", "tom", "marc", "lea", "noe", "eve")


@pytest.fixture
def text_world(sqlite_db: Engine, services: Services) -> Harness:
    """A world without a chart renderer: the figures as text only (and no drawing to wait)."""
    return Harness(sqlite_db, replace(services, chart=None))


@pytest.fixture
def text_any_world(any_db: Engine, services: Services) -> Harness:
    """The same, on SQLite and on PostgreSQL (the period and first-answer queries)."""
    return Harness(any_db, replace(services, chart=None))


def program(w: Harness) -> None:
    """Everyone joins on 1 September 2026 at 15:00 UTC (11:00 in Toronto, the coordinators'
    zone) but Tom, on 6 October.

    École A: Zoé with Marc (she writes; Marc answers 2 h later; she ends it 10 days later and
    says it influenced her choice), Léo with Léa (Léa answers 5 h after him), Tom (6 October)
    with Marc (answered in 1 h). École B: Max with Noé (Noé has not answered). Ève, a mentor, is
    not vetted. Claire coordinates A, Paul the whole program.
    """
    with w.store() as store:
        a = store.add_school(School("École A")).id
        b = store.add_school(School("École B")).id
    enrol_student(w, "zoe", "Zoé", a)
    enrol_student(w, "leo", "Léo", a)
    enrol_student(w, "max", "Max", b)
    enrol_coordinator(w, "claire", "Claire", a)
    enrol_coordinator(w, "paul", "Paul", None)
    for user, name in (("marc", "Marc"), ("lea", "Léa"), ("noe", "Noé"), ("eve", "Ève")):
        w.enrol_mentor(user, name)
    zoe = w.match("Zoé", "Marc")
    w.match("Léo", "Léa")
    w.match("Max", "Noé")
    w.say("zoe", "Bonjour")
    w.clock.advance(2 * HOUR)
    w.say("marc", "Allô Zoé")
    w.say("leo", "Salut")
    w.clock.advance(5 * HOUR)
    w.say("lea", "Allô Léo")
    w.say("max", "Hello")
    w.clock.advance(10 * DAY - 7 * HOUR)
    w.say("zoe", "/end")
    w.press("zoe", f"survey:{zoe}:influence:yes")
    w.clock.advance(25 * DAY)  # 6 October
    enrol_student(w, "tom", "Tom", a)
    w.match("Tom", "Marc")
    w.say("tom", "Bonjour Marc")
    w.clock.advance(HOUR)
    w.say("marc", "Allô Tom")
    settle(w, *EVERYONE)


def expected(w: Harness, scope: str, period: str, **figures: object) -> str:
    return t(w, "fr", "stats.show", scope=scope, period=period, **figures)


ALL_TIME = "depuis le début"
SCHOOL_A = dict(participants=8, students=3, mentors=4, vetted=3, active_mentors=2,
                coordinators=1, schools=1, active=2, ended=1, days="10", response="2,0 h",
                answered=3, waiting=0, relayed=6, share="100 %", answers=1)
PROGRAM = dict(participants=10, students=4, mentors=4, vetted=3, active_mentors=3,
               coordinators=2, schools=2, active=3, ended=1, days="10", response="2,0 h",
               answered=3, waiting=1, relayed=7, share="100 %", answers=1)
# September 2026 in Toronto: Tom is not there yet; Zoé's and Léo's answers (2 h, 5 h).
SEPTEMBER = dict(participants=9, students=3, mentors=4, vetted=3, active_mentors=3,
                 coordinators=2, schools=2, active=2, ended=1, days="10", response="3,5 h",
                 answered=2, waiting=1, relayed=5, share="100 %", answers=1)
# The last 30 days, on 6 October: matches started since 6 September (Tom's), Zoé's ended on
# the 11th (Marc accompanied her in the period), Léa and Noé still accompany theirs.
LAST_30_DAYS = dict(participants=10, students=4, mentors=4, vetted=3, active_mentors=3,
                    coordinators=2, schools=2, active=1, ended=1, days="10", response="1,0 h",
                    answered=1, waiting=0, relayed=2, share="100 %", answers=1)


def test_a_schools_figures_and_the_programs(text_any_world: Harness) -> None:
    w = text_any_world
    program(w)
    w.say("claire", "/stats")
    assert news(w, "claire")["claire"] == [expected(w, "École A", ALL_TIME, **SCHOOL_A)]
    w.say("paul", "/stats")
    assert news(w, "paul")["paul"] == [
        expected(w, t(w, "fr", "stats.program"), ALL_TIME, **PROGRAM)]
    w.say("paul", "/stats École B")
    (b,) = news(w, "paul")["paul"]
    assert "École B" in b and "Jeunes inscrits : 1" in b and "1 en attente" in b


def test_figures_over_a_period(text_any_world: Harness) -> None:
    w = text_any_world
    program(w)
    w.say("paul", "/stats 2026-09")
    assert news(w, "paul")["paul"] == [expected(
        w, t(w, "fr", "stats.program"), "du 2026-09-01 au 2026-09-30", **SEPTEMBER)]
    w.say("paul", "/stats 30j")
    assert news(w, "paul")["paul"] == [expected(
        w, t(w, "fr", "stats.program"), "depuis le 2026-09-06", **LAST_30_DAYS)]
    w.say("claire", "/stats École A 2025-2026")  # the school year before: nothing yet
    (before,) = news(w, "claire")["claire"]
    assert "du 2025-07-01 au 2026-06-30" in before and "Participants : 0" in before
    assert "Première réponse des mentors (médiane) : — (sur 0 jumelages; 0 en attente)" \
        in before


def test_every_look_is_audited_with_its_scope_and_period(text_world: Harness) -> None:
    w = text_world
    program(w)
    w.say("claire", "/stats 2026")
    w.say("paul", "/stats École B tout")
    a = w.participant("Claire").id
    looks = [(actor, detail) for actor, action, detail in audit_rows(w) if action == "stats"]
    school_a = w.participant("Zoé").school_id
    school_b = w.participant("Max").school_id
    assert looks == [
        (f"participant:{a}", {"school_id": school_a, "period": "2026",
                              "since": "2026-01-01T05:00:00+00:00",
                              "until": "2027-01-01T05:00:00+00:00",
                              "platform": "playground"}),
        (f"participant:{w.participant('Paul').id}", {"school_id": school_b, "period": "all",
                                                     "since": None, "until": None,
                                                     "platform": "playground"}),
    ]


def test_who_may_see_which_figures(text_world: Harness) -> None:
    w = text_world
    program(w)
    for user in ("zoe", "marc"):  # a student, a mentor
        for command in ("/stats", "/stats 2026"):
            w.say(user, command)
            assert news(w, user)[user] == [t(w, "fr", "command.coordinators_only")]
    for command in ("/stats École B", "/stats École B 30j"):  # another school's
        w.say("claire", command)
        assert news(w, "claire")["claire"] == [t(w, "fr", "stats.not_yours")]
    w.say("paul", "/stats École Z")
    assert news(w, "paul")["paul"] == [t(w, "fr", "stats.unknown_school", name="École Z")]
    w.say("paul", "/stats École A 2026-13")
    assert news(w, "paul")["paul"] == [t(w, "fr", "stats.bad_period", word="2026-13")]
    w.say("paul", "/stats aide")
    assert news(w, "paul")["paul"] == [t(w, "fr", "stats.usage")]
    assert [a for _, a, _ in audit_rows(w) if a == "stats"] == []  # nothing was shown


def test_a_school_whose_name_ends_like_a_period(text_world: Harness) -> None:
    w = text_world
    program(w)
    with w.store() as store:
        store.add_school(School("Collège 2026"))
    w.say("paul", "/stats Collège 2026")
    (whole,) = news(w, "paul")["paul"]
    assert whole.startswith("📊 Chiffres — Collège 2026 (depuis le début)")
    w.say("paul", "/stats Collège 2026 2026")
    (year,) = news(w, "paul")["paul"]
    assert year.startswith("📊 Chiffres — Collège 2026 (du 2026-01-01 au 2026-12-31)")


# The files, where the core hands them over --------------------------------------------------

def run(w: Harness, pseudonym: str, command: object, args: str) -> Attachment:
    """Run a figures command for `pseudonym` in one transaction; the file it sends."""
    (envelope,) = said(w, pseudonym, command, args)
    assert envelope.recipient_id == w.participant(pseudonym).id
    attachment = envelope.message.attachment
    assert attachment is not None
    return attachment


def said(w: Harness, pseudonym: str, command: object, args: str) -> list[Envelope]:
    """What a figures command run for `pseudonym` in one transaction writes to the outbox."""
    with w.store() as store:
        ctx = Context(store, w.services, w.clock())
        p = store.find_participant(pseudonym)
        assert p is not None
        command(ctx, p, args)  # type: ignore[operator]
        store.enqueue(ctx.out, ctx.now)
    return ctx.out


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_stats_sends_the_chart_with_the_text(world: Harness) -> None:
    w = world
    program(w)
    chart = run(w, "Claire", figures.stats, "2026-09")
    assert (chart.name, chart.mime) == ("passerelle-stats-ecole-a-2026-09.png", "image/png")
    width, height = png_size(chart.data)
    assert width == 800 and 400 < height < 2000
    from matplotlib.image import imread

    assert imread(io.BytesIO(chart.data), format="png").shape[:2] == (height, width)


def test_a_chart_that_cannot_be_drawn_leaves_the_text(sqlite_db: Engine,
                                                      services: Services) -> None:
    def broken(_spec: object) -> bytes:
        raise RuntimeError("no fonts")

    w = Harness(sqlite_db, replace(services, chart=broken))
    program(w)
    w.say("claire", "/stats")
    assert news(w, "claire")["claire"] == [expected(w, "École A", ALL_TIME, **SCHOOL_A)]


def read_csv(attachment: Attachment) -> list[dict[str, str]]:
    assert attachment.mime == "text/csv"
    assert attachment.data.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for accents
    return list(csv.DictReader(io.StringIO(attachment.data.decode("utf-8-sig"))))


def as_shown(row: dict[str, str]) -> dict[str, object]:
    """A CSV row's values written the way the French text writes them."""
    hours, days, share = (row[k] for k in ("first_response_hours", "average_days",
                                             "influenced_percent"))
    return dict(
        participants=int(row["participants"]), students=int(row["students"]),
        mentors=int(row["mentors"]), vetted=int(row["vetted_mentors"]),
        active_mentors=int(row["active_mentors"]), coordinators=int(row["coordinators"]),
        schools=int(row["schools"]), active=int(row["active_matches"]),
        ended=int(row["ended_matches"]), days=f"{float(days):.0f}" if days else "—",
        response=f"{hours.replace('.', ',')} h" if hours else "—",
        answered=int(row["answered_matches"]), waiting=int(row["waiting_matches"]),
        relayed=int(row["relayed"]),
        share=f"{float(share):.0f} %" if share else "—", answers=int(row["influence_answers"]),
    )


def test_export_says_in_csv_what_stats_says(text_any_world: Harness) -> None:
    w = text_any_world
    program(w)
    sheet = run(w, "Paul", figures.export, "2026-09")
    assert sheet.name == "passerelle-stats-program-2026-09.csv"
    rows = read_csv(sheet)
    assert [(r["scope"], r["period"], r["since"], r["last_day"]) for r in rows] == [
        ("tout le programme", "2026-09", "2026-09-01", "2026-09-30"),
        ("École A", "2026-09", "2026-09-01", "2026-09-30"),
        ("École B", "2026-09", "2026-09-01", "2026-09-30"),
    ]
    assert as_shown(rows[0]) == SEPTEMBER
    w.say("paul", "/stats École B 2026-09")
    told, text = news(w, "paul")["paul"]
    assert told == t(w, "fr", "stats.export", scope="tout le programme",
                     period="du 2026-09-01 au 2026-09-30", rows=3)
    assert text == expected(w, "École B", "du 2026-09-01 au 2026-09-30", **as_shown(rows[2]))
    (mine,) = read_csv(run(w, "Claire", figures.export, ""))  # a school's: its own row
    assert mine["scope"] == "École A" and as_shown(mine) == SCHOOL_A
    exports = [d for _, a, d in audit_rows(w) if a == "export"]
    assert [(d["period"], d["rows"]) for d in exports] == [("2026-09", 3), ("all", 1)]


def test_export_keeps_to_the_callers_scope(text_world: Harness) -> None:
    w = text_world
    program(w)
    w.say("claire", "/stats")  # where Claire is reached
    settle(w, "claire")
    (refused,) = said(w, "Claire", figures.export, "École B")
    assert refused.message.text == t(w, "fr", "stats.not_yours")
    assert refused.message.attachment is None


def test_the_chart_and_the_file_reach_the_coordinator(world: Harness) -> None:
    """Through the outbox and the delivery worker, as a platform receives them."""
    w = world
    program(w)
    w.say("claire", "/stats 2026-09")
    w.say("claire", "/export 2026-09")
    chart, sheet = w.inbox("claire")
    assert chart.message.text.startswith("📊 Chiffres — École A (du 2026-09-01 au 2026-09-30)")
    assert chart.message.attachment is not None
    png_size(chart.message.attachment.data)
    assert sheet.message.attachment is not None
    (row,) = read_csv(sheet.message.attachment)
    assert row["scope"] == "École A" and row["period"] == "2026-09"
