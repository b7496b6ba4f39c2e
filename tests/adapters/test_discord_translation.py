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

from adapters.discord_adapter import DiscordChannel
from adapters.discord_client import COMMANDS, MenuTranslator, _api_base
from adapters.discord_threads import in_mentor_thread, thread_name
from adapters.discord_translation import (
    MAX_TEXT,
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
GUILD = 320_000_000_000_000_001
MENTORS_CHANNEL = 320_000_000_000_000_020
THREAD = 320_000_000_000_000_030
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


def thread_data(*, kind: int = 12, parent: int = MENTORS_CHANNEL, owner: int = BOT_ID
                ) -> dict[str, Any]:
    """A thread of the mentors' server as Discord describes it (private: type 12)."""
    return {
        "id": str(THREAD), "guild_id": str(GUILD), "parent_id": str(parent),
        "owner_id": str(owner), "name": "Demande : Léa", "type": kind,
        "last_message_id": None, "message_count": 1, "member_count": 2, "flags": 0,
        "rate_limit_per_user": 0,
        "thread_metadata": {"archived": False, "auto_archive_duration": 10080,
                            "archive_timestamp": "2026-09-01T15:00:00.000000+00:00",
                            "locked": False, "invitable": False},
    }


def thread(state: ConnectionState, **changes: Any) -> discord.Thread:
    guild = state._get_or_create_unavailable_guild(GUILD)
    return discord.Thread(guild=guild, state=state, data=thread_data(**changes))  # type: ignore[arg-type]


def in_thread(state: ConnectionState, where: discord.Thread | None = None, **changes: Any
              ) -> discord.Message:
    """A message the mentor wrote in a match's thread of the mentors' channel."""
    data = payload(channel_id=str(THREAD), guild_id=str(GUILD), member={
        "roles": [], "joined_at": "2026-01-01T00:00:00.000000+00:00", "deaf": False,
        "mute": False, "flags": 0}, **changes)
    return discord.Message(state=state, channel=where or thread(state), data=data)  # type: ignore[arg-type]


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
    in_a_thread = deletion_to_inbound(DM, 1_400_000_000_000_000_100, MENTOR, thread_id=THREAD)
    assert in_a_thread.source == Address("discord", str(DM), thread_id=str(THREAD))
    assert in_a_thread.event_key == gone.event_key


# Threads of the mentors' channel --------------------------------------------------------------

def test_a_message_in_a_matchs_thread_is_from_the_dm_and_for_the_thread(
    state: ConnectionState
) -> None:
    """The DM stays the address (the identity's, the outbox's chat); the thread is where the
    answer goes, and what the message replies to: the match's root, whatever it quotes."""
    inbound = message_to_inbound(in_thread(state), BOT_ID, dm_channel_id=DM)
    assert inbound is not None
    assert inbound.source == Address("discord", str(DM), thread_id=str(THREAD))
    assert inbound.source.home == Address("discord", str(DM))
    assert inbound.reply_to == str(THREAD) and inbound.message_id == "1400000000000000100"
    assert inbound.event_key == "discord:message:1400000000000000100"
    assert inbound.platform_user_id == str(MENTOR) and inbound.text == "Bonjour"
    for secret in ("dupont", "Marc Dupont", "a_0f1e2d3c4b5a6978"):
        assert secret not in repr(inbound)
    quoting = message_to_inbound(in_thread(state, type=19, message_reference={
        "type": 0, "message_id": "1400000000000000050", "channel_id": str(THREAD)}),
        BOT_ID, dm_channel_id=DM)
    assert quoting is not None and quoting.reply_to == str(THREAD)
    unsend = message_to_inbound(in_thread(state, content="/unsend", type=19, message_reference={
        "type": 0, "message_id": "1400000000000000050", "channel_id": str(THREAD)}),
        BOT_ID, dm_channel_id=DM)  # a command keeps what it quotes: /unsend names its target
    assert unsend is not None and unsend.reply_to == "1400000000000000050"
    help_typed = message_to_inbound(in_thread(state, content="/help"), BOT_ID, dm_channel_id=DM)
    assert help_typed is not None and help_typed.reply_to is None
    edited = message_to_inbound(in_thread(state, edited_timestamp=(
        "2026-09-01T15:01:00.000000+00:00")), BOT_ID, edited=True, dm_channel_id=DM)
    assert edited is not None and edited.edited and edited.source == inbound.source
    assert edited.event_key.startswith("discord:message:1400000000000000100:edited:")


@pytest.mark.parametrize("changes", [
    {"author": BOT},  # our own message in the thread, sent back
    {"author": {**PERSON, "id": "99", "bot": True}},
    {"type": 1, "content": ""},  # "passerelle added Marc to the thread."
    {"content": ""},
])
def test_what_is_not_the_mentor_writing_in_a_thread_is_ignored(
    state: ConnectionState, changes: dict[str, Any]
) -> None:
    assert message_to_inbound(in_thread(state, **changes), BOT_ID, dm_channel_id=DM) is None


def test_a_guild_message_needs_the_adapters_word_and_a_dm_never_gets_a_thread(
    state: ConnectionState
) -> None:
    assert message_to_inbound(in_thread(state), BOT_ID) is None  # not found in a thread of ours
    assert message_to_inbound(message(state), BOT_ID, dm_channel_id=DM) is None


def test_only_the_bots_private_threads_of_the_mentors_channel_are_matches(
    state: ConnectionState
) -> None:
    assert in_mentor_thread(thread(state), MENTORS_CHANNEL, BOT_ID)
    assert not in_mentor_thread(thread(state), None, BOT_ID)  # DM mode
    assert not in_mentor_thread(thread(state, kind=11), MENTORS_CHANNEL, BOT_ID)  # public
    assert not in_mentor_thread(thread(state, parent=LOUNGE), MENTORS_CHANNEL, BOT_ID)
    # two mentors' own private thread, which a bot that manages threads can see
    assert not in_mentor_thread(thread(state, owner=MENTOR), MENTORS_CHANNEL, BOT_ID)
    partial = discord.PartialMessageable(state=state, id=THREAD, guild_id=GUILD)
    assert not in_mentor_thread(partial, MENTORS_CHANNEL, BOT_ID)  # unknown: Discord is asked
    text_channel = discord.TextChannel(
        state=state, guild=state._get_or_create_unavailable_guild(GUILD), data={
            "id": str(MENTORS_CHANNEL), "type": 0, "name": "mentorat", "position": 0,
            "guild_id": str(GUILD), "permission_overwrites": [], "parent_id": None})
    assert not in_mentor_thread(text_channel, MENTORS_CHANNEL, BOT_ID)  # the channel itself


def test_a_press_in_a_matchs_thread_is_answered_in_it(state: ConnectionState) -> None:
    member = {"user": PERSON, "roles": [], "joined_at": "2026-01-01T00:00:00.000000+00:00",
              "deaf": False, "mute": False, "flags": 0, "permissions": "0"}
    changes = {"guild_id": str(GUILD), "channel_id": str(THREAD), "channel": thread_data(),
               "member": member, "user": None, "context": 0,
               "message": payload(author=BOT, channel_id=str(THREAD), guild_id=str(GUILD))}
    pressed = interaction(state, **changes)
    assert in_mentor_thread(pressed.channel, MENTORS_CHANNEL, BOT_ID)
    inbound = component_to_inbound(pressed, dm_channel_id=DM)
    assert inbound is not None and inbound.action == "accept:7"
    assert inbound.source == Address("discord", str(DM), thread_id=str(THREAD))
    assert inbound.platform_user_id == str(MENTOR)
    assert component_to_inbound(pressed) is None  # the adapter did not find it one of ours
    assert component_to_inbound(interaction(state), dm_channel_id=DM) is None  # a DM is a DM
    elsewhere = interaction(state, **{**changes, "channel": thread_data(parent=LOUNGE)})
    assert not in_mentor_thread(elsewhere.channel, MENTORS_CHANNEL, BOT_ID)


def test_a_thread_is_named_after_the_first_line_of_its_opening_message() -> None:
    assert thread_name("Demande de mentorat : Léa, 16\nPremière question") == (
        "Demande de mentorat : Léa, 16")
    long = thread_name("\n  " + "x" * 200)
    assert len(long) == 90 and long.endswith("…")
    assert thread_name("   \n") == "Passerelle"


def test_guild_intents_only_with_a_mentors_channel() -> None:
    direct = DiscordChannel("FAKE.token")
    assert not direct.threads
    assert direct.client.intents.value == discord.Intents(dm_messages=True).value
    threads = DiscordChannel("FAKE.token", mentor_channel_id=MENTORS_CHANNEL)
    assert threads.threads
    assert threads.client.intents.value == discord.Intents(
        dm_messages=True, guilds=True, guild_messages=True, message_content=True).value
    assert not threads.client.intents.members and not threads.client.intents.presences


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
    in_a_server = interaction(state, guild_id=str(GUILD), channel_id=str(LOUNGE), channel={
        "id": str(LOUNGE), "type": 0, "name": "salon", "guild_id": str(GUILD), "position": 0,
        "permission_overwrites": []}, context=0)
    assert component_to_inbound(in_a_server) is None  # not found in a match's thread


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
