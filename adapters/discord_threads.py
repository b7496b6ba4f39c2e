"""The mentors' channel mode of the Discord adapter: each match a private thread.

With a mentors' channel configured (`mentor_channel_id`), a match's first message to the mentor
opens a private thread in that channel, the mentor is added to it, and everything said in it is
for that match (see the module doc of adapters/discord_adapter.py for the whole story). Here:
which channels are such threads and who their mentor is, what is received in them, and the
delivery into them (opening, reopening an archived one, falling back to the DM when the server
refuses). `MentorThreads` is one of `DiscordChannel`'s parts; the pure helpers are functions.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Literal, TypeVar

import aiohttp
import discord

from adapters.discord_memory import _forget_oldest
from adapters.discord_translation import (
    MISSING_ACCESS,
    MISSING_PERMISSIONS,
    THREAD_ARCHIVED,
    UNKNOWN_CHANNEL,
    WRONG_CHANNEL_TYPE,
    _rest,
    deletion_to_inbound,
    message_to_inbound,
    translate_error,
)
from core.model import Inbound, Outbound
from core.ports import PermanentFailure, Unreachable

if TYPE_CHECKING:
    from adapters.discord_client import _Client

log = logging.getLogger("passerelle.discord")

# A thread falls silent after this many minutes without a message (7 days, Discord's longest);
# a message in it reopens it.
THREAD_ARCHIVE_MINUTES: Literal[10080] = 10080
MAX_THREAD_NAME = 90  # Discord allows 100
_T = TypeVar("_T")


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


class MentorThreads:
    """`DiscordChannel`'s part for the mentors' channel mode: receiving in a match's thread,
    finding a thread's mentor, and delivering into threads (the DM standing in when a thread
    cannot be used). The state it reads and writes is set up in `DiscordChannel.__init__`."""

    client: _Client
    mentor_channel_id: int | None
    _threads: dict[int, int | None]
    _fetched: dict[int, discord.Thread]
    _not_threads: dict[int, None]
    _dm_instead: dict[int, None]
    _opening: dict[tuple[str, str], discord.Thread]

    if TYPE_CHECKING:  # DiscordChannel's own
        @property
        def threads(self) -> bool: ...
        def _bot_id(self) -> int | None: ...
        async def _submit(self, inbound: Inbound) -> bool: ...
        def _remember_seen(self, channel_id: int, message_id: int | None) -> None: ...
        async def _dm_with(self, user_id: int) -> int | None: ...
        async def _recipient(self, channel_id: int) -> int: ...
        def _channel(self, message: Outbound, *, in_dm: bool = False
                     ) -> discord.PartialMessageable: ...
        def _post(self, channel: discord.PartialMessageable | discord.Thread, message: Outbound
                  ) -> Awaitable[discord.Message]: ...

    # receiving ------------------------------------------------------------------------------
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

    def _remember_thread(self, thread_id: int, mentor_id: int | None,
                         message_id: int | None = None) -> None:
        """One of our threads, its mentor (when known) and the last message fed from it."""
        if mentor_id is not None or thread_id not in self._threads:
            self._threads.pop(thread_id, None)
            self._threads[thread_id] = mentor_id
        self._remember_seen(thread_id, message_id)
        _forget_oldest(self._threads)

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

    # delivery -------------------------------------------------------------------------------
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

