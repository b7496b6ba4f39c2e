"""The fake Slack server, driven by the real slack_sdk 3.48 and slack-bolt 1.30.

These tests pin what the adapter tests rely on: that the real clients work against the fake
unchanged, and that the fake answers the way Slack does where the relay must cope (429 with
Retry-After, block limits, unknown messages, Socket Mode reconnects, signed HTTP requests).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.adapters.fake_slack import (
    BOT_ID,
    BOT_USER_ID,
    SIGNING_SECRET,
    TEAM_ID,
    FakeSlack,
    close_socket_mode_client,
)

MENTOR = "U0MENTOR"
STUDENT = "U0STUDENT"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as server:
        server.add_user(MENTOR, name="mentor", real_name="Mentor", tz="Europe/Paris")
        server.add_user(STUDENT, name="student", locale="en-GB", tz="America/Montreal")
        yield server


@pytest.fixture
def web_client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=fake.bot_token, base_url=fake.api_url, timeout=5)


class Recorder:
    """A Socket Mode request listener that acks at once and keeps what it received."""

    def __init__(self) -> None:
        self.requests: list[SocketModeRequest] = []
        self.messages: list[dict[str, Any]] = []

    async def on_request(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        self.requests.append(req)
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))

    async def on_message(
        self, client: AsyncBaseSocketModeClient, message: dict[str, Any], raw: str | None
    ) -> None:
        self.messages.append(message)


@contextlib.asynccontextmanager
async def socket_client(fake: FakeSlack) -> AsyncIterator[tuple[SocketModeClient, Recorder]]:
    """The real aiohttp SocketModeClient, connected, closed cleanly on the way out."""
    client = SocketModeClient(
        app_token=fake.app_token,
        web_client=AsyncWebClient(token=fake.bot_token, base_url=fake.api_url, timeout=5),
    )
    recorder = Recorder()
    client.socket_mode_request_listeners.append(recorder.on_request)
    client.message_listeners.append(recorder.on_message)
    try:
        await asyncio.wait_for(client.connect(), 2)  # connect() retries forever: bound it
        yield client, recorder
    finally:
        await close_socket_mode_client(client)


# ---------------------------------------------------------------------- Web API


async def test_binds_loopback_and_answers_auth_test(
    fake: FakeSlack, web_client: AsyncWebClient
) -> None:
    assert fake.url.startswith("http://127.0.0.1:")
    assert fake.api_url.endswith("/api/")
    response = await web_client.auth_test()
    assert response["team_id"] == TEAM_ID
    assert (response["user"], response["user_id"], response["bot_id"]) == (
        "passerelle",
        BOT_USER_ID,
        BOT_ID,
    )
    call = fake.calls_of("auth.test")[0]
    assert call.headers["Authorization"] == f"Bearer {fake.bot_token}"
    assert call.token == fake.bot_token and "token" not in call.params


async def test_tokens_are_checked(fake: FakeSlack) -> None:
    wrong = AsyncWebClient(token="xoxb-wrong", base_url=fake.api_url)
    with pytest.raises(SlackApiError) as caught:
        await wrong.auth_test()
    assert caught.value.response["error"] == "invalid_auth"
    app_level = AsyncWebClient(token=fake.app_token, base_url=fake.api_url)
    with pytest.raises(SlackApiError) as caught:
        await app_level.chat_postMessage(channel=MENTOR, text="hi")
    assert caught.value.response["error"] == "not_allowed_token_type"
    bot = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
    with pytest.raises(SlackApiError) as caught:
        await bot.apps_connections_open(app_token=fake.bot_token)
    assert caught.value.response["error"] == "not_allowed_token_type"
    opened = await bot.apps_connections_open(app_token=fake.app_token)
    assert opened["url"].startswith(fake.url.replace("http://", "ws://") + "/socket?ticket=")


async def test_unknown_method(fake: FakeSlack, web_client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as caught:
        await web_client.api_call("chat.teleport", params={"channel": "D0MENTOR"})
    assert caught.value.response["error"] == "unknown_method"


async def test_post_in_thread_update_and_delete(
    fake: FakeSlack, web_client: AsyncWebClient
) -> None:
    parent = await web_client.chat_postMessage(channel=MENTOR, text="Nouvelle demande")
    dm = fake.dm_channel(MENTOR)
    assert parent["channel"] == dm == "D0MENTOR"  # a user id posts to their DM, as on Slack
    reply = await web_client.chat_postMessage(channel=dm, text="détails", thread_ts=parent["ts"])
    assert float(reply["ts"]) > float(parent["ts"])
    assert reply["message"]["thread_ts"] == parent["ts"]
    assert reply["message"]["bot_id"] == BOT_ID
    answer = fake.dm_message(MENTOR, "je prends", thread_ts=parent["ts"])
    assert answer["thread_ts"] == parent["ts"] and answer["parent_user_id"] == BOT_USER_ID
    assert [m["text"] for m in fake.thread(dm, parent["ts"])] == [
        "Nouvelle demande",
        "détails",
        "je prends",
    ]
    assert fake.message(dm, parent["ts"])["reply_count"] == 2  # type: ignore[index]

    updated = await web_client.chat_update(channel=dm, ts=reply["ts"], text="détails (corrigé)")
    assert updated["text"] == "détails (corrigé)"
    stored = fake.message(dm, reply["ts"])
    assert stored is not None and stored["edited"] is not None
    assert stored["history"] == [{"text": "détails", "blocks": None}]

    await web_client.chat_delete(channel=dm, ts=reply["ts"])
    assert fake.message(dm, reply["ts"])["deleted"] is True  # type: ignore[index]
    assert fake.texts(dm, thread_ts=parent["ts"]) == ["Nouvelle demande", "je prends"]
    for coro, error in (
        (web_client.chat_update(channel=dm, ts=reply["ts"], text="x"), "message_not_found"),
        (web_client.chat_delete(channel=dm, ts="1.000001"), "message_not_found"),
        (web_client.chat_update(channel=dm, ts=answer["ts"], text="x"), "cant_update_message"),
        (web_client.chat_delete(channel=dm, ts=answer["ts"]), "cant_delete_message"),
        (web_client.chat_postMessage(channel="C0NOWHERE", text="x"), "channel_not_found"),
    ):
        with pytest.raises(SlackApiError) as caught:
            await coro
        assert caught.value.response["error"] == error


async def test_chat_sends_json_and_delete_sends_query(
    fake: FakeSlack, web_client: AsyncWebClient
) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*gras*"}}]
    posted = await web_client.chat_postMessage(channel=MENTOR, text="gras", blocks=blocks)
    await web_client.chat_delete(channel=posted["channel"], ts=posted["ts"])
    post, delete = fake.calls_of("chat.postMessage")[0], fake.calls_of("chat.delete")[0]
    assert post.content_type == "application/json"
    assert post.params["blocks"] == blocks
    assert delete.params == {"channel": "D0MENTOR", "ts": posted["ts"]}
    assert fake.posted(MENTOR)[0]["blocks"] == blocks


async def test_429_carries_retry_after(fake: FakeSlack, web_client: AsyncWebClient) -> None:
    fake.fail_next("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as caught:
        await web_client.chat_postMessage(channel=MENTOR, text="bonjour")
    response = caught.value.response
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response["error"] == "ratelimited"
    sent = await web_client.chat_postMessage(channel=MENTOR, text="bonjour")  # only once
    assert sent["ok"]
    assert [c.status for c in fake.calls_of("chat.postMessage")] == [429, 200]


async def test_api_errors_and_server_errors(fake: FakeSlack, web_client: AsyncWebClient) -> None:
    fake.fail_next("chat.postMessage", error="fatal_error")
    with pytest.raises(SlackApiError) as caught:
        await web_client.chat_postMessage(channel=MENTOR, text="x")
    assert (caught.value.response.status_code, caught.value.response["error"]) == (
        200,
        "fatal_error",
    )
    fake.fail_next("chat.postMessage", error="service_unavailable", status=503)
    with pytest.raises(SlackApiError) as caught:
        await web_client.chat_postMessage(channel=MENTOR, text="x")
    assert caught.value.response.status_code == 503
    fake.fail_next("chat.postMessage", error="internal", status=500, body="<html>oops</html>")
    with pytest.raises(SlackApiError) as caught:
        await web_client.chat_postMessage(channel=MENTOR, text="x")
    assert caught.value.response.status_code == 500
    # A failure bound to one channel leaves the others alone; times=None lasts.
    fake.fail_next("chat.postMessage", error="is_archived", channel=STUDENT, times=None)
    assert (await web_client.chat_postMessage(channel=MENTOR, text="ok"))["ok"]
    for _ in range(2):
        with pytest.raises(SlackApiError):
            await web_client.chat_postMessage(channel=STUDENT, text="x")
    fake.clear_failures()
    assert (await web_client.chat_postMessage(channel=STUDENT, text="ok"))["ok"]


async def test_delay_next(fake: FakeSlack, web_client: AsyncWebClient) -> None:
    fake.delay_next("chat.postMessage", 0.2)
    started = time.monotonic()
    await web_client.chat_postMessage(channel=MENTOR, text="lent")
    assert time.monotonic() - started >= 0.2
    started = time.monotonic()
    await web_client.chat_postMessage(channel=MENTOR, text="rapide")
    assert time.monotonic() - started < 0.2


async def test_blocked_channel(fake: FakeSlack, web_client: AsyncWebClient) -> None:
    fake.block_channel(MENTOR, "channel_not_found")
    with pytest.raises(SlackApiError) as caught:
        await web_client.chat_postMessage(channel=fake.dm_channel(MENTOR), text="x")
    assert caught.value.response["error"] == "channel_not_found"
    assert (await web_client.chat_postMessage(channel=STUDENT, text="ok"))["ok"]
    fake.unblock_channel(MENTOR)
    assert (await web_client.chat_postMessage(channel=MENTOR, text="ok"))["ok"]


async def test_text_and_block_limits(fake: FakeSlack, web_client: AsyncWebClient) -> None:
    def section(length: int) -> list[dict[str, Any]]:
        return [{"type": "section", "text": {"type": "mrkdwn", "text": "a" * length}}]

    assert (await web_client.chat_postMessage(channel=MENTOR, text="a" * 40_000))["ok"]
    with pytest.raises(SlackApiError) as caught:
        await web_client.chat_postMessage(channel=MENTOR, text="a" * 40_001)
    assert caught.value.response["error"] == "msg_too_long"
    assert (await web_client.chat_postMessage(channel=MENTOR, text="t", blocks=section(3000)))["ok"]
    with pytest.raises(SlackApiError) as caught:
        await web_client.chat_postMessage(channel=MENTOR, text="t", blocks=section(3001))
    assert caught.value.response["error"] == "invalid_blocks"
    assert "[json-pointer:/blocks/0/text/text]" in caught.value.response["errors"][0]
    with (
        pytest.warns(UserWarning, match="`text` argument is missing"),  # slack_sdk warns too
        pytest.raises(SlackApiError) as caught,
    ):
        await web_client.chat_postMessage(channel=MENTOR, text="")
    assert caught.value.response["error"] == "no_text"
    posted = fake.posted(MENTOR)
    with pytest.raises(SlackApiError) as caught:
        await web_client.chat_update(
            channel=posted[0]["channel"], ts=posted[0]["ts"], text="t", blocks=section(3001)
        )
    assert caught.value.response["error"] == "invalid_blocks"


async def test_conversations_open_users_info_and_ephemeral(
    fake: FakeSlack, web_client: AsyncWebClient
) -> None:
    first = await web_client.conversations_open(users=MENTOR)
    again = await web_client.conversations_open(users=[MENTOR])
    assert first["channel"]["id"] == again["channel"]["id"] == "D0MENTOR"
    assert again["already_open"] is True
    with pytest.raises(SlackApiError) as caught:
        await web_client.conversations_open(users="U0NOBODY")
    assert caught.value.response["error"] == "user_not_found"

    plain = await web_client.users_info(user=STUDENT)
    assert "locale" not in plain["user"]  # Slack sends it only when asked
    full = await web_client.users_info(user=STUDENT, include_locale=True)
    assert (full["user"]["locale"], full["user"]["tz"]) == ("en-GB", "America/Montreal")
    assert fake.calls_of("users.info")[0].http_method == "GET"

    sent = await web_client.chat_postEphemeral(channel="D0MENTOR", user=MENTOR, text="psst")
    assert fake.ephemerals("D0MENTOR", user=MENTOR)[0]["ts"] == sent["message_ts"]
    with pytest.raises(SlackApiError) as caught:
        await web_client.chat_postEphemeral(channel="D0MENTOR", user=STUDENT, text="psst")
    assert caught.value.response["error"] == "user_not_in_channel"


# ---------------------------------------------------------------------- builders


async def test_user_action_builders(fake: FakeSlack, web_client: AsyncWebClient) -> None:
    said = fake.dm_message(MENTOR, "bonjour")
    assert (said["type"], said["channel_type"], said["channel"], said["user"]) == (
        "message",
        "im",
        "D0MENTOR",
        MENTOR,
    )
    assert said["event_ts"] == said["ts"] and said["team"] == TEAM_ID
    edit = fake.dm_edit(MENTOR, said["ts"], "bonsoir")
    assert edit["subtype"] == "message_changed"
    assert (edit["message"]["text"], edit["previous_message"]["text"]) == ("bonsoir", "bonjour")
    assert edit["message"]["ts"] == said["ts"] and edit["message"]["edited"]["user"] == MENTOR
    gone = fake.dm_delete(MENTOR, said["ts"])
    assert (gone["subtype"], gone["deleted_ts"]) == ("message_deleted", said["ts"])
    assert gone["previous_message"]["text"] == "bonsoir"
    with pytest.raises(ValueError):
        fake.dm_edit(STUDENT, said["ts"], "not theirs")

    other = fake.bot_message("D0MENTOR", "ping")
    assert other["subtype"] == "bot_message" and other["bot_id"] == "B0OTHER"
    mine = fake.self_message(MENTOR, "moi")
    assert (mine["user"], mine["bot_id"]) == (BOT_USER_ID, BOT_ID) and "subtype" not in mine

    shared = fake.file_share(
        MENTOR, text="voici", name="cv.pdf", mimetype="application/pdf", content=b"%PDF-1.4 fake"
    )
    file = shared["files"][0]
    assert shared["subtype"] == "file_share" and file["mimetype"] == "application/pdf"
    async with aiohttp.ClientSession() as session:
        auth = {"Authorization": f"Bearer {fake.bot_token}"}
        async with session.get(file["url_private"], headers=auth) as response:
            assert await response.read() == b"%PDF-1.4 fake"
        async with session.get(file["url_private_download"]) as response:  # no token
            assert response.status == 200 and response.content_type == "text/html"

    command = fake.slash_command(STUDENT, text="aide")
    assert command["channel_id"] == "D0STUDENT" and command["user_name"] == "student"
    assert command["response_url"].startswith(f"{fake.url}/response/")


async def test_block_action_and_response_url(fake: FakeSlack, web_client: AsyncWebClient) -> None:
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Accepter ?"}},
        {
            "type": "actions",
            "block_id": "choice",
            "elements": [
                {
                    "type": "button",
                    "action_id": "accept",
                    "text": {"type": "plain_text", "text": "Oui"},
                    "value": "req-1",
                }
            ],
        },
    ]
    posted = await web_client.chat_postMessage(channel=MENTOR, text="Accepter ?", blocks=blocks)
    payload = fake.block_action(MENTOR, posted["ts"], action_id="accept")
    action = payload["actions"][0]
    assert (action["block_id"], action["value"], action["type"]) == ("choice", "req-1", "button")
    assert payload["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": "D0MENTOR",
        "is_ephemeral": False,
    }
    assert payload["message"]["blocks"] == blocks and payload["user"]["id"] == MENTOR

    webhook = AsyncWebhookClient(payload["response_url"])
    answered = await webhook.send(text="Acceptée", replace_original=True)
    assert answered.status_code == 200
    assert fake.message(MENTOR, posted["ts"])["text"] == "Acceptée"  # type: ignore[index]
    await webhook.send(text="Pour vous seulement")
    assert fake.ephemerals(MENTOR)[0]["text"] == "Pour vous seulement"
    assert len(fake.response_posts) == 2


# ---------------------------------------------------------------------- Socket Mode


async def test_socket_mode_client_receives_event_and_acks(fake: FakeSlack) -> None:
    async with socket_client(fake) as (_client, recorder):
        assert fake.connection_count == 1
        event = fake.dm_message(MENTOR, "bonjour")
        envelope_id = await fake.push_event(event)
        assert await fake.wait_ack(envelope_id) is None  # a bare ack
        request = recorder.requests[0]
        assert (request.type, request.envelope_id) == ("events_api", envelope_id)
        assert (request.retry_attempt, request.retry_reason) == (0, "")
        body = request.payload
        assert body["type"] == "event_callback" and body["event"] == event
        assert body["event_id"].startswith("Ev") and body["authorizations"][0]["user_id"] == (
            BOT_USER_ID
        )
        assert recorder.messages[0]["type"] == "hello"

        retry_id = await fake.push_event(event, event_id=body["event_id"], retry_attempt=1)
        await fake.wait_ack(retry_id)
        retry = recorder.requests[1]
        assert (retry.retry_attempt, retry.retry_reason) == (1, "timeout")
        assert retry.payload["event_id"] == body["event_id"]
        assert retry.payload["event_time"] == body["event_time"]
        again = await fake.redeliver(retry_id)
        await fake.wait_ack(again)
        assert recorder.requests[2].retry_attempt == 2

        interactive = await fake.push_interactive({"type": "block_actions", "actions": []})
        command = await fake.push_slash_command(fake.slash_command(MENTOR))
        await fake.wait_ack(command)
        assert fake.ack_for(interactive) is not None
        assert [r.type for r in recorder.requests[3:]] == ["interactive", "slash_commands"]
        assert recorder.requests[4].accepts_response_payload is True


async def test_reconnects_after_the_server_closes(fake: FakeSlack) -> None:
    async with socket_client(fake) as (_client, recorder):
        assert await fake.disconnect_socket() == 1
        await fake.wait_connections(2)
        assert len(fake.calls_of("apps.connections.open")) == 2
        envelope_id = await fake.push_event(fake.dm_message(MENTOR, "toujours là ?"))
        await fake.wait_ack(envelope_id)
        assert fake.ack_for(envelope_id).connection == 2  # type: ignore[union-attr]

        await fake.send_disconnect("refresh_requested")
        await fake.wait_connections(3)
        envelope_id = await fake.push_event(fake.dm_message(MENTOR, "et là ?"))
        await fake.wait_ack(envelope_id)
        assert fake.ack_for(envelope_id).connection == 3  # type: ignore[union-attr]
        assert [m["type"] for m in recorder.messages].count("hello") == 3


async def test_bolt_socket_mode_handler() -> None:
    async with FakeSlack(echo_own_messages=True) as fake:
        app = AsyncApp(client=AsyncWebClient(token=fake.bot_token, base_url=fake.api_url))
        seen: list[tuple[str, Any]] = []

        @app.event("message")
        async def on_message(event: dict, say: Any, request: Any) -> None:
            seen.append(("message", request.headers.get("x-slack-retry-num")))
            await say(text=f"reçu : {event['text']}", thread_ts=event["ts"])

        @app.command("/passerelle")
        async def on_command(ack: Any, command: dict) -> None:
            await ack(text=f"aide pour {command['user_id']}")

        handler = AsyncSocketModeHandler(app, app_token=fake.app_token)
        try:
            await asyncio.wait_for(handler.connect_async(), 2)
            event = fake.dm_message(MENTOR, "salut")
            envelope_id = await fake.push_event(event)
            await fake.wait_ack(envelope_id)
            (reply,) = await fake.wait_posted(1)
            assert (reply["text"], reply["thread_ts"]) == ("reçu : salut", event["ts"])
            assert fake.calls_of("auth.test")  # bolt authorizes with auth.test
            assert seen == [("message", ["0"])]  # bolt >= 1.29: retry num "0" on first delivery
            # echo_own_messages: Slack echoes the bot's post; bolt's self-event filter acks it.
            await fake.wait_calls("chat.postMessage")
            await asyncio.wait_for(_until(lambda: len(fake.acks) >= 2), 2)
            assert len(fake.envelopes) == 2 and len(seen) == 1

            command = await fake.push_slash_command(fake.slash_command(MENTOR))
            assert await fake.wait_ack(command) == {"text": f"aide pour {MENTOR}"}
            assert fake.ephemerals(MENTOR)[0]["via"] == "ack"

            unhandled = await fake.push_event({"type": "reaction_added", "user": MENTOR})
            with pytest.raises(TimeoutError):  # bolt sends no ack when nothing matched
                await fake.wait_ack(unhandled, timeout=0.3)
        finally:
            await close_socket_mode_client(handler.client)


async def _until(predicate: Any) -> None:
    while not predicate():
        await asyncio.sleep(0.01)


# ---------------------------------------------------------------------- Events API over HTTP


@contextlib.asynccontextmanager
async def verifying_endpoint(secret: str) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A tiny app endpoint that checks signatures with slack_sdk's own SignatureVerifier."""
    verifier = SignatureVerifier(secret)
    received: list[dict[str, Any]] = []

    async def handle(request: web.Request) -> web.Response:
        raw = await request.text()
        if not verifier.is_valid_request(raw, dict(request.headers)):
            return web.Response(status=401, text="invalid signature")
        received.append({"raw": raw, "headers": dict(request.headers)})
        if request.content_type == "application/json":
            body = json.loads(raw)
            if body.get("type") == "url_verification":
                return web.json_response({"challenge": body["challenge"]})
        return web.Response(text="")

    app = web.Application()
    app.router.add_post("/slack/events", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events", received
    finally:
        await runner.cleanup()


async def test_post_signed_passes_slack_signature_verifier(fake: FakeSlack) -> None:
    async with verifying_endpoint(SIGNING_SECRET) as (url, received):
        body = fake.event_callback(fake.dm_message(MENTOR, "bonjour"))
        assert await fake.post_signed(url, body, signing_secret=SIGNING_SECRET) == (200, "")
        assert json.loads(received[0]["raw"]) == body
        assert received[0]["headers"]["Content-Type"] == "application/json"

        status, text = await fake.post_signed(
            url, fake.url_verification("abc"), signing_secret=SIGNING_SECRET
        )
        assert (status, json.loads(text)) == (200, {"challenge": "abc"})

        status, _ = await fake.post_signed(url, body, signing_secret=SIGNING_SECRET, retry_num=1)
        assert status == 200
        assert received[-1]["headers"]["X-Slack-Retry-Num"] == "1"
        assert received[-1]["headers"]["X-Slack-Retry-Reason"] == "http_timeout"

        action = fake.interactive_body({"type": "block_actions", "actions": []})
        assert (await fake.post_signed(url, action, signing_secret=SIGNING_SECRET))[0] == 200
        form = parse_qs(received[-1]["raw"])
        assert json.loads(form["payload"][0])["type"] == "block_actions"
        assert received[-1]["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
        command = fake.slash_command_body(fake.slash_command(MENTOR))
        assert (await fake.post_signed(url, command, signing_secret=SIGNING_SECRET))[0] == 200
        assert parse_qs(received[-1]["raw"])["command"] == ["/passerelle"]

        for kwargs in (
            {"signing_secret": "wrong-secret"},
            {"signing_secret": SIGNING_SECRET, "timestamp": int(time.time()) - 6 * 60},
            {"signing_secret": SIGNING_SECRET, "signature": "v0=" + "0" * 64},
        ):
            assert (await fake.post_signed(url, body, **kwargs))[0] == 401
    with pytest.raises(ValueError):
        await fake.post_signed("http://example.com/", body, signing_secret=SIGNING_SECRET)
