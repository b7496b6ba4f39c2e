"""A fake Slack (Web API, Socket Mode, signed Events API requests) for adapter tests.

One aiohttp server on 127.0.0.1, on a port the OS picks. Point the real clients at it::

    async with FakeSlack() as fake:
        web = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)  # ".../api/"
        socket = SocketModeClient(
            app_token=fake.app_token,
            web_client=AsyncWebClient(token=fake.bot_token, base_url=fake.api_url),
        )
        await socket.connect()
        envelope_id = await fake.push_event(fake.dm_message("U0MENTOR", "bonjour"))
        await fake.wait_ack(envelope_id)
        ...
        await close_socket_mode_client(socket)  # before the fake stops

Why a fake server and not mocks: the adapter must survive what the real slack_sdk and slack-bolt
actually do on the wire (which parameters travel in the query string, which in a JSON body,
how a 429 surfaces, how Socket Mode reconnects), and only a server speaking the protocol shows it.

What the real clients send (slack_sdk 3.48, checked in its sources):
- `base_url` is joined with `urljoin`, so it needs its trailing slash (`.../api/`).
- The token travels in `Authorization: Bearer ...`. chat.postMessage, chat.update and
  chat.postEphemeral send a JSON body; chat.delete, conversations.open and auth.test send their
  arguments as URL *query* parameters of a POST with an empty form body; users.info is a GET.
  Booleans in query parameters become "1"/"0". The fake therefore merges query, form and JSON
  and decodes only the fields Slack declares as JSON (`blocks`, `attachments`, `metadata`).
- `apps.connections.open` is called with the app-level token (`xapp-...`); a bot token there,
  or an app token elsewhere, is `not_allowed_token_type`, as on Slack.
- Every error other than HTTP 200 + `"ok": true` raises `SlackApiError`; nothing retries a 429
  unless the app installs `AsyncRateLimitErrorRetryHandler` (the default handlers only retry
  connection errors).

Socket Mode (slack_sdk.socket_mode.aiohttp.SocketModeClient):
- The client gets the websocket URL from `apps.connections.open`, connects with
  `autoping=False`, pings `sdk-ping-pong:<time>` at once and every `ping_interval`; the server
  must answer pongs (aiohttp does). The first message from Slack is `{"type": "hello", ...}`.
- A server-side close makes the client call `apps.connections.open` again and reconnect; so does
  a `{"type": "disconnect", "reason": ...}` message (`send_disconnect`).
- Envelopes are `{"envelope_id", "payload", "type", "accepts_response_payload"}`; events_api
  envelopes also carry `retry_attempt` and `retry_reason` (0 and "" on the first delivery, which
  slack-bolt >= 1.29 turns into `x-slack-retry-num: 0`). The app acks with
  `{"envelope_id": ..., "payload": ...}`; slack-bolt sends *no ack at all* when no listener
  matched (status 404), so an un-acked envelope is a real outcome to test for.
- `SocketModeClient.close()` cancels its tasks without awaiting them: use
  `close_socket_mode_client()` so a test ends without pending tasks.

Like Slack (and unlike a permissive mock) the fake answers: `msg_too_long` over 40,000 characters
of `text`, `invalid_blocks` (section text over 3,000, fields over 2,000, header over 150, more
than 50 blocks, button text over 75 / value over 2,000), `no_text`, `channel_not_found` for a
channel it never heard of, `message_not_found`, `cant_update_message` / `cant_delete_message`
for a message that is not the bot's, `user_not_found`, `user_not_in_channel`, `invalid_auth`,
`not_authed`, `unknown_method`; and `users.info` leaves `locale` out unless `include_locale` is
set. A `url_private` file fetched without the bot token yields an HTML page with status 200, not
the file (as on Slack).

Known simplifications: lengths are counted in code points; `text` over 40,000 characters is
refused (`msg_too_long`) rather than truncated; one ts counter (strictly increasing, wall-clock
based) serves every channel; a `thread_ts` that names no message is accepted; `chat.update` with
blocks but no text keeps the old text; envelopes are never redelivered by themselves (use
`redeliver` or `push_event(..., retry_attempt=1)`); HTTP-mode requests go only where the test
says (`post_signed`), and only to a loopback address.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import hashlib
import hmac
import itertools
import json
import mimetypes
import random
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp
from aiohttp import WSCloseCode, WSMsgType, web
from multidict import CIMultiDict

from tests.adapters.faults import SLACK_METHODS, Faults, slack_error

BOT_TOKEN = "xoxb-0001-fake-bot-token"
APP_TOKEN = "xapp-1-A0APP-0001-fake-app-token"
SIGNING_SECRET = "fake-signing-secret"
VERIFICATION_TOKEN = "fake-verification-token"
TEAM_ID = "T0001"
TEAM_DOMAIN = "passerelle-test"
TEAM_NAME = "Passerelle Test"
APP_ID = "A0APP"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
BOT_NAME = "passerelle"

MAX_TEXT = 40_000
MAX_SECTION_TEXT = 3_000
MAX_FIELD_TEXT = 2_000
MAX_HEADER_TEXT = 150
MAX_BLOCKS = 50
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2_000
MAX_ID = 255
RESPONSE_URL_USES = 5

# Methods that want the app-level token; every other method wants the bot token.
_APP_TOKEN_METHODS = frozenset({"apps.connections.open"})
# Fields Slack declares as JSON when sent form-encoded; nothing else is JSON-decoded.
_JSON_FIELDS = frozenset({"blocks", "attachments", "metadata", "user_auth_blocks"})
_BOOL_FIELDS = frozenset(
    {
        "as_user",
        "reply_broadcast",
        "unfurl_links",
        "unfurl_media",
        "mrkdwn",
        "link_names",
        "include_locale",
        "return_im",
        "prevent_creation",
    }
)
_TS_RE = re.compile(r"\d{1,12}\.\d{6}")
_FAKE_PNG = b"\x89PNG\r\n\x1a\nfake-slack-image"
_LOGIN_PAGE = "<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in</body></html>"
# Keys of a stored message that are the fake's bookkeeping, never shown to the app.
_PRIVATE_KEYS = frozenset({"channel", "deleted", "history"})


@dataclass
class Call:
    """One Web API request. `params` merges query, form and JSON body, decoded (see module doc).

    The token is taken out of `params` (into `token`) since it is authentication, not an argument.
    """

    method: str
    params: dict[str, Any]
    headers: CIMultiDict[str]
    http_method: str = "POST"
    content_type: str = ""
    token: str | None = None
    status: int | None = None  # None while being answered
    response: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.response and self.response.get("ok"))

    @property
    def error(self) -> str | None:
        return None if self.response is None else self.response.get("error")


@dataclass
class Ack:
    """What the app sent back for one envelope over the websocket."""

    envelope_id: str
    payload: dict[str, Any] | None
    connection: int  # which connection (1, 2...) carried it
    raw: dict[str, Any]


@dataclass
class ResponsePost:
    """One POST the app made to a `response_url` the fake handed out."""

    response_id: str
    body: Any  # the decoded JSON, or the raw text when it was not JSON
    headers: CIMultiDict[str]
    status: int = 200


@dataclass
class _Failure:
    method: str
    error: str
    status: int
    retry_after: int | None
    remaining: int | None  # None: until clear_failures()
    channel: str | None
    body: str | None


@dataclass
class _Socket:
    number: int
    ws: web.WebSocketResponse
    ticket: str
    closed: bool = False


@dataclass
class _ResponseTarget:
    """Where a response_url post lands: the message a button sat on, or a command's channel."""

    channel: str
    user: str
    message_ts: str | None
    thread_ts: str | None = None
    uses: int = 0


@dataclass
class _Delay:
    method: str
    seconds: float
    remaining: int


class SlackError(Exception):
    """An API answer `{"ok": false, "error": ...}` (status 200 unless said otherwise)."""

    def __init__(
        self,
        error: str,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        body_text: str | None = None,
        **extra: Any,
    ) -> None:
        """`body_text` replaces the JSON body with an HTML page (a load balancer's 5xx)."""
        super().__init__(error)
        self.error = error
        self.status = status
        self.headers = dict(headers or {})
        self.body_text = body_text
        self.extra = extra


def _decode_field(name: str, value: Any) -> Any:
    """A form/query value (always a string) to what Slack reads it as; JSON values pass as is."""
    if not isinstance(value, str):
        return value
    if name in _JSON_FIELDS and value.lstrip().startswith(("[", "{")):
        try:
            return json.loads(value)
        except ValueError:
            return value  # refused later as invalid_blocks_format / invalid_json
    if name in _BOOL_FIELDS and value.lower() in ("1", "true", "0", "false"):
        return value.lower() in ("1", "true")
    return value


def _tz_offset(tz: str) -> int:
    try:
        offset = dt.datetime.now(ZoneInfo(tz)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        return 0
    return int(offset.total_seconds()) if offset is not None else 0


def _rich_text(text: str) -> list[dict[str, Any]]:
    """The blocks Slack's own client attaches to what a person types."""
    if not text:
        return []
    block_id = hashlib.sha1(text.encode()).hexdigest()[:5]
    section = {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
    return [{"type": "rich_text", "block_id": block_id, "elements": [section]}]


def _text_of(obj: Any) -> str:
    return obj.get("text", "") if isinstance(obj, dict) else ""


def _is_loopback(url: str) -> bool:
    return urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")


async def close_socket_mode_client(client: Any, *, timeout: float = 2.0) -> None:
    """Close a slack_sdk aiohttp `SocketModeClient` and wait for its tasks to finish.

    `SocketModeClient.close()` cancels its receiver, monitor and processor without awaiting
    them; a test that ends right after would leave pending tasks behind.
    """
    await client.close()
    tasks = [
        t
        for t in (client.message_processor, client.message_receiver, client.current_session_monitor)
        if t is not None
    ]
    if tasks:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout)


class FakeSlack:
    """A Slack workspace with one app. Use `async with FakeSlack() as fake:`."""

    def __init__(
        self,
        *,
        bot_token: str = BOT_TOKEN,
        app_token: str = APP_TOKEN,
        verification_token: str = VERIFICATION_TOKEN,
        start_ts: float | None = None,
        echo_own_messages: bool = False,
    ) -> None:
        """`start_ts` fixes the first message ts (else the wall clock); `echo_own_messages`
        pushes, like Slack does for a subscribed app, a `message` event over the socket for
        every message the bot posts (the classic source of echo loops)."""
        self.bot_token = bot_token
        self.app_token = app_token
        self.verification_token = verification_token
        self.echo_own_messages = echo_own_messages
        self.calls: list[Call] = []
        self.acks: list[Ack] = []
        self.socket_messages: list[dict[str, Any]] = []  # everything the app sent on the socket
        self.envelopes: dict[str, dict[str, Any]] = {}  # envelope_id -> envelope as sent
        self.response_posts: list[ResponsePost] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}  # id -> {"id", "name", "members", ...}
        self.files: dict[str, tuple[str, str, bytes]] = {}  # file id -> (name, mimetype, data)
        # Files the bot uploaded (files.getUploadURLExternal, the POST of the bytes to the
        # upload_url, files.completeUploadExternal), in the order they were shared.
        self.uploads: list[dict[str, Any]] = []
        self._uploading: dict[str, dict[str, Any]] = {}  # file id -> {"filename", "length", "data"}
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._ephemerals: list[dict[str, Any]] = []
        self._posted: list[tuple[str, str]] = []  # (channel, ts) of chat.postMessage, in order
        self._blocked: dict[str, str] = {}  # channel -> error
        self._failures: list[_Failure] = []
        self._delays: list[_Delay] = []
        self.faults = Faults()  # random 429 / 5xx / timeouts on delivering calls (faults.py)
        self._tickets: set[str] = set()
        self._sockets: list[_Socket] = []  # every connection ever accepted
        # Each envelope goes to ONE open connection, as on Slack: the newest, or (when set, for
        # an app running several instances) one drawn with this, as Slack spreads events.
        self.spread: random.Random | None = None
        self._mpims: dict[frozenset[str], str] = {}
        self._opened: set[str] = set()
        self._responses: dict[str, _ResponseTarget] = {}
        self._event_times: dict[str, int] = {}
        self._start_us = int((start_ts if start_ts is not None else time.time()) * 1_000_000)
        self._realtime = start_ts is None
        self._last_us = self._start_us - 100
        self._numbers = itertools.count(1)
        self._changed = asyncio.Event()
        self._closing = False
        self._background: set[asyncio.Task[Any]] = set()
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "auth.test": self._auth_test,
            "apps.connections.open": self._apps_connections_open,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "conversations.open": self._conversations_open,
            "users.info": self._users_info,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
        }
        self.add_user(BOT_USER_ID, name=BOT_NAME, real_name="Passerelle", is_bot=True)

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`, known once started."""
        if self._url is None:
            raise RuntimeError("FakeSlack is not started")
        return self._url

    @property
    def api_url(self) -> str:
        """The `base_url` for AsyncWebClient, with the trailing slash urljoin needs."""
        return f"{self.url}/api/"

    async def start(self) -> None:
        if self._runner is not None:
            return
        self._closing = False
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_get("/socket", self._handle_socket)
        app.router.add_post("/response/{response_id}", self._handle_response)
        app.router.add_get("/files-pri/{team_file}/{name:.+}", self._handle_file)
        app.router.add_post("/upload/{file_id}", self._handle_upload)
        # handler_cancellation: a delayed answer whose client gave up stops at once.
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self._url = f"http://127.0.0.1:{runner.addresses[0][1]}"

    async def stop(self) -> None:
        """Stop serving. Close the app's Socket Mode client first, or it will try to reconnect."""
        self._closing = True
        self._notify()
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        for sock in self._sockets:
            if not sock.closed:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(sock.ws.close(code=WSCloseCode.GOING_AWAY), 1.0)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlack:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ workspace set-up

    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        real_name: str | None = None,
        tz: str = "Europe/Paris",
        locale: str = "fr-FR",
        is_bot: bool = False,
        email: str | None = None,
    ) -> dict[str, Any]:
        """Make a user known (users.info, conversations.open, posting to their DM)."""
        name = name or user_id.lower()
        real_name = real_name or name.capitalize()
        profile: dict[str, Any] = {
            "real_name": real_name,
            "display_name": name,
            "real_name_normalized": real_name,
            "display_name_normalized": name,
            "team": TEAM_ID,
        }
        if email is not None:
            profile["email"] = email
        user = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": name,
            "deleted": False,
            "real_name": real_name,
            "tz": tz,
            "tz_label": tz,
            "tz_offset": _tz_offset(tz),
            "profile": profile,
            "is_admin": False,
            "is_owner": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": int(time.time()),
            "locale": locale,
        }
        self.users[user_id] = user
        if not is_bot:
            dm = self.dm_channel(user_id)
            self.channels.setdefault(
                dm, {"id": dm, "name": "directmessage", "is_im": True, "user": user_id}
            )
        return copy.deepcopy(user)

    def add_channel(
        self, channel_id: str, *, name: str | None = None, members: list[str] | None = None
    ) -> dict[str, Any]:
        """Make a channel known; with `members`, ephemerals to others get user_not_in_channel."""
        channel = {
            "id": channel_id,
            "name": name or channel_id.lower(),
            "is_im": False,
            "members": list(members) if members is not None else None,
        }
        self.channels[channel_id] = channel
        return dict(channel)

    @staticmethod
    def dm_channel(user_id: str) -> str:
        """The id of the bot's DM with a user: "D" + the user id without its first letter."""
        return "D" + user_id[1:]

    def block_channel(self, channel_or_user: str, error: str = "channel_not_found") -> None:
        """Every chat.* call to that channel (or user's DM) fails with `error` until unblocked.

        E.g. "is_archived", "channel_not_found" (the user left, the DM was closed by an admin),
        "not_in_channel", "restricted_action".
        """
        self._blocked[self._channel_key(channel_or_user)] = error

    def unblock_channel(self, channel_or_user: str) -> None:
        self._blocked.pop(self._channel_key(channel_or_user), None)

    # ------------------------------------------------------------------ failures

    def fail_next(
        self,
        method: str,
        *,
        error: str = "ratelimited",
        status: int | None = None,
        retry_after: int | None = 1,
        times: int | None = 1,
        channel: str | None = None,
        body: str | None = None,
    ) -> None:
        """The next `times` calls of `method` (to `channel`, a user id meaning their DM) fail.

        status None means 429 for "ratelimited" (with a `Retry-After: retry_after` header) and
        200 for any other error, which is how Slack answers API errors. status 500/502/503 answer
        `{"ok": false, "error": error}`, or `body` as text/html when given (Slack's load
        balancers answer HTML). times=None fails every such call until `clear_failures()`.
        """
        if status is None:
            status = 429 if error == "ratelimited" else 200
        key = self._channel_key(channel) if channel is not None else None
        self._failures.append(_Failure(method, error, status, retry_after, times, key, body))

    def delay_next(self, method: str, seconds: float, *, times: int = 1) -> None:
        """The next `times` calls of `method` wait `seconds` before being answered."""
        self._delays.append(_Delay(method, seconds, times))

    def clear_failures(self) -> None:
        self._failures.clear()
        self._delays.clear()
        self._blocked.clear()

    # ------------------------------------------------------------------ inspection

    def calls_of(self, method: str) -> list[Call]:
        """The calls of one method, in arrival order."""
        return [c for c in self.calls if c.method == method]

    def messages(self, channel: str, *, include_deleted: bool = True) -> list[dict[str, Any]]:
        """Every message of a channel (or of a user's DM), oldest first, as stored.

        Each dict has ts, channel, user, bot_id, text, blocks, thread_ts (None when absent),
        edited (Slack's {"user", "ts"} or None), deleted (bool) and history (earlier versions).
        """
        found = self._messages.get(self._channel_key(channel), [])
        return [copy.deepcopy(m) for m in found if include_deleted or not m["deleted"]]

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        record = self._find(self._channel_key(channel), ts)
        return copy.deepcopy(record) if record is not None else None

    def thread(
        self, channel: str, thread_ts: str, *, include_deleted: bool = True
    ) -> list[dict[str, Any]]:
        """The parent and every reply (the bot's and the users'), oldest first."""
        return [
            m
            for m in self.messages(channel, include_deleted=include_deleted)
            if m["ts"] == thread_ts or m["thread_ts"] == thread_ts
        ]

    def posted(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Messages the bot posted with chat.postMessage (current state, deleted ones flagged)."""
        wanted = self._channel_key(channel) if channel is not None else None
        out = []
        for chan, ts in self._posted:
            if wanted is None or chan == wanted:
                record = self._find(chan, ts)
                if record is not None:
                    out.append(copy.deepcopy(record))
        return out

    def texts(self, channel: str, *, thread_ts: str | None = None) -> list[str]:
        """Texts of the channel's live messages (of one thread when `thread_ts` is given)."""
        found = (
            self.thread(channel, thread_ts, include_deleted=False)
            if thread_ts is not None
            else self.messages(channel, include_deleted=False)
        )
        return [m["text"] for m in found]

    def ephemerals(
        self, channel: str | None = None, *, user: str | None = None
    ) -> list[dict[str, Any]]:
        """Ephemeral messages (chat.postEphemeral, response_url, slash command acks)."""
        wanted = self._channel_key(channel) if channel is not None else None
        return [
            copy.deepcopy(e)
            for e in self._ephemerals
            if (wanted is None or e["channel"] == wanted) and (user is None or e["user"] == user)
        ]

    def ack_for(self, envelope_id: str) -> Ack | None:
        return next((a for a in self.acks if a.envelope_id == envelope_id), None)

    @property
    def connection_count(self) -> int:
        """Websocket connections accepted so far (reconnections included)."""
        return len(self._sockets)

    @property
    def open_connections(self) -> int:
        return sum(1 for s in self._sockets if not s.closed)

    # ------------------------------------------------------------------ waiting

    async def wait_calls(self, method: str, count: int = 1, *, timeout: float = 2.0) -> list[Call]:
        """Wait until `count` calls of `method` have been answered."""

        def done() -> list[Call]:
            return [c for c in self.calls_of(method) if c.status is not None]

        await self._wait(lambda: len(done()) >= count, timeout, f"{count} {method} call(s)")
        return done()

    async def wait_posted(
        self, count: int = 1, *, channel: str | None = None, timeout: float = 2.0
    ) -> list[dict[str, Any]]:
        """Wait until the bot has posted `count` messages (to `channel`)."""
        await self._wait(
            lambda: len(self.posted(channel)) >= count, timeout, f"{count} posted message(s)"
        )
        return self.posted(channel)

    async def wait_ephemerals(
        self, count: int = 1, *, channel: str | None = None, timeout: float = 2.0
    ) -> list[dict[str, Any]]:
        await self._wait(
            lambda: len(self.ephemerals(channel)) >= count, timeout, f"{count} ephemeral(s)"
        )
        return self.ephemerals(channel)

    async def wait_response_posts(
        self, count: int = 1, *, timeout: float = 2.0
    ) -> list[ResponsePost]:
        await self._wait(
            lambda: len(self.response_posts) >= count, timeout, f"{count} response_url post(s)"
        )
        return list(self.response_posts)

    async def wait_ack(self, envelope_id: str, *, timeout: float = 2.0) -> dict[str, Any] | None:
        """Wait for the app's ack of an envelope; its payload (None for a bare ack)."""
        await self._wait(
            lambda: self.ack_for(envelope_id) is not None, timeout, f"the ack of {envelope_id}"
        )
        ack = self.ack_for(envelope_id)
        assert ack is not None
        return ack.payload

    async def wait_connections(self, count: int, *, timeout: float = 2.0) -> None:
        """Wait until `count` connections have been accepted (and sent their hello)."""
        await self._wait(
            lambda: self.connection_count >= count and self.open_connections > 0,
            timeout,
            f"{count} socket connection(s)",
        )

    # ------------------------------------------------------------------ Socket Mode pushes

    async def push_envelope(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool = False,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
        timeout: float = 2.0,
    ) -> str:
        """Send any envelope on one open connection (waiting for one): the newest, or one drawn
        with `spread`; its envelope_id."""
        envelope_id = str(uuid.uuid4())
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "payload": copy.deepcopy(payload),
            "type": kind,
            "accepts_response_payload": accepts_response_payload,
        }
        if retry_attempt is not None:
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = retry_reason or ""
        sock = await self._current_socket(timeout)
        self.envelopes[envelope_id] = envelope
        await sock.ws.send_str(json.dumps(envelope))
        return envelope_id

    async def push_event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_attempt: int = 0,
        retry_reason: str | None = None,
        timeout: float = 2.0,
    ) -> str:
        """An `events_api` envelope around `event_callback(event)`; its envelope_id.

        A retry is the same event_id with retry_attempt >= 1 (reason "timeout" by default) in a
        new envelope, which is what Slack sends when the first one was not acked in time.
        """
        body = self.event_callback(event, event_id=event_id)
        if retry_attempt > 0 and retry_reason is None:
            retry_reason = "timeout"
        return await self.push_envelope(
            "events_api",
            body,
            retry_attempt=retry_attempt,
            retry_reason=retry_reason or "",
            timeout=timeout,
        )

    async def push_interactive(self, payload: dict[str, Any], *, timeout: float = 2.0) -> str:
        """An `interactive` envelope (block_actions...); its envelope_id."""
        return await self.push_envelope("interactive", payload, timeout=timeout)

    async def push_slash_command(self, payload: dict[str, Any], *, timeout: float = 2.0) -> str:
        """A `slash_commands` envelope; the ack payload (text/blocks) reaches the user."""
        return await self.push_envelope(
            "slash_commands", payload, accepts_response_payload=True, timeout=timeout
        )

    async def redeliver(
        self, envelope_id: str, *, retry_reason: str = "timeout", timeout: float = 2.0
    ) -> str:
        """Send an envelope again as Slack's retry: a new envelope_id, retry_attempt + 1."""
        old = self.envelopes[envelope_id]
        attempt = int(old.get("retry_attempt") or 0) + 1
        return await self.push_envelope(
            old["type"],
            old["payload"],
            accepts_response_payload=old["accepts_response_payload"],
            retry_attempt=attempt,
            retry_reason=retry_reason,
            timeout=timeout,
        )

    async def send_disconnect(self, reason: str = "refresh_requested") -> None:
        """Slack's polite `disconnect` message ("warning", "refresh_requested",
        "link_disabled", "too_many_websockets"); slack_sdk reconnects at once."""
        sock = await self._current_socket(2.0)
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}
        await sock.ws.send_str(json.dumps(message))

    async def disconnect_socket(self) -> int:
        """The server closes every open websocket (1001); the number closed."""
        closing = [s for s in self._sockets if not s.closed]
        for sock in closing:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sock.ws.close(code=WSCloseCode.GOING_AWAY), 2.0)
            sock.closed = True
        self._notify()
        return len(closing)

    # ------------------------------------------------------------------ payload builders

    def event_callback(self, event: dict[str, Any], *, event_id: str | None = None) -> dict:
        """The `event_callback` body around an event (Socket Mode payload or HTTP body).

        Reusing an event_id keeps its first event_time, as Slack's retries do.
        """
        if event_id is None:
            event_id = f"Ev{next(self._numbers):08d}FAKE"
        when = event.get("event_ts") or event.get("ts")
        event_time = self._event_times.setdefault(
            event_id, int(float(when)) if when else int(time.time())
        )
        return {
            "token": self.verification_token,
            "team_id": TEAM_ID,
            "context_team_id": TEAM_ID,
            "context_enterprise_id": None,
            "api_app_id": APP_ID,
            "event": copy.deepcopy(event),
            "type": "event_callback",
            "event_id": event_id,
            "event_time": event_time,
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": TEAM_ID,
                    "user_id": BOT_USER_ID,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-fake-{event_id}",
        }

    def dm_message(
        self,
        user: str,
        text: str,
        *,
        thread_ts: str | None = None,
        channel: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A person writes (in the bot's DM by default): the `message` event; now stored."""
        self._ensure_user(user)
        chan = self._channel_key(channel) if channel is not None else self.dm_channel(user)
        ts = self._next_ts()
        record = self._store(
            chan,
            {
                "client_msg_id": str(uuid.uuid4()),
                "type": "message",
                "ts": ts,
                "user": user,
                "bot_id": None,
                "text": text,
                "blocks": blocks if blocks is not None else (_rich_text(text) or None),
                "team": TEAM_ID,
                "thread_ts": thread_ts,
            },
        )
        return self._event_of(record, event_ts=ts)

    def dm_edit(self, user: str, ts: str, new_text: str, *, channel: str | None = None) -> dict:
        """The person edits their message: a `message_changed` event; the store follows."""
        chan = self._channel_key(channel) if channel is not None else self.dm_channel(user)
        record = self._find(chan, ts)
        if record is None or record["deleted"] or record["user"] != user:
            raise ValueError(f"{user} has no message {ts} in {chan} to edit")
        previous = self._view(record)
        event_ts = self._next_ts()
        record["history"].append({"text": record["text"], "blocks": record["blocks"]})
        record["text"] = new_text
        record["blocks"] = _rich_text(new_text) or None
        record["edited"] = {"user": user, "ts": event_ts}
        message = self._view(record)
        message.update({"source_team": TEAM_ID, "user_team": TEAM_ID})
        return {
            "type": "message",
            "subtype": "message_changed",
            "message": message,
            "previous_message": previous,
            "channel": chan,
            "hidden": True,
            "ts": event_ts,
            "event_ts": event_ts,
            "channel_type": self._channel_type(chan),
        }

    def dm_delete(self, user: str, ts: str, *, channel: str | None = None) -> dict[str, Any]:
        """The person deletes their message: a `message_deleted` event; the store follows."""
        chan = self._channel_key(channel) if channel is not None else self.dm_channel(user)
        record = self._find(chan, ts)
        if record is None or record["deleted"] or record["user"] != user:
            raise ValueError(f"{user} has no message {ts} in {chan} to delete")
        previous = self._view(record)
        record["deleted"] = True
        event_ts = self._next_ts()
        return {
            "type": "message",
            "subtype": "message_deleted",
            "previous_message": previous,
            "channel": chan,
            "hidden": True,
            "deleted_ts": ts,
            "event_ts": event_ts,
            "ts": event_ts,
            "channel_type": self._channel_type(chan),
        }

    def bot_message(
        self,
        channel: str,
        text: str,
        *,
        bot_id: str = "B0OTHER",
        username: str = "other-bot",
        app_id: str = "A0OTHER",
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """Another integration posts: subtype `bot_message` with its `bot_id`; now stored."""
        chan = self._channel_key(channel)
        ts = self._next_ts()
        record = self._store(
            chan,
            {
                "type": "message",
                "subtype": "bot_message",
                "ts": ts,
                "user": None,
                "bot_id": bot_id,
                "app_id": app_id,
                "username": username,
                "text": text,
                "blocks": None,
                "thread_ts": thread_ts,
            },
        )
        return self._event_of(record, event_ts=ts)

    def self_message(
        self,
        channel: str,
        text: str | None = None,
        *,
        ts: str | None = None,
        thread_ts: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Our own bot's message as Slack echoes it (user U0BOT, bot_id B0BOT, no subtype).

        With `ts`, the echo of a message the bot already posted; else a new one is stored.
        """
        chan = self._channel_key(channel)
        if ts is not None:
            record = self._find(chan, ts)
            if record is None or record["user"] != BOT_USER_ID:
                raise ValueError(f"the bot has no message {ts} in {chan}")
        else:
            record = self._new_bot_record(chan, text or "", blocks, thread_ts, {})
        return self._event_of(record, event_ts=record["ts"])

    def file_share(
        self,
        user: str,
        *,
        text: str = "",
        name: str = "photo.png",
        mimetype: str = "image/png",
        content: bytes = _FAKE_PNG,
        channel: str | None = None,
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """A person uploads a file (subtype `file_share`); `url_private` is served by the fake
        to requests bearing the bot token."""
        self._ensure_user(user)
        chan = self._channel_key(channel) if channel is not None else self.dm_channel(user)
        file_id = f"F{next(self._numbers):08d}"
        self.files[file_id] = (name, mimetype, content)
        now = int(time.time())
        base = f"{self.url}/files-pri/{TEAM_ID}-{file_id}"
        filetype = name.rsplit(".", 1)[-1].lower() if "." in name else "binary"
        file = {
            "id": file_id,
            "created": now,
            "timestamp": now,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": filetype,
            "pretty_type": filetype.upper(),
            "user": user,
            "user_team": TEAM_ID,
            "editable": False,
            "size": len(content),
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": False,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": f"{base}/{name}",
            "url_private_download": f"{base}/download/{name}",
            "permalink": f"https://{TEAM_DOMAIN}.slack.com/files/{user}/{file_id}/{name}",
            "is_starred": False,
            "has_rich_preview": False,
        }
        ts = self._next_ts()
        record = self._store(
            chan,
            {
                "type": "message",
                "subtype": "file_share",
                "ts": ts,
                "user": user,
                "bot_id": None,
                "text": text,
                "blocks": _rich_text(text) or None,
                "files": [file],
                "upload": False,
                "display_as_bot": False,
                "thread_ts": thread_ts,
            },
        )
        return self._event_of(record, event_ts=ts)

    def block_action(
        self,
        user: str,
        message_ts: str,
        channel: str | None = None,
        action_id: str = "",
        value: str | None = None,
        *,
        block_id: str | None = None,
    ) -> dict[str, Any]:
        """A person presses a button of a message: the `block_actions` payload.

        block_id, the button text and (when `value` is None) the value come from the stored
        message's blocks; an action_id it does not show is still sent (a stale or forged
        button). `response_url` points at the fake, which applies what is posted there.
        """
        self._ensure_user(user)
        chan = self._channel_key(channel) if channel is not None else self.dm_channel(user)
        record = self._find(chan, message_ts)
        ephemeral = None
        if record is None:
            ephemeral = next(
                (e for e in self._ephemerals if e["channel"] == chan and e["ts"] == message_ts),
                None,
            )
            if ephemeral is None:
                raise ValueError(f"no message {message_ts} in {chan}")
        elif record["deleted"]:
            raise ValueError(f"message {message_ts} in {chan} is deleted")
        source = record if record is not None else ephemeral
        assert source is not None
        action: dict[str, Any] = {"action_id": action_id, "block_id": block_id or "fake-block"}
        found_block, element = self._find_element(source.get("blocks") or [], action_id)
        if found_block is not None and block_id is None:
            action["block_id"] = found_block
        if element is not None and "text" in element:
            action["text"] = copy.deepcopy(element["text"])
        if value is None and element is not None:
            value = element.get("value")
        if value is not None:
            action["value"] = value
        if element is not None and "style" in element:
            action["style"] = element["style"]
        action["type"] = element.get("type", "button") if element is not None else "button"
        action["action_ts"] = self._next_ts()
        response_id = self._new_response(chan, user, message_ts, source.get("thread_ts"))
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user_ref(user),
            "api_app_id": APP_ID,
            "token": self.verification_token,
            "container": {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": chan,
                "is_ephemeral": ephemeral is not None,
            },
            "trigger_id": self._trigger_id(),
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": chan, "name": self._channel_name(chan)},
            "state": {"values": {}},
            "response_url": f"{self.url}/response/{response_id}",
            "actions": [action],
        }
        if record is not None:
            payload["message"] = self._view(record)
        return payload

    def slash_command(
        self,
        user: str,
        command: str = "/passerelle",
        text: str = "help",
        channel: str | None = None,
    ) -> dict[str, str]:
        """The form fields Slack sends for a slash command (all strings)."""
        self._ensure_user(user)
        chan = self._channel_key(channel) if channel is not None else self.dm_channel(user)
        response_id = self._new_response(chan, user, None, None)
        return {
            "token": self.verification_token,
            "team_id": TEAM_ID,
            "team_domain": TEAM_DOMAIN,
            "channel_id": chan,
            "channel_name": self._channel_name(chan),
            "user_id": user,
            "user_name": self.users[user]["name"],
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": f"{self.url}/response/{response_id}",
            "trigger_id": self._trigger_id(),
        }

    def url_verification(self, challenge: str | None = None) -> dict[str, str]:
        """The body Slack POSTs when the Events API request URL is set."""
        return {
            "token": self.verification_token,
            "challenge": challenge or uuid.uuid4().hex,
            "type": "url_verification",
        }

    # ------------------------------------------------------------------ Events API over HTTP

    @staticmethod
    def interactive_body(payload: dict[str, Any]) -> str:
        """How Slack POSTs an interactive payload: form-encoded `payload=<json>`."""
        return urlencode({"payload": json.dumps(payload)})

    @staticmethod
    def slash_command_body(fields: Mapping[str, str]) -> str:
        """How Slack POSTs a slash command: its fields, form-encoded."""
        return urlencode(dict(fields))

    @staticmethod
    def sign(signing_secret: str, timestamp: int | str, body: str | bytes) -> str:
        """`v0=` + hex HMAC-SHA256(secret, "v0:{timestamp}:{raw body}")."""
        raw = body.decode() if isinstance(body, bytes) else body
        base = f"v0:{timestamp}:{raw}".encode()
        return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()

    async def post_signed(
        self,
        url: str,
        body: dict[str, Any] | str,
        *,
        signing_secret: str,
        timestamp: int | str | None = None,
        signature: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
    ) -> tuple[int, str]:
        """POST a signed request to the app's endpoint, as Slack does; (status, body text).

        A dict body is sent as JSON (an event_callback, url_verification); a str as is, with a
        form content type unless it looks like JSON (interactive_body, slash_command_body).
        `timestamp` (default now) and `signature` (default the right one) may be forced to test
        rejections; retry_num adds X-Slack-Retry-Num and X-Slack-Retry-Reason.
        Only loopback urls are allowed: these tests never leave the machine.
        """
        if not _is_loopback(url):
            raise ValueError(f"post_signed only posts to loopback addresses, not {url}")
        if isinstance(body, str):
            raw = body
            if content_type is None:
                looks_json = raw.lstrip().startswith("{")
                content_type = (
                    "application/json" if looks_json else "application/x-www-form-urlencoded"
                )
        elif content_type is not None and "x-www-form-urlencoded" in content_type:
            raw = urlencode(body)
        else:
            raw = json.dumps(body)
            content_type = content_type or "application/json"
        ts = str(int(time.time()) if timestamp is None else timestamp)
        sent: dict[str, str] = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature or self.sign(signing_secret, ts, raw),
        }
        if retry_num is not None:
            sent["X-Slack-Retry-Num"] = str(retry_num)
            sent["X-Slack-Retry-Reason"] = retry_reason
        sent.update(headers or {})
        client_timeout = aiohttp.ClientTimeout(total=timeout)
        async with (
            aiohttp.ClientSession(timeout=client_timeout, trust_env=False) as session,
            session.post(url, data=raw.encode(), headers=sent) as response,
        ):
            return response.status, await response.text()

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
                raise TimeoutError(f"FakeSlack: waited {timeout}s for {what}")
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, cut short when the fake stops."""
        with contextlib.suppress(TimeoutError):
            await self._wait(lambda: self._closing, seconds, "")

    def _next_ts(self) -> str:
        """A ts unique in the workspace, strictly increasing (wall clock unless start_ts)."""
        now_us = int(time.time() * 1_000_000) if self._realtime else 0
        self._last_us = max(self._last_us + 100, now_us)
        return f"{self._last_us // 1_000_000}.{self._last_us % 1_000_000:06d}"

    def _trigger_id(self) -> str:
        return f"{next(self._numbers)}.{int(time.time())}.{uuid.uuid4().hex[:32]}"

    def _channel_key(self, channel_or_user: str) -> str:
        """A user id stands for the bot's DM with them (as chat.postMessage accepts)."""
        if channel_or_user[:1] in ("U", "W") and channel_or_user in self.users:
            return self.dm_channel(channel_or_user)
        return channel_or_user

    def _channel_type(self, channel: str) -> str:
        if channel.startswith("D"):
            return "im"
        if channel in self._mpims.values():
            return "mpim"
        return "group" if channel.startswith("G") else "channel"

    def _channel_name(self, channel: str) -> str:
        info = self.channels.get(channel)
        if info is not None:
            return str(info["name"])
        return "directmessage" if channel.startswith("D") else channel.lower()

    def _ensure_user(self, user: str) -> None:
        if user not in self.users:
            self.add_user(user)

    def _user_ref(self, user: str) -> dict[str, str]:
        name = self.users[user]["name"]
        return {"id": user, "username": name, "name": name, "team_id": TEAM_ID}

    def _store(self, channel: str, record: dict[str, Any]) -> dict[str, Any]:
        record.setdefault("edited", None)
        record["channel"] = channel
        record["deleted"] = False
        record["history"] = []
        self.channels.setdefault(channel, {"id": channel, "name": self._channel_name(channel)})
        self._messages.setdefault(channel, []).append(record)
        thread_ts = record.get("thread_ts")
        if thread_ts is not None and thread_ts != record["ts"]:
            parent = self._find(channel, thread_ts)
            if parent is not None:
                record["parent_user_id"] = parent.get("user") or parent.get("bot_id")
                parent["thread_ts"] = thread_ts
                parent["reply_count"] = int(parent.get("reply_count") or 0) + 1
                repliers = list(parent.get("reply_users") or [])
                author = record.get("user") or record.get("bot_id")
                if author not in repliers:
                    repliers.append(author)
                parent["reply_users"] = repliers
                parent["reply_users_count"] = len(repliers)
                parent["latest_reply"] = record["ts"]
        self._notify()
        return record

    def _find(self, channel: str, ts: Any) -> dict[str, Any] | None:
        if not isinstance(ts, str):
            return None
        return next((m for m in self._messages.get(channel, []) if m["ts"] == ts), None)

    @staticmethod
    def _view(record: dict[str, Any]) -> dict[str, Any]:
        """A stored message as Slack shows it to the app (no bookkeeping, no None values)."""
        return {
            k: copy.deepcopy(v)
            for k, v in record.items()
            if k not in _PRIVATE_KEYS and v is not None
        }

    def _event_of(self, record: dict[str, Any], *, event_ts: str) -> dict[str, Any]:
        event = self._view(record)
        event["channel"] = record["channel"]
        event["event_ts"] = event_ts
        event["channel_type"] = self._channel_type(record["channel"])
        return event

    def _new_bot_record(
        self,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]] | None,
        thread_ts: str | None,
        extra: dict[str, Any],
    ) -> dict[str, Any]:
        record: dict[str, Any] = {
            "type": "message",
            "ts": self._next_ts(),
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "text": text,
            "blocks": blocks or None,
            "team": TEAM_ID,
            "thread_ts": thread_ts,
            "bot_profile": {
                "id": BOT_ID,
                "app_id": APP_ID,
                "name": BOT_NAME,
                "deleted": False,
                "team_id": TEAM_ID,
            },
        }
        record.update(extra)
        return self._store(channel, record)

    def _new_response(
        self, channel: str, user: str, message_ts: str | None, thread_ts: str | None
    ) -> str:
        response_id = f"{TEAM_ID}-{next(self._numbers)}-{uuid.uuid4().hex[:12]}"
        self._responses[response_id] = _ResponseTarget(channel, user, message_ts, thread_ts)
        return response_id

    @staticmethod
    def _find_element(
        blocks: list[dict[str, Any]], action_id: str
    ) -> tuple[str | None, dict[str, Any] | None]:
        for block in blocks:
            elements = list(block.get("elements") or [])
            if isinstance(block.get("accessory"), dict):
                elements.append(block["accessory"])
            for element in elements:
                if isinstance(element, dict) and element.get("action_id") == action_id:
                    return block.get("block_id"), element
        return None, None

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _echo(self, record: dict[str, Any]) -> None:
        """Slack sends the app its own posts back as `message` events (echo_own_messages)."""
        if self.open_connections == 0:
            return
        with contextlib.suppress(Exception):
            await self.push_event(self._event_of(record, event_ts=record["ts"]), timeout=0.5)

    # ------------------------------------------------------------------ internals: sockets

    async def _current_socket(self, timeout: float) -> _Socket:
        await self._wait(lambda: self.open_connections > 0, timeout, "an open socket connection")
        open_now = [s for s in self._sockets if not s.closed]
        return self.spread.choice(open_now) if self.spread is not None else open_now[-1]

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=401, text="invalid or missing ticket")
        ws = web.WebSocketResponse(autoping=True)  # answers the client's sdk-ping-pong pings
        await ws.prepare(request)
        sock = _Socket(len(self._sockets) + 1, ws, ticket)
        self._sockets.append(sock)
        hello = {
            "type": "hello",
            "num_connections": self.open_connections,
            "debug_info": {
                "host": "applink-fake",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": APP_ID},
        }
        try:
            await ws.send_str(json.dumps(hello))
            self._notify()
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._on_socket_text(sock, message.data)
        finally:
            sock.closed = True
            self._notify()
        return ws

    def _on_socket_text(self, sock: _Socket, data: str) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            message = {"raw": data}
        if not isinstance(message, dict):
            message = {"raw": message}
        self.socket_messages.append(message)
        envelope_id = message.get("envelope_id")
        if isinstance(envelope_id, str):
            payload = message.get("payload")
            self.acks.append(
                Ack(
                    envelope_id,
                    payload if isinstance(payload, dict) else None,
                    sock.number,
                    message,
                )
            )
            envelope = self.envelopes.get(envelope_id)
            if envelope is not None and envelope["type"] == "slash_commands" and payload:
                self._apply_command_ack(envelope["payload"], payload)
        self._notify()

    def _apply_command_ack(self, command: dict[str, Any], payload: Any) -> None:
        """An ack with a payload answers the slash command: the user sees it (ephemeral)."""
        response_url = str(command.get("response_url", ""))
        target = self._responses.get(response_url.rsplit("/", 1)[-1])
        if target is None or not isinstance(payload, dict):
            return
        with contextlib.suppress(SlackError):
            self._apply_response(target, payload, via="ack")

    # ------------------------------------------------------------------ internals: HTTP

    @staticmethod
    def _json(
        status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None
    ) -> web.Response:
        return web.Response(
            status=status,
            body=json.dumps(body).encode(),
            content_type="application/json",
            charset="utf-8",
            headers=dict(headers or {}),
        )

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        raw: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError as error:
                    raise SlackError("invalid_json") from error
                if not isinstance(body, dict):
                    raise SlackError("invalid_json")
                raw.update(body)
            else:
                form = await request.post()
                for name, value in form.items():
                    raw[name] = value if isinstance(value, str) else "<file>"
        return {k: _decode_field(k, v) for k, v in raw.items() if v is not None}

    async def _handle_api(self, request: web.Request) -> web.Response:
        call = Call(
            method=request.match_info["method"],
            params={},
            headers=CIMultiDict(request.headers),
            http_method=request.method,
            content_type=request.content_type,
        )
        self.calls.append(call)
        try:
            try:
                call.params = await self._read_params(request)
                header = request.headers.get("Authorization", "")
                body_token = call.params.pop("token", None)
                if header.startswith("Bearer "):
                    call.token = header[len("Bearer ") :].strip()
                elif isinstance(body_token, str):
                    call.token = body_token
                result = await self._answer(call)
            except SlackError as error:
                if error.body_text is not None:
                    call.status, call.response = error.status, {"ok": False, "error": error.error}
                    return web.Response(
                        status=error.status, text=error.body_text, content_type="text/html"
                    )
                body = {"ok": False, "error": error.error, **error.extra}
                call.status, call.response = error.status, body
                return self._json(error.status, body, error.headers)
            body = {"ok": True, **result}
            call.status, call.response = 200, body
            return self._json(200, body)
        finally:
            self._notify()

    async def _answer(self, call: Call) -> dict[str, Any]:
        for delay in self._delays:
            if delay.method == call.method:
                delay.remaining -= 1
                if delay.remaining <= 0:
                    self._delays.remove(delay)
                await self._sleep(delay.seconds)
                break
        handler = self._handlers.get(call.method)
        if handler is None:
            raise SlackError("unknown_method", req_method=call.method)
        self._check_token(call.method, call.token)
        fault = await self.faults.strike() if call.method in SLACK_METHODS else None
        if fault is not None:
            error, status, headers = slack_error(fault)
            raise SlackError(error, status=status, headers=headers)
        channel = call.params.get("channel")
        channel_key = self._channel_key(channel) if isinstance(channel, str) and channel else None
        for failure in self._failures:
            if failure.method == call.method and failure.channel in (None, channel_key):
                if failure.remaining is not None:
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self._failures.remove(failure)
                raise self._failure_error(failure)
        if call.method.startswith("chat.") and channel_key in self._blocked:
            raise SlackError(self._blocked[channel_key])
        return await handler(call.params)

    @staticmethod
    def _failure_error(failure: _Failure) -> SlackError:
        headers = {}
        if failure.status == 429 and failure.retry_after is not None:
            headers["Retry-After"] = str(failure.retry_after)
        return SlackError(
            failure.error, status=failure.status, headers=headers, body_text=failure.body
        )

    def _check_token(self, method: str, token: str | None) -> None:
        if not token:
            raise SlackError("not_authed")
        expected = self.app_token if method in _APP_TOKEN_METHODS else self.bot_token
        if token == expected:
            return
        if token in (self.bot_token, self.app_token):
            raise SlackError("not_allowed_token_type")
        raise SlackError("invalid_auth")

    async def _handle_response(self, request: web.Request) -> web.Response:
        response_id = request.match_info["response_id"]
        text = await request.text()
        try:
            body: Any = json.loads(text)
        except ValueError:
            body = text
        post = ResponsePost(response_id, body, CIMultiDict(request.headers))
        self.response_posts.append(post)
        try:
            target = self._responses.get(response_id)
            if target is None:
                post.status = 404
                return web.Response(status=404, text="no_service")
            target.uses += 1
            if target.uses > RESPONSE_URL_USES:
                post.status = 404
                return web.Response(status=404, text="used_url")
            if not isinstance(body, dict):
                post.status = 400
                return web.Response(status=400, text="invalid_payload")
            try:
                self._apply_response(target, body)
            except SlackError as error:
                return self._json(200, {"ok": False, "error": error.error, **error.extra})
            return self._json(200, {"ok": True})
        finally:
            self._notify()

    def _apply_response(
        self, target: _ResponseTarget, body: dict[str, Any], *, via: str = "response_url"
    ) -> None:
        """What Slack does with a response_url post (or a slash command ack payload)."""
        record = self._find(target.channel, target.message_ts) if target.message_ts else None
        if body.get("delete_original") and record is not None:
            record["deleted"] = True
            return
        text, blocks = self._content(body, require=True)
        if body.get("replace_original") and record is not None:
            record["history"].append({"text": record["text"], "blocks": record["blocks"]})
            record["text"] = text or ""
            record["blocks"] = blocks or None
            record["edited"] = {"user": BOT_USER_ID, "ts": self._next_ts()}
            return
        thread_ts = body.get("thread_ts") or target.thread_ts
        if body.get("response_type") == "in_channel":
            self._new_bot_record(target.channel, text or "", blocks, thread_ts, {})
            return
        self._ephemerals.append(
            {
                "channel": target.channel,
                "user": target.user,
                "ts": self._next_ts(),
                "text": text or "",
                "blocks": blocks or None,
                "thread_ts": thread_ts,
                "via": via,
            }
        )

    async def _handle_file(self, request: web.Request) -> web.Response:
        team_file = request.match_info["team_file"]
        file_id = team_file.split("-", 1)[-1]
        if request.headers.get("Authorization", "") != f"Bearer {self.bot_token}":
            # Slack answers an unauthenticated url_private with its sign-in page, status 200.
            return web.Response(text=_LOGIN_PAGE, content_type="text/html")
        if file_id not in self.files:
            return web.Response(status=404, text="file_not_found")
        _, mimetype, data = self.files[file_id]
        return web.Response(body=data, content_type=mimetype)

    # ------------------------------------------------------------------ internals: checks

    def _resolve_channel(self, params: dict[str, Any]) -> str:
        value = params.get("channel")
        if not isinstance(value, str) or not value:
            raise SlackError("channel_not_found")
        key = self._channel_key(value)
        if key not in self.channels:
            raise SlackError("channel_not_found")
        return key

    def _content(
        self, params: Mapping[str, Any], *, require: bool
    ) -> tuple[str | None, list[dict[str, Any]] | None]:
        text = params.get("text")
        if text is not None and not isinstance(text, str):
            text = str(text)
        if text is not None and len(text) > MAX_TEXT:
            raise SlackError("msg_too_long")
        blocks = params.get("blocks")
        if blocks is not None:
            self._validate_blocks(blocks)
        if require and not text and not blocks and not params.get("attachments"):
            raise SlackError("no_text")
        return text, blocks

    @staticmethod
    def _validate_blocks(blocks: Any) -> None:
        if not isinstance(blocks, list):
            raise SlackError("invalid_blocks_format")
        errors: list[str] = []

        def too_long(value: Any, limit: int, pointer: str) -> None:
            if isinstance(value, str) and len(value) > limit:
                errors.append(f"must be less than {limit + 1} characters [json-pointer:{pointer}]")

        if len(blocks) > MAX_BLOCKS:
            errors.append(f"no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]")
        for i, block in enumerate(blocks):
            at = f"/blocks/{i}"
            if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                errors.append(f"missing required field: type [json-pointer:{at}]")
                continue
            too_long(block.get("block_id"), MAX_ID, f"{at}/block_id")
            kind = block["type"]
            if kind == "section":
                text_obj, fields = block.get("text"), block.get("fields")
                if text_obj is None and not fields:
                    errors.append(f"must provide text or fields [json-pointer:{at}]")
                if text_obj is not None:
                    if not isinstance(text_obj, dict) or text_obj.get("type") not in (
                        "plain_text",
                        "mrkdwn",
                    ):
                        errors.append(f"must be a text object [json-pointer:{at}/text]")
                    else:
                        too_long(_text_of(text_obj), MAX_SECTION_TEXT, f"{at}/text/text")
                for j, item in enumerate(fields or []):
                    too_long(_text_of(item), MAX_FIELD_TEXT, f"{at}/fields/{j}/text")
                if isinstance(block.get("accessory"), dict):
                    _check_element(block["accessory"], f"{at}/accessory", too_long)
            elif kind == "header":
                too_long(_text_of(block.get("text")), MAX_HEADER_TEXT, f"{at}/text/text")
            elif kind == "actions":
                elements = block.get("elements") or []
                if not elements or len(elements) > 25:
                    errors.append(f"must have 1 to 25 elements [json-pointer:{at}/elements]")
                for j, element in enumerate(elements):
                    if isinstance(element, dict):
                        _check_element(element, f"{at}/elements/{j}", too_long)
            elif kind == "context" and len(block.get("elements") or []) > 10:
                errors.append(f"no more than 10 items allowed [json-pointer:{at}/elements]")
        if errors:
            raise SlackError(
                "invalid_blocks",
                errors=errors,
                response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
            )

    def _thread_ts(self, params: Mapping[str, Any]) -> str | None:
        thread_ts = params.get("thread_ts")
        if thread_ts is None or thread_ts == "":
            return None
        if not isinstance(thread_ts, str) or not _TS_RE.fullmatch(thread_ts):
            raise SlackError("invalid_thread_ts")
        return thread_ts

    # ------------------------------------------------------------------ internals: methods

    async def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": TEAM_NAME,
            "user": BOT_NAME,
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    async def _apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        ticket = str(uuid.uuid4())
        self._tickets.add(ticket)
        ws_url = self.url.replace("http://", "ws://", 1)
        return {"url": f"{ws_url}/socket?ticket={ticket}&app_id={APP_ID}"}

    async def _chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(params)
        text, blocks = self._content(params, require=True)
        thread_ts = self._thread_ts(params)
        extra: dict[str, Any] = {}
        for name in ("username", "icon_emoji", "icon_url", "metadata", "attachments"):
            if params.get(name) is not None:
                extra[name] = params[name]
        record = self._new_bot_record(channel, text or "", blocks, thread_ts, extra)
        self._posted.append((channel, record["ts"]))
        if self.echo_own_messages:
            self._spawn(self._echo(record))
        return {"channel": channel, "ts": record["ts"], "message": self._view(record)}

    async def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(params)
        record = self._find(channel, params.get("ts"))
        if record is None or record["deleted"]:
            raise SlackError("message_not_found")
        if record["user"] != BOT_USER_ID:
            raise SlackError("cant_update_message")
        text, blocks = self._content(params, require=True)
        record["history"].append({"text": record["text"], "blocks": record["blocks"]})
        if text is not None:
            record["text"] = text
        if "blocks" in params:  # omitted: the blocks stay; []: they go
            record["blocks"] = blocks or None
        record["edited"] = {"user": BOT_USER_ID, "ts": self._next_ts()}
        self._notify()
        return {
            "channel": channel,
            "ts": record["ts"],
            "text": record["text"],
            "message": self._view(record),
        }

    async def _chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(params)
        record = self._find(channel, params.get("ts"))
        if record is None or record["deleted"]:
            raise SlackError("message_not_found")
        if record["user"] != BOT_USER_ID:
            raise SlackError("cant_delete_message")
        record["deleted"] = True
        self._notify()
        return {"channel": channel, "ts": record["ts"]}

    async def _chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(params)
        user = params.get("user")
        if not isinstance(user, str) or user not in self.users:
            raise SlackError("user_not_found")
        info = self.channels[channel]
        if info.get("is_im") and info.get("user") != user:
            raise SlackError("user_not_in_channel")
        members = info.get("members")
        if members is not None and user not in members:
            raise SlackError("user_not_in_channel")
        text, blocks = self._content(params, require=True)
        ts = self._next_ts()
        self._ephemerals.append(
            {
                "channel": channel,
                "user": user,
                "ts": ts,
                "text": text or "",
                "blocks": blocks or None,
                "thread_ts": self._thread_ts(params),
                "via": "chat.postEphemeral",
            }
        )
        self._notify()
        return {"message_ts": ts}

    async def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("channel"):
            return {"channel": {"id": self._resolve_channel(params)}}
        users = params.get("users")
        if not isinstance(users, str) or not users.strip():
            raise SlackError("users_list_not_supplied")
        ids = [u.strip() for u in users.split(",") if u.strip()]
        for user in ids:
            if user not in self.users:
                raise SlackError("user_not_found")
        if len(ids) == 1:
            channel = self.dm_channel(ids[0])
        else:
            key = frozenset(ids)
            if key not in self._mpims:
                self._mpims[key] = f"G{next(self._numbers):08d}"
                self.channels[self._mpims[key]] = {
                    "id": self._mpims[key],
                    "name": "mpdm-" + "--".join(sorted(self.users[u]["name"] for u in ids)),
                    "is_im": False,
                    "members": [*ids, BOT_USER_ID],
                }
            channel = self._mpims[key]
        result: dict[str, Any] = {"channel": {"id": channel}}
        if channel in self._opened:
            result["no_op"] = True
            result["already_open"] = True
        self._opened.add(channel)
        if params.get("return_im") and len(ids) == 1:
            result["channel"].update(
                {
                    "created": int(time.time()),
                    "is_im": True,
                    "is_org_shared": False,
                    "user": ids[0],
                    "is_user_deleted": False,
                    "priority": 0,
                }
            )
        return result

    async def _files_get_upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        """Step 1 of an upload: an upload_url on this fake for the bytes, and the file's id."""
        filename = params.get("filename")
        length = params.get("length")
        if not isinstance(filename, str) or not filename:
            raise SlackError("invalid_arguments")
        if not isinstance(length, str | int) or not str(length).isdigit() or int(length) < 1:
            raise SlackError("invalid_arguments")
        file_id = f"F{next(self._numbers):08d}"
        self._uploading[file_id] = {"filename": filename, "length": int(length), "data": None}
        return {"upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    async def _handle_upload(self, request: web.Request) -> web.Response:
        """Step 2: the bytes, as the raw body (what slack_sdk sends) or a multipart file."""
        pending = self._uploading.get(request.match_info["file_id"])
        if pending is None:
            return web.Response(status=404, text="not_found")
        if request.content_type == "multipart/form-data":
            data = b""
            async for part in await request.multipart():
                if isinstance(part, aiohttp.BodyPartReader) and part.filename is not None:
                    data = bytes(await part.read())
        else:
            data = await request.read()
        pending["data"] = data
        self._notify()
        return web.Response(text=f"OK - {len(data)}")

    async def _files_complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        """Step 3: share the uploaded files in `channel_id` (a thread with `thread_ts`), with
        `initial_comment` as the message's text. Answers only ids and titles, like Slack (the
        share happens afterwards there)."""
        try:
            files = json.loads(params.get("files") or "")
        except (TypeError, ValueError) as error:
            raise SlackError("invalid_arguments") from error
        if not isinstance(files, list) or not files:
            raise SlackError("invalid_arguments")
        channel = params.get("channel_id")
        key = self._resolve_channel({"channel": channel}) if channel else None
        if key is not None and key in self._blocked:
            raise SlackError(self._blocked[key])
        comment = params.get("initial_comment")
        if isinstance(comment, str) and len(comment) > MAX_TEXT:
            raise SlackError("msg_too_long")
        thread_ts = self._thread_ts(params)
        done = []
        for item in files:
            file_id = item.get("id") if isinstance(item, dict) else None
            pending = self._uploading.get(file_id) if isinstance(file_id, str) else None
            if pending is None or pending["data"] is None:
                raise SlackError("file_not_found")
            if len(pending["data"]) != pending["length"]:
                raise SlackError("file_upload_size_mismatch")
            del self._uploading[file_id]
            name = pending["filename"]
            title = item.get("title") or name
            kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
            self.files[file_id] = (name, kind, pending["data"])
            done.append({"id": file_id, "title": title})
            record = None
            if key is not None:
                record = self._new_bot_record(
                    key, comment or "", None, thread_ts,
                    {"subtype": "file_share", "upload": True,
                     "files": [{"id": file_id, "name": name, "title": title,
                                "mimetype": kind, "size": len(pending["data"])}]})
            self.uploads.append({
                "file_id": file_id, "name": name, "title": title, "mimetype": kind,
                "data": pending["data"], "channel": key, "thread_ts": thread_ts,
                "initial_comment": comment, "ts": record["ts"] if record else None,
            })
        return {"files": done}

    async def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = params.get("user")
        if not isinstance(user_id, str) or user_id not in self.users:
            raise SlackError("user_not_found")
        user = copy.deepcopy(self.users[user_id])
        if not params.get("include_locale"):
            user.pop("locale", None)  # Slack sends locale only when asked
        return {"user": user}


def _check_element(
    element: dict[str, Any], pointer: str, too_long: Callable[[Any, int, str], None]
) -> None:
    too_long(element.get("action_id"), MAX_ID, f"{pointer}/action_id")
    if element.get("type") == "button":
        too_long(_text_of(element.get("text")), MAX_BUTTON_TEXT, f"{pointer}/text/text")
        too_long(element.get("value"), MAX_BUTTON_VALUE, f"{pointer}/value")
