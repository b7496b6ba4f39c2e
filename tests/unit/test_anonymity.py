"""Anonymity: whatever the platform ids of two people, neither side ever receives the other's.

A student on Telegram and a mentor on Slack enrol, are matched, talk (replies included), look at
their profile and end the conversation; then every message each platform was asked to deliver is
searched for the other side's platform user id and chat id.
"""

from __future__ import annotations

import shutil
import string
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from core.context import Services
from core.model import LANGUAGES, Outbound, Role
from storage.engine import make_engine
from storage.migrate import upgrade
from tests.harness import Harness

IDS = st.text(alphabet=string.ascii_letters + string.digits + "_@.-", min_size=3, max_size=20)
WORDS = st.text(alphabet=string.ascii_letters + "éàç ?!,", min_size=1, max_size=60).filter(
    str.strip
)
STUDENT, MENTOR = "telegram", "slack"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database file, copied for each example (migrating each time is slow)."""
    path = tmp_path_factory.mktemp("anonymity") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


class Corpus:
    """Texts to search, with a short repr for Hypothesis's reports."""

    def __init__(self, texts: list[str]) -> None:
        self.text = "\n".join(texts)

    def __contains__(self, part: str) -> bool:
        return part in self.text

    def __repr__(self) -> str:
        return f"<corpus of {len(self.text)} characters>"


@pytest.fixture(scope="module")
def corpus(services: Services) -> Corpus:
    """Every text the service may legitimately send, whoever the people are."""
    texts = [services.catalog.t(lang, key) for lang in LANGUAGES
             for key in services.catalog.keys(lang)]
    texts += [f.label(lang) for f in services.fields for lang in LANGUAGES]
    texts += ["Zoé", "Marc", "soudeur", "Santé et soins", "S-2345", "M-2345"]
    # the platform message ids the harness and the fake channels make up
    texts += [f"{prefix}-{n}" for prefix in ("in", STUDENT, MENTOR) for n in range(200)]
    return Corpus(texts)


@pytest.fixture
def fresh(template: Path, services: Services) -> Iterator[Callable[[], Harness]]:
    engines = []

    def make() -> Harness:
        path = template.with_name(f"{uuid.uuid4().hex}.db")
        shutil.copyfile(template, path)
        engine = make_engine(f"sqlite:///{path}")
        engines.append(engine)
        return Harness(engine, services)

    yield make
    for engine in engines:
        engine.dispose()


def leaks(message: Outbound, secrets: tuple[str, ...]) -> list[str]:
    visible = [message.text, message.reply_to or ""]
    visible += [part for b in message.buttons for part in (b.label, b.action)]
    return [s for s in secrets if any(s in v for v in visible)]


@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(student_user=IDS, student_chat=IDS, mentor_user=IDS, mentor_chat=IDS,
       first=WORDS, reply=WORDS)
def test_no_platform_id_crosses_a_relay(
    fresh: Callable[[], Harness], corpus: Corpus, student_user: str, student_chat: str,
    mentor_user: str, mentor_chat: str, first: str, reply: str,
) -> None:
    student_ids = (student_user, student_chat)
    mentor_ids = (mentor_user, mentor_chat)
    for secret in (*student_ids, *mentor_ids):
        assume(secret not in corpus and secret not in first and secret not in reply)
    assume(student_chat != mentor_chat)

    w: Harness = fresh()

    def kid(text: str = "", **kw: object) -> None:
        w.say(student_user, text, platform=STUDENT, chat=student_chat, **kw)  # type: ignore[arg-type]

    def pro(text: str = "", **kw: object) -> None:
        w.say(mentor_user, text, platform=MENTOR, chat=mentor_chat, **kw)  # type: ignore[arg-type]

    w.invite("S-2345", Role.STUDENT)
    w.invite("M-2345", Role.MENTOR)
    for text in ("/start S-2345", "fr", "Zoé", "16", "1", "ok"):
        kid(text)
    for text in ("/start M-2345", "fr", "Marc", "1", "soudeur", "1", "8", "3"):
        pro(text)
    w.match("Zoé", "Marc")

    kid(first)
    w.deliver(MENTOR)
    received = w.channel(MENTOR).chat(mentor_chat)
    pro(reply, reply_to=received[-1].id)
    w.deliver(STUDENT)
    kid("Merci!", reply_to=w.channel(STUDENT).chat(student_chat)[-1].id)
    kid("/profile")
    pro("/profile")
    pro("/end")
    w.deliver(STUDENT)
    w.deliver(MENTOR)

    to_student = w.channel(STUDENT).sent
    to_mentor = w.channel(MENTOR).sent
    assert to_student and to_mentor
    assert {s.message.to.chat_id for s in to_student} == {student_chat}
    assert {s.message.to.chat_id for s in to_mentor} == {mentor_chat}
    assert [leaks(s.message, mentor_ids) for s in to_student if leaks(s.message, mentor_ids)] == []
    assert [leaks(s.message, student_ids) for s in to_mentor if leaks(s.message, student_ids)] == []
    # the conversation did happen, under pseudonyms
    assert any(s.message.text.startswith("Marc (soudeur) :") for s in to_student)
    assert any(s.message.text.startswith("Zoé :") for s in to_mentor)
