"""Mentors on Discord: a discord.py 2 Client inside our event loop, translated to the core's types.

By default each mentor talks to the bot in their DMs. The core routes what they write: a reply to
a message the bot delivered for a match (the request, a relayed message) goes to that match.

With a mentors' channel configured (`mentor_channel_id`), each match is instead a private thread
in that channel of the organisation's server, as Slack's threads are: the match's first message
to the mentor (the request with its buttons) opens the thread, the mentor is added to it, and
everything said in it is for that match. Addresses stay the mentor's DM everywhere (the outbox's
order per chat, the identity's address, the thread a match remembers all key on it); the thread
travels as `Address.thread_id`. The id `send` returns for an opening message is the thread's,
so the outbox records it as the match's root and every message written in the thread, which
says it replies to that root, is routed to the match. A server that refuses (missing
permissions, a deleted channel) costs no message: the match goes on in the DM, with an error in
the log. Only in this mode are guild events asked for (GUILDS, GUILD_MESSAGES and the
privileged MESSAGE_CONTENT, without which Discord blanks the text of guild messages).

This module only translates, both ways, and keeps the connection alive.

- The client runs as a task of ours (`login`, then `connect` on the instance that takes the
  events, never `run()`); while Discord cannot be reached at start, the task tries again with
  a growing pause, and the rest of the service carries on. Once connected, discord.py
  reconnects and RESUMEs by itself: events sent meanwhile are replayed, and their event keys
  make any repeat a no-op in the bus.
- A gateway event cannot be refused the way an HTTP webhook can, so handing one to the bus is
  retried a few times before it is set aside (logged). Discord never sends an event again, nor
  keeps one for a bot without a session: so at every new session (each start, and a READY
  after a session that could not be resumed) the history of the channels the service listens
  to is read back (`_catch_up`), after the newest message the service committed in each (the
  `resume_points` bots/ hands in, from the database), and fed like live messages. What was
  handled already is a repeat its event key makes harmless; live messages of a channel wait
  until its history is read, so that they come after it, in order. Bounded: the channels with
  something going on only (storage/resume.py), at most CATCH_UP_LIMIT messages each and
  CATCH_UP_WINDOW back (well within the week the dedup keys are kept), a few at a time, under
  discord.py's rate limiting.
- Buttons are answered in `on_interaction` by their custom_id (`passerelle:<action>`), not by
  View callbacks, so a button sent before a restart still works after it.
- Nothing of a mentor's Discord self crosses: `platform_user_id` is only used to find who wrote,
  and everything we send goes out as the bot, with mentions disabled client-wide. A thread is
  named after the first line of its opening message (the student's pseudonym, never a
  platform name).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any, Literal, TypeVar

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from core.model import Address, Button, Inbound, Outbound
from core.ports import PermanentFailure, RetryLater, Unreachable

log = logging.getLogger("passerelle.discord")

MAX_TEXT = 2000
MAX_FILE_BYTES = 10 * 1024 * 1024  # what a bot may attach on a server without boosts
MAX_BUTTON_LABEL = 80
MAX_CUSTOM_ID = 100
MAX_BUTTONS = 25  # five rows of five
ACTION_PREFIX = "passerelle:"
MAX_TRIES = 5  # an event failing this often is set aside rather than retried forever
# The mentors' slash commands, in the order Discord lists them. /unsend needs a reply to a
# message, which a slash command cannot carry: it is typed as text, like every command can be.
COMMANDS = ("help", "profile", "language", "end", "pause", "resume", "capacity", "kit")
# Discord error codes (https://discord.com/developers/docs/topics/opcodes-and-status-codes).
UNKNOWN_MESSAGE = 10008
CANNOT_EDIT_OTHERS = 50005
ALREADY_ANSWERED = 40060
UNKNOWN_CHANNEL = 10003
MISSING_ACCESS = 50001
MISSING_PERMISSIONS = 50013
THREAD_ARCHIVED = 50083
WRONG_CHANNEL_TYPE = 50024  # "Cannot execute action on this channel type"
# A thread falls silent after this many minutes without a message (7 days, Discord's longest);
# a message in it reopens it.
THREAD_ARCHIVE_MINUTES: Literal[10080] = 10080
MAX_THREAD_NAME = 90  # Discord allows 100
# Discord locales for our languages (Discord has two Englishes).
LOCALES = {"fr": ("fr",), "en": ("en-US", "en-GB")}
_API_VERSION = re.compile(r"/api/v\d+$")
_MEDIA = (("image/", "photo"), ("video/", "video"), ("audio/", "audio"))
_STYLES = {"accept": discord.ButtonStyle.success, "decline": discord.ButtonStyle.danger,
           "end": discord.ButtonStyle.danger}
_REMEMBERED = 1000  # chats / own deletions kept in memory (oldest forgotten first)
# Reading back at a new session. The window stays well within the week the bus keeps event keys
# (core.bus.EVENT_KEYS_KEPT): whatever is read again was handled, if it was, recently enough
# to be recognised. The margin covers a message of one channel still in flight when a newer
# one of the same person, in another channel, was committed (a thread shares its DM's point).
CATCH_UP_WINDOW = timedelta(days=3)
CATCH_UP_MARGIN = timedelta(minutes=10)
CATCH_UP_LIMIT = 100  # messages per channel: one page of history
CATCH_UP_CHANNELS = 500  # channels per catch-up, the most recently active first
CATCH_UP_CONCURRENCY = 4  # history reads at once (discord.py waits out the rate limits)

Feed = Callable[[Inbound], Awaitable[bool]]
# The channels to read back at a new session, from what the service committed: (DMs, threads),
# each channel id → the newest message id committed there (None: nothing in the window).
ResumePoints = Callable[[], Awaitable[tuple[Mapping[str, str | None], Mapping[str, str | None]]]]
_T = TypeVar("_T")
Menu = Mapping[str, Mapping[str, str]]  # language → {command: description}


# Translation, both ways -------------------------------------------------------------------------

def message_to_inbound(message: discord.Message, bot_id: int | None = None, *,
                       edited: bool = False, dm_channel_id: int | None = None
                       ) -> Inbound | None:
    """A message someone wrote → the core's Inbound; None for what the service does not handle.

    Without `dm_channel_id`, only DMs with the bot count: in a server channel a mentor's words
    would be read by everyone in it, and a channel must never become anyone's address.

    With `dm_channel_id`, the adapter has found the message in one of the match threads of the
    mentors' channel (see `in_mentor_thread`) and `dm_channel_id` is its author's DM with the
    bot: the DM stays the address, the thread is where the answer goes, and the Inbound replies
    to the thread, whatever message it quotes, since all that is said in a match's thread is
    for that match (the outbox recorded the thread's id as the match's root). A command is the
    exception: it keeps the message it quotes (`/unsend` names what to take back that way).

    Bots (ours included: Discord sends our own messages back) and system messages (pins, calls,
    someone added to a thread) are never listened to.
    """
    author = getattr(message, "author", None)  # unset when the payload had none
    if author is None:
        return None
    if dm_channel_id is None and (message.guild is not None or not is_dm(message.channel)):
        return None
    if dm_channel_id is not None and is_dm(message.channel):
        return None  # a DM is its own address: never filed under a thread
    if author.bot or author.system or author.id == bot_id:
        return None
    if message.type not in (discord.MessageType.default, discord.MessageType.reply):
        return None
    reference = message.reference
    forwarded = reference is not None and reference.type is discord.MessageReferenceType.forward
    text = message.content if isinstance(message.content, str) else ""
    media = None if text else media_kind(message, forwarded=forwarded)
    if not text and media is None:
        return None
    quoted = (str(reference.message_id)
              if reference is not None and not forwarded and reference.message_id else None)
    if dm_channel_id is not None:
        thread = str(message.channel.id)
        source = Address("discord", str(dm_channel_id), thread_id=thread)
        reply_to = quoted if text.startswith("/") else thread
    else:
        source = Address("discord", str(message.channel.id))
        reply_to = quoted
    key = f"discord:message:{message.id}"
    if edited:
        if message.edited_at is None:  # an update that is no edit (a link preview came)
            return None
        key += f":edited:{message.edited_at.isoformat()}"  # each edit once, however replayed
    return Inbound(
        event_key=key,
        source=source,
        platform_user_id=str(author.id),
        text=text,
        message_id=str(message.id),
        reply_to=reply_to,
        edited=edited,
        media=media,
    )


def in_mentor_thread(channel: object, mentor_channel_id: int | None, bot_id: int | None
                     ) -> bool:
    """A private thread the bot opened in the mentors' channel: where a match lives in that
    mode. A public thread, the channel itself or any other one is read by more people than
    one mentor; a private thread someone else opened there (two mentors talking, seen by a
    bot that may manage threads) is none of a student's business."""
    return (mentor_channel_id is not None and bot_id is not None
            and isinstance(channel, discord.Thread)
            and channel.type is discord.ChannelType.private_thread
            and channel.parent_id == mentor_channel_id and channel.owner_id == bot_id)


def thread_name(text: str) -> str:
    """A match's thread is named after the first line of its opening message (the request:
    the student's pseudonym, age and fields), cut to fit; nothing of anyone's platform self."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    if len(line) > MAX_THREAD_NAME:
        line = line[:MAX_THREAD_NAME - 1].rstrip() + "…"
    return line or "Passerelle"


def is_dm(channel: object) -> bool:
    """A DM with the bot (a guild channel whose guild is not cached has no `guild` either)."""
    return getattr(channel, "type", None) is discord.ChannelType.private


def media_kind(message: discord.Message, *, forwarded: bool = False) -> str | None:
    """What came instead of text, in the words the other adapters use."""
    if message.stickers:
        return "sticker"
    if message.attachments:
        content_type = message.attachments[0].content_type or ""
        for prefix, kind in _MEDIA:
            if content_type.startswith(prefix):
                return kind
        return "document"
    if forwarded or message.embeds or getattr(message, "poll", None):
        return "other"
    return None


def deletion_to_inbound(channel_id: int, message_id: int, author_id: int, *,
                        thread_id: int | None = None) -> Inbound:
    """Someone deleted their message in their DM with the bot (`channel_id`), or in a match's
    thread (`thread_id`; `channel_id` is then their DM): the other side's copy goes."""
    return Inbound(
        event_key=f"discord:deleted:{message_id}",  # a message is deleted once
        source=Address("discord", str(channel_id),
                       thread_id=str(thread_id) if thread_id is not None else None),
        platform_user_id=str(author_id),
        message_id=str(message_id),
        deleted=True,
    )


def component_to_inbound(interaction: discord.Interaction, *, dm_channel_id: int | None = None
                         ) -> Inbound | None:
    """A press on one of our buttons (custom_id `passerelle:<action>`) → Inbound whose action is
    the core's; None for anything else (another app's component, a server channel).

    In a DM; or in a match's thread of the mentors' channel, when the adapter found it was one
    (see `in_mentor_thread`) and gives `dm_channel_id`, the presser's DM with the bot: their
    address, and the thread is where the answer goes."""
    if interaction.type is not discord.InteractionType.component:
        return None
    custom_id = _custom_id(interaction)
    if not custom_id.startswith(ACTION_PREFIX):
        return None
    action = custom_id[len(ACTION_PREFIX):]
    if (not action or interaction.message is None or interaction.channel_id is None
            or not isinstance(getattr(interaction.user, "id", None), int)):
        return None
    if interaction.guild_id is None and dm_channel_id is None:
        source = Address("discord", str(interaction.channel_id))
    elif interaction.guild_id is not None and dm_channel_id is not None:
        source = Address("discord", str(dm_channel_id), thread_id=str(interaction.channel_id))
    else:
        return None
    return Inbound(
        event_key=f"discord:interaction:{interaction.id}",
        source=source,
        platform_user_id=str(interaction.user.id),
        message_id=str(interaction.message.id),
        action=action,
        locale_hint=str(interaction.locale.value) if interaction.locale else None,
    )


def _custom_id(interaction: discord.Interaction) -> str:
    """The pressed component's custom_id; empty when the payload has none (or a broken one)."""
    data = interaction.data if isinstance(interaction.data, dict) else {}
    custom_id = data.get("custom_id")
    return custom_id if isinstance(custom_id, str) else ""


def command_to_inbound(interaction: discord.Interaction, name: str, args: str,
                       dm_channel_id: int) -> Inbound:
    """`/capacity 3` as a slash command → the same text typed, from the user's DM with the bot
    (where the answer goes, whatever channel it was typed in)."""
    return Inbound(
        event_key=f"discord:interaction:{interaction.id}",
        source=Address("discord", str(dm_channel_id)),
        platform_user_id=str(interaction.user.id),
        text=f"/{name} {args}".strip(),
        locale_hint=str(interaction.locale.value) if interaction.locale else None,
    )


def custom_id_for(action: str) -> str:
    return (ACTION_PREFIX + action)[:MAX_CUSTOM_ID]


def view_for(buttons: Sequence[Button]) -> discord.ui.View | None:
    """The core's buttons as a message component row set. The View is only a builder: it is
    stopped before sending, so discord.py never tracks it; presses arrive in on_interaction."""
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for button in buttons[:MAX_BUTTONS]:
        verb = button.action.partition(":")[0]
        view.add_item(discord.ui.Button(
            label=button.label[:MAX_BUTTON_LABEL], custom_id=custom_id_for(button.action),
            style=_STYLES.get(verb, discord.ButtonStyle.secondary)))
    view.stop()
    return view


def reference_for(message: Outbound, channel_id: int) -> discord.MessageReference | None:
    """A reply to `message.reply_to`, sent anyway if that message is gone."""
    if not message.reply_to or not message.reply_to.isdigit():
        return None
    return discord.MessageReference(message_id=int(message.reply_to), channel_id=channel_id,
                                    fail_if_not_exists=False)


def with_choice(text: str, label: str) -> str:
    """The request's text with what was chosen under it, within Discord's 2,000 characters."""
    tail = f"\n\n✓ {label}"
    if len(text) + len(tail) > MAX_TEXT:
        text = text[:MAX_TEXT - len(tail) - 1] + "…"
    return text + tail


def translate_error(error: BaseException) -> BaseException:
    """discord.py's errors → what the delivery workers know how to handle."""
    if isinstance(error, discord.RateLimited):  # longer than max_ratelimit_timeout: come back
        return RetryLater("discord 429", error.retry_after)
    if isinstance(error, discord.HTTPException):
        status, code = error.status, error.code
        if status == 429:  # Cloudflare's answer (no Via header): discord.py does not wait
            return RetryLater("discord 429 (cloudflare)", _retry_after(error))
        if isinstance(error, discord.DiscordServerError) or status >= 500:
            return RetryLater(f"discord {status}")
        if status == 401:
            log.error("event=discord_token_refused")
            return RetryLater("discord token refused")
        if isinstance(error, discord.Forbidden):  # 50007: DMs closed, or the bot blocked
            if code == CANNOT_EDIT_OTHERS:
                return PermanentFailure(f"discord {status} {code}")
            return Unreachable(f"discord {code}")
        if isinstance(error, discord.NotFound):  # the channel or the user is gone
            if code == UNKNOWN_MESSAGE:
                return PermanentFailure(f"discord {status} {code}")
            return Unreachable(f"discord {code}")
        return PermanentFailure(f"discord {status} {code}")
    if isinstance(error, TimeoutError):
        return error
    if isinstance(error, aiohttp.ClientError | OSError):
        return RetryLater(f"discord network: {type(error).__name__}")
    return error


def _retry_after(error: discord.HTTPException) -> float | None:
    value = getattr(error.response, "headers", {}).get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


# Slash commands ---------------------------------------------------------------------------------

class MenuTranslator(app_commands.Translator):
    """Command descriptions in each of our languages, from the catalogs (handed in by bots/)."""

    def __init__(self, menu: Menu) -> None:
        self.menu = menu

    async def translate(self, string: app_commands.locale_str, locale: discord.Locale,
                        context: app_commands.TranslationContextTypes) -> str | None:
        key = string.extras.get("key")
        if key is None:
            return None  # names stay as they are: /pause in every language, like the catalogs
        for language, locales in LOCALES.items():
            if locale.value in locales:
                return self.menu.get(language, {}).get(key)
        return None


# The client -------------------------------------------------------------------------------------

# Dispatches that set up the session: a broken one must end the connection, not be skipped.
_SESSION_EVENTS = frozenset({"READY", "RESUMED"})


def _skip_unreadable(event: str, parse: Callable[[Any], None]) -> Callable[[Any], None]:
    """discord.py's parser for `event`, except that a payload it cannot read is logged and
    skipped. Unguarded, its exception ends the whole gateway connection (our start loop then
    reconnects from scratch, seconds without a session) for the sake of one broken event."""

    def parse_or_skip(data: Any) -> None:
        try:
            parse(data)
        except Exception as error:
            log.warning("event=discord_dispatch_unreadable type=%s error=%s", event,
                        type(error).__name__)

    return parse_or_skip


class _Client(discord.Client):
    """A discord.Client whose events go to the channel (one per attempt to start)."""

    def __init__(self, owner: DiscordChannel, *, intents: discord.Intents, **options: Any
                 ) -> None:
        super().__init__(intents=intents, **options)
        self.owner = owner
        self.tree = app_commands.CommandTree(self)
        parsers = self._connection.parsers  # the gateway reads this very dict
        for event, parse in list(parsers.items()):
            if event not in _SESSION_EVENTS:
                parsers[event] = _skip_unreadable(event, parse)
        parse_ready = parsers["READY"]

        def ready_then_read_back(data: Any) -> None:
            # Here, not in on_ready (dispatched later, after the guilds): the live messages
            # parsed after READY must find their channels' turns already taken.
            parse_ready(data)
            owner._new_session()

        parsers["READY"] = ready_then_read_back

    async def setup_hook(self) -> None:
        await self.owner._setup_commands()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False
                                   ) -> None:
        # Discord allows one IDENTIFY per 5 s (discord.py's own pause); a parameter, so that a
        # test of a lost session need not wait.
        if not initial:
            await asyncio.sleep(self.owner.identify_pause)

    async def on_ready(self) -> None:
        await self.owner._on_ready()

    async def on_resumed(self) -> None:
        log.info("event=discord_resumed")

    async def on_message(self, message: discord.Message) -> None:
        await self.owner._on_message(message)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        await self.owner._on_edit(payload)

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        await self.owner._on_delete(payload)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self.owner._on_interaction(interaction)


class DiscordChannel:
    platform = "discord"
    max_text = MAX_TEXT
    max_caption = MAX_TEXT  # a file goes in a message of its own, the text as its content
    max_file_bytes = MAX_FILE_BYTES
    # Discord allows about 5 messages per 5 s in one channel (discord.py also waits when the
    # bucket headers say so) and about 50 requests a second for the whole bot.
    min_chat_interval = 0.25
    max_per_second = 40.0

    def __init__(
        self, token: str, *, api_base_url: str | None = None, gateway_url: str | None = None,
        menu: Menu | None = None, default_language: str = "fr",
        mentor_channel_id: int | None = None, identify_pause: float = 5.0,
        max_ratelimit_timeout: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, consume: bool = True,
        resume_points: ResumePoints | None = None,
    ) -> None:
        self.token = token
        self.resume_points = resume_points  # None: only the channels met since the start
        self.api_base_url = _api_base(api_base_url) if api_base_url else None
        self.gateway_url = gateway_url
        self.mentor_channel_id = mentor_channel_id
        self.menu: Menu = menu or {}
        self.default_language = default_language
        self.identify_pause = identify_pause
        self._sleep = sleep  # back-off waits (a test passes a quicker one)
        self._max_ratelimit_timeout = max_ratelimit_timeout
        self.client = self._new_client()
        self._feed: Feed | None = None
        self._task: asyncio.Task[None] | None = None
        self._saved_endpoints: tuple[str, yarl.URL] | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self._cosmetics: set[asyncio.Task[None]] = set()
        self._seen: dict[int, int] = {}  # DM or thread → last message id fed (for catch-up)
        self._dm_users: dict[int, int] = {}  # DM channel → the person in it
        self._own_deletions: dict[int, None] = {}  # our deletions, echoed back by Discord
        # Mentors' channel mode. The threads of ours met so far → their mentor (None: not known
        # yet), and those discord.py did not have; guild channels found not to be any; thread
        # ids whose rows go to the DM instead (the thread is unusable, or the id is the DM
        # message that stood in for a thread that could not be opened); threads created whose
        # opening message is not out yet, by (DM, text), so that a retry opens no other one.
        self._threads: dict[int, int | None] = {}
        self._fetched: dict[int, discord.Thread] = {}
        self._not_threads: dict[int, None] = {}
        self._dm_instead: dict[int, None] = {}
        self._opening: dict[tuple[str, str], discord.Thread] = {}
        self._connected = False  # this client got READY (a later failure backs off afresh)
        # Reading back at a new session (_catch_up): closed while it finds out which channels
        # to read, then each of those channels' turn, taken until its history was fed.
        self._gate = asyncio.Event()
        self._gate.set()
        self._turns: dict[int, asyncio.Event] = {}
        self._catching: asyncio.Task[None] | None = None
        # The gateway allows one consumer per bot: with several instances, the leader's only
        # (bots/leadership.py); the others log in for sending (REST) and nothing else.
        self._consuming = asyncio.Event()
        if consume:
            self._consuming.set()

    @property
    def threads(self) -> bool:
        """Each match is a thread its first message opens (the delivery workers record that
        message's id, the thread's, as the match's root): in the mentors' channel mode only."""
        return self.mentor_channel_id is not None

    def intents(self) -> discord.Intents:
        """Only what is needed: DMs; and the server's messages, with their text, when the
        matches live in the mentors' channel (MESSAGE_CONTENT is privileged: Discord blanks a
        guild message's text without it, and it must be enabled in the developer portal)."""
        intents = discord.Intents.none()
        intents.dm_messages = True  # messages, edits and deletions in DMs (content included)
        if self.threads:
            intents.guilds = True  # the channel and its threads, known to discord.py
            intents.guild_messages = True  # messages, edits and deletions in the threads
            intents.message_content = True
        return intents

    def _new_client(self) -> _Client:
        """A client with its slash commands. A closed discord.py client cannot log in again
        (its HTTP connector is closed with it), so each attempt to start gets a new one."""
        intents = self.intents()
        client = _Client(
            self, intents=intents, guild_ready_timeout=0,
            allowed_mentions=discord.AllowedMentions.none(),  # a relayed @everyone stays text
            # a longer wait than this comes back to the workers as RetryLater(retry_after),
            # instead of holding a send (discord.py's minimum is 30 s)
            max_ratelimit_timeout=self._max_ratelimit_timeout,
            chunk_guilds_at_startup=False,
        )
        for name in COMMANDS:
            client.tree.add_command(self._command(name))
        return client

    # life cycle -----------------------------------------------------------------------------
    async def start(self, feed: Feed) -> None:
        """Connect in the background: Discord being down must not stop the rest of the service
        (the playground, the other platforms, the workers), and it is retried until it answers."""
        self._feed = feed
        self._point_at_endpoints()
        self._task = asyncio.create_task(self._run(), name="discord")

    def _point_at_endpoints(self) -> None:
        """Another REST base / gateway (a proxy; a test's fake). discord.py reads them from two
        class attributes: set them for our client's lifetime, and put them back on stop."""
        if self.api_base_url is None and self.gateway_url is None:
            return
        self._saved_endpoints = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
        if self.api_base_url is not None:
            Route.BASE = self.api_base_url
        if self.gateway_url is not None:
            DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)

    def _restore_endpoints(self) -> None:
        if self._saved_endpoints is not None:
            Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = self._saved_endpoints
            self._saved_endpoints = None

    async def _run(self) -> None:
        failures = 0
        while True:
            self._connected = False
            try:
                await self.client.login(self.token)  # REST: what sending needs
                await self._consuming.wait()
                await self.client.connect(reconnect=True)  # the gateway: events come in
                return  # closed by stop()
            except asyncio.CancelledError:
                raise
            except discord.LoginFailure:
                log.error("event=discord_invalid_token action=not_started")
                return
            except discord.PrivilegedIntentsRequired:  # MESSAGE_CONTENT, for the threads
                log.error("event=discord_intents_refused action=not_started "
                          "hint=enable_message_content_intent_in_the_developer_portal")
                return
            except Exception as error:
                if isinstance(error, discord.ConnectionClosed) and error.code in (4004, 4013):
                    log.error("event=discord_refused code=%s action=not_started", error.code)
                    return
                failures = 1 if self._connected else failures + 1  # was up: start afresh
                delay = min(60.0, 2.0 ** min(failures, 6))
                log.warning("event=discord_start_failed error=%s retry_in=%.0f",
                            type(error).__name__, delay)
            with contextlib.suppress(Exception):
                await self.client.close()
            await self._sleep(delay)
            self.client = self._new_client()

    async def start_consuming(self) -> None:
        """Open the gateway (once logged in): this instance now takes Discord's events."""
        self._consuming.set()

    async def stop_consuming(self) -> None:
        """Close the gateway (another instance takes over) and log in again, to send only."""
        self._consuming.clear()
        await self._stop_catching_up()  # the next leader reads back from where we were
        if self._task is None:
            return
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.client.close()
        self.client = self._new_client()
        self._task = asyncio.create_task(self._run(), name="discord")

    def healthy(self) -> bool:
        """Logged in, and connected to the gateway when taking events: what /healthz reports
        for this platform."""
        up = self.client.is_ready() if self._consuming.is_set() else self.client.user is not None
        return up and not self.client.is_closed()

    async def stop(self) -> None:
        # Events being handed to the bus finish first (they are short), while the client can
        # still answer their interactions; then the connection closes, nothing left behind.
        # A reading back is not waited for: what it did not feed is read at the next start.
        await self._stop_catching_up()
        pending = self._handlers | self._cosmetics
        if pending:
            _, late = await asyncio.wait(pending, timeout=5)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.client.close()
        self._restore_endpoints()

    # receiving ------------------------------------------------------------------------------
    def _bot_id(self) -> int | None:
        return self.client.user.id if self.client.user is not None else None

    async def _on_ready(self) -> None:
        log.info("event=discord_ready")
        self._connected = True

    async def _on_message(self, message: discord.Message) -> None:
        await self._tracked(self._live(message))

    async def _live(self, message: discord.Message, *, edited: bool = False) -> None:
        """A message as the gateway sends it: after its channel's history, when being read."""
        await self._wait_turn(message.channel.id)
        await self._receive(message, edited=edited)

    async def _receive(self, message: discord.Message, *, edited: bool = False) -> bool:
        """Feed one message (live or read back); True when the bus took it as new."""
        if not is_dm(message.channel):
            return await self._receive_in_thread(message, edited=edited)
        inbound = message_to_inbound(message, self._bot_id(), edited=edited)
        if inbound is None:
            return False
        self._remember_chat(message.channel.id, message.author.id, message.id)
        return await self._submit(inbound)

    async def _receive_in_thread(self, message: discord.Message, *, edited: bool) -> bool:
        """A message in a server: fed only when it was written in one of the mentors'
        channel's private threads by the mentor it was opened for (a moderator who can see
        every private thread does not speak for that match)."""
        author = getattr(message, "author", None)
        if (author is None or not self.threads or author.bot or author.system
                or author.id == self._bot_id()):
            return False  # before any request: our own echoes come here too
        thread = await self._mentor_thread(message.channel)
        if thread is None:
            log.debug("event=discord_guild_message_ignored")
            return False
        mentor = await self._thread_mentor(thread)
        if mentor is not None and mentor != author.id:
            log.warning("event=discord_thread_message_ignored reason=not_its_mentor")
            return False
        dm = await self._dm_with(author.id)
        if dm is None:
            return False
        inbound = message_to_inbound(message, self._bot_id(), edited=edited, dm_channel_id=dm)
        if inbound is None:
            return False
        self._remember_thread(thread.id, author.id, message.id)
        return await self._submit(inbound)

    async def _on_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        before, after = payload.cached_message, payload.message
        if before is not None and before.content == after.content:
            return  # not a change of text (an embed, a pin)
        await self._tracked(self._live(after, edited=True))

    async def _on_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        if payload.message_id in self._own_deletions:
            del self._own_deletions[payload.message_id]
            return  # ours (a copy taken back), echoed
        cached = payload.cached_message
        if cached is not None and (cached.author.bot or cached.author.id == self._bot_id()):
            return
        await self._wait_turn(payload.channel_id)  # after the message, if it is being read back
        if payload.guild_id is not None:
            if self.threads:
                await self._tracked(self._deleted_in_thread(payload))
            return
        # In a DM only the author can delete a message (and ours are recognised above): the
        # deleted message was the other person's.
        author = cached.author.id if cached is not None else await self._person_in(
            payload.channel_id)
        if author is None:
            return
        await self._tracked(self._submit(
            deletion_to_inbound(payload.channel_id, payload.message_id, author)))

    async def _deleted_in_thread(self, payload: discord.RawMessageDeleteEvent) -> None:
        """A deletion in a match's thread. Discord says only where and which: the author is the
        cached message's, else the thread's mentor (only they and the bot write there)."""
        channel = (self.client.get_channel(payload.channel_id)
                   or self.client.get_partial_messageable(payload.channel_id,
                                                          guild_id=payload.guild_id))
        thread = await self._mentor_thread(channel)
        if thread is None:
            return
        cached = payload.cached_message
        mentor = await self._thread_mentor(thread)
        author = cached.author.id if cached is not None else mentor
        if author is None or (mentor is not None and author != mentor):
            return
        dm = await self._dm_with(author)
        if dm is not None:
            await self._submit(deletion_to_inbound(dm, payload.message_id, author,
                                                   thread_id=thread.id))

    async def _on_interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type is not discord.InteractionType.component:
            return  # slash commands: the CommandTree calls _on_command
        custom_id = _custom_id(interaction)
        if not custom_id.startswith(ACTION_PREFIX):
            return  # not ours
        try:
            await interaction.response.defer()  # within Discord's 3 s, before anything else
        except discord.HTTPException as error:  # 40060: a replayed press, answered before
            level = logging.INFO if error.code == ALREADY_ANSWERED else logging.WARNING
            log.log(level, "event=discord_interaction_unanswered code=%s", error.code)
        dm: int | None = None
        if interaction.guild_id is not None:  # a button in a match's thread: answered there
            if not in_mentor_thread(interaction.channel, self.mentor_channel_id,
                                    self._bot_id()):
                return
            try:
                dm = await self._dm_of(interaction)
            except (discord.HTTPException, aiohttp.ClientError) as error:
                log.warning("event=discord_dm_unknown error=%s", type(error).__name__)
                return
        inbound = component_to_inbound(interaction, dm_channel_id=dm)
        if inbound is None:
            return
        accepted = await self._tracked(self._submit(inbound))
        if accepted:
            task = asyncio.create_task(self._show_choice(interaction, custom_id))
            self._cosmetics.add(task)
            task.add_done_callback(self._cosmetics.discard)

    async def _on_command(self, interaction: discord.Interaction, name: str, args: str) -> None:
        """A slash command: acknowledged privately at once, answered in the DM by the outbox.
        Too late to acknowledge (Discord waits 3 s) is no reason to drop the command."""
        try:
            await interaction.response.defer(ephemeral=True, thinking=True)
        except discord.HTTPException as error:
            log.warning("event=discord_interaction_unanswered code=%s", error.code)
        dm = await self._dm_of(interaction)
        await self._tracked(self._submit(command_to_inbound(interaction, name, args, dm)))
        if interaction.response.is_done():
            with contextlib.suppress(discord.HTTPException):
                await interaction.delete_original_response()  # the answer is in the DM

    async def _dm_of(self, interaction: discord.Interaction) -> int:
        """The user's DM with the bot (where answers go)."""
        if (interaction.guild_id is None and interaction.channel_id is not None
                and isinstance(interaction.channel, discord.DMChannel)):
            self._remember_chat(interaction.channel_id, interaction.user.id)
            return interaction.channel_id
        dm = await interaction.user.create_dm()
        self._remember_chat(dm.id, interaction.user.id)
        return dm.id

    async def _show_choice(self, interaction: discord.Interaction, custom_id: str) -> None:
        """Replace the buttons by what was chosen (cosmetic: the choice itself is stored)."""
        message = interaction.message
        label = _label_of(message, custom_id) if message is not None else None
        try:
            if message is not None and label:
                await interaction.edit_original_response(
                    content=with_choice(message.content, label), view=None)
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as error:
            log.info("event=discord_button_cosmetics_failed error=%s", type(error).__name__)

    async def _submit(self, inbound: Inbound) -> bool:
        """Hand one event to the bus, retrying a failure (a gateway event cannot be refused and
        sent again, as a webhook can); after MAX_TRIES it is set aside and logged."""
        if self._feed is None:
            raise RuntimeError("the Discord channel is not started")
        for attempt in range(1, MAX_TRIES + 1):
            try:
                return await self._feed(inbound)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if attempt == MAX_TRIES:
                    log.error("event=discord_event_dead_lettered key=%s error=%s",
                              inbound.event_key, type(error).__name__)
                    return False
                await self._sleep(min(30.0, 0.5 * 2 ** attempt))
        return False

    async def _tracked(self, work: Awaitable[Any]) -> Any:
        """Run `work` as part of this handler, known to stop() so it can finish first."""
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            return await work
        finally:
            if task is not None:
                self._handlers.discard(task)

    def _remember_chat(self, channel_id: int, user_id: int, message_id: int | None = None
                       ) -> None:
        self._dm_users[channel_id] = user_id
        self._remember_seen(channel_id, message_id)
        _forget_oldest(self._dm_users)

    def _remember_thread(self, thread_id: int, mentor_id: int | None,
                         message_id: int | None = None) -> None:
        """One of our threads, its mentor (when known) and the last message fed from it."""
        if mentor_id is not None or thread_id not in self._threads:
            self._threads.pop(thread_id, None)
            self._threads[thread_id] = mentor_id
        self._remember_seen(thread_id, message_id)
        _forget_oldest(self._threads)

    def _remember_seen(self, channel_id: int, message_id: int | None) -> None:
        if message_id is not None:
            self._seen[channel_id] = max(message_id, self._seen.pop(channel_id, 0))
            _forget_oldest(self._seen)

    async def _dm_with(self, user_id: int) -> int | None:
        """The person's DM with the bot: their address, whatever thread they wrote in
        (discord.py keeps the DMs it knows; an unknown one is asked for once)."""
        try:
            dm = await self.client.create_dm(discord.Object(user_id))
        except (discord.HTTPException, aiohttp.ClientError) as error:
            log.warning("event=discord_dm_unknown error=%s", type(error).__name__)
            return None
        self._remember_chat(dm.id, user_id)
        return dm.id

    async def _mentor_thread(self, channel: object) -> discord.Thread | None:
        """`channel` as one of the mentors' channel's private threads, or None. discord.py
        knows the threads the bot is in (GUILDS intent); one it does not (archived, say) is
        asked for once; a guild channel that is not one is remembered as such."""
        if in_mentor_thread(channel, self.mentor_channel_id, self._bot_id()):
            assert isinstance(channel, discord.Thread)
            return channel
        channel_id = getattr(channel, "id", None)
        if (not isinstance(channel, discord.PartialMessageable) or channel_id is None
                or channel_id in self._not_threads):
            return None  # a text channel, a forum, the mentors' channel itself...
        if channel_id in self._fetched:
            return self._fetched[channel_id]
        try:
            fetched = await self.client.fetch_channel(channel_id)
        except (discord.HTTPException, aiohttp.ClientError) as error:
            log.info("event=discord_channel_unknown error=%s", type(error).__name__)
            return None
        if not in_mentor_thread(fetched, self.mentor_channel_id, self._bot_id()):
            self._not_threads[channel_id] = None
            _forget_oldest(self._not_threads)
            return None
        assert isinstance(fetched, discord.Thread)
        self._fetched[channel_id] = fetched
        _forget_oldest(self._fetched)
        return fetched

    async def _thread_mentor(self, thread: discord.Thread) -> int | None:
        """The mentor a thread was opened for: remembered since we opened it or heard them in
        it; else its one member besides the bot (Discord lists others only to a bot with the
        GUILD_MEMBERS intent, which Passerelle does not ask for); else the one the bot added
        ("passerelle added Marc to the thread.", a system message that mentions them); else
        the first person who wrote in it. None when nobody did yet."""
        known = self._threads.get(thread.id)
        if known is not None:
            return known
        bot = self._bot_id()
        found: int | None = None
        try:
            members = [m.id for m in await thread.fetch_members() if m.id != bot]
            found = members[0] if len(members) == 1 else None
        except (discord.HTTPException, aiohttp.ClientError) as error:  # refused: read instead
            log.info("event=discord_thread_members_unknown error=%s", type(error).__name__)
        if found is None:
            found = await self._added_by_us(thread)
        if found is not None:
            self._remember_thread(thread.id, found)
        return found

    async def _added_by_us(self, thread: discord.Thread) -> int | None:
        """Who the bot added to the thread, read back from its history (else who first wrote
        in it)."""
        bot = self._bot_id()
        first_writer: int | None = None
        try:
            async for message in thread.history(limit=100, oldest_first=True):
                author = message.author
                if (message.type is discord.MessageType.recipient_add and author.id == bot
                        and message.mentions):
                    return message.mentions[0].id
                if first_writer is None and not (author.bot or author.system):
                    first_writer = author.id
        except (discord.HTTPException, aiohttp.ClientError) as error:
            log.info("event=discord_thread_mentor_unknown error=%s", type(error).__name__)
        return first_writer

    async def _person_in(self, channel_id: int) -> int | None:
        """Who the bot's DM `channel_id` is with (remembered, cached, else asked); None when
        Discord cannot say."""
        try:
            return await self._recipient(channel_id)
        except (discord.HTTPException, aiohttp.ClientError, _Misconfigured) as error:
            log.info("event=discord_channel_unknown error=%s", type(error).__name__)
            return None

    async def _recipient(self, channel_id: int) -> int:
        """Who the bot's DM `channel_id` is with; Discord's errors raised as they are."""
        if channel_id in self._dm_users:
            return self._dm_users[channel_id]
        channel = self.client.get_channel(channel_id)
        if not isinstance(channel, discord.DMChannel) or channel.recipient is None:
            channel = await self.client.fetch_channel(channel_id)
        if not isinstance(channel, discord.DMChannel) or channel.recipient is None:
            raise _Misconfigured("not a DM with the bot")
        self._dm_users[channel_id] = channel.recipient.id
        _forget_oldest(self._dm_users)
        return channel.recipient.id

    # reading back at a new session -----------------------------------------------------------
    def _new_session(self) -> None:
        """READY (a new session, at start or after one that could not be resumed; a RESUME
        replays what was missed and comes here not): read back what no session heard. Called
        as READY is parsed, before any later event: live messages wait for the gate."""
        self._gate.clear()
        if self._catching is not None:
            self._catching.cancel()  # a session lost mid-way: the new one reads it all again
        self._catching = asyncio.create_task(self._catch_up(), name="discord-catch-up")

    async def _stop_catching_up(self) -> None:
        catching = self._catching
        if catching is not None:
            catching.cancel()
            await asyncio.gather(catching, return_exceptions=True)

    async def _wait_turn(self, channel_id: int) -> None:
        """Until the channel's history is read back, if it is being read (live events wait,
        in the order they came, so that they follow what was said before them)."""
        while True:
            if not self._gate.is_set():
                await self._gate.wait()
                continue
            turn = self._turns.get(channel_id)
            if turn is None or turn.is_set():
                return
            await turn.wait()

    async def _catch_up(self) -> None:
        """Read back the channels the service listens to, each after its newest message
        committed (see the module doc), and feed what is there like live messages."""
        me = asyncio.current_task()
        taken: dict[int, asyncio.Event] = {}
        try:
            plan = await self._catch_up_plan()
            for channel_id, _, _ in plan:
                taken[channel_id] = self._turns[channel_id] = asyncio.Event()
            self._gate.set()
            pace = asyncio.Semaphore(CATCH_UP_CONCURRENCY)

            async def read(channel_id: int, thread: bool, after: int) -> int:
                try:
                    async with pace:
                        return await self._read_back(channel_id, thread, after)
                finally:
                    self._give_turn(channel_id, taken.pop(channel_id))

            fed = await asyncio.gather(*(read(*entry) for entry in plan))
            log.info("event=discord_caught_up channels=%d messages=%d", len(plan), sum(fed))
        except Exception as error:  # the service runs on; live messages are not held
            log.error("event=discord_catch_up_failed error=%s", type(error).__name__)
        finally:
            for channel_id, turn in taken.items():
                self._give_turn(channel_id, turn)
            if self._catching is me:  # not replaced by a newer session's
                self._gate.set()
                self._catching = None

    def _give_turn(self, channel_id: int, turn: asyncio.Event) -> None:
        turn.set()
        if self._turns.get(channel_id) is turn:
            del self._turns[channel_id]

    async def _catch_up_plan(self) -> list[tuple[int, bool, int]]:
        """(channel, is a thread, read after this id): the channels the service knows of
        (bots/ asks the database), from a little before their newest message committed (see
        CATCH_UP_MARGIN); and those met since the start, from their last message fed (what
        this process fed before is handled or still being retried); never further back than
        CATCH_UP_WINDOW."""
        floor = discord.utils.time_snowflake(discord.utils.utcnow() - CATCH_UP_WINDOW)
        margin = int(CATCH_UP_MARGIN.total_seconds() * 1000) << 22
        plan: dict[int, tuple[bool, int]] = {}
        if self.resume_points is not None:
            try:
                dms, threads = await self.resume_points()
            except Exception as error:  # the database is down: the channels met, at least
                log.error("event=discord_resume_points_unknown error=%s", type(error).__name__)
                dms, threads = {}, {}
            known = [(c, False, p) for c, p in dms.items()]
            if self.threads:
                known += [(c, True, p) for c, p in threads.items()]
            for channel, thread, point in known:
                last = _as_id(point)
                if channel.isdigit() and int(channel) not in self._dm_instead:
                    plan[int(channel)] = (thread, floor if last is None else
                                          max(floor, last - margin))
        for channel_id, last in self._seen.items():
            thread, after = plan.get(channel_id, (channel_id in self._threads, floor))
            plan[channel_id] = (thread, max(after, last))
        return [(channel_id, thread, after) for channel_id, (thread, after) in plan.items()]

    async def _read_back(self, channel_id: int, thread: bool, after: int) -> int:
        """Feed a channel's messages written after `after`, oldest first; how many were new.
        A channel Discord refuses (deleted, the bot's access gone) is logged and skipped."""
        fed = 0
        try:
            channel: discord.abc.Messageable
            if thread:  # as a Thread: its messages say where they are
                found = self.client.get_channel(channel_id)
                if not isinstance(found, discord.Thread):
                    found = await self.client.fetch_channel(channel_id)
                if not isinstance(found, discord.Thread):
                    return 0
                channel = found
            else:
                channel = self.client.get_partial_messageable(
                    channel_id, type=discord.ChannelType.private)
            async for message in channel.history(after=discord.Object(after),
                                                 oldest_first=True, limit=CATCH_UP_LIMIT):
                fed += await self._read_again(message)
        except (discord.HTTPException, aiohttp.ClientError) as error:
            log.warning("event=discord_catch_up_channel_failed error=%s",
                        type(error).__name__)
        return fed

    async def _read_again(self, message: discord.Message) -> int:
        """One message read back: new, it is fed as it is now (edits included); known, its
        latest edit is fed (each edit has its own key: one handled already is a repeat)."""
        if await self._receive(message):
            return 1
        if message.edited_at is not None and await self._receive(message, edited=True):
            return 1
        return 0

    # slash commands -------------------------------------------------------------------------
    def _description(self, key: str) -> app_commands.locale_str:
        default = self.menu.get(self.default_language, {}).get(key) or f"/{key}"
        return app_commands.locale_str(default[:100], key=key)

    def _command(self, name: str) -> app_commands.Command[Any, ..., None]:
        if name == "capacity":
            # Any number: the core checks it, and says what is allowed in the mentor's language.
            async def with_number(interaction: discord.Interaction, number: int | None = None
                                  ) -> None:
                await self._on_command(interaction, name, "" if number is None else str(number))

            callback: Callable[..., Awaitable[None]] = app_commands.describe(
                number=self._description("capacity"))(with_number)
        else:
            async def plain(interaction: discord.Interaction) -> None:
                await self._on_command(interaction, name, "")

            callback = plain
        return app_commands.Command(
            name=name, description=self._description(name), callback=callback,
            # DMs with the bot only: the answer goes there, and a server stays uncluttered.
            allowed_contexts=app_commands.AppCommandContext(
                guild=False, dm_channel=True, private_channel=False),
        )

    async def _setup_commands(self) -> None:
        """Descriptions in our languages, and the commands published (global) at each start;
        a failure to publish them is no reason not to connect (they may be there already)."""
        tree = self.client.tree
        if tree.translator is None and self.menu:
            await tree.set_translator(MenuTranslator(self.menu))
        try:
            await tree.sync()
        except (discord.HTTPException, aiohttp.ClientError) as error:
            log.warning("event=discord_commands_not_synced error=%s", type(error).__name__)

    # delivery -------------------------------------------------------------------------------
    def _channel(self, message: Outbound, *, in_dm: bool = False) -> discord.PartialMessageable:
        """Where a row goes: its thread (a match's, in the mentors' channel), else the DM."""
        if self.client.user is None or self.client.is_closed():
            raise RetryLater("discord: not connected yet", 5.0)
        thread = None if in_dm else message.to.thread_id
        target = thread or message.to.chat_id
        if not target.isdigit():
            raise PermanentFailure("discord: not a channel id")
        kind = discord.ChannelType.private_thread if thread else discord.ChannelType.private
        return self.client.get_partial_messageable(int(target), type=kind)

    async def send(self, message: Outbound) -> str:
        if self.threads and message.opens_thread and message.to.thread_id is None:
            return await self._open_thread(message)

        async def post(channel: discord.PartialMessageable) -> str:
            return str((await _rest(self._post(channel, message))).id)

        return await self._in_place(message, post)

    async def edit(self, message: Outbound) -> None:
        assert message.edit_of is not None
        self._channel(message)
        if not message.edit_of.isdigit():
            raise PermanentFailure("discord: not a message id")
        message_id = int(message.edit_of)

        async def edit(channel: discord.PartialMessageable) -> None:
            await _rest(channel.get_partial_message(message_id).edit(content=message.text))

        await self._in_place(message, edit)

    async def delete(self, message: Outbound) -> None:
        assert message.delete_of is not None
        self._channel(message)
        if not message.delete_of.isdigit():
            raise PermanentFailure("discord: not a message id")
        message_id = int(message.delete_of)
        self._own_deletions[message_id] = None  # before the call: the echo may come first
        _forget_oldest(self._own_deletions)

        async def delete(channel: discord.PartialMessageable) -> None:
            await _rest(channel.get_partial_message(message_id).delete())

        try:
            await self._in_place(message, delete)
        except PermanentFailure as error:
            cause = error.__cause__
            if not (isinstance(cause, discord.NotFound) and cause.code == UNKNOWN_MESSAGE):
                raise
            # Unknown Message: already gone, what was asked is done

    def _post(self, channel: discord.PartialMessageable | discord.Thread, message: Outbound
              ) -> Awaitable[discord.Message]:
        """Send a message (with its file: a new discord.File on each call, since a file that
        was read once, by a try that failed, reads empty)."""
        file = message.attachment
        if file is None:
            return channel.send(
                message.text, view=view_for(message.buttons),  # type: ignore[arg-type]
                reference=reference_for(message, channel.id),  # type: ignore[arg-type]
            )
        return channel.send(
            message.text or None, view=view_for(message.buttons),  # type: ignore[arg-type]
            reference=reference_for(message, channel.id),  # type: ignore[arg-type]
            file=discord.File(io.BytesIO(file.data), filename=file.name),
        )

    async def _in_place(self, message: Outbound,
                        act: Callable[[discord.PartialMessageable], Awaitable[_T]]) -> _T:
        """Do `act` in the row's thread, else in its DM.

        A thread that cannot be used (deleted, the bot's access to it taken away, or an id that
        never was a thread: the DM message that stood in for one when a thread could not be
        opened) does not lose the message, nor make the mentor unreachable: it goes to the DM,
        and the error is logged for whoever runs the server. An archived thread is reopened."""
        channel = self._channel(message)
        if message.to.thread_id is None:
            return await act(channel)
        if channel.id in self._dm_instead:
            return await act(self._channel(message, in_dm=True))
        try:
            return await act(channel)
        except (Unreachable, PermanentFailure) as error:
            cause = error.__cause__
            if not isinstance(cause, discord.HTTPException):
                raise
            archived = cause.code == THREAD_ARCHIVED
            if archived and await self._reopen(channel.id):
                return await act(channel)
            if not (archived or _thread_refused(cause)):
                raise
            log.error("event=discord_thread_unusable status=%s code=%s action=sent_in_dm",
                      cause.status, cause.code)
            self._dm_instead[channel.id] = None
            _forget_oldest(self._dm_instead)
        return await act(self._channel(message, in_dm=True))

    async def _reopen(self, thread_id: int) -> bool:
        """Unarchive a thread that fell silent (a week without a message), to write in it."""
        try:
            thread = self.client.get_channel(thread_id)
            if not isinstance(thread, discord.Thread):
                thread = await self.client.fetch_channel(thread_id)
            if isinstance(thread, discord.Thread):
                await thread.edit(archived=False)
                return True
        except discord.HTTPException as error:
            if error.status == 429 or error.status >= 500:
                raise translate_error(error) from error
            log.warning("event=discord_thread_not_reopened status=%s code=%s",
                        error.status, error.code)
        except aiohttp.ClientError as error:
            raise translate_error(error) from error
        return False

    async def _open_thread(self, message: Outbound) -> str:
        """A match's first message to a mentor, in the mentors' channel mode: a private thread
        named after it, the mentor added to it, the message in it. The thread's id is returned:
        the outbox records it as the match's root, what everything written there replies to.

        Refused by the server (the bot lacks a permission, the channel is gone or is not a
        text channel, the mentor is not in the server), the match goes on in the DM, with an
        error logged: a misconfigured server must not lose messages, nor make mentors
        unreachable. A 429 or 5xx is retried as usual, in the thread already created."""
        dm = self._channel(message, in_dm=True)
        key = (message.to.chat_id, message.text)
        thread = self._opening.get(key)
        try:
            if thread is None:
                thread = await self._create_thread(message)
                self._opening[key] = thread
                _forget_oldest(self._opening)
            mentor = await self._recipient(dm.id)
            await thread.add_user(discord.Object(mentor))
            await self._post(thread, message)
        except (discord.Forbidden, discord.NotFound, _Misconfigured) as error:
            return await self._open_in_dm(message, key, error)
        except discord.HTTPException as error:
            if error.code == WRONG_CHANNEL_TYPE:
                return await self._open_in_dm(message, key, error)
            raise translate_error(error) from error
        except aiohttp.ClientError as error:
            raise translate_error(error) from error
        del self._opening[key]
        self._remember_thread(thread.id, mentor)
        log.info("event=discord_thread_opened")
        return str(thread.id)

    async def _create_thread(self, message: Outbound) -> discord.Thread:
        assert self.mentor_channel_id is not None
        parent = self.client.get_channel(self.mentor_channel_id)
        if parent is None:
            parent = await self.client.fetch_channel(self.mentor_channel_id)
        if not isinstance(parent, discord.TextChannel):
            raise _Misconfigured("the mentors' channel is not a text channel")
        return await parent.create_thread(
            name=thread_name(message.text), type=discord.ChannelType.private_thread,
            invitable=False,  # only the bot adds people: a mentor cannot bring anyone in
            auto_archive_duration=THREAD_ARCHIVE_MINUTES,
        )

    async def _open_in_dm(self, message: Outbound, key: tuple[str, str],
                          error: Exception) -> str:
        if isinstance(error, discord.HTTPException):
            reason = f"status={error.status} code={error.code}"
        else:
            reason = f"reason={str(error).replace(' ', '_')}"
        log.error("event=discord_thread_not_opened %s action=sent_in_dm", reason)
        stale = self._opening.pop(key, None)
        if stale is not None:  # created, but the mentor cannot be in it: not left empty
            with contextlib.suppress(discord.HTTPException, aiohttp.ClientError):
                await stale.delete()
        sent = str((await _rest(self._post(self._channel(message, in_dm=True), message))).id)
        # The outbox takes this id for the match's thread: what follows goes to the DM too.
        self._dm_instead[int(sent)] = None
        _forget_oldest(self._dm_instead)
        return sent


class _Misconfigured(Exception):
    """The mentors' channel mode cannot open a thread here (not a Discord error)."""


def _thread_refused(error: discord.HTTPException) -> bool:
    """The server no longer lets the bot use a thread: gone, or its access taken away."""
    if isinstance(error, discord.NotFound):
        return error.code == UNKNOWN_CHANNEL
    return isinstance(error, discord.Forbidden) and error.code in (MISSING_ACCESS,
                                                                   MISSING_PERMISSIONS)


async def _rest(call: Awaitable[_T]) -> _T:
    """One REST call, its failure said in the workers' terms (an unknown one left as it is:
    the workers retry what they do not recognise)."""
    try:
        return await call
    except Exception as error:
        translated = translate_error(error)
        if translated is error:
            raise
        raise translated from error


def _api_base(url: str) -> str:
    """The REST root as discord.py wants it (…/api/v10); a bare host gets the version added."""
    url = url.rstrip("/")
    return url if _API_VERSION.search(url) else f"{url}/api/v10"


def _as_id(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def _forget_oldest(kept: dict[Any, Any]) -> None:
    """Memory stays bounded: past _REMEMBERED entries, the oldest go first."""
    while len(kept) > _REMEMBERED:
        kept.pop(next(iter(kept)))


def _label_of(message: discord.Message, custom_id: str) -> str | None:
    for row in message.components:
        for item in getattr(row, "children", ()):
            if getattr(item, "custom_id", None) == custom_id:
                return getattr(item, "label", None)
    return None
