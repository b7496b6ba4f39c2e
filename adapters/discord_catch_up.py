"""Reading back, at each new Discord session, what no session heard.

Discord never sends a gateway event again, nor keeps one for a bot without a session: so at every
new session (each start, and a READY after a session that could not be resumed) the history of
the channels the service listens to is read back, after the newest message the service committed
in each (the `resume_points` bots/ hands in, from the database), and fed like live messages;
live messages of a channel wait until its history is read (see the module doc of
adapters/discord_adapter.py). `CatchUp` is one of `DiscordChannel`'s parts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

import aiohttp
import discord

if TYPE_CHECKING:
    from adapters.discord_client import _Client

log = logging.getLogger("passerelle.discord")

# Reading back at a new session. The window stays well within the week the bus keeps event keys
# (core.bus.EVENT_KEYS_KEPT): whatever is read again was handled, if it was, recently enough
# to be recognised. The margin covers a message of one channel still in flight when a newer
# one of the same person, in another channel, was committed (a thread shares its DM's point).
CATCH_UP_WINDOW = timedelta(days=3)
CATCH_UP_MARGIN = timedelta(minutes=10)
# Messages per channel, oldest first (discord.py reads pages of 100). The margin makes a busy
# DM's read start well before what is new, so one page is not enough: with a page only, what
# was written last (the very messages a crash or a downtime left unread) was cut off.
CATCH_UP_LIMIT = 1000
CATCH_UP_CHANNELS = 500  # channels per catch-up, the most recently active first
CATCH_UP_CONCURRENCY = 4  # history reads at once (discord.py waits out the rate limits)

# The channels to read back at a new session, from what the service committed: (DMs, threads),
# each channel id → the newest message id committed there (None: nothing in the window).
ResumePoints = Callable[[], Awaitable[tuple[Mapping[str, str | None], Mapping[str, str | None]]]]


class CatchUp:
    """`DiscordChannel`'s part that reads back at a new session: the plan (which channels, from
    where), the turns live messages wait for, the reading itself. The state it reads and writes
    is set up in `DiscordChannel.__init__`."""

    client: _Client
    resume_points: ResumePoints | None
    _gate: asyncio.Event
    _turns: dict[int, asyncio.Event]
    _catching: asyncio.Task[None] | None
    _seen: dict[int, int]
    _threads: dict[int, int | None]
    _dm_instead: dict[int, None]

    if TYPE_CHECKING:  # DiscordChannel's own
        @property
        def threads(self) -> bool: ...
        async def _receive(self, message: discord.Message, *, edited: bool = False) -> bool: ...

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
            read = 0
            async for message in channel.history(after=discord.Object(after),
                                                 oldest_first=True, limit=CATCH_UP_LIMIT):
                read += 1
                fed += await self._read_again(message)
            if read >= CATCH_UP_LIMIT:  # what came after the limit is not read back
                log.warning("event=discord_catch_up_truncated limit=%d", CATCH_UP_LIMIT)
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


def _as_id(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None
