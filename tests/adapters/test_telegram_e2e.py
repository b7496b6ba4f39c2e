"""A student on Telegram (the real python-telegram-bot against our fake Bot API on 127.0.0.1)
talks with a mentor on the playground, through the whole service."""

from __future__ import annotations

import os

os.environ.setdefault("PTB_TIMEDELTA", "true")  # before telegram is imported

import asyncio  # noqa: E402
import sys  # noqa: E402
from collections.abc import AsyncIterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from sqlalchemy import Engine  # noqa: E402

from adapters.telegram_adapter import WEBHOOK_PATH  # noqa: E402
from bots.app import Passerelle  # noqa: E402
from bots.demo import load_demo  # noqa: E402
from bots.settings import load_settings  # noqa: E402
from core.commands import MENU  # noqa: E402
from core.context import Services  # noqa: E402
from storage.store import SqlUnitOfWork  # noqa: E402
from tests.adapters.fake_telegram import FakeTelegram  # noqa: E402
from tests.adapters.service import TODAY, playground, playground_says, running  # noqa: E402

TOKEN = "123:ABC"
ZOE = 5001
PASSERELLE = str(Path(sys.executable).with_name("passerelle"))


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        yield server


def settings_for(fake: FakeTelegram, **telegram: object):  # type: ignore[no-untyped-def]
    return load_settings(
        web={"host": "127.0.0.1", "port": 0}, delivery={"poll_seconds": 0.05},
        playground={"enabled": "on"},
        telegram={"token": TOKEN, "base_url": fake.url, "poll_timeout": 1, **telegram},
    )


@pytest.fixture
async def service(sqlite_db: Engine, services: Services, fake: FakeTelegram
                  ) -> AsyncIterator[Passerelle]:
    with SqlUnitOfWork(sqlite_db) as store:
        load_demo(store, TODAY)
    app = Passerelle(settings_for(fake), sqlite_db, services)
    stop, task = await running(app)
    yield app
    stop.set()
    await task


async def said(fake: FakeTelegram, count: int, chat: int = ZOE, *, after: int | None = None
               ) -> list[dict]:
    """The `count` messages the bot sent to a chat after the first `after` (default: now)."""
    start = len(fake.sent(chat)) if after is None else after
    await fake.wait_sent(start + count, chat_id=chat, timeout=5)
    return fake.sent(chat)[start:start + count]


async def test_menu_and_polling_mode_are_set_up(service: Passerelle, fake: FakeTelegram):
    await fake.wait_calls("deleteWebhook", timeout=5)  # start-up happens in the background
    for _ in range(100):
        if service.healthy().get("platforms") == {"telegram": True}:
            break
        await asyncio.sleep(0.02)
    assert service.healthy()["ok"] is True and service.healthy()["platforms"] == {
        "telegram": True}
    french = {c["command"]: c["description"] for c in fake.my_commands(language_code="fr")}
    english = {c["command"]: c["description"] for c in fake.my_commands(language_code="en")}
    assert list(french) == list(MENU) == list(english)
    assert french["help"] == service.services.catalog.t("fr", "menu.help")
    assert english["help"] == service.services.catalog.t("en", "menu.help")
    assert fake.my_commands() == fake.my_commands(language_code="fr")  # French by default
    assert fake.calls_of("deleteWebhook")  # polling mode: no webhook left behind


async def test_a_student_enrols_by_deep_link_and_talks_to_a_playground_mentor(
    service: Passerelle, fake: FakeTelegram, sqlite_db: Engine
) -> None:
    catalog = service.services.catalog
    # t.me/<bot>?start=DEMO-ELEVE opens the chat with "/start DEMO-ELEVE"
    fake.user_sends(ZOE, "/start DEMO-ELEVE", first_name="Zoé", username="zoe_secret_handle")
    welcome, language = await said(fake, 2)
    assert welcome["text"] == catalog.t("fr", "welcome.student")
    keys = [b["callback_data"] for row in language["reply_markup"]["inline_keyboard"]
            for b in row]
    assert keys == ["lang:fr", "lang:en"]

    fake.user_presses(ZOE, language["message_id"], "lang:fr")
    (ask_name,) = await said(fake, 1)
    assert ask_name["text"] == catalog.t("fr", "onboarding.pseudonym")
    await fake.wait_calls("answerCallbackQuery")
    assert "✓ Français" in fake.message(language["message_id"])["text"]  # the choice shown

    for answer in ("Zozo", "16"):
        fake.user_sends(ZOE, answer)
        await said(fake, 1)
    fake.user_sends(ZOE, "1")  # first field, then done
    await said(fake, 1)
    fake.user_sends(ZOE, "ok")
    (done,) = await said(fake, 1)
    assert done["text"] == catalog.t("fr", "onboarding.done.student", name="Zozo")

    # a coordinator proposes her to the demo mentor from the command line; he accepts
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
    env["PASSERELLE_DATABASE_URL"] = sqlite_db.url.render_as_string(hide_password=False)
    mark = len(fake.sent(ZOE))
    seen = len(await playground(service, "mentor"))
    process = await asyncio.create_subprocess_exec(
        PASSERELLE, "match", "create", "Zozo", "Samir", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, error = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, error
    match_id = int(out.decode().split()[1].rstrip(":"))
    service.poke_all()  # another process wrote the request: look now, not at the next poll
    request = []
    while not request:
        request = [m for m in await playground(service, "mentor", seen) if m.get("buttons")]
    assert "Zozo" in request[-1]["text"] and fake.sent(ZOE)[mark:] == []
    await playground_says(service, "mentor", "", action=f"accept:{match_id}")
    await said(fake, 1, after=mark)
    seen = len(await playground(service, "mentor"))

    # she writes; the mentor sees her pseudonym only
    question = fake.user_sends(ZOE, "Est-ce que tu travailles de nuit?")
    got = [m for m in await playground(service, "mentor", seen) if m["from"] == "bot"]
    while not got:
        got = [m for m in await playground(service, "mentor", seen) if m["from"] == "bot"]
    assert got[-1]["text"] == "Zozo :\nEst-ce que tu travailles de nuit?"
    for secret in ("zoe_secret_handle", str(ZOE), "Zoé"):
        assert secret not in got[-1]["text"]

    # the mentor answers as a reply; on Telegram it is threaded onto her question
    mark = len(fake.sent(ZOE))
    await playground_says(service, "mentor", "Oui, une semaine sur trois.",
                          reply_to=got[-1]["id"])
    (answer,) = await said(fake, 1, after=mark)
    assert answer["text"] == "Samir (infirmier en urgence) :\nOui, une semaine sur trois."
    assert answer["reply_to_message"]["message_id"] == question["message_id"]

    # she corrects her question: the mentor's copy is edited in place
    fake.user_edits(ZOE, question["message_id"], "Est-ce que tu travailles la nuit?")
    edits = []
    for _ in range(50):
        edits = [m for m in await playground(service, "mentor", seen) if m.get("edit_of")]
        if edits:
            break
        await asyncio.sleep(0.05)  # a pane with older messages answers at once
    assert edits[-1]["edit_of"] == got[-1]["id"]
    assert "la nuit?" in edits[-1]["text"]

    # the mentor takes back a message: the copy on Telegram is deleted
    mine = len(await playground(service, "mentor"))
    mark = len(fake.sent(ZOE))
    await playground_says(service, "mentor", "Oups, pas pour toi")
    (oops,) = await said(fake, 1, after=mark)
    own = [m for m in await playground(service, "mentor", mine) if m["from"] == "me"][-1]
    await playground_says(service, "mentor", "/unsend", reply_to=own["id"])
    await fake.wait_calls("deleteMessage")
    assert fake.message(oops["message_id"]) is None


async def test_stickers_and_shared_contacts_get_a_clear_answer(
    service: Passerelle, fake: FakeTelegram
) -> None:
    catalog = service.services.catalog
    fake.user_sends(ZOE, "/start DEMO-ELEVE")
    await said(fake, 2)
    fake.user_sends(ZOE, "fr")
    await said(fake, 1)
    for answer in ("Zozo", "16", "1", "ok"):
        fake.user_sends(ZOE, answer)
        await said(fake, 1)
    fake.user_sends_sticker(ZOE)
    (reply,) = await said(fake, 1)
    assert reply["text"] == catalog.t("fr", "relay.media_not_relayed")
    fake.user_sends_contact(ZOE, "+15145551234")
    (reply,) = await said(fake, 1)
    assert reply["text"] == catalog.t("fr", "relay.media_private")


async def test_a_student_who_blocked_the_bot_is_marked_and_the_mentor_told_once(
    service: Passerelle, fake: FakeTelegram, sqlite_db: Engine
) -> None:
    fake.user_sends(ZOE, "/start DEMO-ELEVE")
    await said(fake, 2)
    for answer in ("fr", "Zozo", "16", "1", "ok"):
        fake.user_sends(ZOE, answer)
        await said(fake, 1)
    from core.context import Context
    from core.matches import create_match

    mark = len(fake.sent(ZOE))
    with SqlUnitOfWork(sqlite_db) as store:
        ctx = Context(store, service.services, TODAY)
        match = create_match(ctx, "Zozo", "Samir", actor="test")
        store.enqueue(ctx.out, ctx.now)
    service.poke_all()
    await said(fake, 1, after=mark)
    fake.user_blocks(ZOE)
    # Samir now has two students: he picks Zozo's conversation first
    await playground_says(service, "mentor", "", action=f"conv:{match.id}")
    while not (await playground(service, "mentor", 0))[-1]["text"].endswith("Zozo."):
        await asyncio.sleep(0.02)
    seen = len(await playground(service, "mentor", 0))
    await playground_says(service, "mentor", "Tu es là?")
    await playground_says(service, "mentor", "Allô?")
    told = []
    for _ in range(250):  # Telegram's pace (one message a second per chat) applies here too
        told = [m for m in await playground(service, "mentor", seen) if m["from"] == "bot"]
        if told:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.5)
    told = [m for m in await playground(service, "mentor", seen) if m["from"] == "bot"]
    unreachable = service.services.catalog.t("fr", "delivery.unreachable", name="Zozo")
    assert [m["text"] for m in told] == [unreachable]


async def test_webhook_mode_checks_the_secret(
    sqlite_db: Engine, services: Services, fake: FakeTelegram
) -> None:
    with SqlUnitOfWork(sqlite_db) as store:
        load_demo(store, TODAY)
    settings = settings_for(fake, webhook_url="http://127.0.0.1:1/placeholder",
                            webhook_secret="s3cret-value")
    app = Passerelle(settings, sqlite_db, services)
    app.telegram.webhook_url = "http://127.0.0.1:{port}" + WEBHOOK_PATH  # type: ignore[union-attr]
    stop, task = await running(app)
    try:
        await fake.wait_calls("setWebhook", timeout=5)  # the service registered itself
        assert fake.webhook_secret == "s3cret-value"
        # the real address is known once the server listens: register it as a deployment would
        url = f"http://127.0.0.1:{app.port}{WEBHOOK_PATH}"
        await app.telegram.bot.set_webhook(url, secret_token="s3cret-value")  # type: ignore[union-attr]
        update = fake.make_message_update(ZOE, "/start DEMO-ELEVE")
        assert await fake.post_update_to_webhook(update, secret=None) == 403
        assert await fake.post_update_to_webhook(update, secret="wrong") == 403
        assert fake.sent(ZOE) == []
        assert await fake.post_update_to_webhook(update, secret="s3cret-value") == 200
        await fake.wait_sent(2, chat_id=ZOE, timeout=5)
        assert await fake.post_update_to_webhook(update, secret="s3cret-value") == 200  # retry
        await asyncio.sleep(0.3)
        assert len(fake.sent(ZOE)) == 2  # the repeated update changed nothing
        assert not fake.calls_of("getUpdates")
    finally:
        stop.set()
        await task
