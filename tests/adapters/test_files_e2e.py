"""Files through the whole service to each platform's fake: `/mydata` arrives as a JSON file
(with its summary), and a file written straight into the outbox arrives byte for byte, with its
text as the caption, or after it when the text is too long for one."""

from __future__ import annotations

import os

os.environ.setdefault("PTB_TIMEDELTA", "true")  # before telegram is imported

import asyncio  # noqa: E402
import json  # noqa: E402
from collections.abc import AsyncIterator, Callable  # noqa: E402

import aiohttp  # noqa: E402
import pytest  # noqa: E402
from sqlalchemy import Engine, select  # noqa: E402

from bots.app import Passerelle  # noqa: E402
from bots.demo import load_demo  # noqa: E402
from bots.settings import load_settings  # noqa: E402
from core.context import Services  # noqa: E402
from core.model import Address, Attachment, Envelope, Invite, Outbound, Role  # noqa: E402
from storage.store import O, SqlUnitOfWork  # noqa: E402
from tests.adapters.fake_discord import FakeDiscord  # noqa: E402
from tests.adapters.fake_slack import FakeSlack  # noqa: E402
from tests.adapters.fake_telegram import FakeTelegram  # noqa: E402
from tests.adapters.service import TODAY, playground, playground_says, running  # noqa: E402

ZOE = 5001  # a student on Telegram
SLACK_MENTOR = "U0MARC"
DISCORD_MENTOR = 310_000_000_000_000_077
CODE = "FILES-MENTOR-1"
CHART = Attachment("inscriptions.png", "image/png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
WEB = {"host": "127.0.0.1", "port": 0}
DELIVERY = {"poll_seconds": 0.05}


async def serve(engine: Engine, services: Services, **platform: object
                ) -> AsyncIterator[Passerelle]:
    with SqlUnitOfWork(engine) as store:
        load_demo(store, TODAY)
        store.add_invite(Invite(CODE, Role.MENTOR, None), TODAY)
    settings = load_settings(web=WEB, delivery=DELIVERY, playground={"enabled": "on"},
                             **platform)
    app = Passerelle(settings, engine, services)
    stop, task = await running(app)
    try:
        yield app
    finally:
        stop.set()
        await task


def enqueue(app: Passerelle, engine: Engine, to: Address, text: str, file: Attachment) -> None:
    """A file written straight into the outbox (as an admin report or a chart would be)."""
    with SqlUnitOfWork(engine) as store:
        store.enqueue([Envelope(Outbound(to, text, attachment=file))], TODAY)
    app.poke_all()


async def until(check: Callable[[], object], what: str) -> None:
    for _ in range(200):
        if check():
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"waited for {what}")


def no_file_bytes_left(engine: Engine) -> bool:
    with engine.connect() as conn:
        rows = conn.execute(select(O.c.status, O.c.file_data)
                            .where(O.c.file_name.is_not(None))).all()
        return bool(rows) and all(status != "pending" and data is None for status, data in rows)


def export_of(data: bytes) -> dict:
    return json.loads(data.decode("utf-8"))


# Telegram ---------------------------------------------------------------------------------------

@pytest.fixture
async def telegram(sqlite_db: Engine, services: Services
                   ) -> AsyncIterator[tuple[Passerelle, FakeTelegram]]:
    async with FakeTelegram(token="123:ABC") as fake:
        async for app in serve(sqlite_db, services, telegram={
                "token": "123:ABC", "base_url": fake.url, "poll_timeout": 1}):
            yield app, fake


async def test_telegram_mydata_arrives_as_a_json_document(
        telegram: tuple[Passerelle, FakeTelegram], sqlite_db: Engine) -> None:
    app, fake = telegram
    fake.user_sends(ZOE, "/start DEMO-ELEVE")
    await fake.wait_sent(2, chat_id=ZOE, timeout=5)  # welcome, the language question
    fake.user_sends(ZOE, "/mydata")
    await until(lambda: fake.uploads(ZOE), "the export")
    [(name, data, caption)] = fake.uploads(ZOE)
    assert name is not None and name.startswith("passerelle-donnees-") and name.endswith(".json")
    summary = caption or fake.texts(ZOE)[-2]  # the caption, or just before when too long
    assert name in summary
    exported = export_of(data)
    assert exported["identities"][0] | {"platform": "telegram", "account_id": str(ZOE)} == \
        exported["identities"][0]
    assert exported["profile"]["signed_up"] is False
    [call] = fake.calls_of("sendDocument")
    assert call.content_type == "multipart/form-data"
    await until(lambda: no_file_bytes_left(sqlite_db), "the bytes dropped")


async def test_telegram_a_file_comes_byte_for_byte_with_its_caption_or_after_a_long_text(
        telegram: tuple[Passerelle, FakeTelegram], sqlite_db: Engine) -> None:
    app, fake = telegram
    to = Address("telegram", str(ZOE))
    enqueue(app, sqlite_db, to, "Les inscriptions de la semaine", CHART)
    long_text = ("Un long rapport. " * 80).strip()  # over a caption's 1,024
    enqueue(app, sqlite_db, to, long_text, CHART)
    await until(lambda: len(fake.uploads(ZOE)) == 2, "two documents")
    assert fake.uploads(ZOE) == [(CHART.name, CHART.data, "Les inscriptions de la semaine"),
                                 (CHART.name, CHART.data, "")]
    assert [m.get("text") for m in fake.sent(ZOE)] == [None, long_text, None]
    await until(lambda: no_file_bytes_left(sqlite_db), "the bytes dropped")


# Slack ------------------------------------------------------------------------------------------

@pytest.fixture
async def slack(sqlite_db: Engine, services: Services
                ) -> AsyncIterator[tuple[Passerelle, FakeSlack]]:
    async with FakeSlack() as fake:
        async for app in serve(sqlite_db, services, slack={
                "bot_token": fake.bot_token, "base_url": fake.api_url,
                "app_token": fake.app_token}):
            await fake.wait_connections(1, timeout=5)
            yield app, fake


async def slack_mentor_says(fake: FakeSlack, text: str) -> None:
    envelope = await fake.push_event(fake.dm_message(SLACK_MENTOR, text))
    await fake.wait_ack(envelope, timeout=5)


async def test_slack_mydata_is_uploaded_with_the_summary_as_its_comment(
        slack: tuple[Passerelle, FakeSlack], sqlite_db: Engine) -> None:
    app, fake = slack
    await slack_mentor_says(fake, CODE)  # onboarding starts; /mydata works at every step
    await fake.wait_posted(1, timeout=5)
    await slack_mentor_says(fake, "/mydata")
    await until(lambda: fake.uploads, "the export")
    [upload] = fake.uploads
    dm = fake.dm_channel(SLACK_MENTOR)
    assert upload["channel"] == dm and upload["name"].endswith(".json")
    assert upload["name"] in upload["initial_comment"]
    exported = export_of(upload["data"])
    assert exported["identities"][0]["account_id"] == SLACK_MENTOR
    assert exported["profile"]["role"] == "mentor"
    # The real upload flow: an upload URL, the bytes posted to it, the share completed.
    assert fake.calls_of("files.getUploadURLExternal")[0].params["length"] == str(
        len(upload["data"]))
    [complete] = fake.calls_of("files.completeUploadExternal")
    assert complete.params["channel_id"] == dm
    await until(lambda: no_file_bytes_left(sqlite_db), "the bytes dropped")


async def test_slack_a_file_comes_byte_for_byte_in_its_thread_or_after_a_long_text(
        slack: tuple[Passerelle, FakeSlack], sqlite_db: Engine) -> None:
    app, fake = slack
    await slack_mentor_says(fake, CODE)  # the DM exists
    await fake.wait_posted(1, timeout=5)
    dm = fake.dm_channel(SLACK_MENTOR)
    root = fake.posted(dm)[0]["ts"]
    enqueue(app, sqlite_db, Address("slack", dm, root), "Le graphique du mois", CHART)
    long_text = ("Un long rapport. " * 300).strip()  # over a comment's 4,000
    enqueue(app, sqlite_db, Address("slack", dm), long_text, CHART)
    await until(lambda: len(fake.uploads) == 2, "two uploads")
    first, second = fake.uploads
    assert (first["data"], first["initial_comment"], first["thread_ts"]) == (
        CHART.data, "Le graphique du mois", root)
    assert (second["data"], second["initial_comment"]) == (CHART.data, None)
    assert fake.texts(dm)[-2] == long_text  # the text first, then the file
    await until(lambda: no_file_bytes_left(sqlite_db), "the bytes dropped")


# Discord ----------------------------------------------------------------------------------------

@pytest.fixture
async def discord_service(sqlite_db: Engine, services: Services
                          ) -> AsyncIterator[tuple[Passerelle, FakeDiscord]]:
    async with FakeDiscord() as fake:
        with fake.patched():
            fake.add_user(DISCORD_MENTOR, username="dupont_m42", global_name="Marc Dupont")
            async for app in serve(sqlite_db, services, discord={"token": fake.token}):
                await fake.wait_ready(timeout=5)
                yield app, fake


async def test_discord_mydata_is_attached_to_the_summary(
        discord_service: tuple[Passerelle, FakeDiscord], sqlite_db: Engine) -> None:
    app, fake = discord_service
    dm = fake.dm_channel_id(DISCORD_MENTOR)
    await fake.user_dm(DISCORD_MENTOR, CODE)
    await fake.wait_sent(1, channel_id=dm, timeout=5)
    await fake.user_dm(DISCORD_MENTOR, "/mydata")
    await until(lambda: fake.uploads(dm), "the export")
    [(name, data, content)] = fake.uploads(dm)
    assert name is not None and name.endswith(".json")
    summary = content or fake.sent(dm)[-2]["content"]
    assert name in summary
    exported = export_of(data)
    assert exported["identities"][0]["account_id"] == str(DISCORD_MENTOR)
    assert "dupont_m42" not in data.decode() and "Marc Dupont" not in data.decode()
    await until(lambda: no_file_bytes_left(sqlite_db), "the bytes dropped")


async def test_discord_a_file_comes_byte_for_byte_with_its_text_or_after_a_long_one(
        discord_service: tuple[Passerelle, FakeDiscord], sqlite_db: Engine) -> None:
    app, fake = discord_service
    dm = fake.dm_channel_id(DISCORD_MENTOR)
    to = Address("discord", str(dm))
    enqueue(app, sqlite_db, to, "Le graphique du mois", CHART)
    long_text = ("Un long rapport. " * 150).strip()  # over a message's 2,000
    enqueue(app, sqlite_db, to, long_text, CHART)
    await until(lambda: len(fake.uploads(dm)) == 2, "two files")
    assert fake.uploads(dm) == [(CHART.name, CHART.data, "Le graphique du mois"),
                                (CHART.name, CHART.data, "")]
    texts = [m["content"] for m in fake.sent(dm)]
    assert len(texts) == 4 and texts[-1] == ""
    assert " ".join(texts[1:3]).split() == long_text.split()
    await until(lambda: no_file_bytes_left(sqlite_db), "the bytes dropped")


# The playground ---------------------------------------------------------------------------------

@pytest.fixture
async def playground_service(sqlite_db: Engine, services: Services
                             ) -> AsyncIterator[Passerelle]:
    async for app in serve(sqlite_db, services):
        yield app


async def download(app: Passerelle, url: str) -> tuple[int, bytes, str]:
    async with aiohttp.ClientSession() as session, session.get(
            f"http://127.0.0.1:{app.port}{url}") as response:
        return response.status, await response.read(), response.headers.get(
            "Content-Disposition", "")


async def bot_messages(app: Passerelle, user: str, count: int) -> list[dict]:
    got: list[dict] = []
    for _ in range(40):
        got = [m for m in await playground(app, user) if m["from"] == "bot"]
        if len(got) >= count:
            return got
    raise AssertionError(f"{user} got {got}")


async def test_playground_mydata_shows_a_link_that_downloads_the_json(
        playground_service: Passerelle) -> None:
    app = playground_service
    seen = len([m for m in await playground(app, "student", 0) if m["from"] == "bot"])
    await playground_says(app, "student", "/mydata")
    shown = (await bot_messages(app, "student", seen + 1))[-1]
    file = shown["file"]
    assert file["type"] == "application/json" and file["name"] in shown["text"]
    status, data, disposition = await download(app, file["url"])
    assert status == 200 and len(data) == file["size"] and "attachment" in disposition
    exported = export_of(data)
    assert exported["profile"]["pseudonym"] == "Léa"  # the demo's student
    # A file is for its chat only.
    status, _, _ = await download(app, file["url"].replace("/student/", "/mentor/"))
    assert status == 404


async def test_playground_a_file_comes_byte_for_byte_after_a_long_text(
        playground_service: Passerelle, sqlite_db: Engine) -> None:
    app = playground_service
    before = len(await bot_messages(app, "coordinator", 0))
    to = Address("playground", "coordinator")
    enqueue(app, sqlite_db, to, "Le graphique", CHART)
    long_text = ("Un long rapport. " * 300).strip()  # over the playground's 4,000
    enqueue(app, sqlite_db, to, long_text, CHART)
    got = (await bot_messages(app, "coordinator", before + 4))[before:]
    assert ["file" in m for m in got] == [True, False, False, True]
    assert (got[0]["text"], got[3]["text"]) == ("Le graphique", "")
    assert " ".join(m["text"] for m in got[1:3]).split() == long_text.split()
    for message in (got[0], got[3]):
        status, data, _ = await download(app, message["file"]["url"])
        assert (status, data) == (200, CHART.data)


# Limits -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("platform", ["telegram", "slack", "discord", "playground"])
def test_every_channel_says_its_upload_and_caption_limits(platform: str) -> None:
    from adapters import discord_adapter, playground_adapter, slack_adapter, telegram_adapter

    channel = {"telegram": telegram_adapter.TelegramChannel,
               "slack": slack_adapter.SlackChannel, "discord": discord_adapter.DiscordChannel,
               "playground": playground_adapter.PlaygroundChannel}[platform]
    assert channel.max_file_bytes >= 5 * 1024 * 1024
    caption = {"telegram": 1024, "slack": slack_adapter.MAX_COMMENT, "discord": 2000,
               "playground": channel.max_text}[platform]
    assert getattr(channel, "max_caption", channel.max_text) == caption


