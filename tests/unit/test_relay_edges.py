"""Edges found in review: nothing lost while a choice is pending, no cross-conversation replies,
odd digits and huge answers handled politely."""

from __future__ import annotations

import time

from core.model import MentorKind, Role, Step
from tests.harness import Harness


def t(w: Harness, key: str, **values: object) -> str:
    return w.services.catalog.t("fr", key, **values)


def two_mentors(w: Harness) -> tuple[int, int]:
    w.enrol_student("kid", "Zoé")
    w.enrol_mentor("pro", "Marc", profession="soudeur")
    w.enrol_mentor("eng", "Léa", profession="ingénieure")
    marc = w.match("Zoé", "Marc")
    lea = w.match("Zoé", "Léa")
    for user in ("kid", "pro", "eng"):
        w.texts(user)
    return marc, lea


def test_every_message_written_before_choosing_is_delivered(world: Harness) -> None:
    _, lea = two_mentors(world)
    world.say("kid", "Premier message")
    world.say("kid", "Deuxième message")
    world.texts("kid")
    world.press("kid", f"conv:{lea}")
    assert world.texts("eng") == [
        t(world, "relay.message", name="Zoé", text="Premier message\nDeuxième message")]


def test_a_reply_to_an_ended_conversation_goes_nowhere_else(world: Harness) -> None:
    w = world
    w.enrol_student("kid", "Zoé")
    w.enrol_student("kid2", "Noé")
    w.enrol_mentor("pro", "Marc", profession="soudeur")
    w.match("Zoé", "Marc")
    w.match("Noé", "Marc")
    for user in ("kid", "kid2", "pro"):
        w.texts(user)
    w.say("kid", "Merci pour tout!")
    from_zoe = w.last("pro")
    w.say("kid", "/end")
    w.texts("pro"), w.texts("kid")
    w.say("pro", "Bonne chance Zoé!", reply_to=from_zoe.id)
    assert w.texts("pro") == [t(w, "relay.conversation_gone")]
    assert w.texts("kid2") == [] and w.texts("kid") == []


def test_unusual_digits_are_asked_again_not_crashed_on(world: Harness) -> None:
    world.invite("S-KID", Role.STUDENT)
    for text in ("/start S-KID", "fr", "Zoé"):
        world.say("kid", text)
    world.texts("kid")
    for odd in ("²", "١٦", "1²"):
        assert world.say("kid", odd)
        assert world.texts("kid") == [t(world, "onboarding.age_again", min=14, max=30)]
    world.say("kid", "16")
    world.say("kid", "²")  # at the fields step
    assert world.participant("Zoé").step is Step.FIELDS


def test_a_huge_pseudonym_answer_is_refused_quickly(world: Harness) -> None:
    world.invite("S-KID", Role.STUDENT)
    world.say("kid", "/start S-KID")
    world.say("kid", "fr")
    world.texts("kid")
    started = time.perf_counter()
    world.say("kid", "a@" * 50_000)
    assert time.perf_counter() - started < 5  # the contact pattern never sees it
    assert world.texts("kid") == [t(world, "pseudonym.invalid")]


def test_a_mentor_can_type_their_kind_in_words(world: Harness) -> None:
    world.invite("M-PRO", Role.MENTOR)
    for text in ("/start M-PRO", "en", "Marc", "Peer"):
        world.say("pro", text)
    assert world.participant("Marc").mentor_kind is MentorKind.PEER
