"""Anonymity in discussion groups: whatever the platform ids of the members, no copy of a post
carries its author's, and every other member who can be reached gets exactly one copy of it.

Members on the playground, Telegram and Slack (a thread per group) enrol through the bus under
arbitrary pseudonyms, platform user ids and chat ids, join one group and post arbitrary texts,
some as replies to the copies they received; some have blocked the bot. Then everything each
platform was asked to deliver is searched for any other member's platform user id or chat id.
"""

from __future__ import annotations

import shutil
import string
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from core.context import Services
from core.model import LANGUAGES, Address, Outbound, Role, School
from core.onboarding import pseudonym_problem
from core.safety import redact
from storage.engine import make_engine
from storage.migrate import upgrade
from tests.fakes import Sent
from tests.harness import Harness
from tests.inbox import t

IDS = st.text(alphabet=string.ascii_letters + string.digits + "_@.-", min_size=3, max_size=20)
PSEUDONYMS = st.text(alphabet=string.ascii_letters + "éèçÉÀ", min_size=2, max_size=14).filter(
    lambda name: pseudonym_problem(name) is None)
TEXTS = st.text(alphabet=string.ascii_letters + string.digits + "éàç ?!,.'\n-", min_size=1,
                max_size=60).filter(
    # Contact details are held for review where minors are (tests/unit/test_safety_policy.py):
    # here, texts that are relayed as they are.
    lambda s: s.strip() != "" and not s.strip().startswith("/") and not redact(s).found)
PLATFORMS = ("playground", "telegram", "slack")
GROUP = "Cercle"
COORDINATOR = "coord#0"  # '#' is not in IDS: no member can be taken for the coordinator
PROFESSION = "soudeur"


class Corpus:
    """Texts the service may send whoever the people are, with a short repr for reports."""

    def __init__(self, texts: list[str]) -> None:
        self.text = "\n".join(texts)

    def __contains__(self, part: str) -> bool:
        return part in self.text

    def __repr__(self) -> str:
        return f"<corpus of {len(self.text)} characters>"


@pytest.fixture(scope="module")
def corpus(services: Services) -> Corpus:
    texts = [services.catalog.t(lang, key) for lang in LANGUAGES
             for key in services.catalog.keys(lang)]
    texts += [f.label(lang) for f in services.fields for lang in LANGUAGES]
    texts += [GROUP, PROFESSION, "S-GROUP-1", "M-GROUP-1", COORDINATOR]
    # the platform message ids the harness and the fake channels make up
    texts += [f"{prefix}-{n}" for prefix in ("in", *PLATFORMS) for n in range(400)]
    return Corpus(texts)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, services: Services) -> Path:
    """A migrated database with a school, its coordinator, group #1 and the invite codes:
    copied for each example (migrating and setting the scene each time is slow)."""
    path = tmp_path_factory.mktemp("group_anonymity") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    w = Harness(engine, services)
    with w.store() as store:
        school = store.add_school(School("École Test"))
    w.invite("C-GROUP-1", Role.COORDINATOR, school.id)
    w.invite("S-GROUP-1", Role.STUDENT, school.id)
    w.invite("M-GROUP-1", Role.MENTOR)
    for text in ("/start C-GROUP-1", "fr", "Coordo", f"/group new {GROUP} band=14-17"):
        w.say(COORDINATOR, text)
    with w.store() as store:
        (group,) = store.open_groups(None, None, everywhere=True)
    assert group.id == 1 and group.school_id == school.id
    engine.dispose()
    return path


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


@dataclass
class Member:
    platform: str
    user: str
    chat: str
    pseudonym: str
    mentor: bool
    language: str
    blocked: bool
    thread: str | None = None  # on Slack: the root of the group's thread (the "you joined")
    got: list[tuple[int, Sent]] = field(default_factory=list)  # (post number, its copy)

    @property
    def secrets(self) -> tuple[str, str]:
        return (self.user, self.chat)

    def shown(self, w: Harness, lang: str) -> str:
        if not self.mentor:
            return self.pseudonym
        return t(w, lang, "relay.name_with_profession", name=self.pseudonym,
                 profession=PROFESSION)


MEMBERS = st.lists(
    st.tuples(st.sampled_from(PLATFORMS), IDS, IDS, PSEUDONYMS, st.booleans(),
              st.sampled_from(LANGUAGES), st.booleans()),
    min_size=2, max_size=4,
)
POSTS = st.lists(st.tuples(st.integers(0, 3), TEXTS, st.none() | st.integers(0, 5)),
                 min_size=1, max_size=6)


def leaks(message: Outbound, secrets: tuple[str, ...]) -> list[str]:
    visible = [message.text, message.reply_to or "", message.to.chat_id,
               message.to.thread_id or "", message.to.private_to or ""]
    visible += [part for b in message.buttons for part in (b.label, b.action)]
    return [s for s in secrets if any(s in v for v in visible)]


def enrol(w: Harness, m: Member) -> None:
    """Through the bus, as the person would; a mentor is then vetted by the program."""
    code = "M-GROUP-1" if m.mentor else "S-GROUP-1"
    answers = (("/start " + code, m.language, m.pseudonym, "1", PROFESSION, "1", "8", "3")
               if m.mentor else ("/start " + code, m.language, m.pseudonym, "16", "1", "ok"))
    for text in answers:
        w.say(m.user, text, platform=m.platform, chat=m.chat)
    if m.mentor:
        with w.store() as store:
            p = store.find_participant(m.pseudonym)
            assert p is not None and p.language == m.language
            p.vetted = True
            store.save_participant(p)


def deliver_all(w: Harness) -> None:
    for platform in PLATFORMS:
        w.deliver(platform)


def news(w: Harness, m: Member, seen: dict[str, int]) -> list[Sent]:
    """What `m` received since last asked (everything already delivered)."""
    received = w.channel(m.platform).chat(m.chat)
    new = received[seen.get(m.chat, 0):]
    seen[m.chat] = len(received)
    return new


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(people=MEMBERS, posts=POSTS)
def test_no_platform_id_crosses_a_group_and_each_member_gets_one_copy(
    fresh: Callable[[], Harness], corpus: Corpus,
    people: list[tuple[str, str, str, str, bool, str, bool]],
    posts: list[tuple[int, str, int | None]],
) -> None:
    members = [Member(*person) for person in people]
    secrets = [s for m in members for s in m.secrets]
    assume(len({s.casefold() for s in secrets}) == len(secrets))
    assume(len({m.pseudonym.casefold() for m in members}) == len(members))
    shown = [m.pseudonym for m in members] + [text for _, text, _ in posts]
    for secret in secrets:
        assume(secret not in corpus and not any(secret in words for words in shown))
        # no secret inside another one (a chat id may legitimately contain its own user id)
        assume(not any(secret in other for other in secrets if other != secret))

    w = fresh()
    seen: dict[str, int] = {}
    for m in members:
        enrol(w, m)
        w.say(m.user, "/join 1", platform=m.platform, chat=m.chat)
    deliver_all(w)
    for count, m in enumerate(members, start=1):
        joined = news(w, m, seen)[-1]
        how = t(w, m.language, "group.how.thread" if m.platform == "slack" else "group.how.chat")
        assert joined.message.text == t(w, m.language, "group.joined", name=GROUP, count=count,
                                        how=how, welcome="")
        if m.platform == "slack":
            m.thread = joined.id
    with w.store() as store:
        for m in members:
            if m.blocked:  # the platform said so when something was last sent to them
                event("a member blocked the bot")
                assert store.mark_unreachable(Address(m.platform, m.chat))  # type: ignore[arg-type]

    written: list[tuple[Member, str]] = []  # each post: its author and its text
    for who, text, answer in posts:
        author = members[who % len(members)]
        replied: tuple[Member, str] | None = None
        reply_to = None
        if author.platform == "slack":  # in the group's thread (no quote: it answers no post)
            reply_to = author.thread
        elif answer is not None and answer < len(author.got):
            number, copy = author.got[answer]
            replied, reply_to = written[number], copy.id
            event("a reply quotes a post")
        w.say(author.user, text, platform=author.platform, chat=author.chat,
              reply_to=None if author.platform == "slack" else reply_to,
              thread=reply_to if author.platform == "slack" else None)
        author.blocked = False  # writing to the bot is coming back to it
        written.append((author, text))
        deliver_all(w)
        for m in members:
            new = news(w, m, seen)
            if m is author or m.blocked:
                assert new == [], (m.pseudonym, [s.message.text for s in new])
                continue
            assert len(new) == 1, (m.pseudonym, [s.message.text for s in new])
            (copy,) = new
            lang = m.language
            if replied is None:
                expected = t(w, lang, "group.post", group=GROUP, name=author.shown(w, lang),
                             text=text.strip())
            else:
                expected = t(
                    w, lang, "group.post_reply", group=GROUP, name=author.shown(w, lang),
                    replied=replied[0].pseudonym, quote=" ".join(replied[1].split()),
                    text=text.strip())
            assert copy.message.text == expected
            assert copy.message.to.chat_id == m.chat
            assert copy.message.to.thread_id == m.thread  # Slack: in the group's thread
            assert copy.message.buttons == ()
            m.got.append((len(written) - 1, copy))

    for m in members:
        others = tuple(s for o in members if o is not m for s in o.secrets)
        received = w.channel(m.platform).chat(m.chat)
        assert [leaks(s.message, others) for s in received if leaks(s.message, others)] == []
    for platform in PLATFORMS:  # nothing went anywhere but to a member's own chat
        chats = {m.chat for m in members if m.platform == platform}
        if platform == "playground":
            chats.add(COORDINATOR)
        assert {s.message.to.chat_id for s in w.channel(platform).sent} <= chats

