"""Nudges, check-ins and surveys, driven through weeks of simulated time with a fixed clock:
which go out, to whom, in which language, at which local hour; nothing twice across a restart;
catching up after a downtime.

The harness starts on 2026-09-01 at 15:00 UTC, 11:00 in Toronto (the default time zone).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from core.bus import Bus, sweep
from core.model import MatchStatus
from storage.store import unit_of_work_factory
from storage.tables import NudgeRow, SurveyAnswerRow
from tests.harness import Harness
from tests.inbox import end_survey, news, settle, t

HOUR = 3600.0
DAY = 24 * HOUR
MARC = "Marc (soudeur)"


def pair(w: Harness, english_student: bool = False) -> int:
    """Zoé (student, "kid") matched with Marc (mentor, soudeur, "pro")."""
    w.enrol_student("kid", "Zoé")
    if english_student:
        w.say("kid", "/language")
        w.press("kid", "lang:en")
    w.enrol_mentor("pro", "Marc", profession="soudeur")
    match_id = w.match("Zoé", "Marc")
    settle(w, "kid", "pro")
    return match_id


def run(w: Harness) -> int:
    return sweep(w.bus, w.clock())


def at(w: Harness, when: datetime) -> None:
    """Move the clock to `when` (never back)."""
    assert when >= w.clock.now
    w.clock.now = when


def kinds(w: Harness) -> list[tuple[str, int]]:
    rows = w.sql().conn.execute(
        select(NudgeRow.__table__.c.kind, NudgeRow.__table__.c.participant_id)
        .order_by(NudgeRow.__table__.c.id))
    return [(r.kind, r.participant_id) for r in rows]


# Unanswered questions ----------------------------------------------------------------------------

def test_an_unanswered_question_nudges_the_mentor_then_comforts_the_student(world: Harness
                                                                            ) -> None:
    w = world
    match_id = pair(w)
    w.say("kid", "Tu travailles la nuit?")
    settle(w, "pro")
    w.clock.advance(47 * HOUR)
    assert run(w) == 0
    w.clock.advance(1 * HOUR)  # 48 h: 14:00 in Toronto
    run(w)
    (nudge,) = w.inbox("pro")
    assert nudge.message.text == t(w, "fr", "nudge.unanswered", name="Zoé", hours=48)
    assert [b.action for b in nudge.message.buttons] == [f"today:{match_id}", "pause:on"]
    assert run(w) == 0 and news(w, "kid", "pro") == {"kid": [], "pro": []}  # once
    w.clock.advance(24 * HOUR)
    run(w)
    assert news(w, "kid", "pro") == {
        "kid": [t(w, "fr", "nudge.student_wait", name=MARC)], "pro": []}
    w.clock.advance(30 * DAY)
    w.say("pro", "Oui, parfois.")
    settle(w, "kid")
    assert [k for k, _ in kinds(w)].count("unanswered") == 1


def test_a_mentors_answer_ends_the_wait(world: Harness) -> None:
    w = world
    pair(w)
    w.say("kid", "Question?")
    w.clock.advance(20 * HOUR)
    w.say("pro", "Réponse.")
    settle(w, "kid", "pro")
    w.clock.advance(3 * DAY)
    run(w)
    assert news(w, "kid", "pro") == {"kid": [], "pro": []}


def test_a_paused_mentors_student_is_offered_other_mentors(world: Harness) -> None:
    w = world
    pair(w)
    w.say("kid", "Question?")
    w.say("pro", "/pause")
    settle(w, "kid", "pro")
    w.clock.advance(72 * HOUR)
    run(w)
    said = news(w, "kid")["kid"]
    assert said == [t(w, "fr", "nudge.student_wait_paused", name=MARC)]
    assert "/suggest" in said[0]


def test_the_mentors_buttons(world: Harness) -> None:
    w = world
    match_id = pair(w)
    w.press("pro", f"today:{match_id}")
    assert news(w, "pro")["pro"] == [t(w, "fr", "nudge.today_noted")]
    w.press("kid", f"today:{match_id}")  # not the mentor's: nothing to note
    assert news(w, "kid")["kid"] == [t(w, "fr", "button.stale")]


# Quiet hours, snooze, nudges off ------------------------------------------------------------

def test_a_nudge_due_at_night_waits_for_the_morning(world: Harness) -> None:
    w = world
    pair(w)
    at(w, datetime(2026, 9, 2, 1, 0, tzinfo=UTC))  # 21:00 in Toronto on the 1st
    w.say("kid", "Question de nuit?")
    settle(w, "pro")
    at(w, datetime(2026, 9, 4, 1, 30, tzinfo=UTC))  # 48 h later: 21:30 in Toronto
    assert run(w) == 0
    at(w, datetime(2026, 9, 4, 11, 59, tzinfo=UTC))  # 07:59
    assert run(w) == 0
    at(w, datetime(2026, 9, 4, 12, 0, tzinfo=UTC))  # 08:00
    assert run(w) == 1
    assert len(news(w, "pro")["pro"]) == 1


def test_quiet_hours_are_each_persons_own(world: Harness) -> None:
    w = world
    pair(w)
    mentor = w.participant("Marc")
    mentor.timezone = "Europe/Paris"  # 06:00 in Paris is midnight in Toronto
    with w.store() as store:
        store.save_participant(mentor)
    at(w, datetime(2026, 9, 2, 4, 0, tzinfo=UTC))
    w.say("kid", "Question?")
    settle(w, "pro")
    at(w, datetime(2026, 9, 4, 5, 0, tzinfo=UTC))  # 07:00 in Paris, 01:00 in Toronto
    assert run(w) == 0
    at(w, datetime(2026, 9, 4, 6, 0, tzinfo=UTC))  # 08:00 in Paris, 02:00 in Toronto
    assert run(w) == 1 and len(news(w, "pro")["pro"]) == 1


def test_snooze_delays_and_nudges_off_skips(world: Harness) -> None:
    w = world
    pair(w)
    w.say("pro", "/snooze 1w")
    (said,) = news(w, "pro")["pro"]
    assert said == t(w, "fr", "snooze.set", until="2026-09-08 11:00")
    w.say("kid", "/nudges off")
    assert news(w, "kid")["kid"] == [t(w, "fr", "nudges.off")]
    w.say("kid", "Question?")
    settle(w, "pro")
    w.clock.advance(3 * DAY)
    assert run(w) == 0  # the mentor snoozed; the student would get the kind word: no nudges
    w.clock.advance(5 * DAY)  # the snooze is over
    run(w)
    assert len(news(w, "pro")["pro"]) == 1 and news(w, "kid")["kid"] == []
    w.say("pro", "/snooze demain")
    assert news(w, "pro")["pro"] == [t(w, "fr", "snooze.how")]


# Silence: check-in, warning, the end ------------------------------------------------------------

def test_silence_brings_a_check_in_then_a_warning_then_the_end(world: Harness) -> None:
    w = world
    match_id = pair(w)
    w.clock.advance(14 * DAY)
    run(w)
    got = news(w, "kid", "pro")
    card, question = w.services.kit.card(match_id), w.services.kit.question(match_id)
    assert card is not None and question is not None
    assert got["pro"] == [t(w, "fr", "nudge.checkin_mentor", name="Zoé", idea=card.body_fr)]
    assert got["kid"] == [t(w, "fr", "nudge.checkin_student", name=MARC,
                            idea=question.body_fr)]
    w.clock.advance(46 * DAY)  # day 60 (the day-30 survey, missed meanwhile, comes too)
    run(w)
    got = news(w, "kid", "pro")
    assert got["kid"] == [t(w, "fr", "nudge.silence_warning", name=MARC, days=7),
                          t(w, "fr", "survey.quality", name=MARC)]
    assert got["pro"] == [t(w, "fr", "nudge.silence_warning", name="Zoé", days=7),
                          t(w, "fr", "survey.quality", name="Zoé")]
    w.clock.advance(7 * DAY)  # day 67
    run(w)
    got = news(w, "kid", "pro")
    assert got["kid"] == [t(w, "fr", "end.timeout", name=MARC), *end_survey(w, "student", MARC)]
    assert got["pro"] == [t(w, "fr", "end.timeout", name="Zoé"), *end_survey(w, "mentor", "Zoé")]
    with w.store() as store:
        match = store.match(match_id)
    assert match is not None and match.status is MatchStatus.ENDED and match.ended_by is None


def test_a_message_restarts_the_silence(world: Harness) -> None:
    w = world
    pair(w)
    w.clock.advance(13 * DAY)
    w.say("pro", "Des nouvelles?")
    settle(w, "kid")
    w.clock.advance(13 * DAY)
    assert run(w) == 0
    w.clock.advance(1 * DAY)
    run(w)
    assert len(news(w, "kid")["kid"]) == 1


def test_after_a_long_downtime_a_match_is_warned_before_it_ends(world: Harness) -> None:
    """The sweep did not run for 70 days: one warning (no check-in first), and the end only
    after the warning's full week of notice."""
    w = world
    match_id = pair(w)
    w.clock.advance(70 * DAY)
    run(w)
    got = news(w, "kid", "pro")
    assert got["kid"][0] == t(w, "fr", "nudge.silence_warning", name=MARC, days=7)
    check_in = t(w, "fr", "nudge.checkin_student", name=MARC, idea="")
    assert not [said for said in got["kid"] if said.startswith(check_in)]  # no check-in first
    w.clock.advance(6 * DAY)
    run(w)
    with w.store() as store:
        assert store.match(match_id).status is MatchStatus.ACTIVE  # type: ignore[union-attr]
    w.clock.advance(1 * DAY)
    run(w)
    with w.store() as store:
        assert store.match(match_id).status is MatchStatus.ENDED  # type: ignore[union-attr]


def test_nothing_is_sent_twice_across_a_restart(world: Harness) -> None:
    w = world
    pair(w)
    w.say("kid", "Question?")
    w.clock.advance(31 * DAY)
    first = run(w)
    assert first > 0
    again = Bus(unit_of_work_factory(w.engine), w.services)  # a new process on the same base
    assert sweep(again, w.clock()) == 0
    assert run(w) == 0


# Surveys -----------------------------------------------------------------------------------------

def test_how_is_it_going_at_day_30_then_every_60_days(world: Harness) -> None:
    w = world
    match_id = pair(w)
    for day in range(1, 160):
        at(w, datetime(2026, 9, 1, 15, 0, tzinfo=UTC) + timedelta(days=day))
        if day % 10 == 0:
            w.say("kid", f"jour {day}")  # never silent: only the surveys are due
            w.say("pro", f"réponse {day}")
        run(w)
    quality = [k for k, _ in kinds(w) if k.startswith("quality")]
    assert quality == ["quality:2026-10-01"] * 2 + ["quality:2026-11-30"] * 2 + \
        ["quality:2027-01-29"] * 2
    w.press("kid", f"survey:{match_id}:quality:4")
    w.press("kid", f"survey:{match_id}:quality:5")  # changed their mind: the last counts
    w.press("kid", f"survey:{match_id}:quality:9")  # not an answer
    rows = w.sql().conn.execute(select(SurveyAnswerRow.__table__)).all()
    assert [(r.question, r.answer) for r in rows] == [("quality", "5")]


def test_the_end_survey_is_stored_and_recalled_once(world: Harness) -> None:
    w = world
    match_id = pair(w, english_student=True)
    w.say("kid", "/end")
    said = w.inbox("kid")
    assert [s.message.text for s in said][1:] == end_survey(w, "student", MARC, lang="en")
    influence = said[2].message.buttons
    assert [b.action for b in influence] == [
        f"survey:{match_id}:influence:{a}" for a in ("yes", "somewhat", "no")]
    assert [b.label for b in influence] == ["Yes", "Somewhat", "No"]
    w.press("kid", f"survey:{match_id}:influence:somewhat")
    w.press("kid", f"survey:{match_id}:reason:done")
    settle(w, "kid", "pro")
    w.clock.advance(3 * DAY)
    run(w)
    got = news(w, "kid", "pro")
    assert got["kid"] == []  # answered: no reminder
    assert got["pro"] == [t(w, "fr", "survey.end_reminder")]  # the mentor did not answer
    w.clock.advance(3 * DAY)
    run(w)
    assert news(w, "kid", "pro") == {"kid": [], "pro": []}  # once
    answers = {(r.question, r.answer) for r in
               w.sql().conn.execute(select(SurveyAnswerRow.__table__)).all()}
    assert answers == {("influence", "somewhat"), ("reason", "done")}


def test_a_students_thanks_reach_the_mentor_once(world: Harness) -> None:
    w = world
    match_id = pair(w)
    w.say("kid", "/end")
    settle(w, "kid", "pro")
    w.press("kid", f"thanks:{match_id}")
    w.press("kid", f"thanks:{match_id}")
    assert news(w, "pro")["pro"] == [t(w, "fr", "thanks.received", name="Zoé")]
    assert news(w, "kid")["kid"] == [t(w, "fr", "thanks.sent")] * 2
    w.press("pro", f"thanks:{match_id}")  # a mentor cannot thank on a student's behalf
    assert news(w, "pro")["pro"] == [t(w, "fr", "button.stale")]


def test_each_mentor_gets_their_figures_on_the_first_of_the_month(world: Harness) -> None:
    w = world
    pair(w)
    for text in ("Allô", "Bonjour", "Et ensuite?"):
        w.say("kid", text)
    w.say("pro", "Bienvenue!")
    w.say("pro", "Je fais de la soudure.")
    settle(w, "kid", "pro")
    at(w, datetime(2026, 10, 1, 11, 0, tzinfo=UTC))  # 07:00 in Toronto: still quiet
    run(w)
    assert news(w, "pro")["pro"] == []
    at(w, datetime(2026, 10, 1, 13, 0, tzinfo=UTC))
    run(w)
    got = news(w, "pro")["pro"]
    figures = t(w, "fr", "figures.monthly", students=1, answers=2, month="septembre")
    assert figures in got
    run(w)
    assert figures not in news(w, "pro")["pro"]


def test_each_person_sets_their_own_time_zone(world: Harness) -> None:
    w = world
    pair(w)
    w.say("pro", "/timezone")
    assert news(w, "pro")["pro"] == [t(w, "fr", "timezone.show", zone="America/Toronto")]
    w.say("pro", "/timezone Mars/Olympus")
    assert news(w, "pro")["pro"] == [t(w, "fr", "timezone.unknown", zone="Mars/Olympus")]
    w.say("pro", "/fuseau Europe/Paris")
    assert news(w, "pro")["pro"] == [t(w, "fr", "timezone.set", zone="Europe/Paris")]
    assert w.participant("Marc").timezone == "Europe/Paris"
