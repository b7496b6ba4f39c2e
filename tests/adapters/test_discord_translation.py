"""Discord payloads → the core's types and back, with discord.py's own models (parsed from the
payload dicts Discord sends), without a network: what the adapter keeps, drops and refuses."""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.state import ConnectionState

from adapters.discord_adapter import (
    COMMANDS,
    MAX_TEXT,
    DiscordChannel,
    MenuTranslator,
    _api_base,
    command_to_inbound,
    component_to_inbound,
    deletion_to_inbound,
    message_to_inbound,
    reference_for,
    translate_error,
    view_for,
    with_choice,
)
from bots.app import command_descriptions
from bots.settings import load_settings
from core.context import Services
from core.model import Address, Button, Outbound
from core.ports import PermanentFailure, RetryLater, Unreachable

BOT_ID = 1_300_000_000_000_000_001
DM = 1_400_000_000_000_000_001
LOUNGE = 320_000_000_000_000_010
MENTOR = 310_000_000_000_000_077
BOT = {"id": str(BOT_ID), "username": "passerelle", "discriminator": "0", "avatar": None,
       "bot": True}
PERSON = {"id": str(MENTOR), "username": "dupont_m42", "global_name": "Marc Dupont",
          "discriminator": "0", "avatar": "a_0f1e2d3c4b5a6978"}


@pytest.fixture
def state() -> ConnectionState:
    client = discord.Client(intents=discord.Intents.none())
    connection = client._connection
    connection.user = discord.ClientUser(state=connection, data=BOT)  # type: ignore[arg-type]
    return connection


def payload(**changes: Any) -> dict[str, Any]:
    """A MESSAGE_CREATE payload in the mentor's DM, as Discord sends it."""
    message: dict[str, Any] = {
        "id": "1400000000000000100", "channel_id": str(DM), "author": copy.deepcopy(PERSON),
        "content": "Bonjour", "timestamp": "2026-09-01T15:00:00.000000+00:00",
        "edited_timestamp": None, "tts": False, "mention_everyone": False, "mentions": [],
        "mention_roles": [], "attachments": [], "embeds": [], "components": [],
        "pinned": False, "type": 0, "flags": 0,
    }
    message.update(changes)
    return message


def message(state: ConnectionState, **changes: Any) -> discord.Message:
    channel: discord.abc.Messageable
    if "guild_id" in changes:  # in a server channel (its guild not cached: no GUILDS intent)
        channel = discord.PartialMessageable(state=state, id=LOUNGE,
                                             guild_id=int(changes["guild_id"]),
                                             type=discord.ChannelType.text)
        changes = {**changes, "channel_id": str(LOUNGE)}
    else:
        channel = discord.DMChannel(me=state.user, state=state,  # type: ignore[arg-type]
                                    data={"id": str(DM), "type": 1, "recipients": [PERSON]})
    return discord.Message(state=state, channel=channel, data=payload(**changes))  # type: ignore[arg-type]


def interaction(state: ConnectionState, kind: int = 3, **changes: Any) -> discord.Interaction:
    data: dict[str, Any] = {
        "id": "1500000000000000001", "application_id": str(BOT_ID), "type": kind,
        "token": "aW50ZXJhY3Rpb24", "version": 1, "locale": "en-GB", "app_permissions": "0",
        "data": {"custom_id": "passerelle:accept:7", "component_type": 2},
        "channel_id": str(DM), "channel": {"id": str(DM), "type": 1, "recipients": [PERSON]},
        "user": PERSON, "entitlements": [], "attachment_size_limit": 1024, "context": 1,
        "message": payload(author=BOT, content="Demande : Léa, 15 ans"),
    }
    data.update(changes)
    return discord.Interaction(data=data, state=state)  # type: ignore[arg-type]


def attachment(content_type: str | None, name: str = "file") -> dict[str, Any]:
    found = {"id": "1", "filename": name, "size": 10, "url": "https://cdn/x",
             "proxy_url": "https://cdn/y"}
    if content_type:
        found["content_type"] = content_type
    return found


# Messages ---------------------------------------------------------------------------------------

def test_a_dm_becomes_an_inbound_without_the_persons_discord_self(state: ConnectionState
                                                                   ) -> None:
    inbound = message_to_inbound(message(state), BOT_ID)
    assert inbound is not None
    assert inbound.event_key == "discord:message:1400000000000000100"
    assert inbound.source == Address("discord", str(DM))
    assert (inbound.platform_user_id, inbound.text, inbound.message_id) == (
        str(MENTOR), "Bonjour", "1400000000000000100")
    assert inbound.reply_to is None and not inbound.edited and inbound.media is None
    for secret in ("dupont", "Marc Dupont", "a_0f1e2d3c4b5a6978"):
        assert secret not in repr(inbound)


def test_a_reply_carries_the_message_it_answers(state: ConnectionState) -> None:
    reply = message(state, type=19, message_reference={
        "type": 0, "message_id": "1400000000000000050", "channel_id": str(DM)})
    inbound = message_to_inbound(reply, BOT_ID)
    assert inbound is not None and inbound.reply_to == "1400000000000000050"
    forward = message(state, content="", message_reference={
        "type": 1, "message_id": "1400000000000000050", "channel_id": "99"})
    forwarded = message_to_inbound(forward, BOT_ID)
    assert forwarded is not None and forwarded.reply_to is None and forwarded.media == "other"


@pytest.mark.parametrize("changes", [
    {"author": BOT},  # our own message, sent back by Discord
    {"author": {**PERSON, "id": "99", "bot": True}},  # another bot
    {"author": {**PERSON, "system": True}},
    {"guild_id": "320000000000000001"},  # a server channel: never anyone's address
    {"type": 6},  # a pin notice
    {"content": ""},  # nothing said
])
def test_what_is_not_a_person_writing_in_a_dm_is_ignored(
    state: ConnectionState, changes: dict[str, Any]
) -> None:
    assert message_to_inbound(message(state, **changes), BOT_ID) is None


@pytest.mark.parametrize(("files", "kind"), [
    ([attachment("image/png")], "photo"), ([attachment("video/mp4")], "video"),
    ([attachment("audio/ogg")], "audio"), ([attachment("application/pdf")], "document"),
    ([attachment(None)], "document"),
])
def test_attachments_are_named_like_the_other_adapters_do(
    state: ConnectionState, files: list[dict], kind: str
) -> None:
    inbound = message_to_inbound(message(state, content="", attachments=files), BOT_ID)
    assert inbound is not None and inbound.media == kind and inbound.text == ""
    captioned = message_to_inbound(message(state, content="regarde", attachments=files), BOT_ID)
    assert captioned is not None and captioned.text == "regarde" and captioned.media is None
    sticker = message(state, content="", sticker_items=[
        {"id": "5", "name": "coucou", "format_type": 1}])
    assert (message_to_inbound(sticker, BOT_ID) or SimpleNamespace(media=None)).media == "sticker"


def test_each_edit_is_its_own_event_and_an_update_without_an_edit_is_none(
    state: ConnectionState
) -> None:
    first = message_to_inbound(message(state, content="Bonjour!", edited_timestamp=(
        "2026-09-01T15:01:00.000000+00:00")), BOT_ID, edited=True)
    second = message_to_inbound(message(state, content="Bonjour !!", edited_timestamp=(
        "2026-09-01T15:02:00.000000+00:00")), BOT_ID, edited=True)
    assert first is not None and second is not None and first.edited
    assert first.event_key.startswith("discord:message:1400000000000000100:edited:")
    assert first.event_key != second.event_key and second.text == "Bonjour !!"
    assert message_to_inbound(message(state), BOT_ID, edited=True) is None  # a link preview


def test_a_deletion_is_keyed_by_the_message() -> None:
    gone = deletion_to_inbound(DM, 1_400_000_000_000_000_100, MENTOR)
    assert gone.deleted and gone.message_id == "1400000000000000100"
    assert gone.event_key == "discord:deleted:1400000000000000100"
    assert gone.source == Address("discord", str(DM)) and gone.platform_user_id == str(MENTOR)


# Interactions -----------------------------------------------------------------------------------

def test_a_press_on_our_button_carries_the_cores_action(state: ConnectionState) -> None:
    inbound = component_to_inbound(interaction(state))
    assert inbound is not None
    assert inbound.action == "accept:7" and inbound.message_id == "1400000000000000100"
    assert inbound.event_key == "discord:interaction:1500000000000000001"
    assert inbound.source == Address("discord", str(DM))
    assert inbound.platform_user_id == str(MENTOR) and inbound.locale_hint == "en-GB"


def test_other_components_and_server_presses_are_not_ours(state: ConnectionState) -> None:
    assert component_to_inbound(interaction(state, data={
        "custom_id": "someone-else:1", "component_type": 2})) is None
    assert component_to_inbound(interaction(state, data={
        "custom_id": "passerelle:", "component_type": 2})) is None
    assert component_to_inbound(interaction(state, kind=2, data={"name": "help", "type": 1,
                                                                  "id": "1"})) is None


def test_a_slash_command_reads_as_the_command_typed(state: ConnectionState) -> None:
    command = interaction(state, kind=2, data={"name": "capacity", "type": 1, "id": "1"})
    inbound = command_to_inbound(command, "capacity", "3", DM)
    assert inbound.text == "/capacity 3" and inbound.source == Address("discord", str(DM))
    assert inbound.event_key == "discord:interaction:1500000000000000001"
    assert command_to_inbound(command, "pause", "", DM).text == "/pause"


# Outbound ---------------------------------------------------------------------------------------

async def test_buttons_become_components_with_our_custom_ids() -> None:
    assert view_for(()) is None
    view = view_for((Button("Accepter", "accept:7"), Button("Refuser", "decline:7"),
                     Button("x" * 120, "pause:on" + "0" * 120)))
    assert view is not None and view.is_finished()  # a builder only: never tracked
    rows = view.to_components()
    buttons = [c for row in rows for c in row["components"]]
    assert [b["custom_id"] for b in buttons][:2] == ["passerelle:accept:7", "passerelle:decline:7"]
    assert len(buttons[2]["custom_id"]) == 100 and len(buttons[2]["label"]) == 80
    assert [b["style"] for b in buttons] == [3, 4, 2]  # success, danger, secondary
    many = view_for(tuple(Button(str(i), f"conv:{i}") for i in range(30)))
    assert many is not None and len(many.children) == 25


def test_replies_never_fail_for_a_vanished_message() -> None:
    outbound = Outbound(Address("discord", str(DM)), "ok", reply_to="1400000000000000050")
    reference = reference_for(outbound, DM)
    assert reference is not None and reference.fail_if_not_exists is False
    assert reference.to_message_reference_dict()["message_id"] == 1_400_000_000_000_000_050
    assert reference_for(Outbound(Address("discord", str(DM)), "ok", reply_to="m1"), DM) is None


def test_the_choice_shown_under_a_request_stays_within_the_limit() -> None:
    assert with_choice("Demande", "Accepter") == "Demande\n\n✓ Accepter"
    long = with_choice("x" * MAX_TEXT, "Accepter")
    assert len(long) == MAX_TEXT and long.endswith("…\n\n✓ Accepter")


async def test_nothing_is_sent_before_the_client_has_logged_in() -> None:
    channel = DiscordChannel("FAKE.token")
    with pytest.raises(RetryLater) as waiting:
        await channel.send(Outbound(Address("discord", str(DM)), "trop tôt"))
    assert waiting.value.retry_after == 5.0  # not counted as a failed attempt
    await channel.stop()


# Errors ------------------------------------------------------------------------------------------

def response(status: int, **headers: str) -> Any:
    return SimpleNamespace(status=status, reason="", headers=headers)


@pytest.mark.parametrize(("error", "expected", "retry_after"), [
    (discord.RateLimited(42.0), RetryLater, 42.0),
    (discord.HTTPException(response(429, **{"Retry-After": "60"}), "error code: 1015"),
     RetryLater, 60.0),
    (discord.DiscordServerError(response(503), {"message": "down", "code": 0}), RetryLater, None),
    (discord.HTTPException(response(401), {"message": "401: Unauthorized", "code": 0}),
     RetryLater, None),
    (discord.Forbidden(response(403), {"message": "Cannot send messages to this user",
                                       "code": 50007}), Unreachable, None),
    (discord.Forbidden(response(403), {"message": "Cannot edit", "code": 50005}),
     PermanentFailure, None),
    (discord.NotFound(response(404), {"message": "Unknown Channel", "code": 10003}),
     Unreachable, None),
    (discord.NotFound(response(404), {"message": "Unknown Message", "code": 10008}),
     PermanentFailure, None),
    (discord.HTTPException(response(400), {"message": "Invalid Form Body", "code": 50035}),
     PermanentFailure, None),
    (aiohttp.ServerDisconnectedError(), RetryLater, None),
    (ConnectionResetError(), RetryLater, None),
])
def test_discord_errors_in_the_workers_terms(
    error: Exception, expected: type[Exception], retry_after: float | None
) -> None:
    translated = translate_error(error)
    assert isinstance(translated, expected)
    if isinstance(translated, RetryLater):
        assert translated.retry_after == retry_after


def test_a_timeout_stays_a_timeout_for_the_workers() -> None:
    error = TimeoutError()
    assert translate_error(error) is error


# Settings and commands ----------------------------------------------------------------------

def test_endpoints_from_the_settings() -> None:
    assert _api_base("http://127.0.0.1:8081") == "http://127.0.0.1:8081/api/v10"
    assert _api_base("https://proxy.example/api/v9/") == "https://proxy.example/api/v9"
    settings = load_settings(discord={"token": "t", "api_base_url": "http://127.0.0.1:1",
                                      "gateway_url": "ws://127.0.0.1:1/gateway"})
    assert settings.discord.gateway_url == "ws://127.0.0.1:1/gateway"
    assert settings.platforms_configured() == ["discord"]


async def test_every_command_is_described_from_the_catalogs(services: Services) -> None:
    menu = command_descriptions(services, COMMANDS)
    for language in ("fr", "en"):
        for name in COMMANDS:
            description = menu[language][name]
            assert 1 <= len(description) <= 100 and not description.startswith("/")
    assert menu["fr"]["help"] == services.catalog.t("fr", "menu.help")
    channel = DiscordChannel("FAKE.token", menu=menu)
    tree = channel.client.tree
    pause = tree.get_command("pause")
    assert isinstance(pause, app_commands.Command)
    published = await pause.get_translated_payload(tree, MenuTranslator(menu))
    assert published["description"] == menu["fr"]["pause"]
    assert published["description_localizations"] == {
        "fr": menu["fr"]["pause"], "en-US": menu["en"]["pause"], "en-GB": menu["en"]["pause"]}
    assert published["contexts"] == [1]  # DMs with the bot only
    await channel.stop()
