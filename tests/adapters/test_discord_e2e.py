"""A mentor on Discord (the real discord.py client, REST and gateway, against our fake Discord on
127.0.0.1) enrols in his DMs with the bot, accepts a student with a button and talks with her;
she is on the playground. Every step goes through the whole service: bus, database, outbox,
delivery workers; the connection drops mid-conversation and nothing is lost or doubled."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route
from sqlalchemy import Engine, text

from adapters.discord_adapter import DiscordChannel
from bots.app import Passerelle
from bots.demo import load_demo
from bots.settings import load_settings
from core.context import Context, Services
from core.matches import propose_match
from core.model import Address, Button, Inbound, Invite, Outbound, Role
from core.ports import PermanentFailure
from storage.store import SqlUnitOfWork
from tests.adapters.fake_discord import (
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE,
    DIRECT_MESSAGES,
    FakeDiscord,
)
from tests.adapters.service import TODAY, playground, playground_says, running, vet

MENTOR = 310_000_000_000_000_077
STRANGER = 310_000_000_000_000_042
OTHER_BOT = 310_000_000_000_000_099
GUILD = 320_000_000_000_000_001
LOUNGE = 320_000_000_000_000_010
# What Discord knows of the mentor, which must never reach the student.
USERNAME, GLOBAL_NAME, AVATAR = "dupont_m42", "Marc Dupont", "a_0f1e2d3c4b5a69788796a5b4c3d2e1f0"
CODE = "DISCORD-MARC-1"
MESSAGES = r"^/channels/\d+/messages$"
_CLIENT_IDS = itertools.count(1)


# The service, the fake, and the people ----------------------------------------------------------

@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        with server.patched():
            server.add_user(MENTOR, username=USERNAME, global_name=GLOBAL_NAME)
            server.users[MENTOR]["avatar"] = AVATAR
            yield server


@pytest.fixture
async def service(sqlite_db: Engine, services: Services, fake: FakeDiscord
                  ) -> AsyncIterator[Passerelle]:
    with SqlUnitOfWork(sqlite_db) as store:
        load_demo(store, TODAY)
        store.add_invite(Invite(CODE, Role.MENTOR, None), TODAY)
    settings = load_settings(
        web={"host": "127.0.0.1", "port": 0}, delivery={"poll_seconds": 0.05},
        playground={"enabled": "on"}, discord={"token": fake.token},
    )
    app = Passerelle(settings, sqlite_db, services)
    stop, task = await running(app)
    try:
        await fake.wait_ready(timeout=5)
        yield app
    finally:
        stop.set()
        await task


async def student_gets(app: Passerelle, seen: int, count: int = 1) -> list[dict]:
    """The next `count` messages from the bot to the student after the first `seen`."""
    got: list[dict] = []
    for _ in range(20):
        got = [m for m in await playground(app, "student", seen) if m["from"] == "bot"]
        if len(got) >= count:
            return got
        await asyncio.sleep(0.05)  # a pane with older messages answers at once
    raise AssertionError(f"the student got {got}")


async def seen_by_student(app: Passerelle) -> int:
    return len(await playground(app, "student"))


async def mentor_gets(fake: FakeDiscord, seen: int, count: int = 1) -> list[dict]:
    """The next `count` bot messages in the mentor's DM after the first `seen`."""
    dm = fake.dm_channel_id(MENTOR)
    await fake.wait_sent(seen + count, channel_id=dm, timeout=5)
    return fake.sent(dm)[seen:seen + count]


def sent_to_mentor(fake: FakeDiscord) -> int:
    return len(fake.sent(fake.dm_channel_id(MENTOR)))


async def mentor_says(fake: FakeDiscord, words: str, *, reply_to: int | None = None,
                      answers: int = 1) -> dict:
    """The mentor writes in his DM with the bot, and the bot answers him `answers` times."""
    seen = sent_to_mentor(fake)
    message = await fake.user_dm(MENTOR, words, reply_to=reply_to)
    if answers:
        await mentor_gets(fake, seen, answers)
    return message


async def enrol(fake: FakeDiscord, services: Services) -> None:
    """The mentor types the invite code in his DM with the bot, then answers the onboarding."""
    for answer in (CODE, "fr", "Marc", "1", "soudeur", "4", "12", "3"):
        await mentor_says(fake, answer)
    done = services.catalog.t("fr", "onboarding.done.mentor", name="Marc")
    await fake.wait_message(fake.dm_channel_id(MENTOR), done, timeout=5)


def propose(engine: Engine, services: Services) -> int:
    with SqlUnitOfWork(engine) as store:
        ctx = Context(store, services, TODAY)
        vet(store, "Marc")
        match = propose_match(ctx, "Léa", "Marc", actor="test", question="C'est dur?")
        store.enqueue(ctx.out, ctx.now)
    assert match.id is not None
    return match.id


def custom_ids(message: dict) -> list[str]:
    return [c["custom_id"] for row in message["components"] for c in row["components"]]


# The conversation ------------------------------------------------------------------------------

async def test_a_discord_mentor_enrols_accepts_and_talks_through_a_dropped_connection(
    service: Passerelle, fake: FakeDiscord, sqlite_db: Engine, services: Services
) -> None:
    catalog = services.catalog
    dm = fake.dm_channel_id(MENTOR)
    identify = fake.identifies[0]
    assert identify["intents"] == DIRECT_MESSAGES  # nothing more than DMs needs
    assert {c["name"] for c in fake.app_commands[None]} == {
        "help", "profile", "language", "end", "pause", "resume", "capacity", "kit"}
    await enrol(fake, services)

    # a coordinator proposes Léa (on the playground) to Marc: a request with buttons
    seen_lea = await seen_by_student(service)
    seen = sent_to_mentor(fake)
    match_id = propose(sqlite_db, services)
    service.poke_all()
    (request,) = await mentor_gets(fake, seen)
    assert "Léa" in request["content"] and "C'est dur?" in request["content"]
    assert custom_ids(request) == [
        f"passerelle:accept:{match_id}", f"passerelle:decline:{match_id}", "passerelle:pause:on"]
    posted = next(c for c in fake.calls_of("POST", MESSAGES)
                  if c.response and c.response.get("id") == request["id"])
    assert posted.json["allowed_mentions"]["parse"] == []

    # he accepts with the button: answered at once (deferred), the request shows the choice
    pressed = await fake.user_presses(MENTOR, int(request["id"]), custom_ids(request)[0])
    answer = await fake.wait_interaction_response(int(pressed["id"]), timeout=5)
    assert answer.type == DEFERRED_UPDATE
    (settled,) = await fake.wait_calls("PATCH", r"/messages/@original$", timeout=5)
    assert settled.json["components"] == []  # through the interaction's token
    shown = fake.message(int(request["id"]))
    assert shown is not None and shown["components"] == []
    assert shown["content"] == f"{request['content']}\n\n✓ {catalog.t('fr', 'request.accept')}"
    (intro,) = await student_gets(service, seen_lea)
    assert intro["text"] == catalog.t("fr", "match.intro_student", name="Marc (soudeur)")
    (connected,) = await mentor_gets(fake, seen + 1)

    # the same press delivered again (a replay): Discord refuses a second answer, and the bus
    # recognises the event (checked at the end: one introduction, one "connected")
    await fake.push_dispatch("INTERACTION_CREATE", pressed)
    callbacks = await fake.wait_calls("POST", rf"^/interactions/{pressed['id']}/", count=2)
    assert [c.status for c in callbacks] == [200, 400]
    # Léa writes; her @everyone and <@id> reach Marc as text, never as a ping
    seen = sent_to_mentor(fake)
    await student_says(service, "Bonjour @everyone et <@123456789012345678> !",
                       reply_to=intro["id"])
    (question,) = await mentor_gets(fake, seen)
    assert question["content"] == "Léa :\nBonjour @everyone et <@123456789012345678> !"

    # Marc answers by replying to the request, then to her message: both reach Léa
    seen_lea = await seen_by_student(service)
    answered = await mentor_says(fake, "Oui, mais j'adore ça.", reply_to=int(request["id"]),
                                 answers=0)
    (relayed,) = await student_gets(service, seen_lea)
    assert relayed["text"] == "Marc (soudeur) :\nOui, mais j'adore ça."
    seen_lea = await seen_by_student(service)
    await mentor_says(fake, "Et toi, tu bricoles?", reply_to=int(question["id"]), answers=0)
    (second,) = await student_gets(service, seen_lea)
    assert second["text"] == "Marc (soudeur) :\nEt toi, tu bricoles?"

    # the connection drops; what he writes meanwhile is replayed on RESUME, once
    seen_lea = await seen_by_student(service)
    async with fake.offline():
        missed = await fake.user_dm(MENTOR, "Tu es toujours là?", reply_to=int(question["id"]))
        assert fake.dispatches[-1].status == "queued"
    await fake.wait_resumed(timeout=5)
    assert [c.kind for c in fake.connections] == ["identify", "resume"]
    (after_drop,) = await student_gets(service, seen_lea)
    assert after_drop["text"] == "Marc (soudeur) :\nTu es toujours là?"
    await fake.push_dispatch("MESSAGE_CREATE", missed)  # Discord sends it once more
    await mentor_says(fake, "Bon, je continue.", reply_to=int(question["id"]), answers=0)
    (next_one,) = await student_gets(service, seen_lea + 1)
    assert next_one["text"] == "Marc (soudeur) :\nBon, je continue."
    assert len(await student_gets(service, seen_lea, 2)) == 2  # not the missed one twice

    # he edits, then deletes his first answer: Léa's copy follows
    await fake.user_edits(MENTOR, int(answered["id"]), "Oui, et j'adore ça.")
    edits: list[dict] = []
    for _ in range(20):
        edits = [m for m in await playground(service, "student", seen_lea) if m.get("edit_of")]
        if edits:
            break
        await asyncio.sleep(0.1)  # the pane has older messages: it answers at once
    assert edits[-1]["edit_of"] == relayed["id"] and "et j'adore" in edits[-1]["text"]
    await fake.user_deletes(MENTOR, int(answered["id"]))
    gone: list[dict] = []
    for _ in range(20):
        gone = [m for m in await playground(service, "student", seen_lea) if m.get("delete_of")]
        if gone:
            break
        await asyncio.sleep(0.1)
    assert gone[-1]["delete_of"] == relayed["id"]

    # slash commands: acknowledged privately, answered in the DM; and /help typed as text
    seen = sent_to_mentor(fake)
    pause = await fake.user_slash(MENTOR, "pause")
    deferred = await fake.wait_interaction_response(int(pause["id"]), timeout=5)
    assert deferred.type == DEFERRED_CHANNEL_MESSAGE and deferred.ephemeral
    (paused,) = await mentor_gets(fake, seen)
    assert paused["content"] == catalog.t("fr", "pause.on")
    await fake.wait_calls("DELETE", r"/messages/@original$", timeout=5)
    seen = sent_to_mentor(fake)
    await fake.user_slash(MENTOR, "capacity", {"number": 2})
    (capacity,) = await mentor_gets(fake, seen)
    assert capacity["content"] == catalog.t("fr", "capacity.set", capacity=2, load=1)
    await mentor_says(fake, "/help")
    assert fake.sent(dm)[-1]["content"] == catalog.t("fr", "help.mentor", hint="")

    # Discord says "slow down", for the route and then for the whole bot: honoured, and the
    # message arrives once
    for everything in (False, True):
        seen = sent_to_mentor(fake)
        fake.fail_next(MESSAGES, 429, retry_after=0.3, global_=everything, method="POST")
        await student_says(service, f"Malgré la limite ({everything})", reply_to=intro["id"])
        (limited,) = await mentor_gets(fake, seen)
        assert limited["content"] == f"Léa :\nMalgré la limite ({everything})"
        statuses = [c.status for c in fake.calls_of("POST", MESSAGES)][-2:]
        assert statuses == [429, 200]
        await asyncio.sleep(0.2)
        assert sent_to_mentor(fake) == seen + 1
    assert all(c.json["allowed_mentions"]["parse"] == [] for c in fake.calls_of("POST", MESSAGES))

    # nothing of Marc's Discord self ever reached Léa; nothing reached either of them twice
    lea_got = [m for m in await playground(service, "student") if m["from"] == "bot"]
    for secret in (USERNAME, GLOBAL_NAME, str(MENTOR), AVATAR, str(dm), "dupont"):
        assert secret not in str(lea_got)
    assert [m["text"] for m in lea_got].count(intro["text"]) == 1
    assert [m["content"] for m in fake.sent(dm)].count(connected["content"]) == 1

    # he closes his DMs: the next message to him fails for good; he is marked unreachable and
    # Léa is told
    fake.close_dms(MENTOR)
    seen_lea = await seen_by_student(service)
    await student_says(service, "Tu m'entends?", reply_to=intro["id"])
    (told,) = await student_gets(service, seen_lea)
    assert told["text"] == catalog.t("fr", "delivery.unreachable", name="Marc")
    with sqlite_db.connect() as conn:
        reachable = conn.execute(text(
            "SELECT reachable FROM identities WHERE platform = 'discord'")).scalar()
    assert not reachable


async def test_only_people_in_dms_are_listened_to(
    service: Passerelle, fake: FakeDiscord, sqlite_db: Engine, services: Services
) -> None:
    """Its own messages (echoed), other bots and server channels are ignored; a stranger is
    asked for an invite code."""
    await fake.add_guild(GUILD, text_channels={LOUNGE: "salon"})
    await fake.other_bot_dm(OTHER_BOT, "bip bip, je suis un robot")
    await fake.user_posts(LOUNGE, STRANGER, "bonjour le salon")
    assert fake.dispatches[-1].status == "filtered"  # no guild intents: never even sent
    await fake.user_dm(STRANGER, "bonjour")
    need_code = services.catalog.t("fr", "welcome.need_code")
    await fake.wait_message(fake.dm_channel_id(STRANGER), need_code, timeout=5)
    await asyncio.sleep(0.2)
    assert [m["channel_id"] for m in fake.sent()] == [str(fake.dm_channel_id(STRANGER))]
    with sqlite_db.connect() as conn:
        people = conn.execute(text(
            "SELECT count(*) FROM identities WHERE platform = 'discord'")).scalar()
    assert people == 0  # a stranger without a code is not enrolled


async def test_what_was_said_without_a_session_is_read_back(
    service: Passerelle, fake: FakeDiscord, services: Services
) -> None:
    """Discord keeps no event for a bot that lost its session: after the new one, the DMs seen
    so far are read again (repeats are harmless: their event keys are known)."""
    assert service.discord is not None
    service.discord.identify_pause = 0.05
    need_code = services.catalog.t("fr", "welcome.need_code")
    dm = fake.dm_channel_id(STRANGER)
    await fake.user_dm(STRANGER, "bonjour")
    await fake.wait_sent(1, channel_id=dm, timeout=5)
    fake.hold_gateway()
    await fake.invalidate_session()  # not resumable: a new IDENTIFY, a new session
    await fake.user_dm(STRANGER, "il y a quelqu'un?")
    assert fake.dispatches[-1].status == "no session"
    fake.release_gateway()
    await fake.wait_ready(2, timeout=5)
    sent = await fake.wait_sent(2, channel_id=dm, timeout=5)
    assert [m["content"] for m in sent] == [need_code, need_code]
    await asyncio.sleep(0.2)
    assert len(fake.sent(dm)) == 2  # "bonjour" was read again too, and recognised


# The channel on its own -----------------------------------------------------------------------

async def test_starts_when_discord_comes_back_and_restores_the_endpoints() -> None:
    """Discord down at start: retried with backoff while the rest runs. The endpoints come from
    the settings (no fake.patched() here) and are put back on stop."""
    before = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
    received: list[Inbound] = []
    naps: list[float] = []

    async def feed(inbound: Inbound) -> bool:
        received.append(inbound)
        return True

    async def nap(seconds: float) -> None:
        naps.append(seconds)
        await asyncio.sleep(0.01)

    async with FakeDiscord() as fake:
        fake.fail_next("^/users/@me$", 503, times=2)
        channel = DiscordChannel(fake.token, api_base_url=fake.url, gateway_url=fake.gateway_url,
                                 sleep=nap)
        await channel.start(feed)
        try:
            assert fake.api_base == Route.BASE
            await fake.wait_ready(timeout=5)
            for _ in range(100):
                if channel.healthy():
                    break
                await asyncio.sleep(0.02)
            assert channel.healthy() and naps == [2.0, 4.0]
            await fake.user_dm(STRANGER, "salut")
            for _ in range(100):
                if received:
                    break
                await asyncio.sleep(0.02)
            (inbound,) = received
            assert inbound.text == "salut" and inbound.platform_user_id == str(STRANGER)

            # the four verbs on their own: a reply with a button, its edit, its deletion (twice:
            # the second finds it gone, which is what was asked); our own echoes are not fed
            to = Address("discord", inbound.source.chat_id)
            sent_id = await channel.send(Outbound(to, "Bienvenue @here", reply_to=(
                inbound.message_id), buttons=(Button("Français", "lang:fr"),)))
            (call,) = fake.calls_of("POST", MESSAGES)
            assert call.json["message_reference"] == {
                "type": 0, "message_id": int(inbound.message_id),
                "channel_id": int(to.chat_id), "fail_if_not_exists": False}
            assert call.json["allowed_mentions"] == {"parse": []}  # nobody pinged, even replied
            assert call.json["components"][0]["components"][0]["custom_id"] == (
                "passerelle:lang:fr")
            await channel.edit(Outbound(to, "Bienvenue !", edit_of=sent_id))
            assert (fake.message(int(sent_id)) or {})["content"] == "Bienvenue !"
            await channel.delete(Outbound(to, "", delete_of=sent_id))
            await channel.delete(Outbound(to, "", delete_of=sent_id))
            assert fake.message(int(sent_id)) is None
            with pytest.raises(PermanentFailure):  # gone: the workers send a new one instead
                await channel.edit(Outbound(to, "trop tard", edit_of=sent_id))
            await fake.wait_dispatch("MESSAGE_DELETE")
            await asyncio.sleep(0.1)
            assert received == [inbound]
        finally:
            await channel.stop()
    assert before == (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
    assert not channel.healthy()


async def student_says(app: Passerelle, words: str, **extra: object) -> None:
    await playground_says(app, "student", words, **extra)
