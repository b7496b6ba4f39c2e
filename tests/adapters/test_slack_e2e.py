"""A mentor on Slack (the real slack-bolt AsyncApp, Socket Mode, against our fake Slack on
127.0.0.1) enrols, accepts a student with a button and talks with her in a thread; she is on the
playground. Every step goes through the whole service: bus, database, outbox, delivery workers."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from bots.app import Passerelle
from bots.demo import load_demo
from bots.settings import load_settings
from core.context import Context, Services
from core.matches import propose_match
from core.model import Invite, Role
from storage.store import SqlUnitOfWork
from tests.adapters.fake_slack import FakeSlack
from tests.adapters.service import TODAY, playground, playground_says, running, vet

MENTOR = "U0MARC"
_CLIENT_IDS = itertools.count(1)
CODE = "SLACK-MARC-1"


def settings_for(fake: FakeSlack, **slack: object):  # type: ignore[no-untyped-def]
    return load_settings(
        web={"host": "127.0.0.1", "port": 0}, delivery={"poll_seconds": 0.05},
        playground={"enabled": "on"},
        slack={"bot_token": fake.bot_token, "base_url": fake.api_url, **slack},
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as server:
        yield server


async def serve(engine: Engine, services: Services, settings: Any
                ) -> AsyncIterator[Passerelle]:
    with SqlUnitOfWork(engine) as store:
        load_demo(store, TODAY)
        store.add_invite(Invite(CODE, Role.MENTOR, None), TODAY)
    app = Passerelle(settings, engine, services)
    stop, task = await running(app)
    try:
        yield app
    finally:
        stop.set()
        await task


@pytest.fixture
async def service(sqlite_db: Engine, services: Services, fake: FakeSlack
                  ) -> AsyncIterator[Passerelle]:
    async for app in serve(sqlite_db, services, settings_for(fake, app_token=fake.app_token)):
        await fake.wait_connections(1, timeout=5)
        yield app


async def bot_says(app: Passerelle, user: str, seen: int, count: int = 1) -> list[dict]:
    """The next `count` messages from the bot to a playground user after the first `seen`."""
    got: list[dict] = []
    for _ in range(20):
        got = [m for m in await playground(app, user, seen) if m["from"] == "bot"]
        if len(got) >= count:
            return got
        await asyncio.sleep(0.05)  # a pane with older messages answers at once
    raise AssertionError(f"{user} got {got}")


async def mentor_says(fake: FakeSlack, text: str, *, thread_ts: str | None = None) -> dict:
    event = fake.dm_message(MENTOR, text, thread_ts=thread_ts)
    envelope = await fake.push_event(event)
    await fake.wait_ack(envelope, timeout=5)  # acknowledged only once committed
    return event


async def posted_after(fake: FakeSlack, seen: int, count: int = 1) -> list[dict]:
    await fake.wait_posted(seen + count, timeout=5)
    return fake.posted()[seen:seen + count]


async def enrol(fake: FakeSlack, services: Services) -> None:
    """The mentor types the invite code in the app's DM, then answers the onboarding."""
    for answer in (CODE, "fr", "Marc", "1", "soudeur", "4", "12", "3"):
        seen = len(fake.posted())
        await mentor_says(fake, answer)
        await fake.wait_posted(seen + 1, timeout=5)
    done = services.catalog.t("fr", "onboarding.done.mentor", name="Marc")
    for _ in range(100):
        if done in fake.texts(fake.dm_channel(MENTOR)):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(fake.texts(fake.dm_channel(MENTOR)))


def propose(engine: Engine, services: Services, student: str, mentor: str) -> int:
    with SqlUnitOfWork(engine) as store:
        ctx = Context(store, services, TODAY)
        vet(store, mentor)
        match = propose_match(ctx, student, mentor, actor="test", question="C'est dur?")
        store.enqueue(ctx.out, ctx.now)
    assert match.id is not None
    return match.id


def texts_of(blocks: list[dict]) -> str:
    return "\n".join(b["text"]["text"] for b in blocks if b.get("type") == "section")


async def test_a_slack_mentor_enrols_accepts_and_talks_in_a_thread(
    service: Passerelle, fake: FakeSlack, sqlite_db: Engine, services: Services
) -> None:
    catalog = services.catalog
    dm = fake.dm_channel(MENTOR)
    await enrol(fake, services)

    # a coordinator proposes Léa (on the playground) to Marc: a request with buttons
    seen_lea = len(await playground(service, "student"))
    seen = len(fake.posted())
    match_id = propose(sqlite_db, services, "Léa", "Marc")
    service.poke_all()
    (request,) = await posted_after(fake, seen)
    assert "Léa" in texts_of(request["blocks"]) and "C'est dur?" in texts_of(request["blocks"])
    buttons = request["blocks"][-1]["elements"]
    assert [b["value"] for b in buttons] == [
        f"accept:{match_id}", f"decline:{match_id}", "pause:on"]
    assert [m for m in await playground(service, "student", seen_lea) if m["from"] == "bot"] == []

    # he accepts with the button: acked, the request shows the choice, Léa hears the news
    action = fake.block_action(MENTOR, request["ts"], dm, buttons[0]["action_id"])
    envelope = await fake.push_interactive(action)
    await fake.wait_ack(envelope, timeout=5)
    (update,) = await fake.wait_calls("chat.update", timeout=5)
    assert update.params["ts"] == request["ts"]
    context = update.params["blocks"][-1]["elements"][0]["text"]
    assert context == f"✓ {catalog.t('fr', 'request.accept')} · <@{MENTOR}>"
    (intro,) = await bot_says(service, "student", seen_lea)
    assert intro["text"] == catalog.t("fr", "match.intro_student", name="Marc (soudeur)")
    (accepted,) = await posted_after(fake, seen + 1)
    assert accepted["thread_ts"] == request["ts"]  # everything of this match: in its thread

    # Léa writes (a reply to Marc's introduction); her text cannot ping or forge a link
    seen = len(fake.posted())
    await playground_says(service, "student", "Bonjour <!channel> & <#C0GENERAL|ici>",
                          reply_to=intro["id"])
    (question,) = await posted_after(fake, seen)
    assert question["thread_ts"] == request["ts"]
    assert question["text"] == "Léa :\nBonjour &lt;!channel&gt; &amp; &lt;#C0GENERAL|ici&gt;"
    assert question["blocks"][0]["text"]["verbatim"] is True

    # Marc answers in the thread: Léa gets it under his pseudonym, nothing of his Slack self
    seen_lea = len(await playground(service, "student"))
    answer = fake.dm_message(MENTOR, "Oui, mais j'adore ça.", thread_ts=request["ts"])
    answered = await fake.push_event(answer)
    await fake.wait_ack(answered, timeout=5)
    (relayed,) = await bot_says(service, "student", seen_lea)
    assert relayed["text"] == "Marc (soudeur) :\nOui, mais j'adore ça."
    for secret in (MENTOR, dm, "U0BOT", "marc", answer["ts"]):
        assert secret not in relayed["text"]

    # Slack sends the same event again (a retry, even under another event id): acknowledged,
    # and nothing changes
    seen_lea = len(await playground(service, "student"))
    envelope = await fake.redeliver(answered)
    await fake.wait_ack(envelope, timeout=5)
    envelope = await fake.push_event(answer, event_id="Ev-another-id", retry_attempt=2)
    await fake.wait_ack(envelope, timeout=5)
    await asyncio.sleep(0.3)
    assert [m for m in await playground(service, "student", seen_lea) if m["from"] == "bot"] == []

    # he edits, then deletes his answer: Léa's copy follows
    await fake.push_event(fake.dm_edit(MENTOR, answer["ts"], "Oui, et j'adore ça."))
    for _ in range(20):
        edits = [m for m in await playground(service, "student", seen_lea) if m.get("edit_of")]
        if edits:
            break
        await asyncio.sleep(0.05)  # a pane with older messages answers at once
    assert edits[-1]["edit_of"] == relayed["id"] and "et j'adore" in edits[-1]["text"]
    await fake.push_event(fake.dm_delete(MENTOR, answer["ts"]))
    for _ in range(20):
        gone = [m for m in await playground(service, "student", seen_lea) if m.get("delete_of")]
        if gone:
            break
        await asyncio.sleep(0.05)  # a pane with older messages answers at once
    assert gone[-1]["delete_of"] == relayed["id"]

    # outside any thread: he is told to use the threads, and his message is kept, not lost
    seen = len(fake.posted())
    await mentor_says(fake, "Et toi, tu aimes bricoler?")
    (hint,) = await posted_after(fake, seen)
    assert hint["thread_ts"] is None
    assert texts_of(hint["blocks"]) == catalog.t("fr", "relay.use_thread")
    assert hint["blocks"][-1]["elements"][0]["value"] == f"conv:{match_id}"

    # the slash command answers privately, in his language
    command = await fake.push_slash_command(fake.slash_command(MENTOR, text="pause"))
    await fake.wait_ack(command, timeout=5)
    (private,) = await fake.wait_ephemerals(1, timeout=5)
    assert private["user"] == MENTOR and private["channel"] == dm
    assert private["text"] == catalog.t("fr", "pause.on")


async def test_its_own_messages_and_other_bots_are_ignored(
    service: Passerelle, fake: FakeSlack, sqlite_db: Engine
) -> None:
    seen = len(fake.posted())
    for event in (fake.self_message(fake.dm_channel(MENTOR), "écho"),
                  fake.bot_message(fake.dm_channel(MENTOR), "un autre robot")):
        envelope = await fake.push_event(event)
        await fake.wait_ack(envelope, timeout=5)
    await asyncio.sleep(0.3)
    assert fake.posted()[seen:] == []
    with sqlite_db.connect() as conn:
        slack_people = conn.execute(
            text("SELECT count(*) FROM identities WHERE platform = 'slack'")).scalar()
    assert slack_people == 0


async def test_limits_long_text_in_sections_and_429_honoured(
    service: Passerelle, fake: FakeSlack, sqlite_db: Engine, services: Services
) -> None:
    await enrol(fake, services)
    seen = len(fake.posted())
    match_id = propose(sqlite_db, services, "Léa", "Marc")
    service.poke_all()
    (request,) = await posted_after(fake, seen)
    action = fake.block_action(MENTOR, request["ts"], None, "passerelle-0")
    await fake.wait_ack(await fake.push_interactive(action), timeout=5)
    assert action["actions"][0]["value"] == f"accept:{match_id}"
    intro = (await bot_says(service, "student", 0, 1))[-1]
    await posted_after(fake, seen + 1)  # "you are connected", in the thread

    seen = len(fake.posted())
    fake.fail_next("chat.postMessage", retry_after=1)  # Slack says: wait one second
    long = ("La soudure, c'est précis. " * 400).strip()  # 10,399 characters
    await playground_says(service, "student", long, reply_to=intro["id"])
    (message,) = await posted_after(fake, seen)
    sections = [b for b in message["blocks"] if b["type"] == "section"]
    assert len(sections) == 4 and all(len(b["text"]["text"]) <= 3000 for b in sections)
    assert " ".join(texts_of(message["blocks"]).split()) == " ".join(
        f"Léa :\n{long}".split())
    throttled = [c for c in fake.calls_of("chat.postMessage") if c.status == 429]
    assert len(throttled) == 1


async def accepted(service: Passerelle, fake: FakeSlack, engine: Engine, services: Services
                   ) -> tuple[dict, dict]:
    """Marc enrolled, Léa proposed and accepted: (the request message, Léa's introduction)."""
    await enrol(fake, services)
    seen = len(fake.posted())
    propose(engine, services, "Léa", "Marc")
    service.poke_all()
    (request,) = await posted_after(fake, seen)
    action = fake.block_action(MENTOR, request["ts"], None, "passerelle-0")
    await fake.wait_ack(await fake.push_interactive(action), timeout=5)
    intro = (await bot_says(service, "student", 0, 1))[-1]
    await posted_after(fake, seen + 1)
    return request, intro


async def test_a_dropped_socket_reconnects_and_nothing_is_lost(
    service: Passerelle, fake: FakeSlack, sqlite_db: Engine, services: Services
) -> None:
    request, _ = await accepted(service, fake, sqlite_db, services)
    seen_lea = len(await playground(service, "student"))
    await fake.disconnect_socket()
    # Slack holds the event until the app is back (push_event waits for the new connection)
    event = fake.dm_message(MENTOR, "Je reviens vers toi demain.", thread_ts=request["ts"])
    await fake.wait_ack(await fake.push_event(event, timeout=5), timeout=5)
    assert fake.connection_count >= 2
    (relayed,) = await bot_says(service, "student", seen_lea)
    assert relayed["text"] == "Marc (soudeur) :\nJe reviens vers toi demain."
    assert service.healthy()["platforms"]["slack"] is True


async def test_a_mentor_gone_from_slack_is_unreachable_and_the_student_is_told(
    service: Passerelle, fake: FakeSlack, sqlite_db: Engine, services: Services
) -> None:
    _, intro = await accepted(service, fake, sqlite_db, services)
    fake.block_channel(MENTOR, "account_inactive")
    seen_lea = len(await playground(service, "student"))
    await playground_says(service, "student", "Tu es là?", reply_to=intro["id"])
    (told,) = await bot_says(service, "student", seen_lea + 1)  # after her own message
    assert told["text"] == services.catalog.t("fr", "delivery.unreachable", name="Marc")
