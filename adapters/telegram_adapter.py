"""Students on Telegram: python-telegram-bot's Bot, translated to and from the core's types.

Updates are fetched by our own long-polling loop rather than PTB's Updater: the Updater confirms
an update (moves the offset) as soon as it has fetched it, before anything was stored, so a crash
would lose it. Here the offset moves past an update only once the bus has committed it; a repeat
after a restart is harmless (its event key is already recorded). In webhook mode the HTTP answer
plays the same part: 200 only after the commit, else Telegram sends the update again.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    ReplyParameters,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

from core.model import Address, Button, Inbound, Outbound
from core.ports import PermanentFailure, RetryLater, Unreachable
from core.text import utf16_length

log = logging.getLogger("passerelle.telegram")

MAX_TEXT = 4096
MAX_CAPTION = 1024  # a document's caption, in the same UTF-16 units
MAX_FILE_BYTES = 50 * 1024 * 1024  # what a bot may upload (sendDocument)
MAX_TRIES = 5  # an update failing this often is set aside rather than block the others
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
_MEDIA = (
    ("sticker", "sticker"), ("photo", "photo"), ("animation", "animation"),
    ("video", "video"), ("video_note", "video"), ("voice", "voice"), ("audio", "audio"),
    ("document", "document"), ("contact", "contact"), ("venue", "location"),
    ("location", "location"), ("poll", "poll"), ("dice", "other"), ("story", "other"),
)

Feed = Callable[[Inbound], Awaitable[bool]]
Menu = dict[str, list[tuple[str, str]]]  # language → [(command, description)]


# Translation, both ways -------------------------------------------------------------------------

def to_inbound(update: Update, bot_id: str = "") -> Inbound | None:
    """A Telegram update → the core's Inbound; None for what the service does not handle.

    Only private chats with a person count: in a group, a student's conversation would be read
    by the whole group, and a group must never become anyone's address.
    """
    key = f"telegram:{bot_id}:{update.update_id}"
    if update.callback_query is not None:
        query = update.callback_query
        message = query.message
        chat, user = _private_chat(message), _user_id(query.from_user)
        if chat is None or user is None or not isinstance(query.data, str) or not query.data:
            return None
        return Inbound(
            event_key=key, source=Address("telegram", chat),
            platform_user_id=user, message_id=str(message.message_id),  # type: ignore[union-attr]
            action=query.data, locale_hint=_language(query.from_user),
        )
    message = update.message or update.edited_message
    user = _user_id(getattr(message, "from_user", None))
    chat = _private_chat(message)
    if message is None or user is None or chat is None or message.from_user.is_bot:
        return None
    text = next((t for t in (message.text, message.caption) if isinstance(t, str) and t), "")
    media = None if isinstance(message.text, str) and message.text else _media_kind(message)
    if media is None and not text:
        return None  # a service message (pinned, timer changed…): nothing a person said
    reply = message.reply_to_message
    return Inbound(
        event_key=key,
        source=Address("telegram", chat),
        platform_user_id=user,
        text=text,
        message_id=str(message.message_id),
        reply_to=str(reply.message_id) if reply is not None else None,
        locale_hint=_language(message.from_user),
        edited=update.edited_message is not None,
        media=media,
    )


def _private_chat(message: object) -> str | None:
    """The chat's id when `message` was written in a private chat with a person, else None.

    Telegram's ids are numbers: anything else (a payload broken on the way) is no address."""
    chat = getattr(message, "chat", None)
    chat_id = getattr(chat, "id", None)
    if getattr(chat, "type", None) != "private" or not _is_number(chat_id):
        return None
    return str(chat_id)


def _user_id(user: object) -> str | None:
    user_id = getattr(user, "id", None)
    return str(user_id) if _is_number(user_id) else None


def _is_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _language(user: object) -> str | None:
    code = getattr(user, "language_code", None)
    return code if isinstance(code, str) and code else None


def _media_kind(message: object) -> str | None:
    for attribute, kind in _MEDIA:
        if getattr(message, attribute, None):
            return kind
    return None


def keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
    """Buttons as an inline keyboard: short labels two to a row, long ones alone."""
    if not buttons:
        return None
    rows: list[list[InlineKeyboardButton]] = []
    for button in buttons:
        key = InlineKeyboardButton(button.label, callback_data=button.action[:64])
        if rows and len(rows[-1]) == 1 and len(button.label) <= 20 and len(
            rows[-1][0].text) <= 20:
            rows[-1].append(key)
        else:
            rows.append([key])
    return InlineKeyboardMarkup(rows)


def _seconds(value: object) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)  # type: ignore[arg-type]


def translate_error(error: TelegramError) -> Exception:
    """Telegram's errors → what the delivery workers know how to handle."""
    if isinstance(error, RetryAfter):
        return RetryLater("telegram 429", _seconds(error.retry_after))
    if isinstance(error, Forbidden):
        return Unreachable(error.message)
    if isinstance(error, TimedOut):
        return TimeoutError(error.message)
    if isinstance(error, BadRequest):
        if "chat not found" in error.message.lower():
            return Unreachable(error.message)
        return PermanentFailure(error.message)
    if isinstance(error, InvalidToken):
        log.error("event=telegram_invalid_token")
        return RetryLater("telegram token refused")
    if isinstance(error, NetworkError):
        return RetryLater(f"telegram network: {type(error).__name__}")
    return PermanentFailure(f"telegram: {type(error).__name__}")


# The channel -----------------------------------------------------------------------------------

class TelegramChannel:
    platform = "telegram"
    max_text = MAX_TEXT
    text_length = staticmethod(utf16_length)  # Telegram counts UTF-16 units
    max_caption = MAX_CAPTION
    max_file_bytes = MAX_FILE_BYTES
    min_chat_interval = 1.0  # Telegram: about one message a second in one chat
    max_per_second = 30.0  # and about thirty a second for the whole bot

    def __init__(
        self, token: str, *, base_url: str | None = None, webhook_url: str | None = None,
        webhook_secret: str | None = None, menu: Menu | None = None,
        poll_timeout: int = 25, request_timeout: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, consume: bool = True,
    ) -> None:
        base = (base_url or "https://api.telegram.org").rstrip("/")
        base = base.removesuffix("/bot")  # PTB's own convention ends in /bot; ours is the root
        request = HTTPXRequest(connection_pool_size=64, read_timeout=request_timeout,
                               write_timeout=request_timeout, connect_timeout=request_timeout)
        polling = HTTPXRequest(connection_pool_size=2, read_timeout=poll_timeout + 10,
                               connect_timeout=request_timeout)
        self.bot = Bot(token, base_url=f"{base}/bot", base_file_url=f"{base}/file/bot",
                       request=request, get_updates_request=polling)
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.menu = menu or {}
        self.poll_timeout = poll_timeout
        self._feed: Feed | None = None
        self._sleep = sleep  # back-off waits (a test passes a quicker one)
        self._connected = False  # bootstrapped, and (polling) the last getUpdates answered
        self._tries: dict[int, int] = {}  # update id → failed attempts to handle it
        self._albums: dict[str, None] = {}  # recent albums already answered (oldest first)
        self.bot_id = token.split(":", 1)[0]
        self._polling: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        # Long polling allows one consumer per bot: with several instances, the leader's only
        # (bots/leadership.py). Sending, and webhooks, need no such thing.
        self.consuming = consume
        self._ready = asyncio.Event()  # bootstrapped: updates may be fetched
        self._poller: asyncio.Task[None] | None = None

    async def start(self, feed: Feed) -> None:
        """Connect in the background: Telegram being down must not stop the rest of the service
        (the playground, the other platforms, the workers), and it is retried until it answers."""
        self._feed = feed
        self._polling = asyncio.create_task(self._run(), name="telegram")
        if self.consuming:
            await self.start_consuming()

    async def start_consuming(self) -> None:
        """Fetch updates (long polling), once bootstrapped; in webhook mode there is nothing to
        do: any instance takes the webhook's requests."""
        self.consuming = True
        if self.webhook_url or (self._poller is not None and not self._poller.done()):
            return
        self._poller = asyncio.create_task(self._poll_when_ready(), name="telegram-poll")

    async def stop_consuming(self) -> None:
        """Stop fetching updates (another instance takes over): the long poll is cut at once,
        and what was fetched but not committed is fetched again by the next consumer."""
        self.consuming = False
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None

    async def _poll_when_ready(self) -> None:
        await self._ready.wait()
        await self._poll()

    async def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                await self._bootstrap()
                break
            except InvalidToken:
                log.error("event=telegram_invalid_token action=not_started")
                return
            except TelegramError as error:
                failures += 1
                delay = min(60.0, 2.0 ** min(failures, 6))
                log.warning("event=telegram_start_failed error=%s retry_in=%.0f",
                            type(error).__name__, delay)
                await self._sleep(delay)
        self._ready.set()

    def healthy(self) -> bool:
        """Connected to Telegram: what /healthz reports for this platform."""
        return self._connected

    async def _bootstrap(self) -> None:
        await self.bot.initialize()
        await self._set_menu()
        if self.webhook_url:
            await self.bot.set_webhook(
                self.webhook_url, secret_token=self.webhook_secret,
                allowed_updates=list(ALLOWED_UPDATES),
            )
            log.info("event=telegram_start mode=webhook")
        else:
            await self.bot.delete_webhook()
            log.info("event=telegram_start mode=polling")
        self._connected = True

    async def stop(self) -> None:
        self._stopping.set()
        await self.stop_consuming()
        if self._polling is not None:
            self._polling.cancel()
            await asyncio.gather(self._polling, return_exceptions=True)
        await self.bot.shutdown()

    async def _set_menu(self) -> None:
        for language, commands in self.menu.items():
            try:
                await self.bot.set_my_commands(
                    [BotCommand(name, description[:256]) for name, description in commands],
                    language_code=None if language == "default" else language,
                )
            except TelegramError as error:  # the menu is a comfort, not a reason to stop
                log.warning("event=telegram_menu_failed error=%s", type(error).__name__)

    async def _poll(self) -> None:
        """Fetch updates and hand each to the bus; move the offset only past what committed.

        An update that keeps failing is set aside after a few tries (logged as dead-lettered),
        so that one bad update never holds up everyone else's.
        """
        offset: int | None = None
        failures = 0
        while not self._stopping.is_set():
            try:
                updates = await self.bot.get_updates(
                    offset=offset, timeout=self.poll_timeout,
                    allowed_updates=list(ALLOWED_UPDATES),
                )
                failures = 0
                self._connected = True
            except asyncio.CancelledError:
                raise
            except Exception as error:
                failures += 1
                self._connected = failures < 3  # one hiccup is not an outage
                delay = min(30.0, 0.5 * 2 ** min(failures, 6))
                log.warning("event=telegram_poll_error error=%s retry_in=%.1f",
                            type(error).__name__, delay)
                await self._sleep(delay)
                continue
            for update in updates:
                if not await self._receive_with_retries(update):
                    break  # not committed: fetch it again (offset unchanged)
                offset = update.update_id + 1

    async def _receive_with_retries(self, update: Update) -> bool:
        """True once the update is settled (committed, or dead-lettered after MAX_TRIES)."""
        tries = self._tries.get(update.update_id, 0) + 1
        try:
            await self.receive(update)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if tries >= MAX_TRIES:
                log.error("event=telegram_update_dead_lettered update=%s error=%s",
                          update.update_id, type(error).__name__)
                self._tries.pop(update.update_id, None)
                return True
            self._tries[update.update_id] = tries
            await self._sleep(min(30.0, 0.5 * 2**tries))
            return False
        self._tries.pop(update.update_id, None)
        return True

    async def receive(self, update: Update) -> bool:
        """One update through the bus, and the small courtesies a button press needs."""
        inbound = to_inbound(update, self.bot_id)
        if inbound is None or self._feed is None or self._seen_album(update):
            return False
        accepted = await self._feed(inbound)
        query = update.callback_query
        if query is not None:
            await self._settle_button(query, show_choice=accepted)
        return accepted

    def _seen_album(self, update: Update) -> bool:
        """Photos sent together arrive one update each: answer the album once, not per photo."""
        album = getattr(update.message, "media_group_id", None)
        if album is None:
            return False
        if album in self._albums:
            return True
        self._albums[album] = None
        if len(self._albums) > 1000:
            self._albums.pop(next(iter(self._albums)))
        return False

    async def _settle_button(self, query: object, show_choice: bool) -> None:
        """Stop the button's spinner and show, in place of the keyboard, what was chosen."""
        try:
            await query.answer()  # type: ignore[attr-defined]
            if not show_choice:  # a repeat: the choice is already shown
                return
            label = _label_of(query)
            message = query.message  # type: ignore[attr-defined]
            if label and message is not None and getattr(message, "text", None):
                await message.edit_text(f"{message.text}\n\n✓ {label}", reply_markup=None)
        except TelegramError as error:  # cosmetic: the choice itself is already stored
            log.info("event=telegram_button_cosmetics_failed error=%s", type(error).__name__)

    # delivery -------------------------------------------------------------------------------
    async def send(self, message: Outbound) -> str:
        reply = (
            ReplyParameters(int(message.reply_to), allow_sending_without_reply=True)
            if message.reply_to and message.reply_to.isdigit() else None
        )
        file = message.attachment
        if file is not None:
            # Every file goes as a document, images too: sendPhoto would recompress a chart
            # and drop its name. The text (within MAX_CAPTION: the workers see to it) is the
            # caption; a new InputFile on each try, since a retry reads it again.
            sent = await self._call(
                lambda chat: self.bot.send_document(
                    chat, InputFile(file.data, filename=file.name),
                    caption=message.text or None, reply_markup=keyboard(message.buttons),
                    reply_parameters=reply,
                ),
                message.to.chat_id,
            )
            return str(sent.message_id)
        sent = await self._call(
            lambda chat: self.bot.send_message(
                chat, message.text, reply_markup=keyboard(message.buttons),
                reply_parameters=reply,
            ),
            message.to.chat_id,
        )
        return str(sent.message_id)

    async def edit(self, message: Outbound) -> None:
        assert message.edit_of is not None
        try:
            await self._call(
                lambda chat: self.bot.edit_message_text(
                    message.text, chat_id=chat, message_id=int(message.edit_of or 0),
                ),
                message.to.chat_id,
            )
        except PermanentFailure as error:
            if "not modified" not in str(error).lower():  # the same text again: nothing to do
                raise

    async def delete(self, message: Outbound) -> None:
        assert message.delete_of is not None
        try:
            await self._call(
                lambda chat: self.bot.delete_message(chat, int(message.delete_of or 0)),
                message.to.chat_id,
            )
        except PermanentFailure as error:
            if "not found" not in str(error).lower():  # already gone: what was asked is done
                raise

    async def _call(self, request: Callable[[int | str], Awaitable[object]], chat: str):  # type: ignore[no-untyped-def]
        """Make one Bot API call, following a chat that migrated, in the workers' terms."""
        try:
            try:
                return await request(chat)
            except ChatMigrated as moved:
                log.info("event=telegram_chat_migrated")
                return await request(moved.new_chat_id)
        except TelegramError as error:
            raise translate_error(error) from error


def _label_of(query: object) -> str | None:
    markup = getattr(getattr(query, "message", None), "reply_markup", None)
    data = getattr(query, "data", None)
    for row in getattr(markup, "inline_keyboard", ()) or ():
        for button in row:
            if button.callback_data == data:
                return str(button.text)
    return None


# Webhook ---------------------------------------------------------------------------------------

def webhook_routes(channel: TelegramChannel) -> list[web.RouteDef]:
    """The route Telegram posts updates to; a request without the right secret changes nothing."""

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        expected = channel.webhook_secret or ""
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            log.warning("event=telegram_webhook_refused reason=secret remote=%s",
                        request.remote)
            return web.Response(status=403, text="forbidden")
        if request.content_type != "application/json":
            log.warning("event=telegram_webhook_refused reason=content_type")
            return web.Response(status=415, text="application/json expected")
        try:
            body = await request.json()
        except web.HTTPRequestEntityTooLarge:
            log.warning("event=telegram_webhook_refused reason=too_large")
            raise
        except ValueError as error:  # not JSON, or not UTF-8
            log.warning("event=telegram_webhook_refused reason=body error=%s",
                        type(error).__name__)
            return web.Response(status=400, text="not an update")
        try:
            if not isinstance(body, dict):
                raise TypeError("an update is a JSON object")
            update = Update.de_json(body, channel.bot)
        except Exception as error:  # PTB's parser, given a broken update, raises all sorts
            # (AttributeError for a field of the wrong type): a retry would not mend it.
            log.warning("event=telegram_webhook_refused reason=body error=%s",
                        type(error).__name__)
            return web.Response(status=400, text="not an update")
        await channel.receive(update)  # raises (→ 500, Telegram retries) if nothing committed
        return web.Response(text="ok")

    return [web.post(WEBHOOK_PATH, receive)]
