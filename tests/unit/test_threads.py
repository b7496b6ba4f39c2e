"""A thread per match where the platform has threads (Slack): a mentor with several students
answers each in their own thread, and nothing written in one thread reaches another student.

The mentor is on "slack" (threaded in `slack_world`), the students on the playground (no threads).
"""

from __future__ import annotations

import itertools
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete

from core.context import Services
from core.model import Address
from storage.engine import make_engine
from storage.tables import O
from tests.fakes import Sent
from tests.harness import Harness
from tests.inbox import end_survey, settle, t, unheard

SLACK = "slack"
MARC = "Marc (soudeur)"


def relayed(w: Harness, name: str, text: str) -> str:
    return t(w, "fr", "relay.message", name=name, text=text)


def mentor_inbox(w: Harness) -> list[Sent]:
    return w.inbox("pro", SLACK)


def mentor(w: Harness, text: str = "", **kw: object) -> None:
    """Marc does something on Slack."""
    w.say("pro", text, platform=SLACK, **kw)  # type: ignore[arg-type]


def slack_mentor(w: Harness) -> None:
    """Marc (soudeur) on Slack, user and DM "pro"; Zoé ("kid") on the playground."""
    w.enrol_student("kid", "Zoé")
    w.enrol_mentor("pro", "Marc", platform=SLACK, profession="soudeur")
    settle(w, "kid")
    settle(w, "pro", platform=SLACK)


def accepted(w: Harness) -> tuple[int, str]:
    """Marc accepts to take Zoé on: the match, and its thread (the request's platform id)."""
    slack_mentor(w)
    match_id = w.propose("Zoé", "Marc", question="C'est dur?")
    request = mentor_inbox(w)
    assert len(request) == 1 and request[0].message.to == Address(SLACK, "pro")
    w.press("pro", f"accept:{match_id}", platform=SLACK)
    w.texts("kid")
    (answer,) = mentor_inbox(w)
    assert answer.message.to == Address(SLACK, "pro", request[0].id)
    return match_id, request[0].id


def second_student(w: Harness) -> tuple[int, str]:
    """Noé ("kid2") matched with Marc directly: the match, and its thread (the intro's id)."""
    w.enrol_student("kid2", "Noé")
    match_id = w.match("Noé", "Marc")
    w.texts("kid2")
    (intro,) = mentor_inbox(w)
    assert intro.message.to == Address(SLACK, "pro")  # the root itself is in the channel
    return match_id, intro.id


class Duo(NamedTuple):
    w: Harness
    zoe: str  # the root of Zoé's thread
    noe: str
    zoe_match: int
    noe_match: int


@pytest.fixture
def duo(slack_world: Harness) -> Duo:
    """Zoé's thread (a request Marc accepted) and Noé's (a direct match)."""
    zoe_match, zoe = accepted(slack_world)
    noe_match, noe = second_student(slack_world)
    return Duo(slack_world, zoe, noe, zoe_match, noe_match)


def marc_address(w: Harness) -> Address | None:
    marc = w.participant("Marc").id
    assert marc is not None
    with w.store() as store:
        return store.address_of(marc)


def test_the_request_opens_the_thread_the_whole_match_lives_in(slack_world: Harness) -> None:
    w = slack_world
    _, root = accepted(w)
    w.say("kid", "Tu travailles de nuit?")
    w.say("kid", "Et le week-end?")
    got = mentor_inbox(w)
    assert [(s.message.text, s.message.to) for s in got] == [
        (relayed(w, "Zoé", "Tu travailles de nuit?"), Address(SLACK, "pro", root)),
        (relayed(w, "Zoé", "Et le week-end?"), Address(SLACK, "pro", root)),
    ]
    mentor(w, "Parfois.", thread=root)
    assert w.inbox("kid")[0].message.to == Address("playground", "kid")
    w.say("kid", "/end")
    assert [(s.message.text, s.message.to.thread_id) for s in mentor_inbox(w)] == [
        (t(w, "fr", "end.done_by_other", name="Zoé"), root),
        (t(w, "fr", "survey.end_reason"), root),  # the end survey, in the match's thread
    ]
    assert w.texts("kid") == [t(w, "fr", "end.done_by_you", name=MARC),
                              *end_survey(w, "student", MARC)]
    # nothing the student side received was ever threaded
    assert w.channel().sent and all(s.message.to.thread_id is None for s in w.channel().sent)


def test_answers_about_a_request_go_into_its_thread(slack_world: Harness) -> None:
    w = slack_world
    slack_mentor(w)
    match_id = w.propose("Zoé", "Marc")
    (request,) = mentor_inbox(w)
    w.press("pro", f"decline:{match_id}", platform=SLACK)
    w.press("pro", f"accept:{match_id}", platform=SLACK)
    assert [(s.message.text, s.message.to) for s in mentor_inbox(w)] == [
        (t(w, "fr", "request.declined"), Address(SLACK, "pro", request.id)),
        (t(w, "fr", "request.already_declined"), Address(SLACK, "pro", request.id)),
    ]
    assert unheard(w, "kid") == {}


def test_a_direct_match_opens_its_thread_with_the_introduction(slack_world: Harness) -> None:
    w = slack_world
    slack_mentor(w)
    w.match("Zoé", "Marc")
    (intro,) = mentor_inbox(w)
    assert intro.message.text.startswith("Nouveau jumelage : Zoé")
    assert intro.message.to == Address(SLACK, "pro")
    w.say("kid", "Allô")
    assert [s.message.to for s in mentor_inbox(w)] == [Address(SLACK, "pro", intro.id)]


def test_each_student_has_a_thread_and_each_thread_reaches_its_student_only(duo: Duo) -> None:
    w, zoe, noe = duo.w, duo.zoe, duo.noe
    assert zoe != noe
    settle(w, "kid")
    w.say("kid", "Question de Zoé")
    w.say("kid2", "Question de Noé")
    assert [(s.message.text, s.message.to.thread_id) for s in mentor_inbox(w)] == [
        (relayed(w, "Zoé", "Question de Zoé"), zoe), (relayed(w, "Noé", "Question de Noé"), noe),
    ]
    mentor(w, "Pour Zoé", thread=zoe)
    mentor(w, "Pour Noé", thread=noe)
    mentor(w, "Encore pour Zoé", thread=zoe)
    assert w.texts("kid") == [relayed(w, MARC, "Pour Zoé"), relayed(w, MARC, "Encore pour Zoé")]
    assert w.texts("kid2") == [relayed(w, MARC, "Pour Noé")]
    assert mentor_inbox(w) == []


def test_a_message_outside_the_threads_waits_for_a_choice(duo: Duo) -> None:
    w, zoe_id, noe_id = duo.w, duo.zoe_match, duo.noe_match
    settle(w, "kid")
    mentor(w, "Bonjour à vous deux?", thread=None)
    mentor(w, "Et bonne semaine", thread=None)
    got = mentor_inbox(w)
    assert [s.message.text for s in got] == [t(w, "fr", "relay.use_thread")] * 2
    assert got[0].message.to == Address(SLACK, "pro")  # not in anyone's thread
    assert [(b.label, b.action) for b in got[0].message.buttons] == [
        ("Zoé", f"conv:{zoe_id}"), ("Noé", f"conv:{noe_id}"),
    ]
    assert unheard(w, "kid", "kid2") == {}
    assert w.participant("Marc").pending_text == "Bonjour à vous deux?\nEt bonne semaine"

    w.press("pro", f"conv:{noe_id}", platform=SLACK)
    assert w.texts("kid2") == [relayed(w, MARC, "Bonjour à vous deux?\nEt bonne semaine")]
    assert unheard(w, "kid") == {} and mentor_inbox(w) == []
    assert w.participant("Marc").pending_text is None

    # a remembered choice does not route the next message outside a thread: it asks again
    mentor(w, "Et encore?")
    assert [s.message.text for s in mentor_inbox(w)] == [t(w, "fr", "relay.use_thread")]
    assert unheard(w, "kid", "kid2") == {}


def test_a_slash_command_is_answered_privately_and_moves_nobody(duo: Duo) -> None:
    w, zoe = duo.w, duo.zoe
    mentor(w, "/help", private=True)
    (answer,) = mentor_inbox(w)
    assert answer.message.to == Address(SLACK, "pro", None, "pro")
    assert answer.message.text == t(w, "fr", "help.mentor", hint=t(w, "fr", "help.hint.slack"))
    assert "/passerelle pause" in answer.message.text
    assert marc_address(w) == Address(SLACK, "pro")  # the DM, as before
    w.say("kid", "Merci!")
    mentor(w, "/kit")
    later = mentor_inbox(w)
    assert [(s.message.to.thread_id, s.message.to.private_to) for s in later] == [
        (zoe, None), (None, None),
    ]
    assert later[1].message.text.startswith("La trousse du bon mentor")


def test_help_elsewhere_has_no_slack_hint(world: Harness) -> None:
    world.enrol_mentor("pro", "Marc", profession="soudeur")
    world.texts("pro")
    world.say("pro", "/help")
    assert world.texts("pro") == [t(world, "fr", "help.mentor", hint="")]


def test_the_thread_outlives_a_restart(slack_world: Harness) -> None:
    w = slack_world
    _, root = accepted(w)
    again = Harness(w.engine, w.services)
    again.channel(SLACK)._ids = itertools.count(1000)  # no id of the first run comes back
    again.say("kid", "Tu es encore là?")
    got = again.inbox("pro", SLACK)
    assert [(s.message.text, s.message.to) for s in got] == [
        (relayed(w, "Zoé", "Tu es encore là?"), Address(SLACK, "pro", root))
    ]
    again.say("pro", "Oui!", platform=SLACK, thread=root)
    assert again.texts("kid") == [relayed(w, MARC, "Oui!")]


# deletions -------------------------------------------------------------------------------------

def test_deleting_a_relayed_message_removes_the_copy_silently(duo: Duo) -> None:
    w, zoe = duo.w, duo.zoe
    settle(w, "kid")
    mentor(w, "Je commence à 7 h demain", thread=zoe, message_id="pro-7")
    (copy,) = w.inbox("kid")
    mentor(w, thread=zoe, deleted=True, message_id="pro-7")
    w.deliver()
    assert [(d.to, d.delete_of) for d in w.channel().deletions] == [
        (Address("playground", "kid"), copy.id)
    ]
    assert mentor_inbox(w) == [] and unheard(w, "kid", "kid2") == {}


def test_deleting_something_never_relayed_changes_nothing(duo: Duo) -> None:
    w, zoe = duo.w, duo.zoe
    settle(w, "kid")
    mentor(w, "/kit", message_id="pro-kit")
    mentor_inbox(w)
    for message_id in ("pro-kit", "never-seen", zoe):
        mentor(w, thread=zoe, deleted=True, message_id=message_id)
    w.say("kid", deleted=True, message_id="kid-unknown")
    w.deliver()
    w.deliver(SLACK)
    assert w.channel().deletions == [] and w.channel(SLACK).deletions == []
    assert mentor_inbox(w) == [] and unheard(w, "kid", "kid2") == {}


def test_deleting_a_message_that_arrived_in_parts_removes_every_part(
    slack_world: Harness,
) -> None:
    w = slack_world
    _, root = accepted(w)
    w.channel().max_text = 100
    mentor(w, " ".join(["secret"] * 60), thread=root, message_id="pro-long")
    parts = w.inbox("kid")
    assert len(parts) >= 3
    mentor(w, thread=root, deleted=True, message_id="pro-long")
    w.deliver()
    assert {d.delete_of for d in w.channel().deletions} == {s.id for s in parts}


@pytest.mark.xfail(strict=True, reason=(
    "a message kept pending (relay.use_thread) is stored without its platform id: deleting it "
    "finds nothing, and pressing a conversation button still delivers the deleted text"))
def test_a_message_deleted_while_waiting_for_a_choice_is_not_delivered(duo: Duo) -> None:
    w, noe_id = duo.w, duo.noe_match
    mentor(w, "Oups, pas pour vous", message_id="pro-oops")
    mentor_inbox(w)
    mentor(w, deleted=True, message_id="pro-oops")
    w.press("pro", f"conv:{noe_id}", platform=SLACK)
    assert w.texts("kid2") == []


def test_a_student_on_a_threaded_platform_writes_to_their_one_mentor(
    slack_world: Harness,
) -> None:
    w = slack_world
    w.enrol_student("kid", "Zoé", platform=SLACK)
    w.enrol_mentor("pro", "Marc", profession="soudeur")
    w.match("Zoé", "Marc")
    w.texts("kid", SLACK)
    w.texts("pro")
    w.say("kid", "Allô", platform=SLACK)
    assert w.texts("pro") == [relayed(w, "Zoé", "Allô")]
    assert w.texts("kid", SLACK) == []


# property: nothing crosses between threads -----------------------------------------------------

STUDENTS = ("Ana", "Béa", "Cyd", "Dan")


@pytest.fixture(scope="module")
def threaded(services: Services) -> Services:
    return replace(services, threaded=frozenset({SLACK}))


@pytest.fixture(scope="module")
def enrolled(migrated_sqlite: Path, threaded: Services) -> Path:
    """Marc on Slack (up to 5 students) and four students, enrolled once; outbox emptied."""
    path = migrated_sqlite.with_name("enrolled.db")
    shutil.copyfile(migrated_sqlite, path)
    engine = make_engine(f"sqlite:///{path}")
    w = Harness(engine, threaded)
    w.enrol_mentor("pro", "Marc", platform=SLACK, profession="soudeur")
    mentor(w, "/capacity 5")
    for n, name in enumerate(STUDENTS):
        w.enrol_student(f"k{n}", name)
    with engine.begin() as conn:
        conn.execute(delete(O))
    engine.dispose()
    return path


@pytest.fixture
def fresh() -> Iterator[list[Engine]]:
    """The engines an example opened, closed after the test."""
    engines: list[Engine] = []
    yield engines
    for engine in engines:
        engine.dispose()


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(2, 4),
       steps=st.lists(st.tuples(st.booleans(), st.integers(0, 3)), min_size=1, max_size=10))
def test_every_thread_reaches_its_student_and_no_one_else(
    fresh: list[Engine], enrolled: Path, threaded: Services, n: int,
    steps: list[tuple[bool, int]],
) -> None:
    path = enrolled.with_name(f"{uuid.uuid4().hex}.db")
    shutil.copyfile(enrolled, path)
    engine = make_engine(f"sqlite:///{path}")
    fresh.append(engine)
    w = Harness(engine, threaded)
    for name in STUDENTS[:n]:
        w.match(name, "Marc")
    roots = [s.id for s in mentor_inbox(w)]  # the introductions, in the order of the matches
    assert len(roots) == n

    to_mentor: list[tuple[str, str]] = []
    to_student: dict[int, list[str]] = {i: [] for i in range(n)}
    for k, (by_mentor, who) in enumerate(steps):
        i = who % n
        if by_mentor:
            text = f"m{k} pour {STUDENTS[i]}"
            mentor(w, text, thread=roots[i])
            to_student[i].append(relayed(w, MARC, text))
        else:
            text = f"s{k} de {STUDENTS[i]}"
            w.say(f"k{i}", text)
            to_mentor.append((relayed(w, STUDENTS[i], text), roots[i]))

    assert [(s.message.text, s.message.to.thread_id) for s in mentor_inbox(w)] == to_mentor
    w.deliver()
    for i in range(n):
        got = w.channel().chat(f"k{i}")[1:]  # after the introduction
        assert [s.message.text for s in got] == to_student[i]
        assert all(s.message.to == Address("playground", f"k{i}") for s in got)
    assert {s.message.to.chat_id for s in w.channel().sent} <= {f"k{i}" for i in range(n)}
