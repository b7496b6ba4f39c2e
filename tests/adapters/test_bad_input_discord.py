"""Bad input from Discord (issue 11): broken messages and interactions never raise in the
translation, and a gateway dispatch discord.py cannot read is logged and skipped without losing
the connection; the next message is handled as usual.

Covered elsewhere, not repeated here: other bots and server channels ignored
(test_discord_e2e.test_only_people_in_dms_are_listened_to), a mentor who closed his DMs
(test_discord_e2e), the core's split and refusal (tests/unit/test_relay.py). Discord itself
refuses a message over 2,000 characters (4,000 with Nitro), so a 10,000-character text cannot
come from Discord; the translation still passes any text whole (below).
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import discord
import pytest
from discord.state import ConnectionState
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.discord_translation import component_to_inbound, message_to_inbound
from bots.app import Passerelle
from tests.adapters.bad_input import check_inbound, garbage, huge_text, mutated, nasty_text
from tests.adapters.fake_discord import FakeDiscord
from tests.adapters.test_discord_e2e import CODE, MENTOR, fake, mentor_says, service  # noqa: F401
from tests.adapters.test_discord_translation import BOT, BOT_ID, DM, PERSON, payload

_client = discord.Client(intents=discord.Intents.none())
STATE: ConnectionState = _client._connection
STATE.user = discord.ClientUser(state=STATE, data=BOT)  # type: ignore[arg-type]

MESSAGE = payload(
    message_reference={"type": 0, "message_id": "1400000000000000050", "channel_id": str(DM)},
    attachments=[{"id": "1", "filename": "a.png", "size": 1, "url": "http://127.0.0.1/a",
                  "proxy_url": "http://127.0.0.1/a", "content_type": "image/png"}],
    sticker_items=[{"id": "1", "name": "s", "format_type": 1}],
)
INTERACTION = {
    "id": "1500000000000000001", "application_id": str(BOT_ID), "type": 3, "token": "tok",
    "version": 1, "locale": "en-GB", "app_permissions": "0",
    "data": {"custom_id": "passerelle:accept:7", "component_type": 2},
    "channel_id": str(DM), "channel": {"id": str(DM), "type": 1, "recipients": [PERSON]},
    "user": PERSON, "entitlements": [], "attachment_size_limit": 1024, "context": 1,
    "message": payload(author=BOT, content="Demande"),
}


def parsed_message(data: dict[str, Any]) -> discord.Message | None:
    """discord.py's model of a payload (None where its parser raises: the gateway guard's
    business, tested below)."""
    channel = discord.DMChannel(me=STATE.user, state=STATE,  # type: ignore[arg-type]
                                data={"id": str(DM), "type": 1, "recipients": [PERSON]})
    try:
        return discord.Message(state=STATE, channel=channel, data=data)  # type: ignore[arg-type]
    except Exception:
        return None


@settings(max_examples=200, deadline=None)
@given(mutated(MESSAGE), mutated(INTERACTION), st.booleans())
def test_broken_payloads_translate_to_a_sound_inbound_or_none(
    message: dict[str, Any], interaction: dict[str, Any], edited: bool
) -> None:
    parsed = parsed_message(message)
    if parsed is not None:
        check_inbound(message_to_inbound(parsed, BOT_ID, edited=edited), "discord")
        check_inbound(message_to_inbound(parsed, BOT_ID, edited=edited, dm_channel_id=DM),
                      "discord")
    try:
        pressed = discord.Interaction(data=interaction, state=STATE)  # type: ignore[arg-type]
    except Exception:
        return
    check_inbound(component_to_inbound(pressed), "discord")
    check_inbound(component_to_inbound(pressed, dm_channel_id=DM), "discord")


@settings(max_examples=30, deadline=None)
@given(st.one_of(huge_text(), nasty_text.filter(str.strip)))
def test_any_text_is_passed_on_whole_for_the_core_to_judge(text: str) -> None:
    parsed = parsed_message(payload(content=text))
    assert parsed is not None
    inbound = message_to_inbound(parsed, BOT_ID)
    check_inbound(inbound, "discord")
    assert inbound is not None and inbound.text == text


def test_a_message_without_author_or_a_press_without_user_is_none() -> None:
    no_author = {k: v for k, v in payload().items() if k != "author"}
    parsed = parsed_message(no_author)
    assert parsed is not None and message_to_inbound(parsed, BOT_ID) is None
    for changes in ({"user": None}, {"data": "passerelle:accept:7"}, {"data": {"custom_id": 5}}):
        data = {k: v for k, v in {**INTERACTION, **changes}.items() if v is not None}
        pressed = discord.Interaction(data=data, state=STATE)  # type: ignore[arg-type]
        assert component_to_inbound(pressed) is None


# Through the gateway ---------------------------------------------------------------------------

def user_message(fake: FakeDiscord) -> dict[str, Any]:  # noqa: F811
    """A MESSAGE_CREATE in the mentor's DM, as the fake would send it."""
    data = copy.deepcopy(MESSAGE)
    data.update(channel_id=str(fake.dm_channel_id(MENTOR)), id=str(fake._snowflake()))
    return data


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
async def test_garbage_dispatches_cost_no_connection_and_lose_nothing(
    service: Passerelle, fake: FakeDiscord, caplog: pytest.LogCaptureFixture,  # noqa: F811
    data: st.DataObject,
) -> None:
    caplog.set_level(logging.WARNING, logger="passerelle.discord")
    event = data.draw(st.sampled_from(
        ("MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE", "INTERACTION_CREATE",
         "SOMETHING_NEW")))
    body = data.draw(st.one_of(
        mutated(user_message(fake)), mutated(INTERACTION), garbage.filter(
            lambda g: isinstance(g, dict))))
    connections = len(fake.connections)
    await fake.push_dispatch(event, body)
    await mentor_says(fake, "/help")  # the next message is answered, on the same connection
    assert len(fake.connections) == connections
    assert "discord_start_failed" not in caplog.text


async def test_an_unreadable_dispatch_is_logged_and_skipped(
    service: Passerelle, fake: FakeDiscord, caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    caplog.set_level(logging.WARNING, logger="passerelle.discord")
    broken = {**user_message(fake), "id": "not-a-number"}
    await fake.push_dispatch("MESSAGE_CREATE", broken)
    await fake.push_dispatch("INTERACTION_CREATE", {"type": 3, "id": "not-a-number"})
    await mentor_says(fake, CODE)
    assert caplog.text.count("event=discord_dispatch_unreadable") == 2
    assert len(fake.connections) == 1
