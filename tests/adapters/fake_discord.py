"""A fake Discord server (REST API v10 + gateway websocket) on 127.0.0.1 for adapter tests.

discord.py has no "base url" option: a `Client` sends every REST call to `Route.BASE` and opens
its first gateway connection at `DiscordWebSocket.DEFAULT_GATEWAY`. Both are class attributes
read at each request / connection, so `fake.patched()` sets them (and `Asset.BASE`, so an avatar
download cannot reach the CDN) and restores them on exit::

    async with FakeDiscord(token=TOKEN) as fake:
        with fake.patched():
            client = discord.Client(intents=intents, guild_ready_timeout=0)
            task = asyncio.create_task(client.start(TOKEN))   # never client.run()
            await fake.wait_ready()
            message = await fake.user_dm(USER, "Bonjour")     # MESSAGE_CREATE on the gateway
            ...
            await client.close()
            await task

Because the attributes are process-wide, only one fake can be patched in at a time
(`patched()` refuses to nest) and a client must not outlive the `with` block. Leave the client's
`proxy=` unset: discord.py hands it to every REST call and to the websocket, so loopback
traffic would go to the proxy. The session discord.py builds has `trust_env=False`, so
HTTP(S)_PROXY in the environment does not matter.

What the real client needs, and the fake does (checked against discord.py 2.7.1):

- JSON is parsed only when Content-Type is exactly `application/json`: responses are written
  with that exact header (no charset). A 429 without a `Via` header counts as a Cloudflare ban
  and raises at once, so rate-limit answers carry `Via: 1.1 google` (`fail_next(via=False)`
  reproduces the ban). 500/502/504 are retried after sleeping 1 s, then 3 s...: keep injected
  5xx to tests that can afford it.
- The gateway URL carries `?v=10&encoding=json&compress=zlib-stream` (zstd-stream when the
  `zstandard` package is installed; that branch is untested here, zstandard is not in the
  venv). The fake honours it: server frames are one zlib stream per connection, each message
  ending with a Z_SYNC_FLUSH, sent as binary frames. discord.py also decodes plain text frames,
  so `FakeDiscord(transport_compression=False)` sends text instead
  (there is no client option to stop asking for compression short of patching `from_client`).
  IDENTIFY's own `compress: true` (per-payload compression) is recorded and ignored.
- READY's `resume_gateway_url` is where discord.py RESUMEs, not DEFAULT_GATEWAY: it points at
  this fake's `/gateway-resume`, so a test can see the client used it
  (`fake.connections[i].path`). After an INVALID_SESSION the client goes back to
  DEFAULT_GATEWAY and, before IDENTIFYing again, sleeps 5 s (`Client.before_identify_hook`).
- `guild_ready_timeout=0` on the Client, or `on_ready` waits 2 s for guilds.
- Interaction responses go through discord.py's webhook adapter (also built on `Route.BASE`)
  with `?with_response=1`, and expect an InteractionCallbackResponse body; interactions need
  `attachment_size_limit`, `version`, `token` and `application_id`.

Like Discord, the fake
- delivers the bot's own messages back to it (MESSAGE_CREATE/UPDATE/DELETE for what it sends,
  edits or deletes, before the REST answer): an adapter must ignore its own author id
  (`FakeDiscord(echo_bot_messages=False)` turns this off);
- sends only the events the IDENTIFY intents ask for (DIRECT_MESSAGES for DMs, GUILD_MESSAGES
  for guild channels and threads, GUILDS for guild/thread events), blanks the content of guild
  messages without MESSAGE_CONTENT unless the bot is mentioned, and closes with 4014 when a
  privileged intent is not enabled for the application (`privileged_intents=`);
- sends the messages of a private thread only to a bot that is a member of it (it is, once it
  created the thread); lists a thread's other members (`GET /channels/{id}/thread-members`)
  only to a session with GUILD_MEMBERS (as discord.py documents for `Thread.fetch_members`),
  else only the bot's own membership; posts the system message "X added Y to the thread"
  (type 1, RECIPIENT_ADD, by the bot) when the bot adds someone to a private thread; a user
  posting in a thread joins it (and reopens it when archived, unless locked); a thread can be
  deleted (`DELETE /channels/{id}`: THREAD_DELETE);
- keeps no event for a bot that is not connected: a dispatch with no session is not queued
  (it is still in the channel history, `GET /channels/{id}/messages`, which reads `after`,
  `before`, `around` and `limit`); one made while a session is disconnected is replayed on
  RESUME, with its sequence number, before RESUMED; a client that closes with 1000 or 1001
  (discord.py's `close()`: a stopped service) ends its session;
- refuses a second response to an interaction (40060) and one after `interaction_deadline`
  seconds (10062, Discord allows 3 s).

Known simplifications: no per-route rate limiting unless injected (success answers carry
generous `X-RateLimit-*` headers); permissions are not checked; any user id may be DMed or added
to a thread; mentions are not parsed from bot messages; one gateway session at a time (a new
IDENTIFY invalidates the previous session); no sharding, voice, presence or member chunking.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import math
import re
import secrets
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

from tests.adapters.faults import DISCORD_ROUTE, DISCORD_VERBS, Faults, discord_error

API_VERSION = 10
DISCORD_EPOCH_MS = 1_420_070_400_000
MAX_CONTENT = 2000
BOT_USERNAME = "passerelle"
DEFAULT_TOKEN = "FAKE.passerelle.discord-token"
# A modern application's bot user has the application's id.
DEFAULT_BOT_ID = 1_300_000_000_000_000_001

# Gateway intents (bits of IDENTIFY's `intents`).
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
DIRECT_MESSAGES = 1 << 12
MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT
# Application flag: message content intent enabled in the portal (unverified app).
GATEWAY_MESSAGE_CONTENT_LIMITED = 1 << 19

# Channel, message, interaction and callback types.
GUILD_TEXT, DM, PUBLIC_THREAD, PRIVATE_THREAD = 0, 1, 11, 12
THREAD_TYPES = (PUBLIC_THREAD, PRIVATE_THREAD)
DEFAULT_MESSAGE, RECIPIENT_ADD, REPLY_MESSAGE, CHAT_INPUT_COMMAND_MESSAGE = 0, 1, 19, 20
APPLICATION_COMMAND, MESSAGE_COMPONENT = 2, 3
PONG, CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 1, 4, 5, 6, 7
AUTOCOMPLETE_RESULT, MODAL = 8, 9
EPHEMERAL = 1 << 6
LOADING = 1 << 7

RESUMABLE_CLOSE = 4000  # "Unknown error": discord.py reconnects and RESUMEs
_GATEWAY_PATH = "/gateway"
_RESUME_PATH = "/gateway-resume"
_APP_COMMAND_NAME = re.compile(r"[-_'\w]{1,32}")
_EVERYONE_PERMISSIONS = "2248473465835073"
_APP_PERMISSIONS = "562949953421311"
_TRACE = ["fake-discord"]
_FAKE_PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)
_DEFAULT_ERRORS: dict[int, tuple[int, str]] = {
    400: (50035, "Invalid Form Body"),
    401: (0, "401: Unauthorized"),
    403: (50007, "Cannot send messages to this user"),
    404: (10003, "Unknown Channel"),
    500: (0, "500: Internal Server Error"),
    502: (0, "502: Bad Gateway"),
    503: (0, "503: Service Unavailable"),
}


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class _Snowflakes:
    """Discord-shaped ids: milliseconds since 2015 in the top bits, strictly increasing."""

    def __init__(self) -> None:
        self._last = 0

    def __call__(self) -> int:
        candidate = ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (1 << 17)
        self._last = max(candidate, self._last + 1)
        return self._last


# ---------------------------------------------------------------------------------- records


@dataclass
class UploadedFile:
    """A file part of a multipart message request (`files[n]`)."""

    field: str
    filename: str | None
    content_type: str
    data: bytes


@dataclass
class Call:
    """One REST request. `path` is after `/api/v{version}` (e.g. `/channels/1/messages`)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any = None  # the JSON body, or `payload_json` of a multipart body
    files: list[UploadedFile] = field(default_factory=list)
    version: int = API_VERSION
    status: int | None = None  # None while running, or when the client went away first
    response: Any = None
    response_headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class InteractionCallback:
    """A response to an interaction (`POST /interactions/{id}/{token}/callback`)."""

    interaction_id: int
    token: str
    type: int  # 4 message, 5 deferred message, 6 deferred update, 7 update message, 9 modal
    data: dict[str, Any]
    call: Call
    message_id: int | None = None  # the message it created or updated

    @property
    def flags(self) -> int:
        return int(self.data.get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def content(self) -> str | None:
        return self.data.get("content")


@dataclass
class Dispatch:
    """A gateway event the fake produced. `status`: "sent", "queued" (the session is not
    connected: replayed on RESUME), "no session" (nobody to send it to, like Discord) or
    "filtered" (the session's intents exclude it)."""

    event: str
    data: dict[str, Any]
    seq: int | None = None
    status: str = "queued"


@dataclass
class GatewayConnection:
    """One websocket connection. `kind`: "" until IDENTIFY/RESUME, then "identify", "resume"
    or "invalid" (a RESUME the fake refused with INVALID_SESSION)."""

    number: int
    path: str
    query: dict[str, str]
    compress: str | None
    kind: str = ""
    session_id: str | None = None
    received: list[dict] = field(default_factory=list)  # every payload from the client
    sent: list[dict] = field(default_factory=list)  # every payload to the client, uncompressed
    heartbeats: int = 0
    closed: bool = False
    close_code: int | None = None  # the code of the fake's close frame, else the client's


@dataclass
class _Failure:
    pattern: re.Pattern[str]
    method: str | None
    status: int
    code: int
    message: str
    retry_after: float
    global_: bool
    via: bool
    remaining: int | None


@dataclass
class _Delay:
    pattern: re.Pattern[str]
    method: str | None
    seconds: float


@dataclass
class _Interaction:
    id: int
    token: str
    type: int
    payload: dict[str, Any]
    channel_id: int
    created: float
    message_id: int | None = None  # the component's message
    responded: bool = False
    original_message_id: int | None = None


@dataclass(eq=False)
class _Session:
    id: str
    token: str
    intents: int
    seq: int = 0
    valid: bool = True
    log: list[tuple[dict, Dispatch]] = field(default_factory=list)
    live: _Live | None = None


@dataclass(eq=False)  # kept in a set: identity, not value
class _Live:
    conn: GatewayConnection
    ws: web.WebSocketResponse
    compressor: Any = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    session: _Session | None = None
    cursor: int = 0  # highest sequence number written to this connection
    streaming: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)


class DiscordError(Exception):
    """An error answer: `{"message", "code"[, "errors"]}` with an HTTP status."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        errors: dict | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.errors = errors
        self.headers = dict(headers or {})
        self.body = body

    def payload(self) -> Any:
        if self.body is not None:
            return self.body
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def _form_error(path: str, code: str, message: str) -> DiscordError:
    """400 / 50035 with Discord's nested `errors` (discord.py prints them in the exception)."""
    errors: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for part in reversed(path.split(".")):
        errors = {part: errors}
    return DiscordError(400, 50035, "Invalid Form Body", errors=errors)


_ActivePatch: list[FakeDiscord] = []


# ---------------------------------------------------------------------------------- the fake


Handler = Callable[..., Awaitable[tuple[int, Any]]]


class FakeDiscord:
    """A Discord API + gateway for one bot. Use `async with FakeDiscord() as fake:`."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_id: int = DEFAULT_BOT_ID,
        bot_username: str = BOT_USERNAME,
        heartbeat_interval: int = 41_250,
        privileged_intents: int = MESSAGE_CONTENT,
        transport_compression: bool = True,
        echo_bot_messages: bool = True,
        interaction_deadline: float = 3.0,
    ) -> None:
        self.token = token
        self.bot_id = bot_id
        self.application_id = bot_id
        self.heartbeat_interval = heartbeat_interval  # milliseconds, sent in HELLO
        self.privileged_intents = privileged_intents  # enabled "in the developer portal"
        self.transport_compression = transport_compression
        self.echo_bot_messages = echo_bot_messages
        self.interaction_deadline = interaction_deadline
        self.ack_heartbeats = True
        self.bot_user: dict[str, Any] = {
            "id": str(bot_id),
            "username": bot_username,
            "global_name": None,
            "discriminator": "0",
            "avatar": None,
            "bot": True,
            "public_flags": 0,
            "flags": 0,
        }
        # Inspection
        self.calls: list[Call] = []
        self.identifies: list[dict] = []  # IDENTIFY `d` payloads (token, intents, properties...)
        self.connections: list[GatewayConnection] = []
        self.dispatches: list[Dispatch] = []
        self.interaction_responses: list[InteractionCallback] = []
        self.app_commands: dict[int | None, list[dict]] = {}  # None: global, else a guild id
        self.presence_updates: list[dict] = []
        self.resumes = 0
        self.users: dict[int, dict] = {}
        self.channels: dict[int, dict] = {}
        self.guilds: dict[int, dict] = {}
        self.thread_members: dict[int, set[int]] = {}
        self.reactions: list[tuple[str, int, int, str]] = []  # (method, channel, message, emoji)
        self.dms_closed: set[int] = set()
        self.deleted: set[int] = set()
        self._messages: dict[int, dict] = {}  # id -> current state
        self._history: dict[int, list[int]] = {}  # channel id -> message ids, oldest first
        self._sent: list[dict] = []  # bot messages as created
        self._dm_by_user: dict[int, int] = {}
        self._interactions: dict[int, _Interaction] = {}
        self._tokens: dict[str, _Interaction] = {}
        self._command_ids: dict[tuple[int | None, str, int], int] = {}
        self._sessions: dict[str, _Session] = {}
        self._session: _Session | None = None
        self._live: set[_Live] = set()
        self._failures: list[_Failure] = []
        self._delays: list[_Delay] = []
        self.faults = Faults()  # random 429 / 5xx / timeouts on delivering calls (faults.py)
        self._held = False
        self._snowflake = _Snowflakes()
        self._connection_numbers = itertools.count(1)
        self._changed = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._routes: list[tuple[str, re.Pattern[str], Handler, bool]] = []
        self._add_routes()

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`; the REST API is under `{url}/api/v10`."""
        if self._url is None:
            raise RuntimeError("FakeDiscord is not started")
        return self._url

    @property
    def api_base(self) -> str:
        """The value for `discord.http.Route.BASE`."""
        return f"{self.url}/api/v{API_VERSION}"

    @property
    def gateway_url(self) -> str:
        """The value for `DiscordWebSocket.DEFAULT_GATEWAY` (as a `yarl.URL`)."""
        return self.url.replace("http://", "ws://", 1) + _GATEWAY_PATH

    @property
    def resume_gateway_url(self) -> str:
        """Sent in READY: discord.py RESUMEs there."""
        return self.url.replace("http://", "ws://", 1) + _RESUME_PATH

    async def start(self) -> None:
        if self._runner is not None:
            return
        self._closing = False
        app = web.Application()
        app.router.add_get(_GATEWAY_PATH, self._handle_gateway)
        app.router.add_get(_RESUME_PATH, self._handle_gateway)
        app.router.add_route("*", r"/api/v{version:\d+}/{tail:.*}", self._handle_rest)
        app.router.add_get("/cdn/{tail:.*}", self._handle_cdn)
        # handler_cancellation: a delayed answer whose client gave up stops at once.
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self._url = f"http://127.0.0.1:{runner.addresses[0][1]}"

    async def stop(self) -> None:
        self._closing = True
        self._notify()
        for live in list(self._live):
            with contextlib.suppress(Exception):
                await self._close(live, 1001, "fake stopping")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @contextlib.contextmanager
    def patched(self) -> Iterator[FakeDiscord]:
        """Point discord.py at this fake: `Route.BASE`, `DiscordWebSocket.DEFAULT_GATEWAY` and
        `Asset.BASE` (the CDN), restored on exit. Process-wide, hence not nestable."""
        import yarl
        from discord.asset import Asset
        from discord.gateway import DiscordWebSocket
        from discord.http import Route

        if _ActivePatch:
            raise RuntimeError("discord.py is already pointed at another FakeDiscord")
        saved = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY, Asset.BASE)
        Route.BASE = self.api_base
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        Asset.BASE = f"{self.url}/cdn"
        _ActivePatch.append(self)
        try:
            yield self
        finally:
            _ActivePatch.remove(self)
            Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY, Asset.BASE = saved

    # ------------------------------------------------------------------ inspection

    def calls_of(self, method: str | None = None, path_regex: str = "") -> list[Call]:
        """Calls of an HTTP method (None: any) whose path matches `path_regex` (re.search)."""
        pattern = re.compile(path_regex)
        return [
            c
            for c in self.calls
            if (method is None or c.method == method.upper()) and pattern.search(c.path)
        ]

    def messages(self, channel_id: int, *, include_ephemeral: bool = False) -> list[dict]:
        """Current messages of a channel (everyone's), oldest first; deleted ones left out."""
        found = []
        for message_id in self._history.get(int(channel_id), []):
            message = self._messages.get(message_id)
            if message is None:
                continue
            if not include_ephemeral and int(message.get("flags", 0)) & EPHEMERAL:
                continue
            found.append(copy.deepcopy(message))
        return found

    def sent(self, channel_id: int | None = None) -> list[dict]:
        """Messages the bot created (REST, interaction responses, followups), as created."""
        return [
            copy.deepcopy(m)
            for m in self._sent
            if channel_id is None or int(m["channel_id"]) == int(channel_id)
        ]

    def uploads(self, channel_id: int | None = None) -> list[tuple[str | None, bytes, str]]:
        """Files the bot attached to messages it created over REST, as received: (file name,
        bytes, the message's content)."""
        found = []
        for call in self.calls_of("POST", r"^/channels/\d+/messages$"):
            if not call.ok or not call.files:
                continue
            if channel_id is not None and int(call.response["channel_id"]) != int(channel_id):
                continue
            content = (call.json or {}).get("content") or ""
            found += [(f.filename, f.data, content) for f in call.files]
        return found

    def message(self, message_id: int) -> dict | None:
        """The current state of a message, None when deleted or unknown."""
        message = self._messages.get(int(message_id))
        return copy.deepcopy(message) if message is not None else None

    def dm_channel_id(self, user_id: int) -> int:
        """The id of the bot's DM channel with this user (created if needed, stable)."""
        return int(self._dm_channel(int(user_id))["id"])

    @property
    def live_connections(self) -> list[GatewayConnection]:
        return [live.conn for live in self._live]

    @property
    def session_id(self) -> str | None:
        return self._session.id if self._session is not None else None

    async def wait_ready(self, count: int = 1, *, timeout: float = 3.0) -> None:
        """Wait until `count` READY have been sent (i.e. IDENTIFY succeeded `count` times)."""
        await self._wait(
            lambda: (
                sum(1 for c in self.connections if c.kind == "identify" and c.sent) >= count
                and any(live.streaming for live in self._live)
            ),
            timeout,
            f"{count} READY",
        )

    async def wait_resumed(self, count: int = 1, *, timeout: float = 3.0) -> None:
        """Wait until `count` RESUMEs have been accepted (RESUMED sent)."""
        await self._wait(lambda: self.resumes >= count, timeout, f"{count} RESUMED")

    async def wait_calls(
        self, method: str | None, path_regex: str = "", count: int = 1, *, timeout: float = 2.0
    ) -> list[Call]:
        """Wait until `count` matching calls have been answered."""

        def done() -> list[Call]:
            return [c for c in self.calls_of(method, path_regex) if c.status is not None]

        await self._wait(
            lambda: len(done()) >= count, timeout, f"{count} {method} {path_regex} call(s)"
        )
        return done()

    async def wait_sent(
        self, count: int = 1, *, channel_id: int | None = None, timeout: float = 2.0
    ) -> list[dict]:
        """Wait until the bot has created `count` messages (in `channel_id`)."""
        await self._wait(
            lambda: len(self.sent(channel_id)) >= count, timeout, f"{count} bot message(s)"
        )
        return self.sent(channel_id)

    async def wait_message(
        self,
        channel_id: int,
        predicate: Callable[[dict], bool] | str | None = None,
        *,
        timeout: float = 2.0,
    ) -> dict:
        """Wait for a bot message in a channel (matching a predicate, or containing a text)."""

        def check(message: dict) -> bool:
            if predicate is None:
                return True
            if isinstance(predicate, str):
                return predicate in (message.get("content") or "")
            return predicate(message)

        def found() -> dict | None:
            return next((m for m in self.sent(channel_id) if check(m)), None)

        await self._wait(lambda: found() is not None, timeout, f"a message in {channel_id}")
        result = found()
        assert result is not None
        return result

    async def wait_interaction_response(
        self, interaction_id: int | None = None, *, count: int = 1, timeout: float = 2.0
    ) -> InteractionCallback:
        """Wait for the `count`-th response (to `interaction_id`); returns the last one."""

        def found() -> list[InteractionCallback]:
            return [
                r
                for r in self.interaction_responses
                if interaction_id is None or r.interaction_id == int(interaction_id)
            ]

        await self._wait(lambda: len(found()) >= count, timeout, f"{count} interaction response(s)")
        return found()[count - 1]

    async def wait_dispatch(
        self, event: str, count: int = 1, *, timeout: float = 2.0
    ) -> list[Dispatch]:
        """Wait until `count` dispatches of `event` have been written to a connection."""

        def done() -> list[Dispatch]:
            return [d for d in self.dispatches if d.event == event and d.status == "sent"]

        await self._wait(lambda: len(done()) >= count, timeout, f"{count} {event} sent")
        return done()

    # ------------------------------------------------------------------ failures

    def fail_next(
        self,
        route_regex: str,
        status: int = 429,
        *,
        retry_after: float = 0.2,
        global_: bool = False,
        times: int | None = 1,
        method: str | None = None,
        code: int | None = None,
        message: str | None = None,
        via: bool = True,
    ) -> None:
        """The next `times` REST calls whose path matches `route_regex` (re.search on e.g.
        `/channels/1/messages`; and `method` if given) answer this error instead.

        429: body `{"message", "retry_after", "global"}` and the `Retry-After`,
        `X-RateLimit-*` and `Via` headers (discord.py sleeps `retry_after` and retries);
        `via=False` answers like Cloudflare (no Via, a text body) and discord.py raises.
        Other statuses: `{"message", "code"}`, 403 defaulting to 50007 "Cannot send messages
        to this user". times=None fails every such call until `clear_failures()`.
        """
        default_code, default_message = _DEFAULT_ERRORS.get(status, (0, f"{status}: Error"))
        if status == 429:
            default_code, default_message = 0, "You are being rate limited."
        self._failures.append(
            _Failure(
                pattern=re.compile(route_regex),
                method=method.upper() if method else None,
                status=status,
                code=default_code if code is None else code,
                message=message or default_message,
                retry_after=retry_after,
                global_=global_,
                via=via,
                remaining=times,
            )
        )

    def delay_next(
        self, route_regex: str, seconds: float, *, times: int = 1, method: str | None = None
    ) -> None:
        """The next `times` matching REST calls wait `seconds` before being answered."""
        pattern = re.compile(route_regex)
        upper = method.upper() if method else None
        self._delays.extend(_Delay(pattern, upper, seconds) for _ in range(times))

    def clear_failures(self) -> None:
        self._failures.clear()
        self._delays.clear()

    def close_dms(self, user_id: int) -> None:
        """The user closed their DMs (or blocked the bot): sends to their DM answer 403/50007."""
        self.dms_closed.add(int(user_id))

    def open_dms(self, user_id: int) -> None:
        self.dms_closed.discard(int(user_id))

    # ------------------------------------------------------------------ gateway control

    async def drop_connection(self, code: int = RESUMABLE_CLOSE, *, timeout: float = 2.0) -> None:
        """Close the live gateway connection(s) from the server side with `code`.

        4000 (default) and most codes make discord.py reconnect to `resume_gateway_url` and
        RESUME; 4004 and 4010-4014 make it give up (the client task raises)."""
        lives = list(self._live)
        if not lives:
            raise RuntimeError("FakeDiscord: no live gateway connection to drop")
        for live in lives:
            with contextlib.suppress(Exception):
                await self._close(live, code, "dropped by the test")
        await self._wait(
            lambda: all(live.done.is_set() for live in lives), timeout, "the connection to close"
        )

    def hold_gateway(self) -> None:
        """New gateway connections are accepted but get no HELLO until `release_gateway()`
        (the client waits, as on a slow network). Events meanwhile are queued for RESUME."""
        self._held = True

    def release_gateway(self) -> None:
        self._held = False
        self._notify()

    @contextlib.asynccontextmanager
    async def offline(self, code: int = RESUMABLE_CLOSE) -> AsyncIterator[FakeDiscord]:
        """Drop the connection and keep the bot from reconnecting inside the block; on exit
        it reconnects and RESUMEs (what happens inside is replayed)."""
        self.hold_gateway()
        try:
            await self.drop_connection(code)
            yield self
        finally:
            self.release_gateway()

    async def send_reconnect(self) -> None:
        """Op 7 RECONNECT: the client closes and RESUMEs."""
        for live in list(self._live):
            async with live.lock:
                await self._write(live, {"op": 7, "d": None})

    async def invalidate_session(self, *, resumable: bool = False) -> None:
        """Op 9 INVALID_SESSION. Not resumable: the session is gone (queued events are lost)
        and discord.py IDENTIFYs again after a 5 s sleep."""
        if not resumable and self._session is not None:
            self._session.valid = False
        for live in list(self._live):
            async with live.lock:
                await self._write(live, {"op": 9, "d": resumable})

    # ------------------------------------------------------------------ guilds and users

    def add_user(
        self,
        user_id: int,
        *,
        username: str | None = None,
        global_name: str | None = None,
        bot: bool = False,
    ) -> dict:
        """Declare a user (users are also created on first use, named `user{id}`)."""
        user: dict[str, Any] = {
            "id": str(user_id),
            "username": username or f"user{user_id}",
            "global_name": global_name if global_name is not None else f"User {user_id}",
            "discriminator": "0",
            "avatar": None,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
        }
        if bot:
            user["bot"] = True
        self.users[int(user_id)] = user
        return copy.deepcopy(user)

    async def add_guild(
        self,
        guild_id: int,
        *,
        name: str = "Passerelle",
        text_channels: Mapping[int, str] | None = None,
    ) -> dict:
        """A guild the bot is in, with text channels. Listed in READY (unavailable, like
        Discord) then sent as GUILD_CREATE; added while connected, it is a GUILD_CREATE now."""
        guild_id = int(guild_id)
        guild: dict[str, Any] = {
            "id": str(guild_id),
            "name": name,
            "icon": None,
            "owner_id": str(guild_id + 1),
            "features": [],
            "roles": [
                {
                    "id": str(guild_id),
                    "name": "@everyone",
                    "permissions": _EVERYONE_PERMISSIONS,
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                }
            ],
            "emojis": [],
            "stickers": [],
            "preferred_locale": "fr",
            "verification_level": 1,
            "default_message_notifications": 1,
            "explicit_content_filter": 2,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "system_channel_flags": 0,
        }
        self.guilds[guild_id] = guild
        for position, (channel_id, channel_name) in enumerate((text_channels or {}).items()):
            self.channels[int(channel_id)] = {
                "id": str(channel_id),
                "type": GUILD_TEXT,
                "guild_id": str(guild_id),
                "name": channel_name,
                "position": position,
                "parent_id": None,
                "topic": None,
                "nsfw": False,
                "rate_limit_per_user": 0,
                "last_message_id": None,
                "permission_overwrites": [],
                "flags": 0,
            }
        if self._session is not None:
            await self._dispatch("GUILD_CREATE", self._guild_create(guild_id))
        return copy.deepcopy(guild)

    # ------------------------------------------------------------------ what users do

    async def user_dm(
        self,
        user_id: int,
        text: str,
        *,
        reply_to: int | None = None,
        attachments: list[dict] | None = None,
    ) -> dict:
        """The user writes to the bot in their DM: MESSAGE_CREATE (type 19 when replying,
        with message_reference and referenced_message). Returns the message dispatched."""
        channel_id = self.dm_channel_id(user_id)
        message = self._user_message(
            int(user_id), channel_id, text, reply_to=reply_to, attachments=attachments
        )
        await self._dispatch("MESSAGE_CREATE", message)
        return copy.deepcopy(message)

    async def user_posts(
        self,
        channel_id: int,
        user_id: int,
        text: str,
        *,
        reply_to: int | None = None,
        mention_bot: bool = False,
    ) -> dict:
        """The user posts in a guild channel or thread (MESSAGE_CREATE with guild_id and
        member). Without MESSAGE_CONTENT the bot gets an empty content unless mentioned."""
        channel = self._channel(int(channel_id))
        if "guild_id" not in channel:
            raise ValueError(f"channel {channel_id} is not a guild channel: use user_dm")
        if channel["type"] in THREAD_TYPES:  # posting joins a thread, and reopens an archived one
            meta = channel["thread_metadata"]
            if meta.get("archived"):
                if meta.get("locked"):
                    raise ValueError(f"thread {channel_id} is archived and locked")
                meta["archived"] = False
                meta["archive_timestamp"] = _now_iso()
                await self._dispatch("THREAD_UPDATE", copy.deepcopy(channel))
            members = self.thread_members.setdefault(int(channel_id), set())
            members.add(int(user_id))
            channel["member_count"] = len(members)
        if mention_bot:
            text = f"<@{self.bot_id}> {text}"
        message = self._user_message(int(user_id), int(channel_id), text, reply_to=reply_to)
        if mention_bot:
            message["mentions"].append(dict(self.bot_user))
        await self._dispatch("MESSAGE_CREATE", message)
        return copy.deepcopy(message)

    async def user_opens_thread(
        self,
        channel_id: int,
        user_id: int,
        name: str,
        *,
        private: bool = True,
        members: tuple[int, ...] = (),
    ) -> dict:
        """The user opens a thread in a guild text channel (they own it), with `members` added
        (the bot among them to let it hear a private one). THREAD_CREATE; returns the thread."""
        parent = self._channel(int(channel_id))
        if parent["type"] != GUILD_TEXT:
            raise ValueError(f"channel {channel_id} is not a guild text channel")
        kind = PRIVATE_THREAD if private else PUBLIC_THREAD
        thread = self._thread(parent, name, kind, {}, self._snowflake())
        thread["owner_id"] = str(user_id)
        joined = {int(user_id), *map(int, members)}
        self.thread_members[int(thread["id"])] = joined
        thread["member_count"] = len(joined)
        if self.bot_id not in joined:
            thread.pop("member")
        await self._dispatch("THREAD_CREATE", {**copy.deepcopy(thread), "newly_created": True})
        return copy.deepcopy(thread)

    async def other_bot_dm(
        self, bot_user_id: int, text: str, *, channel_id: int | None = None
    ) -> dict:
        """A MESSAGE_CREATE authored by another bot (author.bot true), in a DM channel of its
        own unless `channel_id` is given: for testing that the adapter ignores bots. (Discord
        does not let bots DM bots; the point is the author flag.)"""
        user_id = int(bot_user_id)
        if user_id not in self.users:
            self.add_user(user_id, username=f"otherbot{user_id}", global_name=None, bot=True)
        self.users[user_id]["bot"] = True
        target = int(channel_id) if channel_id is not None else self.dm_channel_id(user_id)
        message = self._user_message(user_id, target, text, reply_to=None)
        await self._dispatch("MESSAGE_CREATE", message)
        return copy.deepcopy(message)

    async def user_edits(self, user_id: int, message_id: int, new_text: str) -> dict:
        """The user edits one of their messages: MESSAGE_UPDATE with the full message."""
        message = self._messages.get(int(message_id))
        if message is None or int(message["author"]["id"]) != int(user_id):
            raise ValueError(f"user {user_id} has no message {message_id} to edit")
        message["content"] = new_text
        message["edited_timestamp"] = _now_iso()
        await self._dispatch("MESSAGE_UPDATE", copy.deepcopy(message))
        return copy.deepcopy(message)

    async def user_deletes(self, user_id: int, message_id: int) -> dict:
        """The user deletes one of their messages: MESSAGE_DELETE {id, channel_id[, guild_id]}."""
        message = self._messages.get(int(message_id))
        if message is None or int(message["author"]["id"]) != int(user_id):
            raise ValueError(f"user {user_id} has no message {message_id} to delete")
        event = self._delete_message(message)
        await self._dispatch("MESSAGE_DELETE", event)
        return event

    async def user_presses(
        self,
        user_id: int,
        message_id: int,
        custom_id: str,
        *,
        component_type: int | None = None,
        values: list[str] | None = None,
    ) -> dict:
        """The user presses a component of a bot message: INTERACTION_CREATE type 3.

        `custom_id` is not checked against the message (stale or forged buttons happen);
        `component_type` defaults to the type found in the message, else 2 (button)."""
        message = self._messages.get(int(message_id))
        if message is None:
            raise ValueError(f"no message {message_id}")
        if int(message["author"]["id"]) != self.bot_id:
            raise ValueError(f"message {message_id} is not the bot's")
        if component_type is None:
            component_type = self._component_type(message.get("components") or [], custom_id)
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = list(values)
        interaction = self._new_interaction(
            MESSAGE_COMPONENT, int(user_id), int(message["channel_id"]), data, message=message
        )
        await self._dispatch("INTERACTION_CREATE", interaction)
        return copy.deepcopy(interaction)

    async def user_slash(
        self,
        user_id: int,
        name: str,
        options: Mapping[str, Any] | list[dict] | None = None,
        *,
        channel_id: int | None = None,
    ) -> dict:
        """The user runs a slash command: INTERACTION_CREATE type 2. In their DM with the bot
        unless `channel_id` (a guild channel) is given. `options` as {name: value} (the option
        type follows the Python type) or as Discord option dicts."""
        target = int(channel_id) if channel_id is not None else self.dm_channel_id(user_id)
        channel = self._channel(target)
        guild_id = _as_int(channel.get("guild_id"))
        command = self._find_command(name, guild_id)
        data: dict[str, Any] = {
            "id": command["id"] if command else str(self._snowflake()),
            "name": name,
            "type": 1,
        }
        if command and command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        if options:
            data["options"] = (
                list(options) if isinstance(options, list) else _options(dict(options))
            )
        interaction = self._new_interaction(APPLICATION_COMMAND, int(user_id), target, data)
        await self._dispatch("INTERACTION_CREATE", interaction)
        return copy.deepcopy(interaction)

    async def push_dispatch(self, event: str, data: dict) -> Dispatch:
        """Send any dispatch (e.g. a raw event the helpers do not build)."""
        return await self._dispatch(event, data)

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
                raise TimeoutError(f"FakeDiscord: waited {timeout}s for {what}")
            event = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, cut short when the fake stops."""
        with contextlib.suppress(TimeoutError):
            await self._wait(lambda: self._closing, seconds, "")

    def _user(self, user_id: int) -> dict:
        if user_id == self.bot_id:
            return dict(self.bot_user)
        if user_id not in self.users:
            self.add_user(user_id)
        return copy.deepcopy(self.users[user_id])

    def _dm_channel(self, user_id: int) -> dict:
        channel_id = self._dm_by_user.get(user_id)
        if channel_id is None:
            channel_id = self._snowflake()
            self._dm_by_user[user_id] = channel_id
            self.channels[channel_id] = {
                "id": str(channel_id),
                "type": DM,
                "last_message_id": None,
                "flags": 0,
                "recipients": [self._user(user_id)],
            }
        return self.channels[channel_id]

    def _channel(self, channel_id: int) -> dict:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise DiscordError(404, 10003, "Unknown Channel")
        return channel

    def _member(self, user_id: int, guild_id: int, *, permissions: bool = False) -> dict:
        member: dict[str, Any] = {
            "user": self._user(user_id),
            "roles": [],
            "joined_at": "2024-09-01T08:00:00.000000+00:00",
            "nick": None,
            "avatar": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "premium_since": None,
            "communication_disabled_until": None,
        }
        if permissions:
            member["permissions"] = _EVERYONE_PERMISSIONS
        return member

    def _guild_create(self, guild_id: int) -> dict:
        guild = copy.deepcopy(self.guilds[guild_id])
        channels = [
            copy.deepcopy(c)
            for c in self.channels.values()
            if c.get("guild_id") == str(guild_id) and c["type"] not in THREAD_TYPES
        ]
        threads = [
            copy.deepcopy(c)
            for c in self.channels.values()
            if c.get("guild_id") == str(guild_id) and c["type"] in THREAD_TYPES
        ]
        for c in channels + threads:
            c.pop("guild_id", None)  # GUILD_CREATE omits it inside the guild
        guild.update(
            {
                "unavailable": False,
                "large": False,
                "member_count": 2,
                "joined_at": _now_iso(),
                "channels": channels,
                "threads": threads,
                "members": [self._member(self.bot_id, guild_id)],
                "voice_states": [],
                "presences": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
            }
        )
        return guild

    def _store(self, message: dict) -> dict:
        message_id = int(message["id"])
        channel_id = int(message["channel_id"])
        self._messages[message_id] = message
        self._history.setdefault(channel_id, []).append(message_id)
        channel = self.channels.get(channel_id)
        if channel is not None and not int(message.get("flags", 0)) & EPHEMERAL:
            channel["last_message_id"] = str(message_id)
            if channel["type"] in THREAD_TYPES:
                channel["message_count"] = channel.get("message_count", 0) + 1
                channel["total_message_sent"] = channel.get("total_message_sent", 0) + 1
        return message

    def _base_message(self, channel_id: int, author: dict, content: str) -> dict:
        message: dict[str, Any] = {
            "id": str(self._snowflake()),
            "channel_id": str(channel_id),
            "author": author,
            "content": content,
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "type": DEFAULT_MESSAGE,
            "flags": 0,
        }
        guild_id = self.channels.get(channel_id, {}).get("guild_id")
        if guild_id is not None:
            message["guild_id"] = guild_id
        return message

    def _reference(self, message: dict, reply_to: int, *, fail_if_missing: bool = True) -> bool:
        """Make `message` a reply (type 19) to `reply_to`, as Discord resolves it."""
        replied = self._messages.get(int(reply_to))
        if replied is None or replied["channel_id"] != message["channel_id"]:
            if fail_if_missing:
                raise ValueError(f"message {reply_to} is unknown or deleted")
            return False
        message["type"] = REPLY_MESSAGE
        message["message_reference"] = {
            "type": 0,
            "message_id": replied["id"],
            "channel_id": replied["channel_id"],
        }
        if "guild_id" in replied:
            message["message_reference"]["guild_id"] = replied["guild_id"]
        quoted = copy.deepcopy(replied)
        quoted.pop("referenced_message", None)
        message["referenced_message"] = quoted
        return True

    def _user_message(
        self,
        user_id: int,
        channel_id: int,
        text: str,
        *,
        reply_to: int | None,
        attachments: list[dict] | None = None,
    ) -> dict:
        message = self._base_message(channel_id, self._user(user_id), text)
        if "guild_id" in message:
            member = self._member(user_id, int(message["guild_id"]))
            member.pop("user")
            message["member"] = member
        if reply_to is not None:
            self._reference(message, reply_to)
            if int(message["referenced_message"]["author"]["id"]) == self.bot_id:
                message["mentions"].append(dict(self.bot_user))  # replies ping by default
        for index, attachment in enumerate(attachments or []):
            attachment_id = self._snowflake()
            filename = attachment.get("filename", f"file{index}.png")
            message["attachments"].append(
                {
                    "id": str(attachment_id),
                    "filename": filename,
                    "size": attachment.get("size", len(_FAKE_PNG)),
                    "url": f"{self.url}/cdn/attachments/{channel_id}/{attachment_id}/{filename}",
                    "proxy_url": f"{self.url}/cdn/proxy/{attachment_id}/{filename}",
                    "content_type": attachment.get("content_type", "image/png"),
                }
            )
        return copy.deepcopy(self._store(message))

    def _bot_message(
        self,
        channel_id: int,
        payload: Mapping[str, Any],
        files: list[UploadedFile],
        *,
        interaction: _Interaction | None = None,
    ) -> dict:
        content = payload.get("content")
        content = "" if content is None else str(content)
        if len(content) > MAX_CONTENT:
            raise _form_error(
                "content", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT} or fewer in length."
            )
        embeds = payload.get("embeds") or []
        components = payload.get("components") or []
        if (
            not content
            and not embeds
            and not components
            and not files
            and not payload.get("sticker_ids")
        ):
            raise DiscordError(400, 50006, "Cannot send an empty message")
        message = self._base_message(channel_id, dict(self.bot_user), content)
        message["embeds"] = copy.deepcopy(embeds)
        message["components"] = copy.deepcopy(components)
        message["tts"] = bool(payload.get("tts", False))
        message["flags"] = int(payload.get("flags") or 0) & (EPHEMERAL | 4 | 4096)
        if payload.get("nonce") is not None:
            message["nonce"] = payload["nonce"]
        for index, upload in enumerate(files):
            attachment_id = self._snowflake()
            filename = upload.filename or f"file{index}"
            message["attachments"].append(
                {
                    "id": str(attachment_id),
                    "filename": filename,
                    "size": len(upload.data),
                    "url": f"{self.url}/cdn/attachments/{channel_id}/{attachment_id}/{filename}",
                    "proxy_url": f"{self.url}/cdn/proxy/{attachment_id}/{filename}",
                    "content_type": upload.content_type,
                }
            )
        reference = payload.get("message_reference")
        if isinstance(reference, dict) and reference.get("message_id") is not None:
            ok = self._reference(message, int(reference["message_id"]), fail_if_missing=False)
            if not ok and reference.get("fail_if_not_exists", True):
                raise _form_error(
                    "message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
                )
        if interaction is not None:
            self._mark_interaction_message(message, interaction)
        self._store(message)
        self._sent.append(copy.deepcopy(message))
        return copy.deepcopy(message)

    def _mark_interaction_message(self, message: dict, interaction: _Interaction) -> None:
        """Fields of a message created by an interaction response or followup."""
        user = interaction.payload.get("user") or interaction.payload["member"]["user"]
        message["webhook_id"] = str(self.application_id)
        message["application_id"] = str(self.application_id)
        message["interaction_metadata"] = {
            "id": str(interaction.id),
            "type": interaction.type,
            "user": copy.deepcopy(user),
            "authorizing_integration_owners": {},
        }
        if interaction.type == APPLICATION_COMMAND:
            message["type"] = CHAT_INPUT_COMMAND_MESSAGE

    def _edit(self, message: dict, payload: Mapping[str, Any]) -> dict:
        if "content" in payload:
            content = "" if payload["content"] is None else str(payload["content"])
            if len(content) > MAX_CONTENT:
                raise _form_error(
                    "content", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT} or fewer in length."
                )
            message["content"] = content
        for key in ("embeds", "components", "attachments"):
            if key in payload:
                message[key] = copy.deepcopy(payload[key] or [])
        if "flags" in payload and payload["flags"] is not None:
            message["flags"] = (int(message.get("flags", 0)) & EPHEMERAL) | (
                int(payload["flags"]) & 4
            )
        message["flags"] = int(message.get("flags", 0)) & ~LOADING
        message["edited_timestamp"] = _now_iso()
        return copy.deepcopy(message)

    def _delete_message(self, message: dict) -> dict:
        message_id = int(message["id"])
        self._messages.pop(message_id, None)
        self.deleted.add(message_id)
        event = {"id": message["id"], "channel_id": message["channel_id"]}
        if "guild_id" in message:
            event["guild_id"] = message["guild_id"]
        return event

    def _component_type(self, components: list[dict], custom_id: str) -> int:
        """The type of the component with this custom_id (2, a button, when not found)."""

        def search(items: list[dict]) -> int | None:
            for item in items:
                if item.get("custom_id") == custom_id:
                    return int(item.get("type", 2))
                nested = list(item.get("components") or [])
                if isinstance(item.get("accessory"), dict):
                    nested.append(item["accessory"])
                found = search(nested)
                if found is not None:
                    return found
            return None

        return search(components) or 2

    def _find_command(self, name: str, guild_id: int | None) -> dict | None:
        scopes: list[int | None] = [guild_id, None] if guild_id is not None else [None]
        for scope in scopes:
            for command in self.app_commands.get(scope, []):
                if command["name"] == name and command.get("type", 1) == 1:
                    return command
        return None

    def _new_interaction(
        self,
        kind: int,
        user_id: int,
        channel_id: int,
        data: dict,
        *,
        message: dict | None = None,
    ) -> dict:
        channel = self._channel(channel_id)
        interaction_id = self._snowflake()
        token = "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48)
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "channel_id": str(channel_id),
            "channel": copy.deepcopy(channel),
            "token": token,
            "version": 1,
            "locale": "fr",
            "app_permissions": _APP_PERMISSIONS,
            "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        guild_id = _as_int(channel.get("guild_id"))
        if guild_id is not None:
            payload["guild_id"] = str(guild_id)
            payload["guild_locale"] = self.guilds.get(guild_id, {}).get("preferred_locale", "fr")
            payload["member"] = self._member(user_id, guild_id, permissions=True)
            payload["context"] = 0
        else:
            payload["user"] = self._user(user_id)
            payload["context"] = 1
        if message is not None:
            payload["message"] = copy.deepcopy(message)
        record = _Interaction(
            id=interaction_id,
            token=token,
            type=kind,
            payload=payload,
            channel_id=channel_id,
            created=time.monotonic(),
            message_id=int(message["id"]) if message is not None else None,
        )
        self._interactions[interaction_id] = record
        self._tokens[token] = record
        return payload

    # ------------------------------------------------------------------ internals: gateway

    def _shape_for(self, session: _Session, event: str, data: dict) -> dict | None:
        """What this session receives of an event (None: its intents exclude it)."""
        intents = session.intents
        if event.startswith("MESSAGE_"):
            in_guild = "guild_id" in data
            if not intents & (GUILD_MESSAGES if in_guild else DIRECT_MESSAGES):
                return None
            channel_id = _as_int(data.get("channel_id"))
            channel = self.channels.get(channel_id) if channel_id is not None else None
            if (
                channel is not None
                and channel["type"] == PRIVATE_THREAD
                and self.bot_id not in self.thread_members.get(int(channel["id"]), set())
            ):
                return None  # a private thread is seen by its members only
            if (
                event in ("MESSAGE_CREATE", "MESSAGE_UPDATE")
                and in_guild
                and not intents & MESSAGE_CONTENT
                and int(data.get("author", {}).get("id", 0)) != self.bot_id
                and not any(int(u["id"]) == self.bot_id for u in data.get("mentions", []))
            ):
                data = copy.deepcopy(data)
                data.update(content="", embeds=[], attachments=[], components=[])
            return data
        if event.startswith(("GUILD_", "CHANNEL_", "THREAD_")) and not intents & GUILDS:
            return None
        if (
            event == "THREAD_CREATE"
            and data.get("type") == PRIVATE_THREAD
            and self.bot_id not in self.thread_members.get(int(data["id"]), set())
        ):
            return None  # a private thread is announced to its members
        return data

    async def _dispatch(self, event: str, data: dict) -> Dispatch:
        record = Dispatch(event, copy.deepcopy(data))
        self.dispatches.append(record)
        session = self._session
        if session is None or not session.valid:
            record.status = "no session"
            self._notify()
            return record
        shaped = self._shape_for(session, event, record.data)
        if shaped is None:
            record.status = "filtered"
            self._notify()
            return record
        session.seq += 1
        record.seq = session.seq
        session.log.append(({"op": 0, "t": event, "s": session.seq, "d": shaped}, record))
        live = session.live
        if live is not None and live.streaming:
            async with live.lock:
                await self._drain(live)
        self._notify()
        return record

    async def _drain(self, live: _Live) -> None:
        """Write the session's events this connection has not had yet (lock held)."""
        session = live.session
        if session is None:
            return
        for frame, record in session.log:
            if frame["s"] <= live.cursor:
                continue
            try:
                await self._write(live, frame)
            except (ConnectionError, RuntimeError):
                return  # closing: kept in the log for the next RESUME
            live.cursor = frame["s"]
            record.status = "sent"

    async def _write(self, live: _Live, payload: dict) -> None:
        text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        if not text.isascii():
            try:
                text.encode()
            except UnicodeEncodeError:  # a lone surrogate (a test's garbage) travels escaped
                text = json.dumps(payload, separators=(",", ":"))
        if live.ws.closed:
            raise ConnectionResetError("gateway connection closed")
        if live.compressor is not None:
            data = live.compressor.compress(text.encode()) + live.compressor.flush(
                zlib.Z_SYNC_FLUSH
            )
            await live.ws.send_bytes(data)
        else:
            await live.ws.send_str(text)
        live.conn.sent.append(payload)

    def _compressor(self, requested: str | None) -> Any:
        if not self.transport_compression or not requested:
            return None
        if requested == "zlib-stream":
            return zlib.compressobj()
        if requested == "zstd-stream":
            try:
                import zstandard  # type: ignore[import-not-found]
            except ImportError:
                return None
            return _ZstdStream(zstandard)
        return None

    async def _handle_gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=4 * 1024 * 1024)
        await ws.prepare(request)
        conn = GatewayConnection(
            number=next(self._connection_numbers),
            path=request.path,
            query=dict(request.query),
            compress=request.query.get("compress"),
        )
        self.connections.append(conn)
        live = _Live(conn=conn, ws=ws, compressor=self._compressor(conn.compress))
        self._live.add(live)
        self._notify()
        try:
            if conn.query.get("v") not in ("9", "10"):
                await self._close(live, 4012, "Invalid API version")
                return ws
            if conn.query.get("encoding", "json") != "json":
                await self._close(live, 4002, "Error while decoding payload.")
                return ws
            with contextlib.suppress(TimeoutError):
                await self._wait(
                    lambda: not self._held or self._closing or ws.closed, 3600, "release"
                )
            if self._closing or ws.closed:
                return ws
            async with live.lock:
                hello = {"heartbeat_interval": self.heartbeat_interval, "_trace": _TRACE}
                await self._write(live, {"op": 10, "d": hello, "s": None, "t": None})
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    await self._close(live, 4002, "Error while decoding payload.")
                    break
                try:
                    payload = json.loads(msg.data)
                except ValueError:
                    await self._close(live, 4002, "Error while decoding payload.")
                    break
                conn.received.append(payload)
                self._notify()
                await self._on_client_payload(live, payload)
        finally:
            live.streaming = False
            if live.session is not None and live.session.live is live:
                live.session.live = None
            self._live.discard(live)
            conn.closed = True
            if conn.close_code is None:
                conn.close_code = ws.close_code
                if ws.close_code in (1000, 1001) and live.session is not None:
                    live.session.valid = False  # the bot said goodbye: Discord ends the session
            live.done.set()
            self._notify()
        return ws

    async def _close(self, live: _Live, code: int, reason: str) -> None:
        """Close from the server side, remembering our code (aiohttp keeps the client's)."""
        if live.conn.close_code is None:
            live.conn.close_code = code
        await live.ws.close(code=code, message=reason.encode())

    async def _on_client_payload(self, live: _Live, payload: dict) -> None:
        op, data = payload.get("op"), payload.get("d")
        if op == 1:
            live.conn.heartbeats += 1
            if self.ack_heartbeats:
                async with live.lock:
                    await self._write(live, {"op": 11, "d": None})
        elif op == 2:
            await self._identify(live, data if isinstance(data, dict) else {})
        elif op == 6:
            await self._resume(live, data if isinstance(data, dict) else {})
        elif not live.conn.kind:
            await self._close(live, 4003, "Not authenticated.")
        elif op == 3:
            self.presence_updates.append(copy.deepcopy(data))
        elif op in (4, 8, 31):  # voice state, request members, soundboard: accepted, ignored
            pass
        else:
            await self._close(live, 4001, "Unknown opcode.")

    async def _identify(self, live: _Live, data: dict) -> None:
        if live.conn.kind:
            await self._close(live, 4005, "Already authenticated.")
            return
        if data.get("token") != self.token:
            await self._close(live, 4004, "Authentication failed.")
            return
        intents = data.get("intents")
        if not isinstance(intents, int) or intents < 0 or intents >= 1 << 26:
            await self._close(live, 4013, "Invalid intent(s).")
            return
        if intents & PRIVILEGED_INTENTS & ~self.privileged_intents:
            await self._close(live, 4014, "Disallowed intent(s).")
            return
        self.identifies.append(copy.deepcopy(data))
        if self._session is not None:
            self._session.valid = False
        session = _Session(id=secrets.token_hex(16), token=data["token"], intents=intents)
        self._sessions[session.id] = session
        self._session = session
        session.live = live
        live.session = session
        live.conn.kind = "identify"
        live.conn.session_id = session.id
        ready: dict[str, Any] = {
            "v": API_VERSION,
            "user": {**self.bot_user, "verified": True, "mfa_enabled": False, "email": None},
            "guilds": [{"id": str(g), "unavailable": True} for g in self.guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_gateway_url,
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["rotterdam", "madrid"],
            "user_settings": {},
            "application": {
                "id": str(self.application_id),
                "flags": self._application_flags(),
            },
            "_trace": _TRACE,
        }
        if "shard" in data:
            ready["shard"] = data["shard"]
        async with live.lock:
            session.seq += 1
            await self._write(live, {"op": 0, "t": "READY", "s": session.seq, "d": ready})
            live.cursor = session.seq
            live.streaming = True
        self._notify()
        for guild_id in self.guilds:
            await self._dispatch("GUILD_CREATE", self._guild_create(guild_id))

    async def _resume(self, live: _Live, data: dict) -> None:
        if live.conn.kind:
            await self._close(live, 4005, "Already authenticated.")
            return
        session = self._sessions.get(str(data.get("session_id")))
        seq = data.get("seq") or 0
        if (
            session is None
            or not session.valid
            or data.get("token") != session.token
            or not isinstance(seq, int)
            or seq > session.seq
        ):
            live.conn.kind = "invalid"
            async with live.lock:
                await self._write(live, {"op": 9, "d": False})
            self._notify()
            return
        previous = session.live
        if previous is not None and previous is not live:
            with contextlib.suppress(Exception):
                await self._close(previous, 4000, "Session resumed elsewhere")
        live.conn.kind = "resume"
        live.conn.session_id = session.id
        live.session = session
        session.live = live
        live.cursor = seq
        live.streaming = True
        async with live.lock:
            await self._drain(live)
            session.seq += 1
            resumed = {"op": 0, "t": "RESUMED", "s": session.seq, "d": {"_trace": _TRACE}}
            await self._write(live, resumed)
            live.cursor = session.seq
        self.resumes += 1
        self._notify()

    def _application_flags(self) -> int:
        return GATEWAY_MESSAGE_CONTENT_LIMITED if self.privileged_intents & MESSAGE_CONTENT else 0

    # ------------------------------------------------------------------ internals: REST

    def _add_routes(self) -> None:
        chan = r"/channels/(?P<channel_id>\d+)"
        msg = chan + r"/messages/(?P<message_id>\d+)"
        hook = r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)"
        apps = r"/applications/(?P<app_id>\d+)"
        table: list[tuple[str, str, Handler, bool]] = [
            ("GET", r"/users/@me", self._get_me, True),
            ("GET", r"/users/(?P<user_id>\d+)", self._get_user, True),
            ("GET", r"/oauth2/applications/@me", self._get_application, True),
            ("GET", r"/applications/@me", self._get_application, True),
            ("GET", r"/gateway", self._get_gateway, False),
            ("GET", r"/gateway/bot", self._get_gateway_bot, True),
            ("POST", r"/users/@me/channels", self._create_dm, True),
            ("GET", chan, self._get_channel, True),
            ("PATCH", chan, self._modify_channel, True),
            ("DELETE", chan, self._delete_channel, True),
            ("GET", chan + r"/messages", self._get_messages, True),
            ("POST", chan + r"/messages", self._create_message, True),
            ("GET", msg, self._get_message, True),
            ("PATCH", msg, self._edit_message, True),
            ("DELETE", msg, self._delete_message_route, True),
            ("PUT", msg + r"/reactions/(?P<emoji>[^/]+)/@me", self._reaction, True),
            ("DELETE", msg + r"/reactions/(?P<emoji>[^/]+)/@me", self._reaction, True),
            ("POST", chan + r"/typing", self._typing, True),
            ("POST", chan + r"/threads", self._create_thread, True),
            ("POST", msg + r"/threads", self._create_thread_from_message, True),
            ("GET", chan + r"/thread-members", self._list_thread_members, True),
            ("PUT", chan + r"/thread-members/(?P<user_id>\d+|@me)", self._add_thread_member, True),
            (
                "DELETE",
                chan + r"/thread-members/(?P<user_id>\d+|@me)",
                self._remove_thread_member,
                True,
            ),
            (
                "POST",
                r"/interactions/(?P<interaction_id>\d+)/(?P<token>[^/]+)/callback",
                self._interaction_callback,
                False,
            ),
            ("POST", hook, self._followup, False),
            ("GET", hook + r"/messages/(?P<message_id>\d+|@original)", self._hook_get, False),
            ("PATCH", hook + r"/messages/(?P<message_id>\d+|@original)", self._hook_edit, False),
            (
                "DELETE",
                hook + r"/messages/(?P<message_id>\d+|@original)",
                self._hook_delete,
                False,
            ),
            ("GET", apps + r"/commands", self._get_commands, True),
            ("PUT", apps + r"/commands", self._put_commands, True),
            ("GET", apps + r"/guilds/(?P<guild_id>\d+)/commands", self._get_commands, True),
            ("PUT", apps + r"/guilds/(?P<guild_id>\d+)/commands", self._put_commands, True),
        ]
        self._routes = [
            (method, re.compile(pattern + "$"), handler, auth)
            for method, pattern, handler, auth in table
        ]

    async def _read_body(self, request: web.Request) -> tuple[Any, list[UploadedFile]]:
        if not request.can_read_body:
            return None, []
        if request.content_type == "multipart/form-data":
            payload: Any = None
            files: list[UploadedFile] = []
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, aiohttp.BodyPartReader):
                    continue
                data = await part.read()
                if part.name == "payload_json":
                    payload = json.loads(data.decode())
                else:
                    files.append(
                        UploadedFile(
                            field=part.name or "",
                            filename=part.filename,
                            content_type=part.headers.get("Content-Type", ""),
                            data=bytes(data),
                        )
                    )
            return payload, files
        raw = await request.read()
        if not raw:
            return None, []
        try:
            return json.loads(raw), []
        except ValueError as error:
            raise DiscordError(400, 50109, "The request body contains invalid JSON.") from error

    def _response(self, status: int, body: Any, headers: Mapping[str, str]) -> web.Response:
        if status == 204 or body is None:
            return web.Response(status=204, headers=headers)
        if isinstance(body, str):  # a Cloudflare-style answer: not JSON
            return web.Response(status=status, text=body, headers=headers)
        return web.Response(
            status=status,
            body=json.dumps(body).encode(),
            headers={**headers, "Content-Type": "application/json"},  # exactly, no charset
        )

    @staticmethod
    def _bucket(path: str) -> str:
        """A stable bucket hash per route shape (ids replaced), like Discord's."""
        return format(zlib.crc32(re.sub(r"\d+", "{id}", path).encode()), "08x")

    async def _handle_rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        call = Call(
            method=request.method,
            path=path,
            query=dict(request.query),
            headers=dict(request.headers),
            version=int(request.match_info["version"]),
        )
        self.calls.append(call)
        headers: dict[str, str] = {}
        try:
            try:
                call.json, call.files = await self._read_body(request)
                status, body, headers = await self._answer(call)
            except DiscordError as error:
                status, body = error.status, error.payload()
                headers = {**self._ok_ratelimit_headers(call.path), **error.headers}
            response = self._response(status, body, headers)
            call.status, call.response = status, body
            call.response_headers = dict(response.headers)
            return response
        finally:
            self._notify()

    def _ok_ratelimit_headers(self, path: str) -> dict[str, str]:
        reset_after = 1.0
        return {
            "X-RateLimit-Limit": "50",
            "X-RateLimit-Remaining": "49",
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": self._bucket(path),
        }

    async def _answer(self, call: Call) -> tuple[int, Any, dict[str, str]]:
        if call.version not in (9, 10):
            raise DiscordError(400, 50041, "Invalid API version provided")
        matched: tuple[Handler, bool, dict[str, str]] | None = None
        path_known = False
        for method, pattern, handler, auth in self._routes:
            found = pattern.match(call.path)
            if found is None:
                continue
            path_known = True
            if method == call.method:
                matched = (handler, auth, found.groupdict())
                break
        if matched is None:
            if path_known:
                raise DiscordError(405, 0, "405: Method Not Allowed")
            raise DiscordError(404, 0, "404: Not Found")
        handler, auth, params = matched
        if auth and call.headers.get("Authorization") != f"Bot {self.token}":
            raise DiscordError(401, 0, "401: Unauthorized")
        for index, delay in enumerate(self._delays):
            if delay.pattern.search(call.path) and delay.method in (None, call.method):
                del self._delays[index]
                await self._sleep(delay.seconds)
                break
        self._maybe_fail(call)
        if call.method in DISCORD_VERBS and re.match(DISCORD_ROUTE, call.path):
            fault = await self.faults.strike()
            if fault is not None:
                status, body, headers = discord_error(fault, self._bucket(call.path))
                raise DiscordError(status, 0, "fault", headers=headers, body=body)
        status, body = await handler(call, **params)
        return status, body, self._ok_ratelimit_headers(call.path)

    def _maybe_fail(self, call: Call) -> None:
        for failure in self._failures:
            if not failure.pattern.search(call.path) or failure.method not in (None, call.method):
                continue
            if failure.remaining is not None:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.remove(failure)
            if failure.status != 429:
                raise DiscordError(failure.status, failure.code, failure.message)
            retry_after = failure.retry_after
            headers = {
                "Retry-After": str(max(1, math.ceil(retry_after))),
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
                "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                "X-RateLimit-Bucket": self._bucket(call.path),
                "X-RateLimit-Scope": "global" if failure.global_ else "user",
            }
            if failure.global_:
                headers["X-RateLimit-Global"] = "true"
            if not failure.via:
                raise DiscordError(
                    429, 1015, "error code: 1015", headers=headers, body="error code: 1015"
                )
            headers["Via"] = "1.1 google"
            body = {
                "message": failure.message,
                "retry_after": retry_after,
                "global": failure.global_,
            }
            if failure.code:
                body["code"] = failure.code
            raise DiscordError(429, failure.code, failure.message, headers=headers, body=body)

    async def _echo(self, event: str, data: dict) -> None:
        if self.echo_bot_messages and not int(data.get("flags", 0)) & EPHEMERAL:
            await self._dispatch(event, data)

    # --- users, application, gateway

    async def _get_me(self, call: Call) -> tuple[int, Any]:
        return 200, {**self.bot_user, "verified": True, "mfa_enabled": False, "email": None}

    async def _get_user(self, call: Call, user_id: str) -> tuple[int, Any]:
        # Every Discord user can be fetched: unknown ids become users named `user{id}`.
        return 200, self._user(int(user_id))

    async def _get_application(self, call: Call) -> tuple[int, Any]:
        owner = {
            "id": str(self.bot_id + 1),
            "username": "passerelle-owner",
            "global_name": None,
            "discriminator": "0",
            "avatar": None,
            "public_flags": 0,
            "flags": 0,
        }
        return 200, {
            "id": str(self.application_id),
            "name": self.bot_user["username"],
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": self._application_flags(),
            "owner": owner,
            "team": None,
            "bot": dict(self.bot_user),
            "interactions_endpoint_url": None,  # else discord.py warns it gets no interactions
            "redirect_uris": [],
            "tags": [],
        }

    async def _get_gateway(self, call: Call) -> tuple[int, Any]:
        return 200, {"url": self.gateway_url}

    async def _get_gateway_bot(self, call: Call) -> tuple[int, Any]:
        return 200, {
            "url": self.gateway_url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 14_400_000,
                "max_concurrency": 1,
            },
        }

    async def _create_dm(self, call: Call) -> tuple[int, Any]:
        body = call.json if isinstance(call.json, dict) else {}
        recipient = _as_int(body.get("recipient_id"))
        if recipient is None or recipient == self.bot_id:
            raise DiscordError(400, 50033, "Invalid Recipient(s)")
        return 200, copy.deepcopy(self._dm_channel(recipient))

    # --- channels and messages

    async def _get_channel(self, call: Call, channel_id: str) -> tuple[int, Any]:
        return 200, copy.deepcopy(self._channel(int(channel_id)))

    async def _modify_channel(self, call: Call, channel_id: str) -> tuple[int, Any]:
        channel = self._channel(int(channel_id))
        body = call.json if isinstance(call.json, dict) else {}
        if channel["type"] == DM:
            raise DiscordError(400, 50024, "Cannot execute action on this channel type")
        if "name" in body:
            channel["name"] = str(body["name"])
        if channel["type"] in THREAD_TYPES:
            meta = channel["thread_metadata"]
            for key in ("archived", "locked", "invitable", "auto_archive_duration"):
                if key in body:
                    meta[key] = body[key]
            if "archived" in body:
                meta["archive_timestamp"] = _now_iso()
            await self._dispatch("THREAD_UPDATE", copy.deepcopy(channel))
        else:
            await self._dispatch("CHANNEL_UPDATE", copy.deepcopy(channel))
        return 200, copy.deepcopy(channel)

    async def _delete_channel(self, call: Call, channel_id: str) -> tuple[int, Any]:
        """Delete a thread or a guild channel (with its messages); a DM is only closed."""
        channel = self._channel(int(channel_id))
        if channel["type"] == DM:
            return 200, copy.deepcopy(channel)
        del self.channels[int(channel_id)]
        self.thread_members.pop(int(channel_id), None)
        for message_id in self._history.pop(int(channel_id), []):
            self._messages.pop(message_id, None)
        if channel["type"] in THREAD_TYPES:
            event = {key: channel[key] for key in ("id", "guild_id", "parent_id", "type")}
            await self._dispatch("THREAD_DELETE", event)
        else:
            await self._dispatch("CHANNEL_DELETE", copy.deepcopy(channel))
        return 200, copy.deepcopy(channel)

    def _writable(self, channel_id: int) -> dict:
        channel = self._channel(channel_id)
        if channel["type"] == DM:
            recipient = int(channel["recipients"][0]["id"])
            if recipient in self.dms_closed:
                raise DiscordError(403, 50007, "Cannot send messages to this user")
        if channel["type"] in THREAD_TYPES and channel["thread_metadata"].get("archived"):
            raise DiscordError(400, 50083, "Thread is archived")
        return channel

    async def _get_messages(self, call: Call, channel_id: str) -> tuple[int, Any]:
        cid = int(channel_id)
        self._channel(cid)
        limit = _as_int(call.query.get("limit", "50"))
        if limit is None or not 1 <= limit <= 100:
            raise _form_error("limit", "NUMBER_TYPE_MAX", "int value should be <= 100 and >= 1.")
        ids = [m for m in self._history.get(cid, []) if m in self._messages]
        ids = [m for m in ids if not int(self._messages[m].get("flags", 0)) & EPHEMERAL]
        before, after = _as_int(call.query.get("before")), _as_int(call.query.get("after"))
        around = _as_int(call.query.get("around"))
        if around is not None:
            older = [m for m in ids if m < around][-(limit // 2) :] if limit > 1 else []
            newer = [m for m in ids if m >= around][: limit - len(older)]
            chosen = older + newer
        elif after is not None:
            chosen = [m for m in ids if m > after][:limit]
        else:
            if before is not None:
                ids = [m for m in ids if m < before]
            chosen = ids[-limit:]
        return 200, [copy.deepcopy(self._messages[m]) for m in sorted(chosen, reverse=True)]

    def _channel_message(self, channel_id: str, message_id: str) -> dict:
        self._channel(int(channel_id))
        message = self._messages.get(int(message_id))
        if message is None or message["channel_id"] != str(int(channel_id)):
            raise DiscordError(404, 10008, "Unknown Message")
        return message

    async def _get_message(self, call: Call, channel_id: str, message_id: str) -> tuple[int, Any]:
        return 200, copy.deepcopy(self._channel_message(channel_id, message_id))

    async def _create_message(self, call: Call, channel_id: str) -> tuple[int, Any]:
        channel = self._writable(int(channel_id))
        body = call.json if isinstance(call.json, dict) else {}
        message = self._bot_message(int(channel["id"]), body, call.files)
        await self._echo("MESSAGE_CREATE", message)
        return 200, message

    async def _edit_message(self, call: Call, channel_id: str, message_id: str) -> tuple[int, Any]:
        message = self._channel_message(channel_id, message_id)
        if int(message["author"]["id"]) != self.bot_id:
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        edited = self._edit(message, call.json if isinstance(call.json, dict) else {})
        await self._echo("MESSAGE_UPDATE", edited)
        return 200, edited

    async def _delete_message_route(
        self, call: Call, channel_id: str, message_id: str
    ) -> tuple[int, Any]:
        message = self._channel_message(channel_id, message_id)
        event = self._delete_message(message)
        if self.echo_bot_messages:
            await self._dispatch("MESSAGE_DELETE", event)
        return 204, None

    async def _reaction(
        self, call: Call, channel_id: str, message_id: str, emoji: str
    ) -> tuple[int, Any]:
        self._channel_message(channel_id, message_id)
        self.reactions.append((call.method, int(channel_id), int(message_id), emoji))
        return 204, None

    async def _typing(self, call: Call, channel_id: str) -> tuple[int, Any]:
        self._writable(int(channel_id))
        return 204, None

    # --- threads

    def _thread(
        self, parent: dict, name: Any, kind: int, body: Mapping[str, Any], tid: int
    ) -> dict:
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            raise _form_error(
                "name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
            )
        now = _now_iso()
        thread: dict[str, Any] = {
            "id": str(tid),
            "type": kind,
            "guild_id": parent["guild_id"],
            "parent_id": parent["id"],
            "owner_id": str(self.bot_id),
            "name": name,
            "last_message_id": None,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "rate_limit_per_user": int(body.get("rate_limit_per_user") or 0),
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": int(body.get("auto_archive_duration") or 4320),
                "archive_timestamp": now,
                "locked": False,
                "create_timestamp": now,
            },
            "member": {
                "id": str(tid),
                "user_id": str(self.bot_id),
                "join_timestamp": now,
                "flags": 0,
            },
        }
        if kind == PRIVATE_THREAD:
            thread["thread_metadata"]["invitable"] = bool(body.get("invitable", True))
        self.channels[tid] = thread
        self.thread_members[tid] = {self.bot_id}
        return thread

    async def _create_thread(self, call: Call, channel_id: str) -> tuple[int, Any]:
        parent = self._channel(int(channel_id))
        if parent["type"] != GUILD_TEXT:
            raise DiscordError(400, 50024, "Cannot execute action on this channel type")
        body = call.json if isinstance(call.json, dict) else {}
        kind = int(body.get("type") or PRIVATE_THREAD)
        if kind not in THREAD_TYPES:
            raise _form_error("type", "BASE_TYPE_CHOICES", "Value must be one of (11, 12).")
        thread = self._thread(parent, body.get("name"), kind, body, self._snowflake())
        await self._dispatch("THREAD_CREATE", {**copy.deepcopy(thread), "newly_created": True})
        return 201, copy.deepcopy(thread)

    async def _create_thread_from_message(
        self, call: Call, channel_id: str, message_id: str
    ) -> tuple[int, Any]:
        parent = self._channel(int(channel_id))
        message = self._channel_message(channel_id, message_id)
        if parent["type"] != GUILD_TEXT:
            raise DiscordError(400, 50024, "Cannot execute action on this channel type")
        if int(message_id) in self.channels:
            raise DiscordError(400, 160004, "A thread has already been created for this message")
        body = call.json if isinstance(call.json, dict) else {}
        # Discord gives a thread started from a message the message's id.
        thread = self._thread(parent, body.get("name"), PUBLIC_THREAD, body, int(message_id))
        message["thread"] = copy.deepcopy(thread)
        await self._dispatch("THREAD_CREATE", {**copy.deepcopy(thread), "newly_created": True})
        return 201, copy.deepcopy(thread)

    def _thread_channel(self, channel_id: str) -> dict:
        channel = self._channel(int(channel_id))
        if channel["type"] not in THREAD_TYPES:
            raise DiscordError(400, 50024, "Cannot execute action on this channel type")
        return channel

    async def _list_thread_members(self, call: Call, channel_id: str) -> tuple[int, Any]:
        """Others than the bot are listed only to a session with GUILD_MEMBERS."""
        self._thread_channel(channel_id)
        members = sorted(self.thread_members.get(int(channel_id), set()))
        session = self._session
        if session is None or not session.intents & GUILD_MEMBERS:
            members = [u for u in members if u == self.bot_id]
        return 200, [
            {"id": channel_id, "user_id": str(u), "join_timestamp": _now_iso(), "flags": 0}
            for u in members
        ]

    async def _add_thread_member(
        self, call: Call, channel_id: str, user_id: str
    ) -> tuple[int, Any]:
        thread = self._thread_channel(channel_id)
        uid = self.bot_id if user_id == "@me" else int(user_id)
        members = self.thread_members.setdefault(int(channel_id), set())
        added = uid not in members
        members.add(uid)
        thread["member_count"] = len(members)
        if added and uid != self.bot_id and thread["type"] == PRIVATE_THREAD:
            # "passerelle added Marc to the thread.": a system message by the one who added
            notice = self._base_message(int(channel_id), dict(self.bot_user), "")
            notice.update(type=RECIPIENT_ADD, mentions=[self._user(uid)])
            self._store(notice)
            await self._dispatch("MESSAGE_CREATE", copy.deepcopy(notice))
        return 204, None

    async def _remove_thread_member(
        self, call: Call, channel_id: str, user_id: str
    ) -> tuple[int, Any]:
        thread = self._thread_channel(channel_id)
        uid = self.bot_id if user_id == "@me" else int(user_id)
        members = self.thread_members.setdefault(int(channel_id), set())
        members.discard(uid)
        thread["member_count"] = len(members)
        return 204, None

    # --- interactions and webhooks

    async def _interaction_callback(
        self, call: Call, interaction_id: str, token: str
    ) -> tuple[int, Any]:
        record = self._interactions.get(int(interaction_id))
        if record is None or record.token != token:
            raise DiscordError(404, 10062, "Unknown interaction")
        if record.responded:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        if time.monotonic() - record.created > self.interaction_deadline:
            raise DiscordError(404, 10062, "Unknown interaction")
        body = call.json if isinstance(call.json, dict) else {}
        kind = body.get("type")
        data = body.get("data") if isinstance(body.get("data"), dict) else {}
        allowed = {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE}
        if record.type == MESSAGE_COMPONENT:
            allowed |= {DEFERRED_UPDATE, UPDATE_MESSAGE, MODAL}
        elif record.type == APPLICATION_COMMAND:
            allowed |= {MODAL}
        if kind not in allowed:
            raise _form_error("type", "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid type")
        response = InteractionCallback(record.id, token, kind, copy.deepcopy(data), call)
        message: dict | None = None
        if kind == CHANNEL_MESSAGE:
            message = self._bot_message(record.channel_id, data, call.files, interaction=record)
        elif kind == DEFERRED_CHANNEL_MESSAGE:  # "is thinking...": a loading placeholder
            message = self._base_message(record.channel_id, dict(self.bot_user), "")
            message["flags"] = (int(data.get("flags") or 0) & EPHEMERAL) | LOADING
            self._mark_interaction_message(message, record)
            message = copy.deepcopy(self._store(message))
        elif kind == UPDATE_MESSAGE and record.message_id is not None:
            target = self._messages.get(record.message_id)
            if target is None:
                raise DiscordError(404, 10008, "Unknown Message")
            message = self._edit(target, data)
        record.responded = True
        if kind in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE) and message is not None:
            record.original_message_id = int(message["id"])
        elif kind in (DEFERRED_UPDATE, UPDATE_MESSAGE):
            record.original_message_id = record.message_id
        response.message_id = int(message["id"]) if message is not None else None
        self.interaction_responses.append(response)
        if message is not None:
            event = "MESSAGE_UPDATE" if kind == UPDATE_MESSAGE else "MESSAGE_CREATE"
            if kind != DEFERRED_CHANNEL_MESSAGE:
                await self._echo(event, message)
        if call.query.get("with_response", "").lower() not in ("1", "true"):
            return 204, None
        answer: dict[str, Any] = {
            "interaction": {
                "id": str(record.id),
                "type": record.type,
                "response_message_id": message["id"] if message is not None else None,
                "response_message_loading": kind == DEFERRED_CHANNEL_MESSAGE,
                "response_message_ephemeral": bool(
                    message is not None and int(message.get("flags", 0)) & EPHEMERAL
                ),
            },
            "resource": {"type": kind},
        }
        if message is not None and kind in (CHANNEL_MESSAGE, UPDATE_MESSAGE):
            answer["resource"]["message"] = message
        return 200, answer

    def _hook_interaction(self, app_id: str, token: str) -> _Interaction:
        record = self._tokens.get(token)
        if record is None or int(app_id) != self.application_id:
            raise DiscordError(404, 10015, "Unknown Webhook")
        if time.monotonic() - record.created > 15 * 60:
            raise DiscordError(401, 50027, "Invalid Webhook Token")
        return record

    def _hook_message(self, record: _Interaction, message_id: str) -> dict:
        if message_id == "@original":
            if record.original_message_id is None:
                raise DiscordError(404, 10008, "Unknown Message")
            mid = record.original_message_id
        else:
            mid = int(message_id)
        message = self._messages.get(mid)
        if message is None:
            raise DiscordError(404, 10008, "Unknown Message")
        return message

    async def _followup(self, call: Call, app_id: str, token: str) -> tuple[int, Any]:
        record = self._hook_interaction(app_id, token)
        if not record.responded:
            raise DiscordError(404, 10015, "Unknown Webhook")
        body = call.json if isinstance(call.json, dict) else {}
        message = self._bot_message(record.channel_id, body, call.files, interaction=record)
        await self._echo("MESSAGE_CREATE", message)
        if call.query.get("wait", "").lower() in ("1", "true"):
            return 200, message
        return 204, None

    async def _hook_get(
        self, call: Call, app_id: str, token: str, message_id: str
    ) -> tuple[int, Any]:
        record = self._hook_interaction(app_id, token)
        return 200, copy.deepcopy(self._hook_message(record, message_id))

    async def _hook_edit(
        self, call: Call, app_id: str, token: str, message_id: str
    ) -> tuple[int, Any]:
        record = self._hook_interaction(app_id, token)
        message = self._hook_message(record, message_id)
        was_loading = bool(int(message.get("flags", 0)) & LOADING)
        edited = self._edit(message, call.json if isinstance(call.json, dict) else {})
        if was_loading and all(m["id"] != edited["id"] for m in self._sent):
            self._sent.append(copy.deepcopy(edited))  # a deferred response becomes a message
        await self._echo("MESSAGE_CREATE" if was_loading else "MESSAGE_UPDATE", edited)
        return 200, edited

    async def _hook_delete(
        self, call: Call, app_id: str, token: str, message_id: str
    ) -> tuple[int, Any]:
        record = self._hook_interaction(app_id, token)
        message = self._hook_message(record, message_id)
        event = self._delete_message(message)
        if self.echo_bot_messages and not int(message.get("flags", 0)) & EPHEMERAL:
            await self._dispatch("MESSAGE_DELETE", event)
        return 204, None

    # --- application commands

    def _check_app(self, app_id: str) -> None:
        if int(app_id) != self.application_id:
            raise DiscordError(403, 50001, "Missing Access")

    async def _get_commands(
        self, call: Call, app_id: str, guild_id: str | None = None
    ) -> tuple[int, Any]:
        self._check_app(app_id)
        scope = int(guild_id) if guild_id is not None else None
        return 200, copy.deepcopy(self.app_commands.get(scope, []))

    async def _put_commands(
        self, call: Call, app_id: str, guild_id: str | None = None
    ) -> tuple[int, Any]:
        self._check_app(app_id)
        scope = int(guild_id) if guild_id is not None else None
        if not isinstance(call.json, list):
            raise _form_error("_", "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
        if len(call.json) > 100:
            raise _form_error("_", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
        stored: list[dict] = []
        seen: set[tuple[str, int]] = set()
        for index, command in enumerate(call.json):
            if not isinstance(command, dict):
                raise _form_error(str(index), "DICT_TYPE_CONVERT", "Only dictionaries may be used")
            name = str(command.get("name", ""))
            kind = int(command.get("type") or 1)
            description = str(command.get("description") or "")
            if kind == 1 and (not _APP_COMMAND_NAME.fullmatch(name) or name != name.lower()):
                raise _form_error(
                    f"{index}.name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"
                )
            if kind == 1 and not 1 <= len(description) <= 100:
                raise _form_error(
                    f"{index}.description",
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 100 in length.",
                )
            if (name, kind) in seen:
                raise _form_error(
                    str(index),
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    f"Application command names must be unique: {name}",
                )
            seen.add((name, kind))
            key = (scope, name, kind)
            command_id = self._command_ids.setdefault(key, self._snowflake())
            entry = {
                "id": str(command_id),
                "application_id": str(self.application_id),
                "version": str(self._snowflake()),
                "type": kind,
                "name": name,
                "description": description,
                "options": copy.deepcopy(command.get("options") or []),
                "default_member_permissions": command.get("default_member_permissions"),
                "nsfw": bool(command.get("nsfw", False)),
                "contexts": command.get("contexts"),
                "integration_types": command.get("integration_types") or [0],
            }
            for optional in ("name_localizations", "description_localizations"):
                if command.get(optional):
                    entry[optional] = copy.deepcopy(command[optional])
            if scope is not None:
                entry["guild_id"] = str(scope)
            stored.append(entry)
        self.app_commands[scope] = stored
        return 200, copy.deepcopy(stored)

    # --- CDN

    async def _handle_cdn(self, request: web.Request) -> web.Response:
        return web.Response(body=_FAKE_PNG, content_type="image/png")


class _ZstdStream:
    """zstd-stream transport compression: one frame per message, flushed (only used when the
    client asks for it, i.e. when the `zstandard` package is installed)."""

    def __init__(self, zstandard: Any) -> None:
        self._compressor = zstandard.ZstdCompressor().compressobj()
        self._flush = zstandard.COMPRESSOBJ_FLUSH_BLOCK

    def compress(self, data: bytes) -> bytes:
        return self._compressor.compress(data)

    def flush(self, _mode: int) -> bytes:
        return self._compressor.flush(self._flush)


def _options(values: dict[str, Any]) -> list[dict]:
    """{name: value} -> slash command options, typed like Discord (bool before int)."""
    options = []
    for name, value in values.items():
        if isinstance(value, bool):
            kind = 5
        elif isinstance(value, int):
            kind = 4
        elif isinstance(value, float):
            kind = 10
        else:
            kind, value = 3, str(value)
        options.append({"name": name, "type": kind, "value": value})
    return options
