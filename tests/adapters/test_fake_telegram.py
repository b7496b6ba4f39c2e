"""The fake Telegram server, driven by the real python-telegram-bot 22."""

from __future__ import annotations

import os

os.environ.setdefault("PTB_TIMEDELTA", "true")  # before telegram is imported

import asyncio  # noqa: E402
import datetime as dtm  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from collections.abc import AsyncIterator  # noqa: E402

import aiohttp  # noqa: E402
import pytest  # noqa: E402
from aiohttp import web  # noqa: E402
from telegram import (  # noqa: E402
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyParameters,
    Update,
)
from telegram.error import (  # noqa: E402
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (  # noqa: E402
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest  # noqa: E402

from tests.adapters.fake_telegram import FakeTelegram  # noqa: E402

TOKEN = "123:ABC"
ZOE = 42


def make_bot(fake: FakeTelegram, *, token: str = TOKEN, read_timeout: float = 5.0) -> Bot:
    return Bot(
        token,
        base_url=f"{fake.url}/bot",
        base_file_url=f"{fake.url}/file/bot",
        request=HTTPXRequest(read_timeout=read_timeout, connect_timeout=1.0),
    )


def seconds(value: int | float | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with make_bot(fake) as b:  # initialize() calls getMe
        yield b


async def test_binds_loopback_on_a_port_the_os_picks(fake: FakeTelegram, bot: Bot) -> None:
    assert fake.url.startswith("http://127.0.0.1:")
    assert int(fake.url.rsplit(":", 1)[1]) > 0
    me = await bot.get_me()
    assert (me.username, me.is_bot, me.id) == ("passerelle_test_bot", True, 123)
    assert [c.method for c in fake.calls] == ["getMe", "getMe"]
    assert fake.calls[0].content_type == ""  # no parameters: PTB posts an empty body


async def test_send_message_with_keyboard_and_reply(fake: FakeTelegram, bot: Bot) -> None:
    question = fake.user_sends(ZOE, "Bonjour")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Oui", callback_data="yes")]])

    sent = await bot.send_message(
        ZOE, "123", reply_markup=keyboard, reply_parameters=ReplyParameters(question["message_id"])
    )

    assert sent.text == "123"
    assert sent.message_id > question["message_id"]
    assert sent.chat.id == ZOE and sent.chat.type == "private"
    assert sent.from_user.username == "passerelle_test_bot"
    assert sent.reply_to_message.message_id == question["message_id"]
    assert sent.reply_to_message.text == "Bonjour"
    assert sent.reply_markup.inline_keyboard[0][0].callback_data == "yes"
    [call] = fake.calls_of("sendMessage")
    assert call.content_type == "application/x-www-form-urlencoded"
    assert call.params["text"] == "123" and isinstance(call.params["text"], str)
    assert call.params["chat_id"] == ZOE
    assert call.params["reply_markup"] == {
        "inline_keyboard": [[{"text": "Oui", "callback_data": "yes"}]]
    }
    assert call.params["reply_parameters"] == {"message_id": question["message_id"]}
    assert call.raw["chat_id"] == "42" and isinstance(call.raw["reply_markup"], str)
    [recorded] = fake.sent(chat_id=ZOE)
    assert recorded["message_id"] == sent.message_id
    assert recorded["text"] == "123"
    assert recorded["reply_to_message"]["message_id"] == question["message_id"]
    assert recorded["reply_markup"] == call.params["reply_markup"]
    assert fake.sent(chat_id=7) == []


async def test_edit_delete_answer_and_commands(fake: FakeTelegram, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]])
    sent = await bot.send_message(ZOE, "v1", reply_markup=keyboard)

    edited = await bot.edit_message_text("v2", chat_id=ZOE, message_id=sent.message_id)
    assert edited.text == "v2" and edited.edit_date is not None
    assert edited.reply_markup is None  # Telegram drops the keyboard when it is not resent
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_text("v2", chat_id=ZOE, message_id=sent.message_id)
    marked = await bot.edit_message_reply_markup(ZOE, sent.message_id, reply_markup=keyboard)
    assert marked.reply_markup == keyboard
    assert fake.message(sent.message_id)["text"] == "v2"
    assert fake.sent(ZOE)[0]["text"] == "v1"  # as it was returned by sendMessage

    query_id = fake.user_presses(ZOE, sent.message_id, "a")
    assert await bot.answer_callback_query(query_id, text="Noté") is True
    assert fake.calls_of("answerCallbackQuery")[0].params == {
        "callback_query_id": query_id,
        "text": "Noté",
    }
    with pytest.raises(BadRequest, match="(?i)query ID is invalid"):
        await bot.answer_callback_query(query_id)

    assert await bot.delete_message(ZOE, sent.message_id) is True
    assert fake.message(sent.message_id) is None
    with pytest.raises(BadRequest, match="(?i)message to delete not found"):
        await bot.delete_message(ZOE, sent.message_id)
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_text("v3", chat_id=ZOE, message_id=sent.message_id)

    commands = [BotCommand("start", "Commencer"), BotCommand("aide", "Aide")]
    assert await bot.set_my_commands(commands, language_code="fr") is True
    [call] = fake.calls_of("setMyCommands")
    assert call.params["commands"] == [
        {"command": "start", "description": "Commencer"},
        {"command": "aide", "description": "Aide"},
    ]
    assert call.params["language_code"] == "fr"
    assert await bot.get_my_commands(language_code="fr") == tuple(commands)
    assert await bot.get_my_commands() == ()
    assert fake.my_commands(language_code="fr")[0]["command"] == "start"


async def test_telegram_limits_are_enforced(fake: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.send_message(ZOE, "x" * 4097)
    await bot.send_message(ZOE, "x" * 4096)
    with pytest.raises(BadRequest, match="(?i)message to be replied not found"):
        await bot.send_message(ZOE, "hi", reply_parameters=ReplyParameters(9999))
    quiet = await bot.send_message(
        ZOE, "hi", reply_parameters=ReplyParameters(9999, allow_sending_without_reply=True)
    )
    assert quiet.reply_to_message is None
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="é" * 33)]])
    with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(ZOE, "hi", reply_markup=too_long)


async def test_injected_errors_map_to_ptb_exceptions(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_next("sendMessage", 429, retry_after=3)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(ZOE, "hi")
    assert seconds(caught.value.retry_after) == 3
    assert fake.calls[-1].response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }

    fake.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    with pytest.raises(Forbidden, match="blocked"):
        await bot.send_message(ZOE, "hi")
    fake.fail_next("editMessageText", 400, "Bad Request: message is not modified")
    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_text("x", chat_id=ZOE, message_id=1)
    fake.fail_next("sendMessage", 500, "Internal Server Error", times=2)
    for _ in range(2):
        with pytest.raises(NetworkError):
            await bot.send_message(ZOE, "hi")
    assert (await bot.send_message(ZOE, "after")).text == "after"

    fake.fail_next("sendMessage", 403, chat_id=7)
    await bot.send_message(ZOE, "other chat is fine")
    with pytest.raises(Forbidden):
        await bot.send_message(7, "blocked here")
    assert [c.status for c in fake.calls_of("sendMessage")][-2:] == [200, 403]
    assert fake.texts(ZOE) == ["after", "other chat is fine"]


async def test_wrong_token_unknown_method_and_wire_formats(fake: FakeTelegram) -> None:
    with pytest.raises(InvalidToken):
        async with make_bot(fake, token="999:WRONG"):
            pass
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{fake.url}/bot999:WRONG/getMe") as response:
            assert response.status == 401
            assert await response.json() == {
                "ok": False,
                "error_code": 401,
                "description": "Unauthorized",
            }
        async with http.post(f"{fake.url}/bot{TOKEN}/noSuchMethod") as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found",
            }
        # JSON bodies keep their types; JSON-object fields sent as strings are decoded
        body = {"chat_id": ZOE, "text": "123", "reply_markup": json.dumps({"inline_keyboard": []})}
        async with http.post(f"{fake.url}/bot{TOKEN}/sendMessage", json=body) as response:
            assert (await response.json())["result"]["text"] == "123"
        async with http.get(f"{fake.url}/bot{TOKEN}/getMe") as response:
            assert (await response.json())["result"]["username"] == "passerelle_test_bot"
        # multipart, as PTB sends with an upload
        form = aiohttp.FormData()
        form.add_field("chat_id", "42")
        form.add_field("caption", "007")
        form.add_field("photo", b"\xff\xd8jpeg", filename="p.jpg", content_type="image/jpeg")
        async with http.post(f"{fake.url}/bot{TOKEN}/sendPhoto", data=form) as response:
            assert response.status == 200
    json_call, get_call, photo_call = fake.calls[-3:]
    assert json_call.params == {
        "chat_id": ZOE,
        "text": "123",
        "reply_markup": {"inline_keyboard": []},
    }
    assert json_call.content_type == "application/json"
    assert get_call.http_method == "GET"
    assert photo_call.params["caption"] == "007"
    assert photo_call.params["photo"].data == b"\xff\xd8jpeg"


async def test_slow_server_times_out(fake: FakeTelegram) -> None:
    fake.delay_next("sendMessage", 2.0)
    async with make_bot(fake, read_timeout=0.2) as bot:
        started = time.monotonic()
        with pytest.raises(TimedOut):
            await bot.send_message(ZOE, "slow")
        assert time.monotonic() - started < 1.0
        assert (await bot.send_message(ZOE, "fast")).text == "fast"
    assert fake.calls_of("sendMessage")[0].status is None  # the client gave up first
    assert fake.texts() == ["fast"]


async def test_application_builder_read_timeout(fake: FakeTelegram) -> None:
    fake.delay_next("sendMessage", 2.0)
    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(f"{fake.url}/bot")
        .base_file_url(f"{fake.url}/file/bot")
        .read_timeout(0.2)
        .build()
    )
    async with app:
        with pytest.raises(TimedOut):
            await app.bot.send_message(ZOE, "slow")


async def test_long_poll_waits_returns_early_and_confirms(fake: FakeTelegram, bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=dtm.timedelta(seconds=0.3)) == ()
    assert 0.25 <= time.monotonic() - started < 1.0
    assert fake.calls_of("getUpdates")[-1].params["timeout"] == 0.3

    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    first = fake.user_sends(ZOE, "réveil")
    [update] = await poll
    assert time.monotonic() - started < 0.5
    assert update.message.message_id == first["message_id"]

    second = fake.user_sends(ZOE, "encore")
    again = await bot.get_updates()  # not confirmed yet: the first comes back
    assert [u.message.text for u in again] == ["réveil", "encore"]
    rest = await bot.get_updates(offset=update.update_id + 1)
    assert [u.message.message_id for u in rest] == [second["message_id"]]
    assert [u["update_id"] for u in fake.pending] == [rest[0].update_id]
    assert await bot.get_updates(offset=rest[0].update_id + 1) == ()
    assert fake.pending == []


async def test_webhook(fake: FakeTelegram, bot: Bot) -> None:
    received: list[tuple[str, str | None, dict]] = []

    async def endpoint(request: web.Request) -> web.Response:
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        received.append((request.headers["Content-Type"], secret, await request.json()))
        return web.Response(status=200 if secret == "s3cret" else 403)

    app = web.Application()
    app.router.add_post("/hook", endpoint)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    hook_url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        assert await bot.set_webhook(hook_url, secret_token="s3cret") is True
        assert (fake.webhook_url, fake.webhook_secret) == (hook_url, "s3cret")
        info = await bot.get_webhook_info()
        assert info.url == hook_url
        with pytest.raises(Conflict):
            await bot.get_updates()

        update = fake.make_message_update(ZOE, "/start", username="zoe")
        assert await fake.post_update_to_webhook(update, secret="s3cret") == 200
        assert await fake.post_update_to_webhook(update, secret="wrong") == 403
        assert await fake.post_update_to_webhook(update, secret=None) == 403
        assert [(ctype, secret) for ctype, secret, _ in received] == [
            ("application/json", "s3cret"),
            ("application/json", "wrong"),
            ("application/json", None),
        ]
        parsed = Update.de_json(received[0][2], bot)
        assert parsed.message.text == "/start"
        assert parsed.message.entities[0].type == "bot_command"
        assert fake.pending == []  # built, not queued

        assert await bot.delete_webhook() is True
        assert fake.webhook_url == ""
    finally:
        await runner.cleanup()


async def test_blocked_user_and_files(fake: FakeTelegram, bot: Bot) -> None:
    photo = fake.user_sends_photo(ZOE, caption="ma photo")
    file = await bot.get_file(photo["photo"][-1]["file_id"])
    assert bytes(await file.download_as_bytearray()).startswith(b"\xff\xd8")

    fake.user_blocks(ZOE)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(ZOE, "hi")
    updates = await bot.get_updates()
    assert updates[-1].my_chat_member.new_chat_member.status == "kicked"
    fake.user_unblocks(ZOE)
    await bot.send_message(ZOE, "welcome back")


async def test_application_polls_user_actions_in_order(fake: FakeTelegram) -> None:
    seen: list[tuple[str, object]] = []
    all_seen = asyncio.Event()

    async def on_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if update.edited_message is not None:
            seen.append(("edited", message.text))
        elif message.sticker is not None:
            seen.append(("sticker", message.sticker.emoji))
        elif message.contact is not None:
            seen.append(("contact", message.contact.phone_number))
        else:
            seen.append(("text", message.text))
            await message.reply_text(
                f"reçu: {message.text}",
                do_quote=True,
                reply_markup=InlineKeyboardMarkup(
                    [[InlineKeyboardButton("OK", callback_data="ok")]]
                ),
            )
        if len(seen) == 5:
            all_seen.set()

    async def on_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(("press", update.callback_query.data))
        await update.callback_query.answer("merci")

    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(f"{fake.url}/bot")
        .base_file_url(f"{fake.url}/file/bot")
        .build()
    )
    app.add_handler(MessageHandler(filters.ALL, on_message))
    app.add_handler(CallbackQueryHandler(on_press))
    hello = fake.user_sends(ZOE, "bonjour", username="zoe")  # queued before polling starts

    async def exchange(hello: dict) -> None:
        [reply] = await fake.wait_sent(1, chat_id=ZOE)
        assert reply["reply_to_message"]["message_id"] == hello["message_id"]
        # these arrive while a long poll is waiting
        fake.user_edits(ZOE, hello["message_id"], "bonjour !")
        fake.user_presses(ZOE, reply["message_id"], "ok")
        fake.user_sends_sticker(ZOE)
        fake.user_sends_contact(ZOE, "+33612345678")
        await asyncio.wait_for(all_seen.wait(), 2)
        await fake.wait_calls("answerCallbackQuery")

    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            await exchange(hello)
        finally:
            await app.updater.stop()
            await app.stop()

    assert seen == [
        ("text", "bonjour"),
        ("edited", "bonjour !"),
        ("press", "ok"),
        ("sticker", "👍"),
        ("contact", "+33612345678"),
    ]
    assert fake.pending == []  # stop() confirmed what was fetched
    methods = [c.method for c in fake.calls]
    assert methods[:3] == ["getMe", "deleteWebhook", "getUpdates"]
    assert methods[-1] == "getUpdates" and fake.calls[-1].params["timeout"] == 0
    assert "close" not in methods and "logOut" not in methods
    assert fake.calls_of("getUpdates")[0].params["timeout"] == 1
