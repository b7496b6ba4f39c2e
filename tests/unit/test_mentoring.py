"""A mentor's own settings: /pause and /resume, /capacity, /kit; mentors only, once enrolled."""

from __future__ import annotations

import pytest

from core.errors import DomainError
from core.model import Role
from core.onboarding import MAX_CAPACITY
from tests.harness import Harness
from tests.inbox import audit_rows, settle, t


def mentor_audit(w: Harness) -> list[tuple[str, str, dict[str, object]]]:
    return [row for row in audit_rows(w) if row[1].startswith("mentor_")]


def pair(w: Harness) -> None:
    """Zoé ("kid") matched with Marc ("pro", capacity 3)."""
    w.enrol_student("kid", "Zoé")
    w.enrol_mentor("pro", "Marc", profession="soudeur")
    w.match("Zoé", "Marc")
    settle(w, "kid", "pro")


def enrol_english_mentor(w: Harness) -> None:
    w.invite("M-SAM", Role.MENTOR)
    for text in ("/start M-SAM", "en", "Sam", "2", "nursing student", "1", "2", "2"):
        w.say("sam", text)
    settle(w, "sam")


def enrol_coordinator(w: Harness) -> None:
    w.invite("C-2345", Role.COORDINATOR)
    for text in ("/start C-2345", "fr", "Mme Roy"):
        w.say("coord", text)
    settle(w, "coord")


# pause -----------------------------------------------------------------------------------------

def test_pause_stops_requests_and_resume_brings_them_back(any_world: Harness) -> None:
    w = any_world
    pair(w)
    w.enrol_student("kid2", "Noé")
    settle(w, "kid2")
    w.say("pro", "/pause")
    got = w.inbox("pro")
    assert [s.message.text for s in got] == [t(w, "fr", "pause.on")]
    assert [(b.label, b.action) for b in got[0].message.buttons] == [("Reprendre", "pause:off")]
    assert w.participant("Marc").paused
    with pytest.raises(DomainError) as refused:
        w.propose("Noé", "Marc")
    assert refused.value.key == "match.paused"

    w.say("kid", "Tu es là?")  # the conversations under way go on
    assert w.texts("pro") == [t(w, "fr", "relay.message", name="Zoé", text="Tu es là?")]

    w.say("pro", "/resume")
    got = w.inbox("pro")
    assert [s.message.text for s in got] == [t(w, "fr", "pause.off")]
    assert got[0].message.buttons == ()
    assert not w.participant("Marc").paused
    w.propose("Noé", "Marc")
    assert [s.message.text.splitlines()[0] for s in w.inbox("pro")] == [
        "Demande de mentorat : Noé, 16 ans, intéressé·e par Santé et soins."
    ]
    marc = f"participant:{w.participant('Marc').id}"
    assert mentor_audit(w) == [(marc, "mentor_pause", {}), (marc, "mentor_resume", {})]


def test_the_pause_buttons_and_the_french_alias(world: Harness) -> None:
    pair(world)
    world.press("pro", "pause:on")  # the button on a request
    assert world.texts("pro") == [t(world, "fr", "pause.on")]
    world.say("pro", "/pause")  # pausing again keeps the pause
    assert world.texts("pro") == [t(world, "fr", "pause.on")]
    assert world.participant("Marc").paused
    world.press("pro", "pause:off")  # the Resume button
    assert world.texts("pro") == [t(world, "fr", "pause.off")]
    assert not world.participant("Marc").paused
    world.say("pro", "/pause")
    world.say("pro", "/reprendre")
    assert world.texts("pro") == [t(world, "fr", "pause.on"), t(world, "fr", "pause.off")]
    for action in ("pause:", "pause:maybe"):
        world.press("pro", action)
        assert world.texts("pro") == [t(world, "fr", "button.stale")], action


# capacity --------------------------------------------------------------------------------------

def test_capacity_shows_and_sets_how_many_students_at_once(world: Harness) -> None:
    w = world
    pair(w)
    w.say("pro", "/capacity")
    assert w.texts("pro") == [t(w, "fr", "capacity.show", capacity=3, load=1)]
    w.say("pro", "/capacity 5")
    assert w.texts("pro") == [t(w, "fr", "capacity.set", capacity=5, load=1)]
    assert w.participant("Marc").capacity == 5
    w.say("pro", "/capacite  2 ")
    assert w.texts("pro") == [
        "C'est noté : jusqu'à 2 jeunes à la fois (vous en accompagnez 1)."
    ] == [t(w, "fr", "capacity.set", capacity=2, load=1)]
    w.say("pro", "/capacity")
    assert w.texts("pro") == [t(w, "fr", "capacity.show", capacity=2, load=1)]
    marc = f"participant:{w.participant('Marc').id}"
    assert mentor_audit(w) == [
        (marc, "mentor_capacity", {"capacity": 5}), (marc, "mentor_capacity", {"capacity": 2}),
    ]


def test_a_capacity_that_is_no_number_from_1_to_10_is_refused(world: Harness) -> None:
    pair(world)
    for value in ("0", "11", "abc", "٣", "-1", "3.5", "3 4", "１", "99999999999999999999"):
        world.say("pro", f"/capacity {value}")
        assert world.texts("pro") == [t(world, "fr", "capacity.invalid", max=MAX_CAPACITY)], value
    assert t(world, "fr", "capacity.invalid", max=MAX_CAPACITY) == (
        "Indiquez un nombre de 1 à 10, par exemple : /capacity 3"
    )
    assert world.participant("Marc").capacity == 3
    assert mentor_audit(world) == []


def test_a_capacity_below_the_load_is_kept_but_no_request_comes(world: Harness) -> None:
    pair(world)
    world.enrol_student("kid2", "Noé")
    world.enrol_student("kid3", "Léo")
    world.match("Noé", "Marc")
    settle(world, "kid2", "pro")
    world.say("pro", "/capacity 1")
    assert world.texts("pro") == [t(world, "fr", "capacity.set_below_load", capacity=1, load=2)]
    assert world.participant("Marc").capacity == 1
    with pytest.raises(DomainError) as refused:
        world.propose("Léo", "Marc")
    assert refused.value.key == "match.full"
    assert refused.value.values == {"mentor": "Marc", "capacity": 1}
    world.say("kid", "Toujours là?")  # conversations go on
    assert world.texts("pro") == [t(world, "fr", "relay.message", name="Zoé",
                                    text="Toujours là?")]
    world.say("pro", "/capacity 2")  # at the load exactly: no warning
    assert world.texts("pro") == [t(world, "fr", "capacity.set", capacity=2, load=2)]


def test_an_english_mentor_reads_pause_and_capacity_in_english(world: Harness) -> None:
    enrol_english_mentor(world)
    world.say("sam", "/pause")
    got = world.inbox("sam")
    assert [s.message.text for s in got] == [t(world, "en", "pause.on")]
    assert [(b.label, b.action) for b in got[0].message.buttons] == [("Resume", "pause:off")]
    world.say("sam", "/resume")
    world.say("sam", "/capacity")
    world.say("sam", "/capacity 12")
    world.say("sam", "/capacity 4")
    assert world.texts("sam") == [
        t(world, "en", "pause.off"),
        t(world, "en", "capacity.show", capacity=2, load=0),
        t(world, "en", "capacity.invalid", max=MAX_CAPACITY),
        t(world, "en", "capacity.set", capacity=4, load=0),
    ]
    assert t(world, "en", "pause.off") == "Welcome back! You can receive requests again."


# the kit ---------------------------------------------------------------------------------------

def test_the_kit_in_the_mentors_language(world: Harness) -> None:
    world.enrol_mentor("pro", "Marc")
    enrol_english_mentor(world)
    settle(world, "pro")
    world.say("pro", "/kit")
    world.say("sam", "/KIT")
    fr, en = world.texts("pro"), world.texts("sam")
    assert len(fr) == 1 and fr[0].startswith("La trousse du bon mentor\n")
    assert len(en) == 1 and en[0].startswith("The good mentor kit\n")
    for card in world.services.kit.cards:  # config/kit: every card, in each one's language
        assert f"• {card.title_fr}\n{card.body_fr}" in fr[0]
        assert f"• {card.title_en}\n{card.body_en}" in en[0]
    assert len(world.services.kit.cards) >= 5


# mentors only, and only once enrolled ----------------------------------------------------------

MENTOR_COMMANDS = ("/pause", "/resume", "/reprendre", "/capacity", "/capacity 3", "/capacite 2",
                   "/kit")


def test_students_and_coordinators_are_told_these_are_for_mentors(world: Harness) -> None:
    pair(world)
    enrol_coordinator(world)
    for user in ("kid", "coord"):
        for text in MENTOR_COMMANDS:
            world.say(user, text)
            assert world.texts(user) == [t(world, "fr", "command.mentors_only")], (user, text)
        for action in ("pause:on", "pause:off"):
            world.press(user, action)
            assert world.texts(user) == [t(world, "fr", "command.mentors_only")], (user, action)
    assert world.texts("pro") == []
    assert mentor_audit(world) == []
    assert not world.participant("Zoé").paused and world.participant("Zoé").capacity is None


def test_a_student_in_english_is_told_so_in_english(world: Harness) -> None:
    world.enrol_student("kid", "Zoé")
    world.say("kid", "/language")
    world.press("kid", "lang:en")
    settle(world, "kid")
    world.say("kid", "/kit")
    assert world.texts("kid") == [
        "This command is for mentors. Type /help to see what you can do."
    ] == [t(world, "en", "command.mentors_only")]


def test_during_onboarding_these_commands_wait(world: Harness) -> None:
    world.invite("M-NEW", Role.MENTOR)
    for text in ("/start M-NEW", "fr", "Marc", "1", "soudeur", "1", "8"):  # all but capacity
        world.say("new", text)
    settle(world, "new")
    for text in MENTOR_COMMANDS:
        world.say("new", text)
        assert world.texts("new") == [
            t(world, "fr", "onboarding.finish_first"),
            t(world, "fr", "onboarding.capacity", max=MAX_CAPACITY),
        ], text
    world.invite("S-NEW", Role.STUDENT)
    for text in ("/start S-NEW", "en"):
        world.say("kid", text)
    settle(world, "kid")
    world.say("kid", "/pause")
    assert world.texts("kid") == [
        t(world, "en", "onboarding.finish_first"), t(world, "en", "onboarding.pseudonym"),
    ]
    assert mentor_audit(world) == []
