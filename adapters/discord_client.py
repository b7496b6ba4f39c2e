"""The discord.py 2 client inside our event loop, and the connection it keeps.

`_Client` hands every event to its `DiscordChannel`, with each gateway dispatch but the session's
guarded so one unreadable payload cannot end the connection, and a new session noticed as READY
is parsed. `DiscordConnection`, one of `DiscordChannel`'s parts: the intents asked for, a new
client per attempt to start, the REST / gateway endpoints, the start loop with its back-off,
taking events or only sending (one gateway consumer per bot), health, and the slash commands with
their descriptions in our languages (`MenuTranslator`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

if TYPE_CHECKING:
    from adapters.discord_adapter import DiscordChannel

log = logging.getLogger("passerelle.discord")

# The mentors' slash commands, in the order Discord lists them. /unsend needs a reply to a
# message, which a slash command cannot carry: it is typed as text, like every command can be.
COMMANDS = ("help", "profile", "language", "end", "pause", "resume", "capacity", "kit")
# Discord locales for our languages (Discord has two Englishes).
LOCALES = {"fr": ("fr",), "en": ("en-US", "en-GB")}
_API_VERSION = re.compile(r"/api/v\d+$")
Menu = Mapping[str, Mapping[str, str]]  # language → {command: description}


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


class DiscordConnection:
    """`DiscordChannel`'s part that keeps the connection: a discord.py client per attempt to
    start, the endpoints, the start loop, consuming or not, health, the slash commands. The
    state it reads and writes is set up in `DiscordChannel.__init__`."""

    token: str
    client: _Client
    api_base_url: str | None
    gateway_url: str | None
    menu: Menu
    default_language: str
    _sleep: Callable[[float], Awaitable[None]]
    _max_ratelimit_timeout: float
    _task: asyncio.Task[None] | None
    _saved_endpoints: tuple[str, yarl.URL] | None
    _connected: bool
    _consuming: asyncio.Event

    if TYPE_CHECKING:  # DiscordChannel's own, and CatchUp's
        @property
        def threads(self) -> bool: ...
        async def _on_command(self, interaction: discord.Interaction, name: str, args: str
                              ) -> None: ...
        async def _stop_catching_up(self) -> None: ...

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


def _api_base(url: str) -> str:
    """The REST root as discord.py wants it (…/api/v10); a bare host gets the version added."""
    url = url.rstrip("/")
    return url if _API_VERSION.search(url) else f"{url}/api/v10"
