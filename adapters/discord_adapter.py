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

This module and its siblings only translate, both ways, and keep the connection alive:
discord_translation.py (payloads ↔ the core's types, errors), discord_client.py (the
discord.py client, the connection), discord_threads.py (the mentors' channel mode),
discord_catch_up.py (reading back at a new session), discord_memory.py (bounded maps), and
here `DiscordChannel`, the port.

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
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import discord
import yarl

from adapters.discord_catch_up import CATCH_UP_CHANNELS, CATCH_UP_WINDOW, CatchUp, ResumePoints
from adapters.discord_client import COMMANDS, DiscordConnection, Menu, _api_base
from adapters.discord_memory import _forget_oldest
from adapters.discord_threads import MentorThreads, _Misconfigured, in_mentor_thread
from adapters.discord_translation import (
    ACTION_PREFIX,
    ALREADY_ANSWERED,
    MAX_TEXT,
    UNKNOWN_MESSAGE,
    _custom_id,
    _label_of,
    _rest,
    command_to_inbound,
    component_to_inbound,
    deletion_to_inbound,
    is_dm,
    message_to_inbound,
    reference_for,
    view_for,
    with_choice,
)
from core.model import Inbound, Outbound
from core.ports import PermanentFailure, RetryLater

# What bots/ imports from here (the rest lives in the modules named above).
__all__ = ["CATCH_UP_CHANNELS", "CATCH_UP_WINDOW", "COMMANDS", "DiscordChannel"]

log = logging.getLogger("passerelle.discord")

MAX_FILE_BYTES = 10 * 1024 * 1024  # what a bot may attach on a server without boosts
MAX_TRIES = 5  # an event failing this often is set aside rather than retried forever

Feed = Callable[[Inbound], Awaitable[bool]]


class DiscordChannel(DiscordConnection, MentorThreads, CatchUp):
    """The Channel port on Discord: start, send, edit, delete, stop, and what is received fed to
    the bus. The connection (DiscordConnection), the mentors' channel mode (MentorThreads) and
    the reading back at a new session (CatchUp) are parts of it, in modules of their own."""

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

    # life cycle -----------------------------------------------------------------------------
    async def start(self, feed: Feed) -> None:
        """Connect in the background: Discord being down must not stop the rest of the service
        (the playground, the other platforms, the workers), and it is retried until it answers."""
        self._feed = feed
        self._point_at_endpoints()
        self._task = asyncio.create_task(self._run(), name="discord")

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
