"""`/stats`: the program's figures for a coordinator's scope, checked against values counted by
hand on a small seeded program."""

from __future__ import annotations

from core.model import Role, School
from tests.harness import Harness
from tests.inbox import news, settle, t


def student(w: Harness, user: str, pseudonym: str, school: int | None) -> None:
    w.invite(f"S-{user}".upper(), Role.STUDENT, school)
    for text in (f"/start S-{user}", "fr", pseudonym, "16", "1", "ok"):
        w.say(user, text)


def coordinator(w: Harness, user: str, pseudonym: str, school: int | None) -> None:
    w.invite(f"C-{user}".upper(), Role.COORDINATOR, school)
    for text in (f"/start C-{user}", "fr", pseudonym):
        w.say(user, text)


def program(w: Harness) -> None:
    """École A: Zoé (matched with Marc, then ended: influenced "yes") and Léo (matched with
    Marc, active, 2 messages); École B: Max (matched with Léa, active, 1 message). Three
    mentors (Marc and Léa vetted, Noé not). Claire coordinates A, Paul the whole program."""
    with w.store() as store:
        a = store.add_school(School("École A")).id
        b = store.add_school(School("École B")).id
    student(w, "zoe", "Zoé", a)
    student(w, "leo", "Léo", a)
    student(w, "max", "Max", b)
    coordinator(w, "claire", "Claire", a)
    coordinator(w, "paul", "Paul", None)
    for user, name in (("marc", "Marc"), ("lea", "Léa"), ("noe", "Noé")):
        w.enrol_mentor(user, name)
    zoe = w.match("Zoé", "Marc")
    w.match("Léo", "Marc")
    w.match("Max", "Léa")
    w.say("zoe", "Bonjour")
    w.say("zoe", "/end")
    w.press("zoe", f"survey:{zoe}:influence:yes")
    w.say("leo", "Salut")
    w.say("marc", "Allô Léo", reply_to=None)
    w.say("max", "Hello")
    w.clock.advance(3600)
    settle(w, "claire", "paul", "zoe", "leo", "max", "marc", "lea", "noe")


def expected(w: Harness, scope: str, **figures: object) -> str:
    return t(w, "fr", "stats.show", scope=scope, **figures)


def test_a_schools_figures_and_the_programs(world: Harness) -> None:
    w = world
    program(w)
    w.say("claire", "/stats")
    assert news(w, "claire")["claire"] == [expected(
        w, "École A", students=2, mentors=3, vetted=2, active_mentors=1, coordinators=1,
        schools=1, active=1, ended=1, days="0", relayed=3, share="100 %", answers=1)]
    w.say("paul", "/stats")
    assert news(w, "paul")["paul"] == [expected(
        w, t(w, "fr", "stats.program"), students=3, mentors=3, vetted=2, active_mentors=2,
        coordinators=2, schools=2, active=2, ended=1, days="0", relayed=4, share="100 %",
        answers=1)]
    w.say("paul", "/stats École B")
    (b,) = news(w, "paul")["paul"]
    assert "École B" in b and "Jeunes inscrits : 1" in b


def test_who_may_see_which_figures(world: Harness) -> None:
    w = world
    program(w)
    for user in ("zoe", "marc"):  # a student, a mentor
        w.say(user, "/stats")
        assert news(w, user)[user] == [t(w, "fr", "command.coordinators_only")]
    w.say("claire", "/stats École B")  # another school's
    assert news(w, "claire")["claire"] == [t(w, "fr", "stats.not_yours")]
    w.say("paul", "/stats École Z")
    assert news(w, "paul")["paul"] == [t(w, "fr", "stats.unknown_school", name="École Z")]
