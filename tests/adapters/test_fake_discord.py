"""The fake Discord server, driven by the real discord.py 2.7 client (REST + gateway)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.asset import Asset
from discord.gateway import DiscordWebSocket
from discord.http import Route

from tests.adapters.fake_discord import (
    DIRECT_MESSAGES,
    EPHEMERAL,
    GUILD_MEMBERS,
    GUILD_MESSAGES,
    GUILDS,
    MESSAGE_CONTENT,
    PRIVATE_THREAD,
    RECIPIENT_ADD,
    FakeDiscord,
)

TOKEN = "FAKE.passerelle.discord-token"
ZOE = 310_000_000_000_000_042
MENTOR = 310_000_000_000_000_077
OTHER_BOT = 310_000_000_000_000_099
GUILD = 320_000_000_000_000_001
MENTORS_CHANNEL = 320_000_000_000_000_010


class Bot(discord.Client):
    """A discord.py client recording what it receives."""

    def __init__(self, *, intents: discord.Intents | None = None, **options: object) -> None:
        if intents is None:
            intents = discord.Intents.default()
            intents.message_content = True
        super().__init__(intents=intents, guild_ready_timeout=0, **options)
        self.received: list[discord.Message] = []
        self.edits: list[discord.RawMessageUpdateEvent] = []
        self.deletes: list[discord.RawMessageDeleteEvent] = []
        self.interactions: list[discord.Interaction] = []
        self.resumed_count = 0
        self.tree = app_commands.CommandTree(self)

    async def on_message(self, message: discord.Message) -> None:
        self.received.append(message)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        self.edits.append(payload)

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        self.deletes.append(payload)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        self.interactions.append(interaction)

    async def on_resumed(self) -> None:
        self.resumed_count += 1

    def from_others(self) -> list[discord.Message]:
        assert self.user is not None
        return [m for m in self.received if m.author.id != self.user.id]


async def until(predicate, timeout: float = 2.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def running(client: Bot, fake: FakeDiscord) -> AsyncIterator[Bot]:
    """Start the client as a task (never the blocking run()), wait for on_ready, close it."""
    task = asyncio.create_task(client.start(TOKEN))
    try:
        ready = asyncio.create_task(fake.wait_ready())
        done, _ = await asyncio.wait({task, ready}, timeout=5, return_when="FIRST_COMPLETED")
        if task in done:
            ready.cancel()
            task.result()  # raises what start() raised
        await ready
        await asyncio.wait_for(client.wait_until_ready(), 3)
        yield client
    finally:
        await client.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(token=TOKEN) as server, asyncio.timeout(10):
        with server.patched():
            yield server


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[Bot]:
    async with running(Bot(), fake) as client:
        yield client


# ---------------------------------------------------------------------------- plumbing


async def test_patched_sets_and_restores_the_class_attributes() -> None:
    def current() -> tuple[str, str, str]:
        return Route.BASE, str(DiscordWebSocket.DEFAULT_GATEWAY), Asset.BASE

    before = current()
    async with FakeDiscord() as server:
        with server.patched():
            api, gateway, cdn = current()
            assert (api, gateway) == (f"{server.url}/api/v10", server.gateway_url)
            assert cdn.startswith(server.url)
            async with FakeDiscord() as other:
                with pytest.raises(RuntimeError, match="already"), other.patched():
                    pass
        assert current() == before


async def test_rest_answers_exact_json_content_type_and_checks_the_token(
    fake: FakeDiscord,
) -> None:
    assert fake.url.startswith("http://127.0.0.1:")
    async with aiohttp.ClientSession() as session:
        auth = {"Authorization": f"Bot {TOKEN}"}
        async with session.get(f"{fake.api_base}/users/@me", headers=auth) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "application/json"  # no charset
            me = await response.json()
        assert (me["username"], me["bot"], int(me["id"])) == ("passerelle", True, fake.bot_id)
        async with session.get(f"{fake.api_base}/users/@me") as response:
            assert response.status == 401
            assert (await response.json())["code"] == 0
        async with session.get(f"{fake.api_base}/gateway/bot", headers=auth) as response:
            assert (await response.json())["url"] == fake.gateway_url
        async with session.get(f"{fake.api_base}/nowhere", headers=auth) as response:
            assert response.status == 404
    assert [c.path for c in fake.calls_of("GET", "^/users/@me$")] == ["/users/@me"] * 2
    assert fake.calls[0].headers["Authorization"] == f"Bot {TOKEN}"


# ---------------------------------------------------------------------------- gateway + DMs


async def test_connects_identifies_and_gets_ready(fake: FakeDiscord, bot: Bot) -> None:
    assert bot.user is not None and bot.user.id == fake.bot_id and bot.user.bot
    assert bot.application_id == fake.application_id
    [identify] = fake.identifies
    assert identify["token"] == TOKEN
    assert identify["intents"] & MESSAGE_CONTENT and identify["intents"] & DIRECT_MESSAGES
    [connection] = fake.connections
    assert connection.path == "/gateway" and connection.kind == "identify"
    assert connection.query["v"] == "10" and connection.query["encoding"] == "json"
    assert connection.compress == "zlib-stream"  # honoured: the frames were zlib-stream
    assert connection.heartbeats >= 1  # discord.py beats once right after HELLO
    assert {c.path for c in fake.calls} >= {"/users/@me", "/oauth2/applications/@me"}


async def test_dm_reply_edit_delete_round_trip(fake: FakeDiscord, bot: Bot) -> None:
    sent_by_zoe = await fake.user_dm(ZOE, "Bonjour, j'ai une question")
    await until(lambda: bot.from_others())
    [incoming] = bot.from_others()
    assert incoming.content == "Bonjour, j'ai une question"
    assert incoming.author.id == ZOE and not incoming.author.bot
    assert isinstance(incoming.channel, discord.DMChannel)
    assert incoming.channel.id == fake.dm_channel_id(ZOE) == int(sent_by_zoe["channel_id"])

    reply = await incoming.channel.send(
        "Réponse du mentor",
        reference=incoming,
        mention_author=False,
        allowed_mentions=discord.AllowedMentions.none(),
    )
    [call] = fake.calls_of("POST", r"^/channels/\d+/messages$")
    assert call.json["allowed_mentions"] == {"parse": [], "replied_user": False}
    assert call.json["message_reference"]["message_id"] == incoming.id
    assert reply.author.id == fake.bot_id and reply.id > incoming.id
    assert reply.reference is not None and reply.reference.message_id == incoming.id
    assert [m["content"] for m in fake.messages(incoming.channel.id)] == [
        "Bonjour, j'ai une question",
        "Réponse du mentor",
    ]
    # Like Discord, the bot receives its own message back: adapters must filter by author.
    await until(lambda: len(bot.received) == 2)
    assert bot.received[1].author == bot.user

    edited = await reply.edit(content="Réponse corrigée")
    assert edited.content == "Réponse corrigée" and edited.edited_at is not None
    assert fake.message(reply.id)["content"] == "Réponse corrigée"
    assert fake.sent(incoming.channel.id)[0]["content"] == "Réponse du mentor"  # as created

    await reply.delete()
    assert fake.message(reply.id) is None and reply.id in fake.deleted
    assert fake.calls_of("DELETE")[0].status == 204
    with pytest.raises(discord.NotFound) as unknown:
        await reply.edit(content="x")
    assert unknown.value.code == 10008

    with pytest.raises(discord.HTTPException) as too_long:
        await incoming.channel.send("x" * 2001)
    assert too_long.value.status == 400 and too_long.value.code == 50035


async def test_user_reply_edit_delete_and_other_bot_events(fake: FakeDiscord, bot: Bot) -> None:
    channel = await (await bot.fetch_user(ZOE)).create_dm()  # POST /users/@me/channels
    assert channel.id == fake.dm_channel_id(ZOE)
    assert fake.calls_of("POST", "^/users/@me/channels$")[0].json == {"recipient_id": ZOE}
    ours = await channel.send("Question 1 ?")

    answer = await fake.user_dm(ZOE, "Oui", reply_to=ours.id)
    assert answer["type"] == 19 and answer["referenced_message"]["id"] == str(ours.id)
    await until(lambda: bot.from_others())
    [message] = bot.from_others()
    assert message.type is discord.MessageType.reply
    assert message.reference is not None and message.reference.message_id == ours.id

    await fake.user_edits(ZOE, message.id, "Oui, merci")
    await until(lambda: any(e.message_id == message.id for e in bot.edits))
    edit = next(e for e in bot.edits if e.message_id == message.id)
    assert edit.message.content == "Oui, merci"

    await fake.user_deletes(ZOE, message.id)
    await until(lambda: any(d.message_id == message.id for d in bot.deletes))

    await fake.other_bot_dm(OTHER_BOT, "bip")
    await until(lambda: len(bot.from_others()) == 2)
    assert bot.from_others()[1].author.bot


# ---------------------------------------------------------------------------- interactions


class Choice(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)
        self.presses = 0

    @discord.ui.button(label="Accepter", custom_id="accept", style=discord.ButtonStyle.success)
    async def accept(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.presses += 1
        if self.presses == 1:
            await interaction.response.send_message("C'est noté", ephemeral=True)
            await interaction.followup.send("Suite", ephemeral=True)
        else:
            await interaction.response.edit_message(content="Accepté", view=None)


async def test_button_interaction_responses(fake: FakeDiscord, bot: Bot) -> None:
    channel = await (await bot.fetch_user(MENTOR)).create_dm()
    sent = await channel.send("Nouvelle demande", view=Choice())
    [posted] = fake.calls_of("POST", r"^/channels/\d+/messages$")
    button = posted.json["components"][0]["components"][0]
    assert (button["type"], button["custom_id"]) == (2, "accept")

    pressed = await fake.user_presses(MENTOR, sent.id, "accept")
    assert pressed["type"] == 3 and pressed["data"] == {"custom_id": "accept", "component_type": 2}
    assert pressed["message"]["id"] == str(sent.id) and pressed["user"]["id"] == str(MENTOR)
    first = await fake.wait_interaction_response(int(pressed["id"]))
    assert first.type == 4 and first.flags & EPHEMERAL and first.ephemeral
    assert first.content == "C'est noté"
    assert first.call.query["with_response"] == "1"
    followup = await fake.wait_calls("POST", r"^/webhooks/\d+/[^/]+$")
    assert followup[0].json["content"] == "Suite" and followup[0].status == 200
    assert fake.messages(channel.id) == fake.messages(channel.id, include_ephemeral=False)
    assert len(fake.messages(channel.id, include_ephemeral=True)) == 3

    again = await fake.user_presses(MENTOR, sent.id, "accept")
    second = await fake.wait_interaction_response(int(again["id"]))
    assert second.type == 7 and second.content == "Accepté" and second.data["components"] == []
    assert fake.message(sent.id)["content"] == "Accepté"

    # discord.py refuses a second response itself; the fake refuses it too, like Discord.
    with pytest.raises(discord.InteractionResponded):
        await bot.interactions[-1].response.send_message("encore")
    url = f"{fake.api_base}/interactions/{again['id']}/{again['token']}/callback"
    body = {"type": 4, "data": {"content": "encore"}}
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as answer:
        assert answer.status == 400 and (await answer.json())["code"] == 40060


async def test_interaction_answered_too_late_is_unknown(fake: FakeDiscord, bot: Bot) -> None:
    fake.interaction_deadline = 0.05
    sent = await (await (await bot.fetch_user(MENTOR)).create_dm()).send("x", view=Choice())
    await fake.user_presses(MENTOR, sent.id, "stale-button")
    await until(lambda: bot.interactions)
    await asyncio.sleep(0.1)
    with pytest.raises(discord.NotFound) as late:
        await bot.interactions[0].response.defer()
    assert late.value.code == 10062


async def test_slash_command_sync_and_deferred_answer(fake: FakeDiscord) -> None:
    client = Bot()

    @client.tree.command(name="aide", description="Demander de l'aide")
    @app_commands.describe(sujet="Le sujet")
    async def aide(interaction: discord.Interaction, sujet: str) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.edit_original_response(content=f"Sujet reçu : {sujet}")

    async with running(client, fake):
        synced = await client.tree.sync()
        assert [c.name for c in synced] == ["aide"]
        assert await client.tree.sync(guild=discord.Object(GUILD)) == []
        assert fake.app_commands[GUILD] == []
        assert fake.calls_of("PUT", rf"/guilds/{GUILD}/commands$")[0].json == []
        [put] = fake.calls_of("PUT", rf"^/applications/{fake.application_id}/commands$")
        assert put.json[0]["name"] == "aide"
        assert [c["name"] for c in fake.app_commands[None]] == ["aide"]

        interaction = await fake.user_slash(ZOE, "aide", {"sujet": "réseau"})
        assert interaction["data"]["options"] == [{"name": "sujet", "type": 3, "value": "réseau"}]
        deferred = await fake.wait_interaction_response(int(interaction["id"]))
        assert deferred.type == 5
        [edit] = await fake.wait_calls("PATCH", r"/messages/@original$")
        assert edit.json["content"] == "Sujet reçu : réseau"
        message = await fake.wait_message(fake.dm_channel_id(ZOE), "Sujet reçu")
        assert message["interaction_metadata"]["id"] == interaction["id"]
        assert message["type"] == 20 and message["flags"] == 0  # no longer loading


# ---------------------------------------------------------------------------- failures


async def test_429_is_retried_after_retry_after(fake: FakeDiscord, bot: Bot) -> None:
    channel = await (await bot.fetch_user(ZOE)).create_dm()
    fake.fail_next(r"^/channels/\d+/messages$", 429, retry_after=0.2)
    started = time.monotonic()
    sent = await channel.send("Malgré la limite")
    assert time.monotonic() - started >= 0.2
    limited, ok = fake.calls_of("POST", r"/messages$")
    assert limited.status == 429 and ok.status == 200
    assert limited.response == {
        "message": "You are being rate limited.",
        "retry_after": 0.2,
        "global": False,
    }
    assert limited.response_headers["Via"] == "1.1 google"  # else discord.py gives up
    assert limited.response_headers["Retry-After"] == "1"
    assert limited.response_headers["X-RateLimit-Remaining"] == "0"
    assert limited.response_headers["X-RateLimit-Scope"] == "user"
    assert ok.response_headers["Content-Type"] == "application/json"
    assert fake.message(sent.id)["content"] == "Malgré la limite"


async def test_500_is_retried_by_discord_py_after_a_second(fake: FakeDiscord, bot: Bot) -> None:
    channel = await bot.fetch_channel(fake.dm_channel_id(ZOE))  # GET /channels/{id}
    assert isinstance(channel, discord.DMChannel) and channel.recipient.id == ZOE
    fake.fail_next("/messages$", 500)
    started = time.monotonic()
    await channel.send("après une erreur serveur")
    assert time.monotonic() - started >= 1.0  # discord.py sleeps 1 s before the first retry
    assert [c.status for c in fake.calls_of("POST", "/messages$")] == [500, 200]


async def test_global_429_cloudflare_ban_and_closed_dms(fake: FakeDiscord, bot: Bot) -> None:
    channel = await (await bot.fetch_user(ZOE)).create_dm()
    fake.fail_next("/messages$", 429, retry_after=0.05, global_=True)
    await channel.send("après la limite globale")
    assert [c.status for c in fake.calls_of("POST", "/messages$")] == [429, 200]

    fake.fail_next("/messages$", 429, via=False)  # no Via header: discord.py does not retry
    with pytest.raises(discord.HTTPException) as banned:
        await channel.send("bloqué")
    assert banned.value.status == 429

    fake.close_dms(ZOE)
    with pytest.raises(discord.Forbidden) as closed:
        await channel.send("fermé")
    assert closed.value.code == 50007
    fake.open_dms(ZOE)
    fake.fail_next("/messages$", 403)
    with pytest.raises(discord.Forbidden, match="Cannot send messages to this user"):
        await channel.send("encore")
    fake.delay_next("/messages$", 0.1)
    started = time.monotonic()
    await channel.send("lent")
    assert time.monotonic() - started >= 0.1


# ---------------------------------------------------------------------------- reconnection


async def test_drop_connection_resumes_without_losing_events(fake: FakeDiscord, bot: Bot) -> None:
    session = fake.session_id
    async with fake.offline():  # dropped with 4000; the client cannot reconnect in here
        missed = await fake.user_dm(ZOE, "Envoyé pendant la coupure")
        assert fake.dispatches[-1].status == "queued"
    await fake.wait_resumed()
    await until(lambda: bot.from_others())
    [message] = bot.from_others()
    assert message.id == int(missed["id"]) and message.content == "Envoyé pendant la coupure"
    await until(lambda: bot.resumed_count == 1)

    first, second = fake.connections
    assert first.close_code == 4000 and first.closed
    assert second.kind == "resume" and second.path == "/gateway-resume"  # resume_gateway_url
    assert second.received[-1]["op"] in (1, 6)
    assert len(fake.identifies) == 1 and fake.session_id == session and fake.resumes == 1
    replayed = [p for p in second.sent if p.get("t") == "MESSAGE_CREATE"]
    resumed = [p for p in second.sent if p.get("t") == "RESUMED"]
    assert replayed[0]["s"] < resumed[0]["s"]  # replayed first, with its own sequence number

    await fake.drop_connection()  # a plain drop: the client reconnects at once
    await fake.wait_resumed(2)
    await fake.user_dm(ZOE, "Après")
    await until(lambda: len(bot.from_others()) == 2)


async def test_heartbeats_text_frames_and_reconnect_opcode(fake: FakeDiscord) -> None:
    fake.heartbeat_interval = 50  # ms: discord.py's keep-alive thread beats every 50 ms
    fake.transport_compression = False  # plain text frames, which discord.py also reads
    client = Bot()
    async with running(client, fake):
        await until(lambda: fake.connections[0].heartbeats >= 3)
        acks = [p for p in fake.connections[0].sent if p["op"] == 11]
        assert len(acks) >= 3
        await fake.send_reconnect()  # op 7: the client closes and RESUMEs
        await fake.wait_resumed()
        assert [c.kind for c in fake.connections] == ["identify", "resume"]
        await fake.user_dm(ZOE, "toujours là")
        await until(lambda: client.from_others())


async def test_events_without_a_session_are_not_queued(fake: FakeDiscord) -> None:
    early = await fake.user_dm(ZOE, "Avant la connexion")
    assert fake.dispatches[-1].status == "no session"
    client = Bot()
    async with running(client, fake):
        history = [
            m
            async for m in client.get_partial_messageable(
                fake.dm_channel_id(ZOE), type=discord.ChannelType.private
            ).history(limit=10)
        ]
        assert [m.id for m in history] == [int(early["id"])]  # catch-up goes through REST
        assert client.from_others() == []


# ---------------------------------------------------------------------------- guilds


async def test_guild_private_thread_and_message_content_intent(fake: FakeDiscord) -> None:
    await fake.add_guild(GUILD, name="Mentors", text_channels={MENTORS_CHANNEL: "mentorat"})
    intents = discord.Intents.default()  # no message_content
    client = Bot(intents=intents)
    async with running(client, fake):
        await until(lambda: client.get_channel(MENTORS_CHANNEL) is not None)
        channel = client.get_channel(MENTORS_CHANNEL)
        assert isinstance(channel, discord.TextChannel) and channel.guild.id == GUILD

        thread = await channel.create_thread(
            name="Binôme 17", type=discord.ChannelType.private_thread
        )
        [create] = fake.calls_of("POST", rf"^/channels/{MENTORS_CHANNEL}/threads$")
        assert create.json["type"] == PRIVATE_THREAD and create.json["name"] == "Binôme 17"
        assert thread.type is discord.ChannelType.private_thread and thread.parent_id == channel.id
        await thread.add_user(discord.Object(MENTOR))
        assert fake.calls_of("PUT", rf"/thread-members/{MENTOR}$")[0].status == 204
        assert MENTOR in fake.thread_members[thread.id]
        await thread.send("Bienvenue")
        notice, welcome = fake.messages(thread.id)  # "passerelle added user… to the thread."
        assert notice["type"] == RECIPIENT_ADD and notice["author"]["id"] == str(fake.bot_id)
        assert notice["mentions"][0]["id"] == str(MENTOR) and welcome["content"] == "Bienvenue"

        await fake.user_posts(thread.id, MENTOR, "secret")
        await fake.user_posts(thread.id, MENTOR, "ping", mention_bot=True)
        await until(lambda: len(client.from_others()) == 2)
        hidden, mentioned = client.from_others()
        assert hidden.content == "" and mentioned.content.endswith("ping")
        assert fake.messages(thread.id)[2]["content"] == "secret"  # Discord has it, bot doesn't


async def test_privileged_intent_not_enabled_is_refused(fake: FakeDiscord) -> None:
    fake.privileged_intents = 0
    with pytest.raises(discord.PrivilegedIntentsRequired):
        async with running(Bot(), fake):
            pass
    assert fake.connections[0].close_code == 4014 and fake.identifies == []


async def test_a_private_thread_is_seen_by_its_members_and_guild_intents_only(
    fake: FakeDiscord,
) -> None:
    """What the mentors' channel mode relies on: the bot's own private threads reach it (with
    GUILD_MESSAGES), a private thread it is not in does not, and a DM-only bot sees none."""
    await fake.add_guild(GUILD, name="Mentors", text_channels={MENTORS_CHANNEL: "mentorat"})
    intents = discord.Intents.none()
    intents.guilds = intents.guild_messages = intents.dm_messages = True
    intents.message_content = True
    client = Bot(intents=intents)
    async with running(client, fake):
        assert fake.identifies[-1]["intents"] == GUILDS | GUILD_MESSAGES | DIRECT_MESSAGES | (
            MESSAGE_CONTENT)
        await until(lambda: client.get_channel(MENTORS_CHANNEL) is not None)
        channel = client.get_channel(MENTORS_CHANNEL)
        assert isinstance(channel, discord.TextChannel)
        ours = await channel.create_thread(name="Léa", type=discord.ChannelType.private_thread,
                                           invitable=False)
        assert fake.channels[ours.id]["thread_metadata"]["invitable"] is False
        await ours.add_user(discord.Object(MENTOR))
        await ours.add_user(discord.Object(MENTOR))  # once is enough: one notice
        await fake.user_posts(ours.id, MENTOR, "Bonjour")
        await until(lambda: len(client.from_others()) == 1)
        (said,) = client.from_others()
        assert isinstance(said.channel, discord.Thread) and said.channel.parent_id == channel.id
        assert said.content == "Bonjour"
        notices = [m for m in client.received if m.type is discord.MessageType.recipient_add]
        assert len(notices) == 1 and notices[0].author.id == fake.bot_id

        # a private thread someone else opened: the bot is not in it and hears nothing
        theirs = await fake.user_opens_thread(MENTORS_CHANNEL, ZOE, "Entre nous")
        assert fake.dispatches[-1].status == "filtered"  # THREAD_CREATE
        await fake.user_posts(int(theirs["id"]), ZOE, "entre nous")
        assert fake.dispatches[-1].status == "filtered"
        # ...unless they add it: it is told of the thread, owned by them
        shared = await fake.user_opens_thread(MENTORS_CHANNEL, ZOE, "Avec le bot",
                                              members=(fake.bot_id,))
        await until(lambda: client.get_channel(int(shared["id"])) is not None)
        known = client.get_channel(int(shared["id"]))
        assert isinstance(known, discord.Thread) and known.owner_id == ZOE
        await fake.user_posts(int(shared["id"]), ZOE, "coucou")
        await until(lambda: len(client.from_others()) == 2)

    # without GUILD_MESSAGES, the bot's own thread is silent too
    dm_only = discord.Intents.none()
    dm_only.dm_messages = True
    async with running(Bot(intents=dm_only), fake):
        assert fake.identifies[-1]["intents"] == DIRECT_MESSAGES
        await fake.user_posts(ours.id, MENTOR, "tu m'entends?")
        assert fake.dispatches[-1].status == "filtered"


async def test_thread_members_are_listed_to_a_bot_with_the_members_intent_only(
    fake: FakeDiscord,
) -> None:
    await fake.add_guild(GUILD, name="Mentors", text_channels={MENTORS_CHANNEL: "mentorat"})
    fake.privileged_intents = MESSAGE_CONTENT | GUILD_MEMBERS
    for members_intent, expected in ((False, [fake.bot_id]), (True, [MENTOR, fake.bot_id])):
        intents = discord.Intents.default()
        intents.members = members_intent
        client = Bot(intents=intents)
        async with running(client, fake):
            await until(lambda c=client: c.get_channel(MENTORS_CHANNEL) is not None)
            channel = client.get_channel(MENTORS_CHANNEL)
            assert isinstance(channel, discord.TextChannel)
            thread = await channel.create_thread(name="Léa")
            await thread.add_user(discord.Object(MENTOR))
            listed = await thread.fetch_members()
            assert sorted(m.id for m in listed) == sorted(expected)


async def test_a_thread_is_deleted_archived_and_reopened_by_a_post(
    fake: FakeDiscord, bot: Bot
) -> None:
    await fake.add_guild(GUILD, name="Mentors", text_channels={MENTORS_CHANNEL: "mentorat"})
    await until(lambda: bot.get_channel(MENTORS_CHANNEL) is not None)
    channel = bot.get_channel(MENTORS_CHANNEL)
    assert isinstance(channel, discord.TextChannel)
    thread = await channel.create_thread(name="Léa", type=discord.ChannelType.private_thread)

    await thread.edit(archived=True)
    with pytest.raises(discord.HTTPException) as archived:
        await thread.send("encore là?")
    assert archived.value.code == 50083
    await fake.user_posts(thread.id, MENTOR, "je reviens")  # a post reopens it, and joins it
    assert fake.channels[thread.id]["thread_metadata"]["archived"] is False
    assert MENTOR in fake.thread_members[thread.id]
    await thread.send("bienvenue à nouveau")

    await thread.delete()
    assert (await fake.wait_dispatch("THREAD_DELETE"))[0].data["id"] == str(thread.id)
    with pytest.raises(discord.NotFound) as gone:
        await bot.get_partial_messageable(thread.id).send("allô?")
    assert gone.value.code == 10003
    assert fake.messages(thread.id) == []
