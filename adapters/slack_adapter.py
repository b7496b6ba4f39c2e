"""Mentors on Slack: slack-bolt's AsyncApp inside our event loop, translated to the core's types.

Each student is a thread in the mentor's DM with the app: the match's first message (the request
with its buttons) is the thread root, and what the mentor writes in that thread goes to that
student. The core does the routing (a message written in a thread replies to its root); this
module only translates.

Nothing accepted is lost: listeners run before Bolt answers Slack (`process_before_response`),
so an event is acknowledged (HTTP 200, or the Socket Mode ack) only once the bus committed it.
A failure leaves it unacknowledged and Slack delivers it again; a repeat of an event that did
commit (a retry, `x-slack-retry-num` ≥ 1, or the same `event_id`) is recognised by its event key
and changes nothing. Bolt checks the signature and the 5-minute window of HTTP requests (401).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from core.model import Address, Button, Inbound, Outbound
from core.ports import PermanentFailure, RetryLater, Unreachable
from core.text import split_text

log = logging.getLogger("passerelle.slack")

EVENTS_PATH = "/slack/events"
COMMAND = "/passerelle"
SECTION_LIMIT = 3000  # characters in one section block
MAX_TEXT = 4 * SECTION_LIMIT  # one message: a few sections; longer text goes as several
MAX_BUTTON_LABEL = 75
MAX_COMMENT = 4000  # a file's initial comment (Slack advises 4,000 characters for a text)
MAX_FILE_BYTES = 1024 * 1024 * 1024  # what files.getUploadURLExternal takes: 1 GB
ACTION_PREFIX = "passerelle-"
# The recipient is gone for good (until they write again): deactivated, or the DM closed.
UNREACHABLE = frozenset({
    "channel_not_found", "is_archived", "user_disabled", "account_inactive", "user_not_found",
    "cannot_dm_bot", "messages_tab_disabled", "not_in_channel", "user_not_in_channel",
})
# Our side is misconfigured (token revoked, scope missing): nothing is wrong with the message,
# so it waits for an operator instead of failing.
OUR_FAULT = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired",
                       "missing_scope", "no_permission", "team_access_not_granted"})
GONE = frozenset({"message_not_found"})
_ACTION_PATTERN = re.compile(f"^{ACTION_PREFIX}")
_FILE_KINDS = (("image/", "photo"), ("video/", "video"), ("audio/", "audio"))

Feed = Callable[[Inbound], Awaitable[bool]]


# Translation, both ways -------------------------------------------------------------------------

def escape(text: str) -> str:
    """Slack mrkdwn control characters, escaped: a student's `<!channel>`, `<@U…>` or
    `<https://evil|innocent text>` arrives as the characters they typed, never as a ping or a
    disguised link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escaped_length(text: str) -> int:
    """Length as Slack counts it once escaped: what the section limit applies to."""
    return len(text) + 4 * text.count("&") + 3 * (text.count("<") + text.count(">"))


def blocks_for(text: str, buttons: Sequence[Button] = ()) -> list[dict[str, Any]]:
    """Sections of at most 3,000 characters (verbatim: no auto-linking of names or channels),
    then the buttons, each carrying the core's action as its value."""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": escape(part), "verbatim": True}}
        for part in split_text(text, SECTION_LIMIT, escaped_length) if part
    ]
    if buttons:
        blocks.append({
            "type": "actions", "block_id": "passerelle-actions",
            "elements": [
                {"type": "button", "action_id": f"{ACTION_PREFIX}{i}", "value": b.action,
                 "text": {"type": "plain_text", "text": b.label[:MAX_BUTTON_LABEL],
                          "emoji": True}}
                for i, b in enumerate(buttons[:25])
            ],
        })
    return blocks


def event_to_inbound(body: dict[str, Any], bot_user_id: str | None = None) -> Inbound | None:
    """A Slack `message` event → the core's Inbound; None for what the service does not handle.

    Only direct messages with the app count: in a channel, a student's words would be read by
    everyone in it. Bots (ours included) are never listened to. A payload broken on the way
    (a field of the wrong type) reads as one without that field: None, never an exception.
    """
    event = _obj(_obj(body).get("event"))
    if event.get("type") != "message" or event.get("channel_type") not in (None, "im"):
        return None
    channel = _id(event.get("channel"))
    if not channel.startswith("D"):
        return None
    team = _id(body.get("team_id"))
    subtype = event.get("subtype")
    if subtype == "message_changed":  # one message may be edited many times: key the event
        key = f"slack:{team}:{_id(body.get('event_id')) or _id(event.get('event_ts'))}"
        return _edited(key, channel, event, bot_user_id)
    # A message (and its deletion) happens once: keyed by where and when it was written, a
    # retry is recognised whatever event id it comes under.
    if subtype == "message_deleted":
        deleted = _id(event.get("deleted_ts"))
        key = f"slack:{team}:deleted:{channel}:{deleted}"
        previous = _obj(event.get("previous_message"))
        user = _id(previous.get("user"))
        if not user or previous.get("bot_id") or user == bot_user_id:
            return None
        return Inbound(key, Address("slack", channel), user,
                       message_id=deleted or _id(previous.get("ts")), deleted=True)
    if subtype not in (None, "file_share", "thread_broadcast", "me_message"):
        return None  # joins, bot messages, channel changes…
    key = f"slack:{team}:message:{channel}:{_id(event.get('ts'))}"
    return _message(key, channel, event, bot_user_id)


def _message(key: str, channel: str, message: dict[str, Any], bot_user_id: str | None,
             *, edited: bool = False) -> Inbound | None:
    user = _id(message.get("user"))
    if not user or message.get("bot_id") or user == bot_user_id:
        return None
    text = _id(message.get("text"))
    media = _media_kind(message.get("files"))
    if media is None and not text:
        return None
    ts = _id(message.get("ts"))
    thread = _id(message.get("thread_ts"))
    thread = thread if thread and thread != ts else None
    return Inbound(
        event_key=key, source=Address("slack", channel, thread), platform_user_id=user,
        text=text, message_id=ts, reply_to=thread, edited=edited, media=media,
    )


def _edited(key: str, channel: str, event: dict[str, Any], bot_user_id: str | None
            ) -> Inbound | None:
    message = _obj(event.get("message"))
    previous = _obj(event.get("previous_message"))
    # Slack also sends message_changed when a link unfurls or a thread gets a reply: the text
    # is the same then, and there is nothing to pass on.
    if message.get("text") == previous.get("text"):
        return None
    return _message(key, channel, message, bot_user_id, edited=True)


def _media_kind(files: object) -> str | None:
    if not files or not isinstance(files, list):
        return None
    mimetype = _id(_obj(files[0]).get("mimetype"))
    for prefix, kind in _FILE_KINDS:
        if mimetype.startswith(prefix):
            return kind
    return "document"


def _obj(value: object) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one: in a payload broken on the way, a
    field of the wrong type reads as a missing one instead of raising."""
    return value if isinstance(value, dict) else {}


def _id(value: object) -> str:
    """A string field (Slack's ids, timestamps and texts are all strings); else empty."""
    return value if isinstance(value, str) else ""


def action_to_inbound(body: dict[str, Any]) -> Inbound | None:
    """A button press (`block_actions`) → Inbound whose action is the button's value."""
    body = _obj(body)
    actions = body.get("actions")
    user = _id(_obj(body.get("user")).get("id"))
    container = _obj(body.get("container"))
    channel = _id(container.get("channel_id")) or _id(_obj(body.get("channel")).get("id"))
    if not actions or not isinstance(actions, list) or not user or not channel.startswith("D"):
        return None
    action = _obj(actions[0])
    value = _id(action.get("value"))
    if not value:
        return None
    message = _obj(body.get("message"))
    ts = _id(container.get("message_ts")) or _id(message.get("ts"))
    thread = _id(message.get("thread_ts"))
    thread = thread if thread and thread != ts else None
    private = user if container.get("is_ephemeral") else None
    key = (f"slack:{_id(_obj(body.get('team')).get('id'))}:action:{user}:"
           f"{_id(action.get('action_ts')) or _id(body.get('trigger_id'))}")
    return Inbound(key, Address("slack", channel, thread, private), user,
                   message_id=ts, action=value)


def command_to_inbound(form: dict[str, Any], dm_channel: str) -> Inbound | None:
    """`/passerelle pause` → the core's `/pause`, answered privately in the user's DM with the
    app (wherever it was typed: a channel must never become anyone's address). None without
    a user (a broken form: nobody to answer)."""
    words = _id(form.get("text")).strip()
    text = f"/{words}" if words else "/help"
    user = _id(form.get("user_id"))
    if not user or not dm_channel:
        return None
    key = f"slack:{_id(form.get('team_id'))}:command:{_id(form.get('trigger_id'))}"
    return Inbound(key, Address("slack", dm_channel, None, user), user, text=text,
                   message_id="")


def translate_error(error: SlackApiError) -> Exception:
    """Slack's errors → what the delivery workers know how to handle."""
    status = error.response.status_code
    data = error.response.data  # not JSON (an HTML page from Slack's edge): a str
    code = str(data.get("error") or "") if isinstance(data, dict) else ""
    if status == 429 or code == "ratelimited":
        retry_after = error.response.headers.get("Retry-After") or error.response.headers.get(
            "retry-after")
        return RetryLater("slack 429", float(retry_after) if retry_after else None)
    if status >= 500 or code in ("fatal_error", "internal_error", "service_unavailable",
                                 "request_timeout"):
        return RetryLater(f"slack {status} {code}")
    if code in UNREACHABLE:
        return Unreachable(code)
    if code in OUR_FAULT:
        log.error("event=slack_token_refused error=%s", code)
        return RetryLater(f"slack token refused: {code}")
    return PermanentFailure(f"slack: {code or status}")


# The channel -----------------------------------------------------------------------------------

class SlackChannel:
    platform = "slack"
    max_text = MAX_TEXT
    text_length = staticmethod(escaped_length)
    threads = True  # each match is a thread under its first message
    max_caption = MAX_COMMENT
    max_file_bytes = MAX_FILE_BYTES
    file_buttons = False  # an upload's comment carries no blocks: buttons go with the text
    min_chat_interval = 1.0  # chat.postMessage: about one message a second per channel
    max_per_second = 20.0  # and the workspace-wide burst Slack tolerates

    def __init__(
        self, bot_token: str, *, app_token: str | None = None,
        signing_secret: str | None = None, base_url: str | None = None,
        connect_timeout: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not app_token and not signing_secret:
            raise ValueError("Slack needs an app token (Socket Mode) or a signing secret (HTTP)")
        api = base_url or "https://slack.com/api/"
        self.client = AsyncWebClient(token=bot_token, base_url=api.rstrip("/") + "/", timeout=10)
        self.socket_mode = bool(app_token)
        self.app = AsyncApp(
            client=self.client, signing_secret=signing_secret,
            process_before_response=True,  # acknowledge only what the bus committed
            request_verification_enabled=not self.socket_mode,
            logger=logging.getLogger("passerelle.slack.bolt"),
        )
        self.handler = (
            AsyncSocketModeHandler(self.app, app_token=app_token, web_client=AsyncWebClient(
                token=app_token, base_url=self.client.base_url, timeout=10))
            if app_token else None
        )
        self.connect_timeout = connect_timeout
        self._sleep = sleep
        self._feed: Feed | None = None
        self._bot_user_id: str | None = None
        self._dms: dict[str, str] = {}  # user → their DM with the app
        self._started = False
        self._task: asyncio.Task[None] | None = None
        self._cosmetics: set[asyncio.Task[None]] = set()
        self._register()

    # receiving ------------------------------------------------------------------------------
    def _register(self) -> None:
        self.app.event("message")(self._on_message)
        self.app.action({"type": "block_actions", "action_id": _ACTION_PATTERN})(self._on_action)
        self.app.command(COMMAND)(self._on_command)

    async def _on_message(self, body: dict[str, Any], request: Any) -> None:
        inbound = event_to_inbound(body, self._bot_user_id)
        retry = _retry_number(request.headers)
        if retry:
            log.info("event=slack_retry attempt=%d", retry)
        if inbound is not None:
            await self._submit(inbound)  # raising leaves it unacknowledged: Slack sends it again

    async def _on_action(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any]) -> None:
        await ack()
        inbound = action_to_inbound(body)
        if inbound is None:
            return
        accepted = await self._submit(inbound)
        if accepted:
            task = asyncio.create_task(self._show_choice(body))
            self._cosmetics.add(task)
            task.add_done_callback(self._cosmetics.discard)

    async def _on_command(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any]
                          ) -> None:
        await ack()
        user = _id(body.get("user_id"))
        if not user:
            log.warning("event=slack_command_refused reason=no_user")
            return
        try:
            dm = await self._dm_of(user, _id(body.get("channel_id")))
        except (RetryLater, PermanentFailure, Unreachable) as error:
            # Nowhere to answer: Slack does not send a slash command again, so say it here.
            log.warning("event=slack_command_refused reason=no_dm error=%s", error)
            return
        inbound = command_to_inbound(body, dm)
        if inbound is not None:
            await self._submit(inbound)

    async def _submit(self, inbound: Inbound) -> bool:
        if self._feed is None:
            raise RuntimeError("the Slack channel is not started")
        return await self._feed(inbound)

    async def _dm_of(self, user: str, typed_in: str) -> str:
        """The user's DM with the app (where their answers go), opened once and remembered."""
        if user in self._dms:
            return self._dms[user]
        try:
            opened = await self.client.conversations_open(users=user)
            channel = str(opened["channel"]["id"])
        except SlackApiError as error:
            if not typed_in.startswith("D"):
                raise translate_error(error) from error
            channel = typed_in  # typed in the DM already: that is the one
        self._dms[user] = channel
        return channel

    async def _show_choice(self, body: dict[str, Any]) -> None:
        """Replace the buttons by what was chosen and by whom (cosmetic: the choice is stored)."""
        container = body.get("container") or {}
        message = body.get("message") or {}
        action = (body.get("actions") or [{}])[0]
        label = ((action.get("text") or {}).get("text")) or ""
        user = (body.get("user") or {}).get("id", "")
        blocks = [b for b in message.get("blocks") or [] if b.get("type") != "actions"]
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"✓ {escape(label)} · <@{user}>"}]})
        text = message.get("text") or label
        try:
            if container.get("is_ephemeral"):
                url = body.get("response_url")
                if url:
                    await AsyncWebhookClient(url).send(
                        text=text, blocks=blocks, replace_original=True)
            else:
                await self.client.chat_update(channel=container.get("channel_id"),
                                              ts=container.get("message_ts"), text=text,
                                              blocks=blocks)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as error:
            log.info("event=slack_button_cosmetics_failed error=%s", type(error).__name__)

    # life cycle -----------------------------------------------------------------------------
    async def start(self, feed: Feed) -> None:
        """Connect in the background: Slack being down must not stop the rest of the service."""
        self._feed = feed
        self._task = asyncio.create_task(self._run(), name="slack")

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                identity = await self.client.auth_test()
                self._bot_user_id = identity.get("user_id")
                if self.handler is not None:
                    # connect() retries forever by itself: bound it, and retry here with
                    # our own backoff and log lines.
                    await asyncio.wait_for(self.handler.connect_async(), self.connect_timeout)
                self._started = True
                log.info("event=slack_start mode=%s",
                         "socket" if self.socket_mode else "http")
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:
                failures += 1
                delay = min(60.0, 2.0 ** min(failures, 6))
                log.warning("event=slack_start_failed error=%s retry_in=%.0f",
                            type(error).__name__, delay)
                if self.handler is not None:
                    with contextlib.suppress(Exception):
                        await self.handler.disconnect_async()
                await self._sleep(delay)

    def healthy(self) -> bool:
        """Started, and (Socket Mode) the websocket is up: what /healthz reports."""
        if not self._started:
            return False
        if self.handler is None:
            return True
        client = self.handler.client  # its is_connected() is a coroutine: read the same state
        session = client.current_session
        return not client.closed and session is not None and not session.closed

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._cosmetics:
            await asyncio.gather(*self._cosmetics, return_exceptions=True)
        if self.handler is not None:
            client = self.handler.client
            await self.handler.close_async()
            # close() cancels its tasks without waiting for them; wait, so none is left behind.
            tasks = [t for t in (client.message_processor, client.message_receiver,
                                 client.current_session_monitor) if t is not None]
            if tasks:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 2)
        with contextlib.suppress(Exception):
            session = getattr(self.client, "session", None)
            if session is not None:
                await session.close()

    # delivery -------------------------------------------------------------------------------
    async def send(self, message: Outbound) -> str:
        if message.attachment is not None:
            return await self._upload(message)
        to = message.to
        text = escape(message.text)
        blocks = blocks_for(message.text, message.buttons)
        if to.private_to:
            sent = await self._call(self.client.chat_postEphemeral(
                channel=to.chat_id, user=to.private_to, text=text, blocks=blocks,
                thread_ts=to.thread_id))
            return str(sent.get("message_ts") or "")
        sent = await self._call(self.client.chat_postMessage(
            channel=to.chat_id, text=text, blocks=blocks, thread_ts=to.thread_id,
            unfurl_links=False, unfurl_media=False))
        return str(sent["ts"])

    async def _upload(self, message: Outbound) -> str:
        """A file, through Slack's upload flow (files.getUploadURLExternal, the bytes posted to
        the URL it gives, files.completeUploadExternal sharing it in the DM or thread), the
        text as its comment. A private answer (a slash command's) is shared in the person's DM
        with the app all the same: an ephemeral message cannot carry a file, and that DM is
        theirs alone. Slack shares the file after answering, so what is returned is the file's
        id, unless the answer already says the message's ts."""
        file = message.attachment
        assert file is not None
        to = message.to
        try:
            done = await self._call(self.client.files_upload_v2(
                channel=to.chat_id, file=file.data, filename=file.name, title=file.name,
                initial_comment=escape(message.text) if message.text else None,
                thread_ts=to.thread_id))
        except SlackRequestError as error:  # the upload URL refused the bytes
            raise RetryLater(f"slack upload: {str(error)[:80]}") from error
        uploaded = (done.get("files") or [{}])[0]
        return _shared_ts(uploaded, to.chat_id) or str(uploaded.get("id") or "")

    async def edit(self, message: Outbound) -> None:
        assert message.edit_of is not None
        await self._call(self.client.chat_update(
            channel=message.to.chat_id, ts=message.edit_of, text=escape(message.text),
            blocks=blocks_for(message.text)))

    async def delete(self, message: Outbound) -> None:
        assert message.delete_of is not None
        # Already gone is what was asked.
        await self._call(self.client.chat_delete(channel=message.to.chat_id,
                                                 ts=message.delete_of), done_if=GONE)

    @staticmethod
    async def _call(request: Awaitable[Any], done_if: frozenset[str] = frozenset()) -> Any:
        """One Web API call, its failures in the delivery workers' terms; an error in
        `done_if` means the call's purpose is already met."""
        try:
            return await request
        except SlackApiError as error:
            if str(error.response.get("error")) in done_if:
                return None
            raise translate_error(error) from error
        except aiohttp.ClientConnectionError as error:
            raise RetryLater(f"slack network: {type(error).__name__}") from error


def _shared_ts(file: dict[str, Any], channel: str) -> str | None:
    """The ts of the message that shared `file` in `channel`, when Slack said it."""
    for scope in ("private", "public"):
        shares = ((file.get("shares") or {}).get(scope) or {}).get(channel) or []
        if shares and shares[0].get("ts"):
            return str(shares[0]["ts"])
    return None


def _retry_number(headers: dict[str, Any]) -> int:
    """`x-slack-retry-num` as a number: Socket Mode sends "0" on the first delivery."""
    value = headers.get("x-slack-retry-num")
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


# HTTP mode (Events API) -------------------------------------------------------------------------

def events_routes(channel: SlackChannel) -> list[web.RouteDef]:
    """Where Slack posts events, button presses and slash commands in HTTP mode. Bolt verifies
    the signature and the timestamp (401 otherwise) before anything is handled."""

    async def receive(request: web.Request) -> web.Response:
        try:
            raw = (await request.read()).decode("utf-8")
            # Bolt parses the body as it builds the request, before checking the signature:
            # a body that is not a JSON object (or a form) raises here, forged or not, with
            # whatever its parsing met (JSONDecodeError, AttributeError for a JSON list…).
            bolt_request = AsyncBoltRequest(
                body=raw, query=request.query_string,
                headers={k.lower(): v for k, v in request.headers.items()},
            )
        except web.HTTPException:
            raise  # 413: over the server's size limit
        except Exception as error:
            log.warning("event=slack_request_refused reason=body error=%s remote=%s",
                        type(error).__name__, request.remote)
            return web.Response(status=400, text="unreadable body")
        response = await channel.app.async_dispatch(bolt_request)
        if response.status == 401:
            log.warning("event=slack_request_refused reason=signature remote=%s",
                        request.remote)
        headers = {k: v[0] for k, v in response.headers.items()
                   if v and k.lower() != "content-length"}
        return web.Response(status=response.status, body=response.body or "", headers=headers)

    return [web.post(EVENTS_PATH, receive)]
