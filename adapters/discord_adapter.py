"""Mentors on Discord: a discord.py 2 Client inside our event loop, translated to the core's types.

Each mentor talks to the bot in their DMs. The core routes what they write: a reply to a message
the bot delivered for a match (the request, a relayed message) goes to that match. This module
only translates, both ways, and keeps the connection alive.

- The client runs as a task of ours (`await client.start(token)`, never `run()`); while Discord
  cannot be reached at start, the task tries again with a growing pause, and the rest of the
  service carries on. Once connected, discord.py reconnects and RESUMEs by itself: events sent
  meanwhile are replayed, and their event keys make any repeat a no-op in the bus.
- A gateway event cannot be refused the way an HTTP webhook can, so handing one to the bus is
  retried a few times before it is set aside (logged). After a new session (the old one could
  not be resumed), recent DM history of the chats seen so far is read again, for the same
  reason: what was said while no session existed is fed, and what was already handled is a
  repeat.
- Buttons are answered in `on_interaction` by their custom_id (`passerelle:<action>`), not by
  View callbacks, so a button sent before a restart still works after it.
- Nothing of a mentor's Discord self crosses: `platform_user_id` is only used to find who wrote,
  and everything we send goes out as the bot, with mentions disabled client-wide.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

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
# Discord locales for our languages (Discord has two Englishes).
LOCALES = {"fr": ("fr",), "en": ("en-US", "en-GB")}
_API_VERSION = re.compile(r"/api/v\d+$")
_MEDIA = (("image/", "photo"), ("video/", "video"), ("audio/", "audio"))
_STYLES = {"accept": discord.ButtonStyle.success, "decline": discord.ButtonStyle.danger,
           "end": discord.ButtonStyle.danger}
_REMEMBERED = 1000  # chats / own deletions kept in memory (oldest forgotten first)

Feed = Callable[[Inbound], Awaitable[bool]]
_T = TypeVar("_T")
Menu = Mapping[str, Mapping[str, str]]  # language → {command: description}


# Translation, both ways -------------------------------------------------------------------------

def message_to_inbound(message: discord.Message, bot_id: int | None = None, *,
                       edited: bool = False) -> Inbound | None:
    """A message someone wrote → the core's Inbound; None for what the service does not handle.

    Only DMs with the bot count: in a server channel a mentor's words would be read by everyone
    in it, and a channel must never become anyone's address. Bots (ours included: Discord sends
    our own messages back) and system messages (pins, calls) are never listened to.
    """
    author = message.author
    if message.guild is not None or not is_dm(message.channel):
        return None
    if author.bot or author.system or author.id == bot_id:
        return None
    if message.type not in (discord.MessageType.default, discord.MessageType.reply):
        return None
    reference = message.reference
    forwarded = reference is not None and reference.type is discord.MessageReferenceType.forward
    text = message.content or ""
    media = None if text else media_kind(message, forwarded=forwarded)
    if not text and media is None:
        return None
    reply_to = (str(reference.message_id)
                if reference is not None and not forwarded and reference.message_id else None)
    key = f"discord:message:{message.id}"
    if edited:
        if message.edited_at is None:  # an update that is no edit (a link preview came)
            return None
        key += f":edited:{message.edited_at.isoformat()}"  # each edit once, however replayed
    return Inbound(
        event_key=key,
        source=Address("discord", str(message.channel.id)),
        platform_user_id=str(author.id),
        text=text,
        message_id=str(message.id),
        reply_to=reply_to,
        edited=edited,
        media=media,
    )


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


def deletion_to_inbound(channel_id: int, message_id: int, author_id: int) -> Inbound:
    """Someone deleted their message in their DM with the bot: the other side's copy goes."""
    return Inbound(
        event_key=f"discord:deleted:{message_id}",  # a message is deleted once
        source=Address("discord", str(channel_id)),
        platform_user_id=str(author_id),
        message_id=str(message_id),
        deleted=True,
    )


def component_to_inbound(interaction: discord.Interaction) -> Inbound | None:
    """A press on one of our buttons (custom_id `passerelle:<action>`) in a DM → Inbound whose
    action is the core's; None for anything else (another app's component, a server)."""
    if interaction.type is not discord.InteractionType.component:
        return None
    custom_id = str((interaction.data or {}).get("custom_id") or "")
    if not custom_id.startswith(ACTION_PREFIX) or interaction.guild_id is not None:
        return None
    action = custom_id[len(ACTION_PREFIX):]
    if not action or interaction.message is None or interaction.channel_id is None:
        return None
    return Inbound(
        event_key=f"discord:interaction:{interaction.id}",
        source=Address("discord", str(interaction.channel_id)),
        platform_user_id=str(interaction.user.id),
        message_id=str(interaction.message.id),
        action=action,
        locale_hint=str(interaction.locale.value) if interaction.locale else None,
    )


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

class _Client(discord.Client):
    """A discord.Client whose events go to the channel (one per attempt to start)."""

    def __init__(self, owner: DiscordChannel, *, intents: discord.Intents, **options: Any
                 ) -> None:
        super().__init__(intents=intents, **options)
        self.owner = owner
        self.tree = app_commands.CommandTree(self)

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
    # Discord allows about 5 messages per 5 s in one channel (discord.py also waits when the
    # bucket headers say so) and about 50 requests a second for the whole bot.
    min_chat_interval = 0.25
    max_per_second = 40.0

    def __init__(
        self, token: str, *, api_base_url: str | None = None, gateway_url: str | None = None,
        menu: Menu | None = None, default_language: str = "fr",
        identify_pause: float = 5.0, max_ratelimit_timeout: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.token = token
        self.api_base_url = _api_base(api_base_url) if api_base_url else None
        self.gateway_url = gateway_url
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
        self._seen: dict[int, int] = {}  # DM channel → last message id fed (for catch-up)
        self._dm_users: dict[int, int] = {}  # DM channel → the person in it
        self._own_deletions: dict[int, None] = {}  # our deletions, echoed back by Discord
        self._ready_once = False
        self._connected = False  # this client got READY (a later failure backs off afresh)

    def _new_client(self) -> _Client:
        """A client with its slash commands. A closed discord.py client cannot log in again
        (its HTTP connector is closed with it), so each attempt to start gets a new one."""
        intents = discord.Intents.none()
        intents.dm_messages = True  # messages, edits and deletions in DMs (content included)
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
                await self.client.start(self.token)
                return  # closed by stop()
            except asyncio.CancelledError:
                raise
            except discord.LoginFailure:
                log.error("event=discord_invalid_token action=not_started")
                return
            except discord.PrivilegedIntentsRequired:
                log.error("event=discord_intents_refused action=not_started")
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

    def healthy(self) -> bool:
        """Connected to the gateway: what /healthz reports for this platform."""
        return self.client.is_ready() and not self.client.is_closed()

    async def stop(self) -> None:
        # Events being handed to the bus finish first (they are short), while the client can
        # still answer their interactions; then the connection closes, nothing left behind.
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
        if self._ready_once:  # a new session: what was said without one was not sent to us
            await self._tracked(self._catch_up())
        self._ready_once = True

    async def _on_message(self, message: discord.Message) -> None:
        await self._tracked(self._receive(message))

    async def _receive(self, message: discord.Message) -> None:
        inbound = message_to_inbound(message, self._bot_id())
        if inbound is None:
            return
        self._remember_chat(message.channel.id, message.author.id, message.id)
        await self._submit(inbound)

    async def _on_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        before, after = payload.cached_message, payload.message
        if before is not None and before.content == after.content:
            return  # not a change of text (an embed, a pin)
        inbound = message_to_inbound(after, self._bot_id(), edited=True)
        if inbound is not None:
            await self._tracked(self._submit(inbound))

    async def _on_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        if payload.guild_id is not None:
            return
        if payload.message_id in self._own_deletions:
            del self._own_deletions[payload.message_id]
            return  # ours (a copy taken back), echoed
        cached = payload.cached_message
        if cached is not None and (cached.author.bot or cached.author.id == self._bot_id()):
            return
        # In a DM only the author can delete a message (and ours are recognised above): the
        # deleted message was the other person's.
        author = cached.author.id if cached is not None else await self._person_in(
            payload.channel_id)
        if author is None:
            return
        await self._tracked(self._submit(
            deletion_to_inbound(payload.channel_id, payload.message_id, author)))

    async def _on_interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type is not discord.InteractionType.component:
            return  # slash commands: the CommandTree calls _on_command
        custom_id = str((interaction.data or {}).get("custom_id") or "")
        if not custom_id.startswith(ACTION_PREFIX):
            return  # not ours
        try:
            await interaction.response.defer()  # within Discord's 3 s, before anything else
        except discord.HTTPException as error:  # 40060: a replayed press, answered before
            level = logging.INFO if error.code == ALREADY_ANSWERED else logging.WARNING
            log.log(level, "event=discord_interaction_unanswered code=%s", error.code)
        inbound = component_to_inbound(interaction)
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
        if message_id is not None:
            self._seen[channel_id] = max(message_id, self._seen.pop(channel_id, 0))
        for kept in (self._dm_users, self._seen):
            while len(kept) > _REMEMBERED:
                kept.pop(next(iter(kept)))

    async def _person_in(self, channel_id: int) -> int | None:
        """Who the bot's DM `channel_id` is with (remembered, cached, else asked)."""
        if channel_id in self._dm_users:
            return self._dm_users[channel_id]
        channel = self.client.get_channel(channel_id)
        if not isinstance(channel, discord.DMChannel) or channel.recipient is None:
            try:
                channel = await self.client.fetch_channel(channel_id)
            except (discord.HTTPException, aiohttp.ClientError) as error:
                log.info("event=discord_channel_unknown error=%s", type(error).__name__)
                return None
        if isinstance(channel, discord.DMChannel) and channel.recipient is not None:
            self._dm_users[channel_id] = channel.recipient.id
            return channel.recipient.id
        return None

    async def _catch_up(self) -> None:
        """Read the DMs seen so far again since their last message we handled: Discord keeps
        no event for a bot without a session. Repeats are recognised by their event keys."""
        for channel_id, last in list(self._seen.items()):
            channel = self.client.get_partial_messageable(channel_id,
                                                          type=discord.ChannelType.private)
            try:
                async for message in channel.history(after=discord.Object(last),
                                                     oldest_first=True, limit=100):
                    await self._receive(message)
            except (discord.HTTPException, aiohttp.ClientError) as error:
                log.warning("event=discord_catch_up_failed error=%s", type(error).__name__)
        log.info("event=discord_caught_up chats=%d", len(self._seen))

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
    def _channel(self, message: Outbound) -> discord.PartialMessageable:
        if self.client.user is None or self.client.is_closed():
            raise RetryLater("discord: not connected yet", 5.0)
        target = message.to.thread_id or message.to.chat_id
        if not target.isdigit():
            raise PermanentFailure("discord: not a channel id")
        return self.client.get_partial_messageable(int(target),
                                                   type=discord.ChannelType.private)

    async def send(self, message: Outbound) -> str:
        channel = self._channel(message)
        sent = await _rest(channel.send(
            message.text, view=view_for(message.buttons),  # type: ignore[arg-type]
            reference=reference_for(message, channel.id),  # type: ignore[arg-type]
        ))
        return str(sent.id)

    async def edit(self, message: Outbound) -> None:
        assert message.edit_of is not None
        channel = self._channel(message)
        if not message.edit_of.isdigit():
            raise PermanentFailure("discord: not a message id")
        await _rest(channel.get_partial_message(int(message.edit_of)).edit(content=message.text))

    async def delete(self, message: Outbound) -> None:
        assert message.delete_of is not None
        channel = self._channel(message)
        if not message.delete_of.isdigit():
            raise PermanentFailure("discord: not a message id")
        message_id = int(message.delete_of)
        self._own_deletions[message_id] = None  # before the call: the echo may come first
        while len(self._own_deletions) > _REMEMBERED:
            self._own_deletions.pop(next(iter(self._own_deletions)))
        try:
            await _rest(channel.get_partial_message(message_id).delete())
        except PermanentFailure as error:
            cause = error.__cause__
            if not (isinstance(cause, discord.NotFound) and cause.code == UNKNOWN_MESSAGE):
                raise
            # Unknown Message: already gone, what was asked is done


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


def _label_of(message: discord.Message, custom_id: str) -> str | None:
    for row in message.components:
        for item in getattr(row, "children", ()):
            if getattr(item, "custom_id", None) == custom_id:
                return getattr(item, "label", None)
    return None
