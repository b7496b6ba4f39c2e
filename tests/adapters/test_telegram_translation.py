"""The Telegram adapter's translation both ways, and its error mapping, with respx at
python-telegram-bot's httpx layer (no server at all)."""

from __future__ import annotations

import os

os.environ.setdefault("PTB_TIMEDELTA", "true")  # before telegram is imported

import json  # noqa: E402
from urllib.parse import parse_qs  # noqa: E402

import httpx  # noqa: E402
import pytest  # noqa: E402
import respx  # noqa: E402
from telegram import Bot, Update  # noqa: E402

from adapters.telegram_adapter import TelegramChannel, keyboard, to_inbound  # noqa: E402
from core.model import Address, Button, Outbound  # noqa: E402
from core.ports import PermanentFailure, RetryLater, Unreachable  # noqa: E402

BASE = "http://telegram.test"
TOKEN = "123:ABC"
API = f"{BASE}/bot{TOKEN}"
BOT = Bot(TOKEN)


def update(data: dict) -> Update:
    return Update.de_json(data, BOT)


def message(**extra: object) -> dict:
    return {"message_id": 7, "date": 0, "chat": {"id": 42, "type": "private"},
            "from": {"id": 42, "is_bot": False, "first_name": "Zoé", "username": "zoe_h",
                     "language_code": "fr"}, **extra}


def test_a_text_message_becomes_an_inbound_without_names() -> None:
    inbound = to_inbound(update({"update_id": 9, "message": message(
        text="Salut", reply_to_message=message(message_id=5, text="x"))}), "123")
    assert inbound is not None
    assert (inbound.event_key, inbound.source, inbound.platform_user_id) == (
        "telegram:123:9", Address("telegram", "42"), "42")
    assert (inbound.text, inbound.message_id, inbound.reply_to) == ("Salut", "7", "5")
    assert inbound.locale_hint == "fr" and not inbound.edited and inbound.media is None
    assert "Zoé" not in repr(inbound) and "zoe_h" not in repr(inbound)


def test_edits_buttons_and_media_are_translated() -> None:
    edited = to_inbound(update({"update_id": 1, "edited_message": message(text="Salut!")}))
    assert edited is not None and edited.edited and edited.message_id == "7"
    press = to_inbound(update({"update_id": 2, "callback_query": {
        "id": "cb1", "chat_instance": "x", "data": "lang:en",
        "from": message()["from"], "message": message(text="Langue?")}}))
    assert press is not None and press.action == "lang:en" and press.text == ""
    sticker = to_inbound(update({"update_id": 3, "message": message(sticker={
        "file_id": "s", "file_unique_id": "s", "type": "regular", "width": 1, "height": 1,
        "is_animated": False, "is_video": False})}))
    assert sticker is not None and sticker.media == "sticker" and sticker.text == ""
    contact = to_inbound(update({"update_id": 4, "message": message(contact={
        "phone_number": "5145551234", "first_name": "X"})}))
    assert contact is not None and contact.media == "contact"
    from_a_bot = message(text="hi")
    from_a_bot["from"]["is_bot"] = True
    assert to_inbound(update({"update_id": 5, "message": from_a_bot})) is None


def test_groups_and_service_messages_are_ignored() -> None:
    in_a_group = message(text="/help@passerelle_bot")
    in_a_group["chat"] = {"id": -4242, "type": "group", "title": "Classe 3B"}
    assert to_inbound(update({"update_id": 6, "message": in_a_group})) is None
    press_in_group = {"id": "cb", "chat_instance": "x", "data": "lang:fr",
                      "from": message()["from"], "message": in_a_group}
    assert to_inbound(update({"update_id": 7, "callback_query": press_in_group})) is None
    pinned = message(pinned_message=message(text="règles"))
    assert to_inbound(update({"update_id": 8, "message": pinned})) is None


def test_buttons_become_an_inline_keyboard() -> None:
    markup = keyboard([Button("Français", "lang:fr"), Button("English", "lang:en"),
                       Button("Une très longue étiquette de bouton", "field:x")])
    assert markup is not None
    rows = [[b.callback_data for b in row] for row in markup.inline_keyboard]
    assert rows == [["lang:fr", "lang:en"], ["field:x"]]
    assert keyboard([]) is None


def channel() -> TelegramChannel:
    return TelegramChannel(TOKEN, base_url=BASE, request_timeout=0.5)


def ok(result: object) -> httpx.Response:
    return httpx.Response(200, json={"ok": True, "result": result})


def failure(status: int, description: str, **parameters: object) -> httpx.Response:
    body: dict = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return httpx.Response(status, json=body)


OUT = Outbound(Address("telegram", "42"), "Bonjour", (Button("Oui", "conv:1"),), reply_to="5")


@respx.mock
async def test_send_posts_text_keyboard_and_reply() -> None:
    route = respx.post(f"{API}/sendMessage").mock(return_value=ok(message(text="Bonjour")))
    assert await channel().send(OUT) == "7"
    form = parse_qs(route.calls.last.request.content.decode())
    assert form["chat_id"] == ["42"] and form["text"] == ["Bonjour"]
    assert json.loads(form["reply_markup"][0])["inline_keyboard"][0][0]["callback_data"] == (
        "conv:1")
    assert json.loads(form["reply_parameters"][0])["message_id"] == 5


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (failure(400, "Bad Request: message text is empty"), PermanentFailure),
        (failure(400, "Bad Request: chat not found"), Unreachable),
        (failure(403, "Forbidden: bot was blocked by the user"), Unreachable),
        (failure(429, "Too Many Requests: retry after 3", retry_after=3), RetryLater),
        (failure(502, "Bad Gateway"), RetryLater),
    ],
)
@respx.mock
async def test_errors_are_mapped_for_the_workers(response: httpx.Response, expected: type):
    respx.post(f"{API}/sendMessage").mock(return_value=response)
    with pytest.raises(expected) as raised:
        await channel().send(OUT)
    if isinstance(raised.value, RetryLater) and response.status_code == 429:
        assert raised.value.retry_after == 3


@respx.mock
async def test_a_timeout_is_retried_later() -> None:
    respx.post(f"{API}/sendMessage").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(TimeoutError):
        await channel().send(OUT)


@respx.mock
async def test_edit_and_delete_use_the_delivered_copy() -> None:
    edit = respx.post(f"{API}/editMessageText").mock(return_value=ok(message(text="B")))
    remove = respx.post(f"{API}/deleteMessage").mock(return_value=ok(True))
    target = Address("telegram", "42")
    await channel().edit(Outbound(target, "B", edit_of="7"))
    await channel().delete(Outbound(target, "", delete_of="7"))
    assert parse_qs(edit.calls.last.request.content.decode())["message_id"] == ["7"]
    assert parse_qs(remove.calls.last.request.content.decode())["message_id"] == ["7"]


@respx.mock
async def test_an_edit_with_the_same_text_is_not_an_error() -> None:
    respx.post(f"{API}/editMessageText").mock(
        return_value=failure(400, "Bad Request: message is not modified"))
    await channel().edit(Outbound(Address("telegram", "42"), "B", edit_of="7"))


@respx.mock
async def test_a_chat_that_migrated_to_a_supergroup_is_followed() -> None:
    route = respx.post(f"{API}/sendMessage").mock(side_effect=[
        failure(400, "Bad Request: group chat was upgraded to a supergroup chat",
                migrate_to_chat_id=-100777),
        ok(message(text="Bonjour")),
    ])
    assert await channel().send(OUT) == "7"
    chats = [parse_qs(call.request.content.decode())["chat_id"][0] for call in route.calls]
    assert chats == ["42", "-100777"]


def test_the_webhook_secret_is_generated_once_and_kept(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import stat

    from bots.app import stored_secret

    path = tmp_path / "data" / "telegram_webhook_secret"
    first = stored_secret(path)
    assert len(first) >= 32 and stored_secret(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
