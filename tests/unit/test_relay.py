"""Relaying between students and mentors through the real bus and real delivery workers."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from core.model import Address, Inbound, MatchStatus, Role
from core.relay import MAX_MESSAGE_CHARS
from storage.tables import A, O
from tests.harness import Harness
from tests.inbox import end_survey


def t(w: Harness, lang: str, key: str, **values: object) -> str:
    return w.services.catalog.t(lang, key, **values)


def send(
    w: Harness, user: str, text: str = "", *, message_id: str, reply_to: str | None = None,
    action: str | None = None, platform: str = "playground",
) -> bool:
    """Like Harness.say, with the platform message id chosen by the test."""
    inbound = Inbound(
        event_key=f"{platform}:{user}:{message_id}", source=Address(platform, user),  # type: ignore[arg-type]
        platform_user_id=user, text=text, message_id=message_id, reply_to=reply_to, action=action,
    )
    return w.bus.handle(inbound, w.clock())


def outbox_rows(w: Harness) -> int:
    with w.sql().conn as conn:  # closed at once: an open SQLite read would hold the write lock
        return int(conn.execute(select(func.count()).select_from(O)).scalar_one())


def audit_actions(w: Harness) -> list[tuple[str, dict[str, object]]]:
    with w.sql().conn as conn:
        rows = conn.execute(select(A.c.action, A.c.detail).order_by(A.c.id)).all()
    return [(r.action, json.loads(r.detail)) for r in rows]


def forget_choice(w: Harness, pseudonym: str) -> None:
    """Set the scene: a participant with no remembered conversation."""
    with w.store() as store:
        p = store.find_participant(pseudonym)
        assert p is not None
        p.current_match_id = None
        store.save_participant(p)


def settle(w: Harness, *users: str) -> None:
    """Deliver everything so far and forget it: the next inbox starts empty."""
    for user in users:
        w.texts(user)


def pair(w: Harness) -> int:
    """Zoé (student, "kid") matched with Marc (mentor, soudeur, "pro")."""
    w.enrol_student("kid", "Zoé")
    w.enrol_mentor("pro", "Marc", profession="soudeur")
    match_id = w.match("Zoé", "Marc")
    settle(w, "kid", "pro")
    return match_id


def trio(w: Harness) -> tuple[int, int]:
    """Zoé matched with Marc (soudeur), then with Léa (ingénieure)."""
    marc = pair(w)
    w.enrol_mentor("eng", "Léa", profession="ingénieure")
    lea = w.match("Zoé", "Léa")
    settle(w, "kid", "pro", "eng")
    return marc, lea


@pytest.fixture
def two(world: Harness) -> Harness:
    pair(world)
    return world


# both ways, pseudonyms only ---------------------------------------------------------------------

def test_messages_cross_both_ways_under_pseudonyms_and_are_threaded(any_world: Harness) -> None:
    w = any_world
    pair(w)
    send(w, "kid", "Tu travailles de nuit?", message_id="kid-1")
    got = w.inbox("pro")
    assert [s.message.text for s in got] == [
        t(w, "fr", "relay.message", name="Zoé", text="Tu travailles de nuit?")
    ]
    assert got[0].message.reply_to is None and got[0].message.buttons == ()
    assert w.texts("kid") == []  # no echo to the sender

    send(w, "pro", "Parfois, oui!", message_id="pro-1", reply_to=got[0].id)
    back = w.inbox("kid")
    assert [s.message.text for s in back] == [
        t(w, "fr", "relay.message", name="Marc (soudeur)", text="Parfois, oui!")
    ]
    # threaded onto the student's own message, in the student's chat
    assert back[0].message.reply_to == "kid-1"
    assert back[0].message.to == Address("playground", "kid")

    send(w, "kid", "Merci!", message_id="kid-2", reply_to=back[0].id)
    assert w.inbox("pro")[0].message.reply_to == "pro-1"


def test_each_side_reads_the_relay_in_its_own_language(world: Harness) -> None:
    world.enrol_student("kid", "Zoé")
    world.invite("M-EN", Role.MENTOR)
    for text in ("/start M-EN", "en", "Sam", "2", "nursing student", "1", "2", "1"):
        world.say("sam", text)
    world.match("Zoé", "Sam")
    settle(world, "kid", "sam")
    world.say("kid", "Allô")
    assert world.texts("sam") == [t(world, "en", "relay.message", name="Zoé", text="Allô")]
    world.say("sam", "Hi!")
    assert world.texts("kid") == [
        t(world, "fr", "relay.message", text="Hi!",
          name=t(world, "fr", "relay.name_with_profession", name="Sam",
                 profession="nursing student"))
    ]


def test_spaces_around_a_message_are_trimmed(two: Harness) -> None:
    two.say("kid", "  salut \n")
    assert two.texts("pro") == [t(two, "fr", "relay.message", name="Zoé", text="salut")]


# two mentors ----------------------------------------------------------------------------------

def test_with_two_mentors_and_no_choice_the_student_is_asked_which(any_world: Harness) -> None:
    w = any_world
    marc, lea = trio(w)
    forget_choice(w, "Zoé")
    w.say("kid", "Quel cégep as-tu fait?")
    question = w.inbox("kid")
    assert [s.message.text for s in question] == [t(w, "fr", "relay.which")]
    assert [(b.label, b.action) for b in question[0].message.buttons] == [
        ("Marc (soudeur)", f"conv:{marc}"), ("Léa (ingénieure)", f"conv:{lea}"),
    ]
    assert w.texts("pro") == [] and w.texts("eng") == []

    w.press("kid", f"conv:{lea}")
    question_text = "Quel cégep as-tu fait?"
    assert w.texts("eng") == [t(w, "fr", "relay.message", name="Zoé", text=question_text)]
    assert w.texts("pro") == [] and w.texts("kid") == []
    assert w.participant("Zoé").pending_text is None

    w.say("kid", "Et tu aimes ça?")
    assert w.texts("eng") == [t(w, "fr", "relay.message", name="Zoé", text="Et tu aimes ça?")]
    assert w.texts("kid") == [] and w.texts("pro") == []


def test_after_a_second_match_the_next_message_asks_which_mentor(world: Harness) -> None:
    marc, lea = trio(world)
    assert world.participant("Zoé").current_match_id is None
    assert world.participant("Marc").current_match_id == marc  # Marc still has one student
    world.say("kid", "Bonjour")
    assert world.texts("kid") == [t(world, "fr", "relay.which")]
    assert world.texts("pro") == [] and world.texts("eng") == []
    world.press("kid", f"conv:{lea}")
    assert world.texts("eng") == [t(world, "fr", "relay.message", name="Zoé", text="Bonjour")]


def test_choosing_a_conversation_with_nothing_pending_says_who_is_next(world: Harness) -> None:
    _, lea = trio(world)
    world.press("kid", f"conv:{lea}")
    assert world.texts("kid") == [t(world, "fr", "relay.now_talking", name="Léa (ingénieure)")]
    world.say("kid", "Bonjour")
    assert world.texts("eng") == [t(world, "fr", "relay.message", name="Zoé", text="Bonjour")]


def test_replying_to_a_mentor_routes_there_and_becomes_the_choice(world: Harness) -> None:
    marc, lea = trio(world)
    world.press("kid", f"conv:{marc}")
    settle(world, "kid")
    assert world.participant("Zoé").current_match_id == marc
    send(world, "eng", "Des questions sur le génie?", message_id="eng-1")
    from_lea = world.last("kid")
    send(world, "kid", "Oui! C'est dur?", message_id="kid-1", reply_to=from_lea.id)
    to_lea = world.inbox("eng")
    assert [s.message.text for s in to_lea] == [
        t(world, "fr", "relay.message", name="Zoé", text="Oui! C'est dur?")
    ]
    assert to_lea[0].message.reply_to == "eng-1"
    assert world.texts("pro") == []
    assert world.participant("Zoé").current_match_id == lea

    world.say("kid", "Et les maths?")
    assert world.texts("eng") == [t(world, "fr", "relay.message", name="Zoé", text="Et les maths?")]
    assert world.texts("pro") == []


def test_replying_to_a_service_message_falls_back_to_the_choice(world: Harness) -> None:
    marc, _ = trio(world)
    world.press("kid", f"conv:{marc}")
    world.say("kid", "/help")
    help_message = world.last("kid")
    world.say("kid", "Allô", reply_to=help_message.id)
    assert world.texts("pro") == [t(world, "fr", "relay.message", name="Zoé", text="Allô")]
    assert world.texts("eng") == []


def test_a_mentor_with_two_students_replies_by_thread(world: Harness) -> None:
    pair(world)
    world.enrol_student("kid2", "Noé")
    world.match("Noé", "Marc")
    settle(world, "kid2", "pro")
    world.say("kid2", "Salut Marc")
    from_noe = world.last("pro")
    world.say("pro", "Salut Noé", reply_to=from_noe.id)
    assert world.texts("kid2") == [t(world, "fr", "relay.message", name="Marc (soudeur)",
                                     text="Salut Noé")]
    assert world.texts("kid") == []


def test_a_pending_message_is_not_threaded_onto_the_button_press(world: Harness) -> None:
    _, lea = trio(world)
    forget_choice(world, "Zoé")
    send(world, "kid", "Quel horaire?", message_id="kid-1")
    settle(world, "kid")
    send(world, "kid", action=f"conv:{lea}", message_id="kid-press")
    pending_copy = world.last("eng")
    send(world, "eng", "De jour", message_id="eng-1", reply_to=pending_copy.id)
    answer = world.last("kid")
    assert answer.message.text == t(world, "fr", "relay.message", name="Léa (ingénieure)",
                                    text="De jour")
    assert answer.message.reply_to in (None, "kid-1")


# ending ---------------------------------------------------------------------------------------

def test_end_with_one_match_ends_it_and_tells_both(any_world: Harness) -> None:
    w = any_world
    match_id = pair(w)
    w.say("kid", "/end")
    assert w.texts("kid") == [t(w, "fr", "end.done_by_you", name="Marc (soudeur)"),
                              *end_survey(w, "student", "Marc (soudeur)")]
    assert w.texts("pro") == [t(w, "fr", "end.done_by_other", name="Zoé"),
                              *end_survey(w, "mentor", "Zoé")]
    with w.store() as store:
        match = store.match(match_id)
    assert match is not None and match.status is MatchStatus.ENDED
    assert match.ended_by == w.participant("Zoé").id and match.ended_at is not None
    assert w.participant("Zoé").current_match_id is None
    assert w.participant("Marc").current_match_id is None
    assert ("match_end", {"match_id": match_id}) in audit_actions(w)

    w.say("kid", "Tu es encore là?")
    assert w.texts("kid") == [t(w, "fr", "relay.no_match.student")]
    assert w.texts("pro") == []
    w.say("pro", "Bonne chance!")
    assert w.texts("pro") == [t(w, "fr", "relay.no_match.mentor")]
    w.say("kid", "/end")
    assert w.texts("kid") == [t(w, "fr", "end.nothing")]


@pytest.mark.parametrize("command", ["/fin", "/END", "/end@PasserelleBot"])
def test_end_has_aliases(two: Harness, command: str) -> None:
    two.say("kid", command)
    assert two.texts("kid") == [t(two, "fr", "end.done_by_you", name="Marc (soudeur)"),
                                *end_survey(two, "student", "Marc (soudeur)")]
    assert two.texts("pro") == [t(two, "fr", "end.done_by_other", name="Zoé"),
                                *end_survey(two, "mentor", "Zoé")]


def test_end_with_two_matches_asks_which(world: Harness) -> None:
    marc, lea = trio(world)
    world.say("kid", "/end")
    question = world.inbox("kid")
    assert [s.message.text for s in question] == [t(world, "fr", "end.which")]
    assert [(b.label, b.action) for b in question[0].message.buttons] == [
        ("Marc (soudeur)", f"end:{marc}"), ("Léa (ingénieure)", f"end:{lea}"),
    ]
    assert world.texts("pro") == [] and world.texts("eng") == []

    world.press("kid", f"end:{lea}")
    assert world.texts("kid") == [t(world, "fr", "end.done_by_you", name="Léa (ingénieure)"),
                                  *end_survey(world, "student", "Léa (ingénieure)")]
    assert world.texts("eng") == [t(world, "fr", "end.done_by_other", name="Zoé"),
                                  *end_survey(world, "mentor", "Zoé")]
    assert world.texts("pro") == []
    world.say("kid", "Toujours là?")
    assert world.texts("pro") == [t(world, "fr", "relay.message", name="Zoé", text="Toujours là?")]

    world.press("kid", f"end:{lea}")  # the same button pressed again
    assert world.texts("kid") == [t(world, "fr", "relay.conversation_gone")]


def test_ending_the_remembered_conversation_clears_the_choice(world: Harness) -> None:
    marc, lea = trio(world)
    world.press("kid", f"end:{marc}")
    assert world.participant("Zoé").current_match_id is None
    world.say("kid", "Allô?")  # one conversation left: no need to ask
    assert world.texts("eng") == [t(world, "fr", "relay.message", name="Zoé", text="Allô?")]


def test_a_mentor_can_end_a_conversation(world: Harness) -> None:
    pair(world)
    world.say("pro", "/end")
    assert world.texts("pro") == [t(world, "fr", "end.done_by_you", name="Zoé"),
                                  *end_survey(world, "mentor", "Zoé")]
    assert world.texts("kid") == [t(world, "fr", "end.done_by_other", name="Marc (soudeur)"),
                                  *end_survey(world, "student", "Marc (soudeur)")]


# buttons that no longer mean anything -----------------------------------------------------------

def test_stale_and_foreign_conversation_buttons_get_a_polite_answer(world: Harness) -> None:
    ours = pair(world)
    world.enrol_student("other-kid", "Noé")
    world.enrol_mentor("other-pro", "Luc", profession="pilote")
    theirs = world.match("Noé", "Luc")
    settle(world, "other-kid", "other-pro")
    for action in (f"conv:{theirs}", f"end:{theirs}", "conv:9999", "end:9999"):
        world.press("kid", action)
        assert world.texts("kid") == [t(world, "fr", "relay.conversation_gone")], action
    noe = world.participant("Noé").id
    assert noe is not None
    with world.store() as store:
        assert [m.id for m in store.active_matches(noe)] == [theirs]
    assert world.texts("other-kid") == [] and world.texts("other-pro") == []
    world.say("kid", "/end")
    world.press("kid", f"conv:{ours}")
    assert world.texts("kid")[-1] == t(world, "fr", "relay.conversation_gone")


def test_an_unknown_button_is_stale(two: Harness) -> None:
    for action in ("conv:abc", "end:", "field:health", "fields:done", "kind:peer", "lang:de",
                   "nonsense"):
        two.press("kid", action)
        assert two.texts("kid") == [t(two, "fr", "button.stale")], action
    assert two.texts("pro") == []


# idempotency ----------------------------------------------------------------------------------

def test_the_same_event_twice_is_relayed_once(any_world: Harness) -> None:
    w = any_world
    pair(w)
    before = outbox_rows(w)
    assert w.say("kid", "Une seule fois", event_key="telegram-update-77")
    after = outbox_rows(w)
    assert after == before + 1
    assert not w.say("kid", "Une seule fois", event_key="telegram-update-77")
    assert outbox_rows(w) == after
    assert w.texts("pro") == [t(w, "fr", "relay.message", name="Zoé", text="Une seule fois")]
    assert not w.say("kid", "Une seule fois", event_key="telegram-update-77")
    assert w.texts("pro") == []


def test_a_repeated_button_press_event_changes_nothing(world: Harness) -> None:
    _, lea = trio(world)
    forget_choice(world, "Zoé")
    world.say("kid", "En attente")
    settle(world, "kid")
    assert world.say("kid", action=f"conv:{lea}", event_key="press-1")
    rows = outbox_rows(world)
    assert not world.say("kid", action=f"conv:{lea}", event_key="press-1")
    assert outbox_rows(world) == rows
    assert world.texts("eng") == [t(world, "fr", "relay.message", name="Zoé", text="En attente")]
    assert world.texts("kid") == []


# what cannot be relayed -----------------------------------------------------------------------

def test_a_message_without_text_is_not_supported(two: Harness) -> None:
    for text in ("", "   ", "\n\t"):  # a sticker, a photo without caption...
        two.say("kid", text)
        assert two.texts("kid") == [t(two, "fr", "relay.unsupported")]
    assert two.texts("pro") == []


def test_a_message_over_the_limit_is_refused(two: Harness) -> None:
    two.say("kid", "a " * 8000 + "b")
    assert two.texts("kid") == [t(two, "fr", "relay.too_long", max=MAX_MESSAGE_CHARS)]
    assert two.texts("pro") == []


def words_text(length: int) -> str:
    text = " ".join(f"mot{i}" for i in range(length))[:length]
    assert len(text) == length
    return text


def test_a_message_at_the_limit_is_relayed(two: Harness) -> None:
    two.say("kid", words_text(MAX_MESSAGE_CHARS))
    assert two.texts("kid") == []
    assert len(two.texts("pro")) >= 4


@pytest.mark.parametrize("max_text", [4000, 999])
def test_a_long_message_arrives_in_parts_within_the_platform_limit(
    two: Harness, max_text: int
) -> None:
    two.channel().max_text = max_text
    text = words_text(10_000)
    send(two, "kid", "Première question", message_id="kid-1")
    first = two.last("pro")
    send(two, "pro", text, message_id="pro-1", reply_to=first.id)
    parts = two.inbox("kid")
    body = t(two, "fr", "relay.message", name="Marc (soudeur)", text=text)
    assert len(parts) >= -(-len(body) // max_text)
    assert all(0 < len(s.message.text) <= max_text for s in parts)
    assert " ".join(s.message.text for s in parts).split() == body.split()
    assert [s.message.reply_to for s in parts] == ["kid-1"] + [None] * (len(parts) - 1)
    assert two.texts("pro") == []


# coordinators, commands -------------------------------------------------------------------------

def enrol_coordinator(w: Harness, user: str = "coord", name: str = "Mme Roy") -> None:
    w.invite("C-2345", Role.COORDINATOR)
    for text in ("/start C-2345", "fr", name):
        w.say(user, text)
    settle(w, user)


def test_a_coordinator_message_is_not_relayed(world: Harness) -> None:
    pair(world)
    enrol_coordinator(world)
    world.say("coord", "Bonjour tout le monde")
    assert world.texts("coord") == [t(world, "fr", "coordinator.no_relay")]
    assert world.texts("kid") == [] and world.texts("pro") == []


def test_an_unknown_command_is_named_back(two: Harness) -> None:
    for text, name in (("/foo", "foo"), ("/Snoozer 3", "snoozer"), ("/match Zoé Marc", "match")):
        two.say("kid", text)
        assert two.texts("kid") == [t(two, "fr", "command.unknown", command=name)]
    assert two.texts("pro") == []


def test_help_depends_on_the_role(world: Harness) -> None:
    pair(world)
    enrol_coordinator(world)
    for user, role in (("kid", "student"), ("pro", "mentor"), ("coord", "coordinator")):
        world.say(user, "/help")
        assert world.texts(user) == [t(world, "fr", f"help.{role}", hint="")]


def test_start_after_onboarding_says_already_enrolled(two: Harness) -> None:
    two.say("kid", "/start")
    two.say("kid", "/start S-KID")
    assert two.texts("kid") == [t(two, "fr", "welcome.already", name="Zoé")] * 2


def test_a_student_profile(two: Harness) -> None:
    two.say("kid", "/profile")
    lines = [
        t(two, "fr", "profile.pseudonym", name="Zoé"), t(two, "fr", "profile.role.student"),
        t(two, "fr", "profile.language", language=t(two, "fr", "language.name.fr")),
        t(two, "fr", "profile.age", age=16),
        t(two, "fr", "profile.fields", fields="Santé et soins"),
    ]
    assert two.texts("kid") == [t(two, "fr", "profile.show", profile="\n".join(lines))]


def test_a_mentor_profile(two: Harness) -> None:
    two.say("pro", "/profil")
    lines = [
        t(two, "fr", "profile.pseudonym", name="Marc"), t(two, "fr", "profile.role.mentor"),
        t(two, "fr", "profile.language", language=t(two, "fr", "language.name.fr")),
        t(two, "fr", "profile.fields", fields="Santé et soins"),
        t(two, "fr", "profile.mentor", kind=t(two, "fr", "kind.professional"),
          profession="soudeur", years=8, capacity=3),
        t(two, "fr", "profile.vetted"),  # vetted before being matched with a minor
    ]
    assert two.texts("pro") == [t(two, "fr", "profile.show", profile="\n".join(lines))]


@pytest.mark.parametrize("command", ["/language", "/langue"])
def test_switching_language_changes_every_later_answer(two: Harness, command: str) -> None:
    two.say("kid", command)
    question = two.inbox("kid")
    assert [s.message.text for s in question] == [t(two, "fr", "language.choose")]
    assert [b.action for b in question[0].message.buttons] == ["lang:fr", "lang:en"]
    two.press("kid", "lang:en")
    assert two.texts("kid") == [t(two, "en", "language.set")]
    assert two.participant("Zoé").language == "en"
    two.say("kid", "/help")
    two.say("pro", "Hello")
    two.say("kid", "/nope")
    assert two.texts("kid") == [
        t(two, "en", "help.student", hint=""),
        t(two, "en", "relay.message", name="Marc (soudeur)", text="Hello"),
        t(two, "en", "command.unknown", command="nope"),
    ]
    two.press("kid", "lang:fr")
    assert two.texts("kid") == [t(two, "fr", "language.set")]


def test_a_command_during_onboarding_is_deferred(world: Harness) -> None:
    world.invite("S-LATE", Role.STUDENT)
    world.say("late", "/start S-LATE")
    world.say("late", "en")
    settle(world, "late")
    world.say("late", "/end")
    assert world.texts("late") == [
        t(world, "en", "onboarding.finish_first"), t(world, "en", "onboarding.pseudonym"),
    ]
