"""A fake Telegram Bot API server (aiohttp, 127.0.0.1, a port the OS picks) for adapter tests.

Point the real python-telegram-bot at it::

    async with FakeTelegram(token="123:ABC") as fake:
        app = (
            ApplicationBuilder().token("123:ABC")
            .base_url(f"{fake.url}/bot").base_file_url(f"{fake.url}/file/bot").build()
        )

Everything the bot calls is recorded in `fake.calls`; what users do is injected with
`fake.user_sends(...)`, `fake.user_presses(...)`...; failures with `fake.fail_next(...)` and
`fake.delay_next(...)`.

How requests are read: python-telegram-bot sends `application/x-www-form-urlencoded` (multipart
when a file is uploaded) where every non-string value is JSON inside its field: `chat_id=42`,
`text=123`, `reply_markup={"inline_keyboard": ...}`. A text "123" and a chat id 42 look the same
on the wire, so the fake never JSON-decodes a field blindly: only the fields the Bot API declares
as JSON objects/arrays (`JSON_FIELDS`) are decoded, integer fields (`INT_FIELDS`, e.g. chat_id)
become ints, boolean fields become bools, and everything else stays the string that was sent.
`Call.raw` keeps the fields exactly as received.

Like Telegram (and unlike a permissive mock), the fake answers the errors a relay must cope with:
text over 4,096 characters, "message is not modified", "message to edit not found", replies to
unknown messages, callback data over 64 bytes, answering an unknown callback query, getUpdates
while a webhook is set (409) or while another getUpdates is waiting (the waiting one gets the 409,
`poll_conflicts` counts them), and a blocked user (403) after `user_blocks`.
Known simplifications: lengths are counted in code points after no entity parsing (no HTML or
Markdown parsing at all); the webhook url may be plain http; message ids come from one counter for
all chats; updates are not pushed to a webhook by themselves (use `post_update_to_webhook`).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.adapters.faults import TELEGRAM_METHODS, Faults, telegram_error

BOT_USERNAME = "passerelle_test_bot"
BOT_FIRST_NAME = "Passerelle"
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64

# Fields the Bot API declares as JSON-serialized objects or arrays: decoded when they arrive as a
# form field holding a JSON object/array. Nothing else is ever JSON-decoded.
JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "reply_parameters",
        "link_preview_options",
        "entities",
        "caption_entities",
        "explanation_entities",
        "commands",
        "scope",
        "allowed_updates",
        "media",
        "results",
        "options",
        "permissions",
        "prices",
        "reaction",
        "message_ids",
        "menu_button",
        "rights",
        "button",
        "input_message_content",
        "suggested_post_parameters",
    }
)
# Integer fields: "42" -> 42 (a "@channel" chat id stays a string).
INT_FIELDS = frozenset(
    {
        "chat_id",
        "from_chat_id",
        "message_id",
        "message_thread_id",
        "reply_to_message_id",
        "user_id",
        "offset",
        "limit",
        "cache_time",
        "max_connections",
        "until_date",
    }
)
NUMBER_FIELDS = frozenset({"timeout", "latitude", "longitude"})
BOOL_FIELDS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "allow_sending_without_reply",
        "allow_paid_broadcast",
        "disable_web_page_preview",
        "drop_pending_updates",
        "show_alert",
        "has_spoiler",
        "show_caption_above_media",
        "is_personal",
    }
)
# getUpdates without allowed_updates (or with []) leaves these out, like Telegram.
_NOT_DELIVERED_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_INT_RE = re.compile(r"-?\d+")
_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,})?")
_BOT_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_FILE_ID_PREFIX = "AgACAgQAAxkBAAI"
_FAKE_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00fake-telegram-photo\xff\xd9"

_BLOCKED = "Forbidden: bot was blocked by the user"
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: _BLOCKED,
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


@dataclass
class UploadedFile:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str
    data: bytes


@dataclass
class Call:
    """One request the bot made. `params` are decoded (see module doc), `raw` as received."""

    method: str
    params: dict[str, Any]
    raw: dict[str, Any] = field(default_factory=dict)
    http_method: str = "POST"
    content_type: str = ""
    status: int | None = None  # None while running, or when the client went away first
    response: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class _Failure:
    method: str
    status: int
    description: str
    retry_after: int | None
    remaining: int | None  # None: every call until clear_failures()
    chat_id: int | str | None


class ApiError(Exception):
    def __init__(self, status: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def _now() -> int:
    return int(time.time())


def _same_chat(a: object, b: object) -> bool:
    return str(a) == str(b)


def _coerce(name: str, value: Any) -> Any:
    """A form/query field (always a string) to the value the Bot API means."""
    if isinstance(value, UploadedFile) or not isinstance(value, str):
        return value
    if name in JSON_FIELDS and value.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if name in INT_FIELDS and _INT_RE.fullmatch(value.strip()):
        return int(value)
    if name in NUMBER_FIELDS:
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if number.is_integer() else number
    if name in BOOL_FIELDS and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _unique_id(file_id: str) -> str:
    start = len(_FILE_ID_PREFIX)
    return f"AQAD{file_id[start : start + 6]}"


def _command_entities(text: str) -> list[dict]:
    match = _COMMAND_RE.match(text)
    if not match:
        return []
    length = len(match.group(0).encode("utf-16-le")) // 2
    return [{"type": "bot_command", "offset": 0, "length": length}]


class FakeTelegram:
    """A Bot API server for one bot token. Use `async with FakeTelegram() as fake:`."""

    def __init__(
        self,
        token: str = "123:ABC",
        *,
        bot_username: str = BOT_USERNAME,
        bot_first_name: str = BOT_FIRST_NAME,
    ) -> None:
        self.token = token
        prefix = token.split(":", 1)[0]
        self.bot_id = int(prefix) if prefix.isdigit() else 1_000_001
        self.bot_user: dict[str, Any] = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.calls: list[Call] = []
        self.updates: list[dict] = []  # every update ever queued, in order
        self.messages: dict[int, dict] = {}  # message_id -> current message (deleted ones gone)
        self.deleted: set[int] = set()
        self.users: dict[int, dict] = {}  # user_id -> User object, from user_sends
        self.blocked: set[int] = set()
        self.webhook_url: str = ""
        self.webhook_secret: str | None = None
        self.webhook_params: dict[str, Any] = {}
        self.commands: dict[tuple[str, str], list[dict]] = {}  # (scope json, language) -> list
        self.callback_answers: dict[str, dict] = {}  # callback query id -> answer params
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, content)
        self._sent: list[dict] = []
        self._pending: list[dict] = []
        self._callback_queries: set[str] = set()
        self._allowed_updates: list[str] = []
        self._failures: list[_Failure] = []
        self._delays: list[tuple[str, float]] = []
        self.faults = Faults()  # random 429 / 5xx / timeouts on delivering calls (faults.py)
        self._message_ids = itertools.count(1)
        self._update_ids = itertools.count(100_001)
        self._query_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._changed = asyncio.Event()
        self._polls = 0  # getUpdates calls so far: a newer one ends the one waiting (409)
        self.poll_conflicts = 0  # getUpdates calls answered 409 that way
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._handlers: dict[str, tuple[str, Callable[[dict], Awaitable[Any]]]] = {}
        for name, handler in {
            "getMe": self._get_me,
            "logOut": self._true,
            "close": self._true,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "copyMessage": self._copy_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "sendChatAction": self._true,
            "answerCallbackQuery": self._answer_callback_query,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "getFile": self._get_file,
        }.items():
            self._handlers[name.lower()] = (name, handler)

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("FakeTelegram is not started")
        return self._url

    async def start(self) -> None:
        if self._runner is not None:
            return
        self._closing = False
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        # handler_cancellation: a long poll or a delayed answer whose client gave up (PTB's
        # updater.stop(), a client timeout) stops at once instead of holding the shutdown.
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        self._runner = runner
        self._url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        self._closing = True
        self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ inspection

    def calls_of(self, method: str) -> list[Call]:
        """The calls of one method (case-insensitive name), in arrival order."""
        wanted = method.lower()
        return [c for c in self.calls if c.method.lower() == wanted]

    def sent(self, chat_id: int | str | None = None) -> list[dict]:
        """Messages the bot sent (sendMessage, copyMessage, sendPhoto, sendDocument), as returned.

        Each dict is the Message as it was when sent; `message(id)` gives its current state.
        """
        return [m for m in self._sent if chat_id is None or _same_chat(m["chat"]["id"], chat_id)]

    def texts(self, chat_id: int | str | None = None) -> list[str]:
        return [m.get("text", m.get("caption", "")) for m in self.sent(chat_id)]

    def uploads(self, chat_id: int | str | None = None) -> list[tuple[str | None, bytes, str]]:
        """Documents the bot uploaded (sendDocument): (file name, bytes received, caption)."""
        return [
            (m["document"].get("file_name"), self.files[m["document"]["file_id"]][1],
             m.get("caption", ""))
            for m in self.sent(chat_id) if "document" in m
        ]

    def message(self, message_id: int) -> dict | None:
        """The current state of a message (after edits), None if deleted or unknown."""
        return self.messages.get(message_id)

    @property
    def pending(self) -> list[dict]:
        """Updates not yet confirmed by a getUpdates offset."""
        return list(self._pending)

    def my_commands(self, *, language_code: str = "", scope: dict | None = None) -> list[dict]:
        return list(self.commands.get((self._scope_key(scope), language_code), []))

    async def wait_calls(
        self, method: str, count: int = 1, *, chat_id: int | str | None = None, timeout: float = 2.0
    ) -> list[Call]:
        """Wait until `count` calls of `method` (for `chat_id`) have been answered."""

        def done() -> list[Call]:
            return [
                c
                for c in self.calls_of(method)
                if c.status is not None
                and (chat_id is None or _same_chat(c.params.get("chat_id"), chat_id))
            ]

        await self._wait(lambda: len(done()) >= count, timeout, f"{count} {method} call(s)")
        return done()

    async def wait_sent(
        self, count: int = 1, *, chat_id: int | str | None = None, timeout: float = 2.0
    ) -> list[dict]:
        """Wait until the bot has sent `count` messages (to `chat_id`)."""
        await self._wait(
            lambda: len(self.sent(chat_id)) >= count, timeout, f"{count} sent message(s)"
        )
        return self.sent(chat_id)

    async def wait_consumed(self, timeout: float = 2.0) -> None:
        """Wait until every queued update has been confirmed by a getUpdates offset."""
        await self._wait(lambda: not self._pending, timeout, "queued updates to be confirmed")

    # ------------------------------------------------------------------ failures

    def fail_next(
        self,
        method: str,
        status: int,
        description: str | None = None,
        *,
        retry_after: int | None = None,
        times: int | None = 1,
        chat_id: int | str | None = None,
    ) -> None:
        """The next `times` calls of `method` (to `chat_id` if given) answer this error.

        times=None fails every such call until `clear_failures()`. With `retry_after` the body
        carries `parameters.retry_after` (python-telegram-bot raises RetryAfter).
        """
        if description is None:
            if status == 429:
                description = f"Too Many Requests: retry after {retry_after or 1}"
            else:
                description = _DEFAULT_DESCRIPTIONS.get(status, "Internal Server Error")
        self._failures.append(
            _Failure(method.lower(), status, description, retry_after, times, chat_id)
        )

    def clear_failures(self) -> None:
        self._failures.clear()
        self._delays.clear()

    def delay_next(self, method: str, seconds: float, *, times: int = 1) -> None:
        """The next `times` calls of `method` wait `seconds` before being answered."""
        self._delays.extend([(method.lower(), seconds)] * times)

    # ------------------------------------------------------------------ what users do

    def user_sends(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str = "Zoé",
        username: str | None = None,
        language_code: str | None = "fr",
        reply_to: int | None = None,
    ) -> dict:
        """The user writes to the bot in their private chat; returns the Message dict."""
        update = self.make_message_update(
            user_id,
            text,
            first_name=first_name,
            username=username,
            language_code=language_code,
            reply_to=reply_to,
        )
        self._queue(update)
        return update["message"]

    def make_message_update(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str = "Zoé",
        username: str | None = None,
        language_code: str | None = "fr",
        reply_to: int | None = None,
    ) -> dict:
        """A `message` update (for a webhook), not queued; the message becomes known."""
        self._remember_user(user_id, first_name, username, language_code)
        content: dict[str, Any] = {"text": text}
        entities = _command_entities(text)
        if entities:
            content["entities"] = entities
        message = self._user_message(user_id, content, reply_to=reply_to)
        return {"update_id": next(self._update_ids), "message": copy.deepcopy(message)}

    def user_edits(self, user_id: int, message_id: int, new_text: str) -> dict:
        """The user edits one of their messages: an `edited_message` update."""
        message = self.messages.get(message_id)
        if message is None or message.get("from", {}).get("id") != user_id:
            raise ValueError(f"user {user_id} has no message {message_id} to edit")
        message["text"] = new_text
        message.pop("entities", None)
        entities = _command_entities(new_text)
        if entities:
            message["entities"] = entities
        message["edit_date"] = max(_now(), message["date"] + 1)
        self._queue({"edited_message": copy.deepcopy(message)})
        return copy.deepcopy(message)

    def user_presses(self, user_id: int, message_id: int, data: str) -> str:
        """The user presses an inline button of a bot message; returns the callback query id.

        `data` is not checked against the keyboard (to simulate stale or forged buttons).
        """
        message = self.messages.get(message_id)
        if message is None or not _same_chat(message["chat"]["id"], user_id):
            raise ValueError(f"no message {message_id} in the chat of user {user_id}")
        query_id = str(4_000_000_000_000_000_000 + next(self._query_ids))
        self._callback_queries.add(query_id)
        self._queue(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self._user(user_id),
                    "message": copy.deepcopy(message),
                    "chat_instance": str(-(10**18) - user_id),
                    "data": data,
                }
            }
        )
        return query_id

    def user_sends_sticker(self, user_id: int, *, emoji: str = "👍") -> dict:
        file_id, unique_id = self._new_file("stickers", ".webp")
        sticker = {
            "file_id": file_id,
            "file_unique_id": unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "set_name": "PasserelleTestStickers",
            "file_size": len(_FAKE_JPEG),
        }
        return self._queue_user_message(user_id, {"sticker": sticker})

    def user_sends_photo(
        self, user_id: int, caption: str | None = None, *, media_group_id: str | None = None
    ) -> dict:
        """A photo (several sizes, like Telegram); albums share a `media_group_id`."""
        sizes = []
        for width, height in ((90, 67), (320, 240), (1280, 960)):
            file_id, unique_id = self._new_file("photos", ".jpg")
            sizes.append(
                {
                    "file_id": file_id,
                    "file_unique_id": unique_id,
                    "width": width,
                    "height": height,
                    "file_size": len(_FAKE_JPEG),
                }
            )
        content: dict[str, Any] = {"photo": sizes}
        if caption is not None:
            content["caption"] = caption
        if media_group_id is not None:
            content["media_group_id"] = media_group_id
        return self._queue_user_message(user_id, content)

    def user_sends_contact(self, user_id: int, phone: str) -> dict:
        """The user shares their own contact (so it carries their user_id)."""
        user = self._user(user_id)
        contact = {"phone_number": phone, "first_name": user["first_name"], "user_id": user_id}
        return self._queue_user_message(user_id, {"contact": contact})

    def user_sends_location(
        self, user_id: int, latitude: float = 48.8566, longitude: float = 2.3522
    ) -> dict:
        location = {"latitude": latitude, "longitude": longitude}
        return self._queue_user_message(user_id, {"location": location})

    def user_blocks(self, user_id: int) -> dict:
        """The user blocks the bot: a `my_chat_member` update, then 403 on calls to that chat."""
        self.blocked.add(user_id)
        return self._queue_chat_member(user_id, "member", "kicked")

    def user_unblocks(self, user_id: int) -> dict:
        self.blocked.discard(user_id)
        return self._queue_chat_member(user_id, "kicked", "member")

    def push_update(self, update: dict) -> dict:
        """Queue any update (an `update_id` is added when missing)."""
        return self._queue(dict(update))

    # ------------------------------------------------------------------ webhook delivery

    async def post_update_to_webhook(self, update: dict, *, secret: str | None) -> int:
        """POST the update as Telegram does to the url set by setWebhook; the HTTP status."""
        if not self.webhook_url:
            raise RuntimeError("no webhook set (setWebhook was not called)")
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        body = json.dumps(update).encode()
        timeout = aiohttp.ClientTimeout(total=10)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(self.webhook_url, data=body, headers=headers) as response,
        ):
            await response.read()
            return response.status

    # ------------------------------------------------------------------ internals: state

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"FakeTelegram: waited {timeout}s for {what}")
            event = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def _sleep_until(self, predicate: Callable[[], bool], seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await self._wait(predicate, seconds, "")

    async def _sleep(self, seconds: float) -> None:
        """Sleep, cut short when the fake stops."""
        await self._sleep_until(lambda: self._closing, seconds)

    def _queue(self, update: dict) -> dict:
        update.setdefault("update_id", next(self._update_ids))
        self.updates.append(update)
        self._pending.append(update)
        self._notify()
        return update

    def _remember_user(
        self, user_id: int, first_name: str, username: str | None, language_code: str | None
    ) -> None:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username is not None:
            user["username"] = username
        if language_code is not None:
            user["language_code"] = language_code
        self.users[user_id] = user

    def _user(self, user_id: int) -> dict:
        if user_id not in self.users:
            self._remember_user(user_id, "Zoé", None, "fr")
        return dict(self.users[user_id])

    def _chat(self, chat_id: int) -> dict:
        if chat_id > 0:
            chat: dict[str, Any] = {"id": chat_id, "type": "private"}
            user = self.users.get(chat_id)
            if user is not None:
                chat["first_name"] = user["first_name"]
                if "username" in user:
                    chat["username"] = user["username"]
            return chat
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        return {"id": chat_id, "type": kind, "title": f"Group {chat_id}"}

    def _store(self, message: dict) -> dict:
        self.messages[message["message_id"]] = message
        return message

    def _user_message(self, user_id: int, content: dict, *, reply_to: int | None) -> dict:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "from": self._user(user_id),
            "chat": self._chat(user_id),
            "date": _now(),
        }
        if reply_to is not None:
            replied = self.messages.get(reply_to)
            if replied is None:
                raise ValueError(f"message {reply_to} is unknown or deleted")
            message["reply_to_message"] = self._quoted(replied)
        message.update(content)
        return self._store(message)

    def _queue_user_message(self, user_id: int, content: dict) -> dict:
        self._user(user_id)
        message = self._user_message(user_id, content, reply_to=None)
        self._queue({"message": copy.deepcopy(message)})
        return copy.deepcopy(message)

    def _queue_chat_member(self, user_id: int, old: str, new: str) -> dict:
        def member(status: str) -> dict:
            entry: dict[str, Any] = {"user": dict(self.bot_user), "status": status}
            if status == "kicked":
                entry["until_date"] = 0
            return entry

        return self._queue(
            {
                "my_chat_member": {
                    "chat": self._chat(user_id),
                    "from": self._user(user_id),
                    "date": _now(),
                    "old_chat_member": member(old),
                    "new_chat_member": member(new),
                }
            }
        )

    @staticmethod
    def _quoted(message: dict) -> dict:
        quoted = copy.deepcopy(message)
        quoted.pop("reply_to_message", None)
        return quoted

    def _new_file(self, folder: str, suffix: str) -> tuple[str, str]:
        n = next(self._file_ids)
        file_id = f"{_FILE_ID_PREFIX}{n:06d}fake"
        self.files[file_id] = (f"{folder}/file_{n}{suffix}", _FAKE_JPEG)
        return file_id, _unique_id(file_id)

    @staticmethod
    def _scope_key(scope: dict | None) -> str:
        return json.dumps(scope or {"type": "default"}, sort_keys=True)

    # ------------------------------------------------------------------ internals: HTTP

    async def _read_params(self, request: web.Request) -> tuple[dict, dict]:
        raw: dict[str, Any] = dict(request.query)
        decoded: dict[str, Any] = {k: _coerce(k, v) for k, v in raw.items()}
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError as error:
                    raise ApiError(400, "Bad Request: can't parse JSON object") from error
                if not isinstance(body, dict):
                    raise ApiError(400, "Bad Request: JSON object expected")
                for name, value in body.items():
                    raw[name] = value
                    decoded[name] = _coerce(name, value) if name in JSON_FIELDS else value
            else:
                form = await request.post()
                for name, value in form.items():
                    if isinstance(value, web.FileField):
                        value = UploadedFile(value.filename, value.content_type, value.file.read())
                    raw[name] = value
                    decoded[name] = _coerce(name, value)
        return decoded, raw

    def _response(self, status: int, body: dict) -> web.Response:
        return web.Response(
            status=status, body=json.dumps(body).encode(), content_type="application/json"
        )

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        call = Call(
            method=method,
            params={},
            http_method=request.method,
            content_type=request.headers.get("Content-Type", "").split(";")[0].strip(),
        )
        self.calls.append(call)
        try:
            try:
                call.params, call.raw = await self._read_params(request)
                result, description = await self._answer(request.match_info["token"], call)
            except ApiError as error:
                body: dict[str, Any] = {
                    "ok": False,
                    "error_code": error.status,
                    "description": error.description,
                }
                if error.parameters:
                    body["parameters"] = error.parameters
                status = error.status
            else:
                body = {"ok": True, "result": result}
                if description:
                    body["description"] = description
                status = 200
            call.status, call.response = status, body
            return self._response(status, body)
        finally:
            self._notify()

    async def _answer(self, token: str, call: Call) -> tuple[Any, str | None]:
        if token != self.token:
            raise ApiError(401, "Unauthorized")
        known = self._handlers.get(call.method.lower())
        if known is None:
            raise ApiError(404, "Not Found")
        call.method, handler = known
        key = call.method.lower()
        fault = await self.faults.strike() if key in TELEGRAM_METHODS else None
        if fault is not None:
            raise ApiError(*telegram_error(fault))
        for i, (method, seconds) in enumerate(self._delays):
            if method == key:
                del self._delays[i]
                await self._sleep(seconds)
                break
        chat_id = call.params.get("chat_id")
        for failure in self._failures:
            if failure.method == key and (
                failure.chat_id is None or _same_chat(failure.chat_id, chat_id)
            ):
                if failure.remaining is not None:
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self._failures.remove(failure)
                parameters = {"retry_after": failure.retry_after} if failure.retry_after else None
                raise ApiError(failure.status, failure.description, parameters)
        if chat_id is not None and any(_same_chat(chat_id, u) for u in self.blocked):
            raise ApiError(403, _BLOCKED)
        result = await handler(call.params)
        if isinstance(result, tuple):
            return result
        return result, None

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            body = {"ok": False, "error_code": 401, "description": "Unauthorized"}
            return self._response(401, body)
        path = request.match_info["path"]
        for file_path, content in self.files.values():
            if file_path == path:
                return web.Response(body=content, content_type="application/octet-stream")
        return self._response(404, {"ok": False, "error_code": 404, "description": "Not Found"})

    # ------------------------------------------------------------------ internals: methods

    @staticmethod
    def _require(params: dict, name: str) -> Any:
        value = params.get(name)
        if value is None or value == "":
            raise ApiError(400, f'Bad Request: parameter "{name}" is required')
        return value

    def _chat_id(self, params: dict, name: str = "chat_id") -> int:
        value = self._require(params, name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ApiError(400, "Bad Request: chat not found")
        return value

    def _own_message(self, params: dict, not_found: str) -> dict:
        chat_id = self._chat_id(params)
        message_id = self._require(params, "message_id")
        message = self.messages.get(message_id) if isinstance(message_id, int) else None
        if message is None or not _same_chat(message["chat"]["id"], chat_id):
            raise ApiError(400, f"Bad Request: {not_found}")
        return message

    @staticmethod
    def _inline_markup(params: dict) -> dict | None:
        """The markup echoed in a Message: Telegram echoes only inline keyboards."""
        markup = params.get("reply_markup")
        if not isinstance(markup, dict):
            return None
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and len(data.encode()) > MAX_CALLBACK_DATA:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup if "inline_keyboard" in markup else None

    def _reply_to(self, params: dict, chat_id: int) -> dict | None:
        reply = params.get("reply_parameters")
        if not isinstance(reply, dict):
            reply = {}
            if params.get("reply_to_message_id") is not None:
                reply = {
                    "message_id": params["reply_to_message_id"],
                    "allow_sending_without_reply": params.get("allow_sending_without_reply"),
                }
        if not reply.get("message_id"):
            return None
        replied = self.messages.get(reply["message_id"])
        source_chat = reply.get("chat_id", chat_id)
        if replied is None or not _same_chat(replied["chat"]["id"], source_chat):
            if reply.get("allow_sending_without_reply"):
                return None
            raise ApiError(400, "Bad Request: message to be replied not found")
        return self._quoted(replied)

    def _bot_sends(self, params: dict, content: dict) -> dict:
        chat_id = self._chat_id(params)
        reply_to = self._reply_to(params, chat_id)
        markup = self._inline_markup(params)
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "from": dict(self.bot_user),
            "chat": self._chat(chat_id),
            "date": _now(),
        }
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        message.update(content)
        if markup is not None:
            message["reply_markup"] = markup
        self._store(message)
        self._sent.append(copy.deepcopy(message))
        return copy.deepcopy(message)

    async def _true(self, params: dict) -> bool:
        return True

    async def _get_me(self, params: dict) -> dict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: dict) -> list[dict]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        # One consumer per bot, as on Telegram: a newer getUpdates ends the one still waiting
        # with a 409 (each instance of a bot polling at once keeps getting these).
        self._polls += 1
        poll = self._polls
        self._notify()
        offset = params.get("offset")
        limit = params.get("limit")
        limit = min(max(limit, 1), 100) if isinstance(limit, int) else 100
        timeout = params.get("timeout")
        timeout = max(float(timeout), 0.0) if isinstance(timeout, int | float) else 0.0
        if isinstance(params.get("allowed_updates"), list):
            self._allowed_updates = list(params["allowed_updates"])
        if isinstance(offset, int) and offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif isinstance(offset, int) and offset < 0:
            self._pending = self._pending[offset:]

        def ready() -> list[dict]:
            return [u for u in self._pending if self._allowed(u)][:limit]

        await self._sleep_until(
            lambda: bool(ready()) or self._closing or self._polls != poll, timeout)
        if self._polls != poll:
            self.poll_conflicts += 1
            raise ApiError(409, "Conflict: terminated by other getUpdates request; make sure "
                                "that only one bot instance is running")
        return copy.deepcopy(ready())

    def _allowed(self, update: dict) -> bool:
        kind = next((k for k in update if k != "update_id"), "")
        if self._allowed_updates:
            return kind in self._allowed_updates
        return kind not in _NOT_DELIVERED_BY_DEFAULT

    async def _set_webhook(self, params: dict) -> tuple[bool, str]:
        url = params.get("url", "")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_RE.fullmatch(str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._pending.clear()
        if not url:
            self.webhook_url, self.webhook_secret, self.webhook_params = "", None, {}
            return True, "Webhook was deleted"
        self.webhook_url, self.webhook_secret = str(url), secret
        self.webhook_params = dict(params)
        if isinstance(params.get("allowed_updates"), list):
            self._allowed_updates = list(params["allowed_updates"])
        return True, "Webhook was set"

    async def _delete_webhook(self, params: dict) -> tuple[bool, str]:
        if params.get("drop_pending_updates"):
            self._pending.clear()
        was_set = bool(self.webhook_url)
        self.webhook_url, self.webhook_secret, self.webhook_params = "", None, {}
        return True, "Webhook was deleted" if was_set else "Webhook is already deleted"

    async def _get_webhook_info(self, params: dict) -> dict:
        info: dict[str, Any] = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook_url:
            info["max_connections"] = self.webhook_params.get("max_connections", 40)
            if self._allowed_updates:
                info["allowed_updates"] = list(self._allowed_updates)
            if self.webhook_params.get("ip_address"):
                info["ip_address"] = self.webhook_params["ip_address"]
        return info

    async def _send_message(self, params: dict) -> dict:
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        content: dict[str, Any] = {"text": text}
        if isinstance(params.get("entities"), list):
            content["entities"] = params["entities"]
        if isinstance(params.get("link_preview_options"), dict):
            content["link_preview_options"] = params["link_preview_options"]
        return self._bot_sends(params, content)

    async def _edit_message_text(self, params: dict) -> dict | bool:
        if params.get("inline_message_id"):
            return True
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        message = self._own_message(params, "message to edit not found")
        if message.get("from", {}).get("id") != self.bot_id:
            raise ApiError(400, "Bad Request: message can't be edited")
        if "text" not in message:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        markup = self._inline_markup(params)  # omitted: the keyboard goes away, like Telegram
        if message["text"] == text and message.get("reply_markup") == markup:
            raise ApiError(400, _NOT_MODIFIED)
        message["text"] = text
        if isinstance(params.get("entities"), list):
            message["entities"] = params["entities"]
        else:
            message.pop("entities", None)
        self._set_markup(message, markup)
        return copy.deepcopy(message)

    async def _edit_message_reply_markup(self, params: dict) -> dict | bool:
        if params.get("inline_message_id"):
            return True
        message = self._own_message(params, "message to edit not found")
        if message.get("from", {}).get("id") != self.bot_id:
            raise ApiError(400, "Bad Request: message can't be edited")
        markup = self._inline_markup(params)
        if message.get("reply_markup") == markup:
            raise ApiError(400, _NOT_MODIFIED)
        self._set_markup(message, markup)
        return copy.deepcopy(message)

    @staticmethod
    def _set_markup(message: dict, markup: dict | None) -> None:
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        message["edit_date"] = max(_now(), message["date"] + 1)

    async def _delete_message(self, params: dict) -> bool:
        message = self._own_message(params, "message to delete not found")
        del self.messages[message["message_id"]]
        self.deleted.add(message["message_id"])
        return True

    async def _copy_message(self, params: dict) -> dict:
        from_chat = self._chat_id(params, "from_chat_id")
        message_id = params.get("message_id")
        source = self.messages.get(message_id) if isinstance(message_id, int) else None
        if source is None or not _same_chat(source["chat"]["id"], from_chat):
            raise ApiError(400, "Bad Request: message to copy not found")
        content = {
            k: copy.deepcopy(v)
            for k, v in source.items()
            if k
            in (
                "text",
                "entities",
                "photo",
                "caption",
                "caption_entities",
                "sticker",
                "document",
                "contact",
                "location",
            )
        }
        if "caption" in params:
            content["caption"] = params["caption"]
        sent = self._bot_sends(params, content)
        return {"message_id": sent["message_id"]}

    def _media(self, params: dict, name: str, folder: str) -> tuple[str, str, int]:
        value = self._require(params, name)
        if isinstance(value, UploadedFile):
            file_id, unique_id = self._new_file(folder, "")
            self.files[file_id] = (self.files[file_id][0], value.data)
            return file_id, unique_id, len(value.data)
        if isinstance(value, str) and value in self.files:
            return value, _unique_id(value), len(self.files[value][1])
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            file_id, unique_id = self._new_file(folder, "")
            return file_id, unique_id, len(_FAKE_JPEG)
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    def _caption(self, params: dict, content: dict) -> None:
        caption = params.get("caption")
        if isinstance(caption, str) and caption:
            if len(caption) > MAX_CAPTION:
                raise ApiError(400, "Bad Request: message caption is too long")
            content["caption"] = caption

    async def _send_photo(self, params: dict) -> dict:
        file_id, unique_id, size = self._media(params, "photo", "photos")
        photo = {"file_id": file_id, "file_unique_id": unique_id, "width": 1280, "height": 960}
        content: dict[str, Any] = {"photo": [{**photo, "file_size": size}]}
        self._caption(params, content)
        return self._bot_sends(params, content)

    async def _send_document(self, params: dict) -> dict:
        file_id, unique_id, size = self._media(params, "document", "documents")
        document = params.get("document")
        name = document.filename if isinstance(document, UploadedFile) else None
        doc: dict[str, Any] = {"file_id": file_id, "file_unique_id": unique_id, "file_size": size}
        if name:
            doc["file_name"] = name
        content: dict[str, Any] = {"document": doc}
        self._caption(params, content)
        return self._bot_sends(params, content)

    async def _answer_callback_query(self, params: dict) -> bool:
        query_id = str(self._require(params, "callback_query_id"))
        if query_id not in self._callback_queries or query_id in self.callback_answers:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self.callback_answers[query_id] = dict(params)
        return True

    async def _set_my_commands(self, params: dict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, 'Bad Request: parameter "commands" is required')
        for command in commands:
            if not isinstance(command, dict) or not _BOT_COMMAND_RE.fullmatch(
                str(command.get("command", ""))
            ):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: command description is empty")
        key = (self._scope_key(params.get("scope")), params.get("language_code") or "")
        self.commands[key] = list(commands)
        return True

    async def _get_my_commands(self, params: dict) -> list[dict]:
        key = (self._scope_key(params.get("scope")), params.get("language_code") or "")
        return list(self.commands.get(key, []))

    async def _delete_my_commands(self, params: dict) -> bool:
        key = (self._scope_key(params.get("scope")), params.get("language_code") or "")
        self.commands.pop(key, None)
        return True

    async def _get_file(self, params: dict) -> dict:
        file_id = str(self._require(params, "file_id"))
        if file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        path, content = self.files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": _unique_id(file_id),
            "file_size": len(content),
            "file_path": path,
        }
