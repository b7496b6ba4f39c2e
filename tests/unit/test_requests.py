"""Match requests: a mentor is asked, accepts or declines; nobody gets a student unasked.

Through the real bus and real delivery workers (the Harness): the request, the buttons on it, the
answers to every press, the audit trail, and what the student hears (nothing, until "accept").
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.errors import DomainError
from core.model import Address, MatchStatus, Role
from storage.tables import M
from tests.harness import Harness
from tests.inbox import audit_rows, settle, t, unheard


def requests_audit(w: Harness) -> list[tuple[str, str, dict[str, object]]]:
    return [row for row in audit_rows(w) if row[1].startswith("match_")]


def status(w: Harness, match_id: int) -> MatchStatus:
    with w.store() as store:
        match = store.match(match_id)
    assert match is not None
    return match.status


def match_count(w: Harness) -> int:
    with w.sql().conn as conn:
        return len(conn.execute(select(M.c.id)).all())


def actor(w: Harness, pseudonym: str) -> str:
    return f"participant:{w.participant(pseudonym).id}"


def fields(w: Harness, pseudonym: str, lang: str) -> str:
    return w.services.fields.labels(w.participant(pseudonym).fields, lang)


def request_text(w: Harness, lang: str, question: str | None, name: str = "Zoé") -> str:
    return t(w, lang, "request.to_mentor", name=name, age=16, fields=fields(w, name, lang),
             question=question if question is not None else t(w, lang, "request.no_question"))


def accepted_text(w: Harness, lang: str, name: str = "Zoé") -> str:
    return t(w, lang, "request.accepted", name=name, age=16, fields=fields(w, name, lang))


def enrol_english_mentor(w: Harness, user: str = "sam", name: str = "Sam") -> None:
    """A peer mentor who reads English, nursing student, two students at most."""
    w.invite(f"M-{user}".upper(), Role.MENTOR)
    for text in (f"/start M-{user}", "en", name, "2", "nursing student", "1", "2", "2"):
        w.say(user, text)
    settle(w, user)


def people(w: Harness) -> None:
    """Zoé (student, "kid") and Marc (mentor, soudeur, "pro"), not matched."""
    w.enrol_student("kid", "Zoé")
    w.enrol_mentor("pro", "Marc", profession="soudeur")
    settle(w, "kid", "pro")


def request_copy(w: Harness, match_id: int, user: str = "pro",
                 platform: str = "playground") -> str:
    """The platform id of the request for `match_id` as delivered to the mentor."""
    w.deliver(platform)
    found = [s.id for s in w.channel(platform).chat(user)
             if any(b.action == f"accept:{match_id}" for b in s.message.buttons)]
    assert len(found) == 1
    return found[0]


def requested(w: Harness, question: str | None = "Tu travailles de nuit?") -> int:
    """Marc is asked to take Zoé on; his request is delivered and read."""
    people(w)
    match_id = w.propose("Zoé", "Marc", question=question)
    settle(w, "pro")
    return match_id


# the request -----------------------------------------------------------------------------------

def test_a_request_goes_to_the_mentor_only_with_the_student_card(any_world: Harness) -> None:
    w = any_world
    people(w)
    match_id = w.propose("Zoé", "Marc", question="Tu travailles de nuit?")
    got = w.inbox("pro")
    assert [s.message.text for s in got] == [request_text(w, "fr", "Tu travailles de nuit?")]
    assert got[0].message.text == (
        "Demande de mentorat : Zoé, 16 ans, intéressé·e par Santé et soins.\n"
        "Première question : Tu travailles de nuit?\nAcceptez-vous de l'accompagner?"
    )
    assert [(b.label, b.action) for b in got[0].message.buttons] == [
        ("Accepter", f"accept:{match_id}"), ("Décliner", f"decline:{match_id}"),
        ("Mettre en pause", "pause:on"),
    ]
    assert got[0].message.to == Address("playground", "pro")
    assert w.texts("kid") == []  # the student hears nothing until the mentor says yes
    assert status(w, match_id) is MatchStatus.REQUESTED
    assert requests_audit(w) == [("test", "match_request", {"match_id": match_id})]

    w.say("kid", "Allô?")  # a request is no conversation yet
    assert w.texts("kid") == [t(w, "fr", "relay.no_match.student")]
    assert w.texts("pro") == []


def test_a_request_without_a_question_in_english_and_its_acceptance(world: Harness) -> None:
    world.enrol_student("kid", "Zoé")
    enrol_english_mentor(world)
    settle(world, "kid")
    match_id = world.propose("Zoé", "Sam")
    got = world.inbox("sam")
    assert [s.message.text for s in got] == [request_text(world, "en", None)]
    assert got[0].message.text == (
        "Mentoring request: Zoé, 16, interested in Health and care.\n"
        "First question: (no question yet)\nWill you take them on?"
    )
    assert [(b.label, b.action) for b in got[0].message.buttons] == [
        ("Accept", f"accept:{match_id}"), ("Decline", f"decline:{match_id}"),
        ("Pause requests", "pause:on"),
    ]
    assert world.texts("kid") == []

    world.press("sam", f"accept:{match_id}")
    assert world.texts("sam") == [accepted_text(world, "en")]
    # each side in their own language
    assert world.texts("kid") == [
        t(world, "fr", "match.intro_student", name="Sam (nursing student)")
    ]


# accepting -------------------------------------------------------------------------------------

def test_accepting_starts_the_match_and_they_can_talk(any_world: Harness) -> None:
    w = any_world
    match_id = requested(w)
    w.press("pro", f"accept:{match_id}")
    assert w.texts("kid") == [t(w, "fr", "match.intro_student", name="Marc (soudeur)")]
    assert w.texts("pro") == [accepted_text(w, "fr")]
    assert status(w, match_id) is MatchStatus.ACTIVE
    assert requests_audit(w) == [
        ("test", "match_request", {"match_id": match_id}),
        (actor(w, "Marc"), "match_accept", {"match_id": match_id}),
    ]

    w.say("kid", "Tu travailles de nuit?")
    assert w.texts("pro") == [t(w, "fr", "relay.message", name="Zoé",
                                text="Tu travailles de nuit?")]
    w.say("pro", "Parfois.")
    assert w.texts("kid") == [t(w, "fr", "relay.message", name="Marc (soudeur)",
                                text="Parfois.")]


def test_a_reply_to_the_accepted_request_goes_to_that_student(world: Harness) -> None:
    match_id = requested(world, question="C'est dur?")
    world.enrol_student("kid2", "Noé")
    world.match("Noé", "Marc")  # a second conversation: plain messages would be ambiguous
    settle(world, "kid2", "pro")
    world.press("pro", f"accept:{match_id}")
    settle(world, "kid", "pro")
    world.say("pro", "Oui, parfois.", reply_to=request_copy(world, match_id))
    assert world.texts("kid") == [t(world, "fr", "relay.message", name="Marc (soudeur)",
                                    text="Oui, parfois.")]
    assert unheard(world, "kid2", "pro") == {}


def test_accepting_twice_or_after_the_end_says_so(world: Harness) -> None:
    match_id = requested(world)
    world.press("pro", f"accept:{match_id}")
    settle(world, "kid", "pro")
    world.press("pro", f"accept:{match_id}")
    world.press("pro", f"decline:{match_id}")
    assert world.texts("pro") == [t(world, "fr", "request.already_active")] * 2
    assert world.texts("kid") == []
    assert status(world, match_id) is MatchStatus.ACTIVE
    assert [a for _, a, _ in requests_audit(world)] == ["match_request", "match_accept"]

    world.say("kid", "/end")
    settle(world, "kid", "pro")
    world.press("pro", f"accept:{match_id}")
    assert world.texts("pro") == [t(world, "fr", "request.already_ended")]
    assert status(world, match_id) is MatchStatus.ENDED


# declining -------------------------------------------------------------------------------------

def test_declining_tells_the_mentor_only_and_no_conversation_starts(any_world: Harness) -> None:
    w = any_world
    match_id = requested(w)
    w.press("pro", f"decline:{match_id}")
    assert w.texts("pro") == [t(w, "fr", "request.declined")]
    assert w.texts("kid") == []
    with w.store() as store:
        match = store.match(match_id)
    assert match is not None and match.status is MatchStatus.DECLINED
    assert match.ended_by == w.participant("Marc").id and match.ended_at is not None
    assert requests_audit(w) == [
        ("test", "match_request", {"match_id": match_id}),
        (actor(w, "Marc"), "match_decline", {"match_id": match_id}),
    ]

    w.say("kid", "Bonjour?")
    assert w.texts("kid") == [t(w, "fr", "relay.no_match.student")]
    w.say("pro", "Bonjour?")
    assert w.texts("pro") == [t(w, "fr", "relay.no_match.mentor")]
    assert w.texts("kid") == []


def test_declining_in_english_then_pressing_again_changes_nothing(world: Harness) -> None:
    world.enrol_student("kid", "Zoé")
    enrol_english_mentor(world)
    match_id = world.propose("Zoé", "Sam")
    settle(world, "kid", "sam")
    world.press("sam", f"decline:{match_id}")
    world.press("sam", f"decline:{match_id}")
    world.press("sam", f"accept:{match_id}")
    assert world.texts("sam") == [
        t(world, "en", "request.declined"), t(world, "en", "request.already_declined"),
        t(world, "en", "request.already_declined"),
    ]
    assert world.texts("kid") == []
    assert status(world, match_id) is MatchStatus.DECLINED
    assert [a for _, a, _ in requests_audit(world)] == ["match_request", "match_decline"]


def test_after_a_decline_the_same_pair_may_be_proposed_again(world: Harness) -> None:
    first = requested(world)
    world.press("pro", f"decline:{first}")
    settle(world, "pro")
    second = world.propose("Zoé", "Marc", question="Et maintenant?")
    assert second != first
    got = world.inbox("pro")
    assert [s.message.text for s in got] == [request_text(world, "fr", "Et maintenant?")]
    assert got[0].message.buttons[0].action == f"accept:{second}"


# buttons that are not yours, or no longer anything ---------------------------------------------

def test_someone_elses_or_a_missing_request_is_a_stale_button(world: Harness) -> None:
    match_id = requested(world)
    world.enrol_mentor("other", "Luc", profession="pilote")
    settle(world, "other")
    for action in (f"accept:{match_id}", f"decline:{match_id}"):
        world.press("other", action)
        assert world.texts("other") == [t(world, "fr", "button.stale")], action
        world.press("kid", action)  # the student cannot answer their own request
        assert world.texts("kid") == [t(world, "fr", "button.stale")], action
    for action in ("accept:9999", "decline:9999", "accept:", "accept:x1", "decline:-1"):
        world.press("pro", action)
        assert world.texts("pro") == [t(world, "fr", "button.stale")], action
    assert status(world, match_id) is MatchStatus.REQUESTED
    assert [a for _, a, _ in requests_audit(world)] == ["match_request"]
    world.press("pro", f"accept:{match_id}")  # the real mentor still can
    assert world.texts("pro") == [accepted_text(world, "fr")]


def test_accepting_at_capacity_is_refused_and_the_request_waits(world: Harness) -> None:
    match_id = requested(world)
    world.enrol_student("kid2", "Noé")
    world.match("Noé", "Marc")
    world.say("pro", "/capacity 1")
    settle(world, "kid2", "pro")
    world.press("pro", f"accept:{match_id}")
    assert world.texts("pro") == [t(world, "fr", "request.full", capacity=1)]
    assert world.texts("kid") == []
    assert status(world, match_id) is MatchStatus.REQUESTED
    assert "match_accept" not in [a for _, a, _ in requests_audit(world)]

    world.say("pro", "/capacity 2")
    settle(world, "pro")
    world.press("pro", f"accept:{match_id}")
    assert world.texts("pro") == [accepted_text(world, "fr")]
    assert world.texts("kid") == [t(world, "fr", "match.intro_student", name="Marc (soudeur)")]
    assert status(world, match_id) is MatchStatus.ACTIVE


# proposals refused -----------------------------------------------------------------------------

def test_proposing_to_a_paused_mentor_is_refused(world: Harness) -> None:
    w = world
    people(w)
    w.say("pro", "/pause")
    settle(w, "pro")
    with pytest.raises(DomainError) as refused:
        w.propose("Zoé", "Marc", question="Allô?")
    assert refused.value.key == "match.paused" and refused.value.values == {"mentor": "Marc"}
    assert t(w, "fr", refused.value.key, **refused.value.values) == (
        "Marc est en pause et ne prend pas de nouvelles demandes pour l'instant."
    )
    assert match_count(w) == 0
    assert [a for _, a, _ in requests_audit(w)] == []
    assert unheard(w, "pro", "kid") == {}

    w.say("pro", "/resume")
    settle(w, "pro")
    match_id = w.propose("Zoé", "Marc", question="Allô?")
    assert w.texts("pro") == [request_text(w, "fr", "Allô?")]
    assert status(w, match_id) is MatchStatus.REQUESTED


def test_proposing_the_same_pair_twice_is_refused(world: Harness) -> None:
    match_id = requested(world)
    with pytest.raises(DomainError) as refused:  # while the first request waits
        world.propose("Zoé", "Marc")
    assert refused.value.key == "match.exists"
    assert refused.value.values == {"student": "Zoé", "mentor": "Marc"}
    world.press("pro", f"accept:{match_id}")
    with pytest.raises(DomainError) as refused:  # and once it is accepted
        world.propose("Zoé", "Marc")
    assert refused.value.key == "match.exists"
    with pytest.raises(DomainError) as refused:  # nor matched directly
        world.match("Zoé", "Marc")
    assert refused.value.key == "match.exists"
    assert match_count(world) == 1
    assert [a for _, a, _ in requests_audit(world)] == ["match_request", "match_accept"]
    assert world.texts("pro") == [accepted_text(world, "fr")]


# writing before answering ----------------------------------------------------------------------

def test_replying_to_a_request_before_accepting_asks_to_accept_first(world: Harness) -> None:
    match_id = requested(world)
    world.enrol_student("kid2", "Noé")
    world.match("Noé", "Marc")
    settle(world, "kid2", "pro")
    world.say("pro", "Bonjour Zoé!", reply_to=request_copy(world, match_id))
    assert world.texts("pro") == [t(world, "fr", "request.answer_first")]
    assert unheard(world, "kid", "kid2") == {}


def slack_request(w: Harness) -> tuple[int, str]:
    """Marc, on Slack, is asked to take Zoé (playground) on; the request's platform id."""
    w.enrol_student("kid", "Zoé")
    w.enrol_mentor("pro", "Marc", platform="slack", profession="soudeur")
    settle(w, "kid")
    settle(w, "pro", platform="slack")
    match_id = w.propose("Zoé", "Marc", question="C'est dur?")
    request = w.last("pro", "slack")
    assert request.message.text == request_text(w, "fr", "C'est dur?")
    return match_id, request.id


def test_writing_in_a_request_thread_before_accepting_asks_to_accept_first(
    slack_world: Harness,
) -> None:
    w = slack_world
    match_id, root = slack_request(w)
    w.enrol_student("kid2", "Noé")
    w.match("Noé", "Marc")
    settle(w, "kid2")
    settle(w, "pro", platform="slack")
    w.say("pro", "Bonjour Zoé!", platform="slack", thread=root)
    got = w.inbox("pro", "slack")
    assert [s.message.text for s in got] == [t(w, "fr", "request.answer_first")]
    assert got[0].message.to == Address("slack", "pro", root)  # answered in that thread
    assert unheard(w, "kid", "kid2") == {}
    assert status(w, match_id) is MatchStatus.REQUESTED


def test_a_mentor_with_only_a_waiting_request_is_asked_to_accept_first(
    slack_world: Harness,
) -> None:
    w = slack_world
    _, root = slack_request(w)
    w.say("pro", "Bonjour Zoé!", platform="slack", thread=root)
    assert w.texts("pro", "slack") == [t(w, "fr", "request.answer_first")]
    assert w.texts("kid") == []
