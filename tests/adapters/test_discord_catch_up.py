"""What a Discord mentor writes while Passerelle is down is not lost (issue 11).

Discord never sends a gateway event again and keeps none for a bot without a session: at each
start the adapter reads back the history of the channels the service listens to, after the
newest message committed there (storage/resume.py), and feeds it like live messages; the event
keys make what was handled already a repeat. The whole service (bus, database, outbox, workers)
against the fake Discord on 127.0.0.1, stopped and started again on the same database; the
student is on the playground."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, text

from adapters.discord_adapter import DiscordChannel
from adapters.discord_catch_up import CATCH_UP_MARGIN, CATCH_UP_WINDOW
from bots.app import Passerelle
from bots.settings import load_settings
from core.bus import EVENT_KEYS_KEPT
from core.context import Context, Services
from core.matches import create_match
from core.model import Address, Identity, Inbound, MentorKind, Participant, Role, School, Step
from storage.store import SqlUnitOfWork
from tests.adapters.fake_discord import FakeDiscord
from tests.adapters.service import TODAY, playground, running

MENTOR = 310_000_000_000_000_077
GUILD = 320_000_000_000_000_001
MENTORS_CHANNEL = 320_000_000_000_000_020
HISTORY = r"^/channels/{}/messages$"


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        with server.patched():
            server.add_user(MENTOR, username="dupont_m42", global_name="Marc Dupont")
            await server.add_guild(GUILD, name="Mentors", text_channels={MENTORS_CHANNEL: "m"})
            yield server


def scene(engine: Engine, services: Services, dm: int) -> int:
    """Noé (a student, on the playground) and Marc (a mentor, on Discord) matched; Marc's id."""
    with SqlUnitOfWork(engine) as store:
        school = store.add_school(School("École du Fleuve", "Démo"))
        noe = store.add_participant(Participant(
            Role.STUDENT, "Noé", "fr", school.id, Step.DONE, age=17, fields=["trades"],
            created_at=TODAY))
        marc = store.add_participant(Participant(
            Role.MENTOR, "Marc", "fr", school.id, Step.DONE, mentor_kind=MentorKind.PROFESSIONAL,
            profession="soudeur", fields=["trades"], years=12, capacity=3, vetted=True,
            created_at=TODAY))
        assert noe.id is not None and marc.id is not None
        store.add_identity(Identity("playground", "noe", noe.id, Address("playground", "noe")))
        store.add_identity(Identity("discord", str(MENTOR), marc.id,
                                    Address("discord", str(dm)), last_seen_at=TODAY))
        ctx = Context(store, services, TODAY)
        create_match(ctx, "Noé", "Marc", actor="test")
        store.enqueue(ctx.out, ctx.now)
        return marc.id


@asynccontextmanager
async def service_up(engine: Engine, services: Services, fake: FakeDiscord,
                     **discord: Any) -> AsyncIterator[Passerelle]:
    """One run of the service, until the block ends (a clean stop)."""
    settings = load_settings(
        web={"host": "127.0.0.1", "port": 0}, delivery={"poll_seconds": 0.05},
        playground={"enabled": "on"}, discord={"token": fake.token, **discord})
    app = Passerelle(settings, engine, services)
    ready = len(fake.identifies) + 1
    stop, task = await running(app)
    try:
        await fake.wait_ready(ready, timeout=20)
        yield app
    finally:
        stop.set()
        await task


async def until(found: Callable[[], Any], what: str) -> Any:
    for _ in range(1000):  # up to 20 s: a loaded CI machine is slow, a pass is quick
        value = found()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"never: {what}")


def relayed(engine: Engine, sender: int) -> list[str]:
    """What the service relayed of `sender`, in the order it committed it."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT body FROM relayed_messages WHERE sender_id = :s "
                                 "ORDER BY id"), {"s": sender})
        return [row.body for row in rows]


def to_student(engine: Engine) -> list[str]:
    """Every copy the service wrote for the student (edits are rows of their own)."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT op, text FROM outbox WHERE chat_id = 'noe' "
                                 "AND text LIKE 'Marc%' ORDER BY id"))
        return [f"{row.op}: {row.text.split(chr(10), 1)[-1]}" for row in rows]


async def playground_of(app: Passerelle) -> list[dict]:
    return [m for m in await playground(app, "noe") if m["from"] == "bot"]


def delivered_all(engine: Engine) -> bool:
    with engine.connect() as conn:
        return not conn.execute(text(
            "SELECT count(*) FROM outbox WHERE status = 'pending'")).scalar()


async def test_dm_messages_written_while_down_are_relayed_once_in_order_after_a_start(
    fake: FakeDiscord, sqlite_db: Engine, services: Services
) -> None:
    dm = fake.dm_channel_id(MENTOR)
    marc = scene(sqlite_db, services, dm)
    async with service_up(sqlite_db, services, fake):
        await fake.user_dm(MENTOR, "Un : je suis là.")
        await until(lambda: relayed(sqlite_db, marc), "the first message relayed")

    # the service is down: two messages, and the first one edited; Discord keeps no event
    second = await fake.user_dm(MENTOR, "Deux : tu as des questions?")
    await fake.user_dm(MENTOR, "Trois : n'hésite pas.")
    assert {d.status for d in fake.dispatches[-2:]} == {"no session"}

    async with service_up(sqlite_db, services, fake) as app:
        await until(lambda: len(relayed(sqlite_db, marc)) == 3, "both read back")
        assert relayed(sqlite_db, marc) == [
            "Un : je suis là.", "Deux : tu as des questions?", "Trois : n'hésite pas."]
        await until(lambda: delivered_all(sqlite_db), "delivered")
        pane = [m["text"] for m in await playground_of(app)]
        assert pane[-2:] == ["Marc (soudeur) :\nDeux : tu as des questions?",
                             "Marc (soudeur) :\nTrois : n'hésite pas."]

    # down again: an edit of the second; then a restart reads it all again, and again
    await fake.user_edits(MENTOR, int(second["id"]), "Deux : des questions?")
    reads = HISTORY.format(dm)
    for words in ("Quatre.", "Cinq."):
        starts = len(fake.calls_of("GET", reads))
        async with service_up(sqlite_db, services, fake):
            await until(lambda n=starts: len(fake.calls_of("GET", reads)) > n, "read back")
            # live, it comes after what was read back: so that was all handled by then
            await fake.user_dm(MENTOR, words)
            await until(lambda w=words: relayed(sqlite_db, marc)[-1:] == [w], f"{words} relayed")
    assert relayed(sqlite_db, marc) == [
        "Un : je suis là.", "Deux : des questions?", "Trois : n'hésite pas.", "Quatre.",
        "Cinq."]  # the body follows the edit
    assert to_student(sqlite_db) == [
        "send: Un : je suis là.", "send: Deux : tu as des questions?",
        "send: Trois : n'hésite pas.", "edit: Deux : des questions?", "send: Quatre.",
        "send: Cinq."]  # nothing twice, the edit once


async def test_a_thread_message_written_while_down_is_relayed_after_a_start(
    fake: FakeDiscord, sqlite_db: Engine, services: Services
) -> None:
    """The mentors' channel mode: the match's private thread is read back too."""
    dm = fake.dm_channel_id(MENTOR)
    marc = scene(sqlite_db, services, dm)
    async with service_up(sqlite_db, services, fake, mentor_channel_id=MENTORS_CHANNEL):
        calls = await fake.wait_calls("POST", rf"^/channels/{MENTORS_CHANNEL}/threads$",
                                      timeout=20)
        thread = int(calls[0].response["id"])
        await until(lambda: fake.sent(thread), "the introduction in the thread")
        await fake.user_posts(thread, MENTOR, "Bienvenue dans le fil.")
        await until(lambda: relayed(sqlite_db, marc), "the first message relayed")

    await fake.user_posts(thread, MENTOR, "Écrit pendant la coupure.")
    assert fake.dispatches[-1].status == "no session"

    async with service_up(sqlite_db, services, fake, mentor_channel_id=MENTORS_CHANNEL):
        await until(lambda: len(relayed(sqlite_db, marc)) == 2, "read back")
        await fake.user_posts(thread, MENTOR, "Et en direct.")
        await until(lambda: len(relayed(sqlite_db, marc)) == 3, "the live one")
    assert relayed(sqlite_db, marc) == [
        "Bienvenue dans le fil.", "Écrit pendant la coupure.", "Et en direct."]
    assert fake.calls_of("GET", HISTORY.format(thread))



def test_what_is_read_back_is_recent_enough_for_its_event_keys_to_be_known() -> None:
    """Read further back than the bus keeps event keys, a handled message would be new again."""
    assert CATCH_UP_WINDOW + CATCH_UP_MARGIN < EVENT_KEYS_KEPT


async def test_without_the_database_the_channel_still_hears_live_messages(
    fake: FakeDiscord,
) -> None:
    """The resume points cannot be read (the database is down): logged, and live messages are
    not held back by the reading back."""
    fed: list[Inbound] = []

    async def feed(inbound: Inbound) -> bool:
        fed.append(inbound)
        return True

    async def broken() -> tuple[dict[str, str | None], dict[str, str | None]]:
        raise ConnectionError("database down")

    channel = DiscordChannel(fake.token, resume_points=broken)
    await channel.start(feed)
    try:
        await fake.wait_ready(timeout=20)
        await fake.user_dm(MENTOR, "Allô?")
        await until(lambda: fed, "the live message")
        assert [i.text for i in fed] == ["Allô?"]
    finally:
        await channel.stop()


async def test_more_than_a_page_written_while_down_is_all_read_back_in_order(
    fake: FakeDiscord, sqlite_db: Engine, services: Services
) -> None:
    """Discord's history comes a page of 100 at a time, oldest first: the newest messages of a
    long downtime (or of a busy DM, read from a margin before the last one committed) are on
    the last page, and must be read too (the fault rounds lost one that way)."""
    dm = fake.dm_channel_id(MENTOR)
    marc = scene(sqlite_db, services, dm)
    async with service_up(sqlite_db, services, fake):
        await fake.user_dm(MENTOR, "m000")
        await until(lambda: relayed(sqlite_db, marc), "the first message relayed")
    written = [f"m{n:03d}" for n in range(1, 131)]
    for words in written:
        await fake.user_dm(MENTOR, words)
    async with service_up(sqlite_db, services, fake):
        for _ in range(30):  # up to 60 s: 130 messages to relay on a loaded machine
            if len(relayed(sqlite_db, marc)) == 131:
                break
            await asyncio.sleep(2)
    assert relayed(sqlite_db, marc) == ["m000", *written]
