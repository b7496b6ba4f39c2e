"""Coordinators acting on people from chat: mentors awaiting vetting, ending a match; who may
do what (every command × every role), and the audit of each action."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.model import MatchStatus, Role, School
from storage.tables import AuditRow
from tests.harness import Harness
from tests.inbox import news, settle, t

ROLES = ("student", "mentor", "claire", "bruno", "paul")  # Claire: school A; Bruno: B; Paul: all


def scene(w: Harness) -> int:
    """Zoé (school A) matched with Marc; Léa, a mentor nobody vetted; three coordinators."""
    with w.store() as store:
        a = store.add_school(School("École A")).id
        b = store.add_school(School("École B")).id
    w.invite("S-ZOE", Role.STUDENT, a)
    for text in ("/start S-ZOE", "fr", "Zoé", "16", "1", "ok"):
        w.say("student", text)
    for user, name, school in (("claire", "Claire", a), ("bruno", "Bruno", b),
                               ("paul", "Paul", None)):
        w.invite(f"C-{user}".upper(), Role.COORDINATOR, school)
        for text in (f"/start C-{user}", "fr", name):
            w.say(user, text)
    w.enrol_mentor("mentor", "Marc", profession="soudeur")
    w.enrol_mentor("lea", "Léa", profession="ingénieure")
    match_id = w.match("Zoé", "Marc")
    settle(w, *ROLES, "lea")
    return match_id


def audited(w: Harness, action: str) -> list[str]:
    rows = w.sql().conn.execute(select(AuditRow.__table__.c.action,
                                       AuditRow.__table__.c.actor)).all()
    return [r.actor for r in rows if r.action == action]


# who may: True allowed, False refused ("command.coordinators_only" or out of scope)
MATRIX = {
    "/pending": {"student": False, "mentor": False, "claire": True, "bruno": True,
                 "paul": True},
    "/unmatch Zoé Marc": {"student": False, "mentor": False, "claire": True, "bruno": False,
                          "paul": True},
    "/vet Léa": {"student": False, "mentor": False, "claire": True, "bruno": True,
                 "paul": True},
    "/stats": {"student": False, "mentor": False, "claire": True, "bruno": True,
               "paul": True},
}


@pytest.mark.parametrize("command", sorted(MATRIX))
@pytest.mark.parametrize("role", ROLES)
def test_who_may_run_each_coordinator_command(world: Harness, command: str, role: str
                                              ) -> None:
    w = world
    match_id = scene(w)
    w.say(role, command)
    said = news(w, role)[role]
    allowed = MATRIX[command][role]
    refusals = {t(w, "fr", "command.coordinators_only"), t(w, "fr", "unmatch.not_yours")}
    assert bool(said) and (said[0] not in refusals) == allowed, said
    with w.store() as store:
        match = store.match(match_id)
    ended = match is not None and match.status is MatchStatus.ENDED
    assert ended == (command.startswith("/unmatch") and allowed)


def test_pending_lists_unvetted_mentors_and_a_press_vets(world: Harness) -> None:
    w = world
    scene(w)
    w.say("claire", "/pending")
    (listing,) = w.inbox("claire")
    assert "Léa" in listing.message.text and "Marc" not in listing.message.text  # Marc: vetted
    (button,) = listing.message.buttons
    w.press("claire", button.action)
    assert news(w, "claire", "lea") == {"claire": [t(w, "fr", "vet.done", name="Léa")],
                                        "lea": [t(w, "fr", "vet.mentor_told")]}
    claire = w.participant("Claire").id
    assert audited(w, "mentor_vetted") == [f"participant:{claire}"]
    w.say("claire", "/pending")
    assert news(w, "claire")["claire"] == [t(w, "fr", "pending.none")]
    w.press("student", button.action)  # a student pressing it: nothing happens
    assert w.participant("Léa").vetted
    assert audited(w, "mentor_vetted") == [f"participant:{claire}"]


def test_unmatch_tells_both_and_is_audited(world: Harness) -> None:
    w = world
    scene(w)
    w.say("paul", "/unmatch Zoé Marc")
    got = news(w, "paul", "student", "mentor")
    assert got["paul"] == [t(w, "fr", "unmatch.done", student="Zoé", mentor="Marc")]
    assert got["student"][0] == t(w, "fr", "end.by_coordinator", name="Marc (soudeur)")
    assert got["mentor"][0] == t(w, "fr", "end.by_coordinator", name="Zoé")
    paul = w.participant("Paul").id
    assert audited(w, "unmatch") == [f"participant:{paul}"]
    w.say("paul", "/unmatch Zoé Marc")
    assert news(w, "paul")["paul"] == [t(w, "fr", "unmatch.none", student="Zoé",
                                         mentor="Marc")]
    w.say("paul", "/unmatch Zoé")
    assert news(w, "paul")["paul"] == [t(w, "fr", "unmatch.how")]
