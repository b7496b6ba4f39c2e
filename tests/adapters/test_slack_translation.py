"""The Slack adapter's translation, both ways, as pure functions on Slack's own payloads."""

from __future__ import annotations

import html

import pytest
from hypothesis import given
from hypothesis import strategies as st
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.slack_adapter import (
    SECTION_LIMIT,
    _retry_number,
    action_to_inbound,
    blocks_for,
    command_to_inbound,
    escape,
    escaped_length,
    event_to_inbound,
    translate_error,
)
from core.model import Address, Button
from core.ports import PermanentFailure, RetryLater, Unreachable

DM = "D0MARC"


def body(event: dict, event_id: str = "Ev1") -> dict:
    return {"team_id": "T1", "event_id": event_id, "type": "event_callback", "event": event}


def message(**fields: object) -> dict:
    return {"type": "message", "channel": DM, "channel_type": "im", "user": "U0MARC",
            "text": "Bonjour", "ts": "1700000000.000100", **fields}


def test_a_direct_message_and_a_reply_in_a_thread() -> None:
    plain = event_to_inbound(body(message()), "U0BOT")
    assert plain is not None
    assert (plain.source, plain.platform_user_id, plain.text, plain.message_id, plain.reply_to) \
        == (Address("slack", DM), "U0MARC", "Bonjour", "1700000000.000100", None)
    threaded = event_to_inbound(body(message(thread_ts="1690000000.000001")))
    assert threaded is not None
    assert threaded.source == Address("slack", DM, "1690000000.000001")
    assert threaded.reply_to == "1690000000.000001"
    root = event_to_inbound(body(message(thread_ts="1700000000.000100")))  # a thread's root
    assert root is not None and root.source.thread_id is None


def test_a_retry_under_another_event_id_has_the_same_key() -> None:
    first = event_to_inbound(body(message(), "Ev1"))
    again = event_to_inbound(body(message(), "Ev2"))
    assert first is not None and again is not None and first.event_key == again.event_key


@pytest.mark.parametrize("event", [
    message(channel="C0GENERAL", channel_type="channel"),  # a channel: everyone would read it
    message(bot_id="B0OTHER"),
    message(user="U0BOT"),  # ourselves
    message(subtype="channel_join"),
    message(subtype="bot_message", bot_id="B0OTHER"),
    message(text=""),
    {"type": "reaction_added", "user": "U0MARC"},
])
def test_what_is_not_a_person_writing_to_the_app_is_ignored(event: dict) -> None:
    assert event_to_inbound(body(event), "U0BOT") is None


def test_edits_and_deletions() -> None:
    changed = {"type": "message", "subtype": "message_changed", "channel": DM,
               "channel_type": "im", "message": {"user": "U0MARC", "text": "Bonsoir",
                                                 "ts": "1.000100"},
               "previous_message": {"user": "U0MARC", "text": "Bonjour", "ts": "1.000100"}}
    edited = event_to_inbound(body(changed))
    assert edited is not None and edited.edited and edited.text == "Bonsoir"
    assert edited.message_id == "1.000100"
    unfurl = {**changed, "message": {**changed["message"], "text": "Bonjour"}}
    assert event_to_inbound(body(unfurl)) is None  # same text: a link unfurled, a reply counted
    deleted = event_to_inbound(body({
        "type": "message", "subtype": "message_deleted", "channel": DM, "channel_type": "im",
        "deleted_ts": "1.000100", "previous_message": {"user": "U0MARC", "ts": "1.000100"}}))
    assert deleted is not None and deleted.deleted and deleted.message_id == "1.000100"


def test_files_become_media_and_keep_their_words() -> None:
    shared = event_to_inbound(body(message(
        subtype="file_share", text="ma soudure",
        files=[{"mimetype": "image/png", "name": "x.png"}])))
    assert shared is not None and (shared.media, shared.text) == ("photo", "ma soudure")
    pdf = event_to_inbound(body(message(subtype="file_share", text="",
                                        files=[{"mimetype": "application/pdf"}])))
    assert pdf is not None and pdf.media == "document"


def test_a_button_press_and_a_slash_command() -> None:
    press = action_to_inbound({
        "type": "block_actions", "team": {"id": "T1"}, "user": {"id": "U0MARC"},
        "container": {"type": "message", "message_ts": "5.000001", "channel_id": DM,
                      "is_ephemeral": False},
        "message": {"ts": "5.000001"}, "trigger_id": "t1",
        "actions": [{"action_id": "passerelle-0", "value": "accept:12", "action_ts": "6.1"}],
    })
    assert press is not None
    assert (press.action, press.message_id, press.source) == (
        "accept:12", "5.000001", Address("slack", DM))
    command = command_to_inbound({"user_id": "U0MARC", "text": "capacity 3", "team_id": "T1",
                                  "trigger_id": "t2", "channel_id": "C0GENERAL"}, DM)
    assert (command.text, command.source) == ("/capacity 3", Address("slack", DM, None,
                                                                     "U0MARC"))
    assert command_to_inbound({"user_id": "U0MARC", "text": " "}, DM).text == "/help"


@given(st.text())
def test_escaped_text_can_neither_ping_nor_link(text: str) -> None:
    escaped = escape(text)
    assert "<" not in escaped and ">" not in escaped
    assert html.unescape(escaped) == text or "&" in text  # &amp;lt; stays what was typed
    assert len(escaped) == escaped_length(text)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=13_000),
       st.lists(st.text(min_size=1, max_size=90), max_size=4))
def test_blocks_hold_the_whole_text_in_sections_under_the_limit(
    text: str, labels: list[str]
) -> None:
    buttons = [Button(label, f"conv:{i}") for i, label in enumerate(labels)]
    blocks = blocks_for(text, buttons)
    sections = [b for b in blocks if b["type"] == "section"]
    assert all(len(b["text"]["text"]) <= SECTION_LIMIT for b in sections)
    assert all(b["text"]["verbatim"] is True for b in sections)
    joined = "".join(html.unescape(b["text"]["text"]) for b in sections)
    assert "".join(joined.split()) == "".join(html.unescape(escape(text)).split())
    if buttons:
        elements = blocks[-1]["elements"]
        assert [e["value"] for e in elements] == [b.action for b in buttons]
        assert all(len(e["text"]["text"]) <= 75 for e in elements)


def _error(status: int, error: str, headers: dict | None = None) -> SlackApiError:
    response = AsyncSlackResponse(client=None, http_verb="POST", api_url="x", req_args={},
                                  data={"ok": False, "error": error}, headers=headers or {},
                                  status_code=status)
    return SlackApiError("failed", response)


def test_errors_become_what_the_workers_understand() -> None:
    limited = translate_error(_error(429, "ratelimited", {"Retry-After": "7"}))
    assert isinstance(limited, RetryLater) and limited.retry_after == 7.0
    assert isinstance(translate_error(_error(503, "service_unavailable")), RetryLater)
    assert isinstance(translate_error(_error(200, "channel_not_found")), Unreachable)
    assert isinstance(translate_error(_error(200, "account_inactive")), Unreachable)
    assert isinstance(translate_error(_error(200, "invalid_auth")), RetryLater)
    assert isinstance(translate_error(_error(200, "invalid_blocks")), PermanentFailure)


@pytest.mark.parametrize(("headers", "number"), [
    ({}, 0), ({"x-slack-retry-num": ["0"]}, 0), ({"x-slack-retry-num": ["2"]}, 2),
    ({"x-slack-retry-num": "1"}, 1), ({"x-slack-retry-num": ["nope"]}, 0),
])
def test_the_retry_header_is_read_as_a_number(headers: dict, number: int) -> None:
    assert _retry_number(headers) == number
