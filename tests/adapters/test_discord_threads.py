"""Discord's mentors' channel mode (PASSERELLE_DISCORD__MENTOR_CHANNEL_ID): each match is a private
thread in a channel of the mentors' server, like Slack's threads. The real discord.py client,
REST and gateway, against our fake Discord on 127.0.0.1; the students are on the playground.

The mentor still enrols in his DMs with the bot (his address stays that DM); a request opens a
private thread with him in it and the buttons under it; what he writes there goes to that
student only, and what she writes comes back there. Then the adapter on its own: who is heard in
a thread (after a restart too), and a server that refuses never costs a message."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Engine, text

from adapters.discord_adapter import DiscordChannel
from bots.app import Passerelle
from bots.demo import DEMO_SCHOOL, load_demo
from bots.settings import load_settings
from core.context import Context, Services
from core.matches import propose_match
from core.model import Address, Button, Identity, Inbound, Invite, Outbound, Participant, Role, Step
from core.ports import RetryLater
from storage.store import SqlUnitOfWork
from tests.adapters.fake_discord import (
    DEFERRED_UPDATE,
    DIRECT_MESSAGES,
    GUILD_MESSAGES,
    GUILDS,
    MESSAGE_CONTENT,
    PRIVATE_THREAD,
    FakeDiscord,
)
from tests.adapters.service import TODAY, playground, playground_says, running, vet
from tests.adapters.test_discord_e2e import (
    AVATAR,
    CODE,
    GLOBAL_NAME,
    MENTOR,
    USERNAME,
    custom_ids,
    enrol,
    sent_to_mentor,
)

GUILD = 320_000_000_000_000_001
MENTORS_CHANNEL = 320_000_000_000_000_020
LOUNGE = 320_000_000_000_000_010
MODERATOR = 310_000_000_000_000_055
THREADS = rf"^/channels/{MENTORS_CHANNEL}/threads$"


# The service, the fake, and the people ----------------------------------------------------------

@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        with server.patched():
            server.add_user(MENTOR, username=USERNAME, global_name=GLOBAL_NAME)
            server.users[MENTOR]["avatar"] = AVATAR
            await server.add_guild(GUILD, name="Mentors",
                                   text_channels={MENTORS_CHANNEL: "mentorat", LOUNGE: "salon"})
            yield server


@pytest.fixture
async def service(sqlite_db: Engine, services: Services, fake: FakeDiscord
                  ) -> AsyncIterator[Passerelle]:
    with SqlUnitOfWork(sqlite_db) as store:
        load_demo(store, TODAY)
        store.add_invite(Invite(CODE, Role.MENTOR, None), TODAY)
        school = store.find_school(DEMO_SCHOOL)
        assert school is not None
        noe = store.add_participant(Participant(
            Role.STUDENT, "Noé", "fr", school.id, Step.DONE, age=15, fields=["science"],
            created_at=TODAY))
        assert noe.id is not None
        store.add_identity(Identity("playground", "noe", noe.id, Address("playground", "noe")))
    settings = load_settings(
        web={"host": "127.0.0.1", "port": 0}, delivery={"poll_seconds": 0.05},
        playground={"enabled": "on"},
        discord={"token": fake.token, "mentor_channel_id": MENTORS_CHANNEL},
    )
    app = Passerelle(settings, sqlite_db, services)
    stop, task = await running(app)
    try:
        await fake.wait_ready(timeout=5)
        yield app
    finally:
        stop.set()
        await task


def propose(engine: Engine, services: Services, student: str, question: str) -> int:
    with SqlUnitOfWork(engine) as store:
        ctx = Context(store, services, TODAY)
        vet(store, "Marc")
        match = propose_match(ctx, student, "Marc", actor="test", question=question)
        store.enqueue(ctx.out, ctx.now)
    assert match.id is not None
    return match.id


async def gets(app: Passerelle, user: str, seen: int, count: int = 1) -> list[dict]:
    """The next `count` messages from the bot in a playground pane after the first `seen`
    (waiting up to 5 s: the pane answers at once when the user's own words are there)."""
    got: list[dict] = []
    deadline = asyncio.get_running_loop().time() + 5
    while asyncio.get_running_loop().time() < deadline:
        got = [m for m in await playground(app, user, seen) if m["from"] == "bot"]
        if len(got) >= count:
            return got
        await asyncio.sleep(0.02)
    raise AssertionError(f"{user} got {got}")


async def seen_by(app: Passerelle, user: str) -> int:
    return len(await playground(app, user))


async def in_thread(fake: FakeDiscord, thread: int, seen: int, count: int = 1) -> list[dict]:
    """The next `count` bot messages in a thread after the first `seen`."""
    await fake.wait_sent(seen + count, channel_id=thread, timeout=5)
    return fake.sent(thread)[seen:seen + count]


async def opened_thread(fake: FakeDiscord, count: int) -> int:
    """The `count`-th thread the bot opened in the mentors' channel (its id)."""
    calls = await fake.wait_calls("POST", THREADS, count, timeout=5)
    response = calls[count - 1].response
    assert isinstance(response, dict)
    return int(response["id"])


async def edited_or_deleted(app: Passerelle, user: str, seen: int, key: str) -> dict:
    deadline = asyncio.get_running_loop().time() + 5
    while asyncio.get_running_loop().time() < deadline:
        found = [m for m in await playground(app, user, seen) if m.get(key)]
        if found:
            return found[-1]
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {key} for {user}")


# The conversations ------------------------------------------------------------------------------

async def test_each_match_is_a_private_thread_in_the_mentors_channel(
    service: Passerelle, fake: FakeDiscord, sqlite_db: Engine, services: Services
) -> None:
    catalog = services.catalog
    assert fake.identifies[0]["intents"] == GUILDS | GUILD_MESSAGES | DIRECT_MESSAGES | (
        MESSAGE_CONTENT)
    await enrol(fake, services)  # in the DM, as without a mentors' channel
    dm_messages = sent_to_mentor(fake)

    # Léa is proposed: a private thread opens in the mentors' channel, Marc in it, the request
    # and its buttons in it; nothing in the DM
    seen_lea = await seen_by(service, "student")
    lea_match = propose(sqlite_db, services, "Léa", "C'est dur?")
    service.poke_all()
    lea_thread = await opened_thread(fake, 1)
    (request,) = await in_thread(fake, lea_thread, 0)
    (create,) = fake.calls_of("POST", THREADS)
    assert create.json["type"] == PRIVATE_THREAD and create.json["invitable"] is False
    assert "Léa" in create.json["name"] and len(create.json["name"]) <= 90
    thread = fake.channels[lea_thread]
    assert thread["parent_id"] == str(MENTORS_CHANNEL) and thread["type"] == PRIVATE_THREAD
    assert fake.thread_members[lea_thread] == {fake.bot_id, MENTOR}
    assert "Léa" in request["content"] and "C'est dur?" in request["content"]
    assert custom_ids(request) == [
        f"passerelle:accept:{lea_match}", f"passerelle:decline:{lea_match}",
        "passerelle:pause:on"]
    assert sent_to_mentor(fake) == dm_messages

    # he accepts in the thread: deferred, Léa is introduced, the thread hears it is on
    pressed = await fake.user_presses(MENTOR, int(request["id"]), custom_ids(request)[0])
    answer = await fake.wait_interaction_response(int(pressed["id"]), timeout=5)
    assert answer.type == DEFERRED_UPDATE
    (intro,) = await gets(service, "student", seen_lea)
    assert intro["text"] == catalog.t("fr", "match.intro_student", name="Marc (soudeur)")
    (accepted,) = await in_thread(fake, lea_thread, 1)
    assert "Léa" in accepted["content"]
    await fake.wait_calls("PATCH", r"/messages/@original$", timeout=5)
    assert (fake.message(int(request["id"])) or {})["components"] == []

    # he writes in the thread (replying to nothing): it reaches Léa under his pseudonym
    seen_lea = await seen_by(service, "student")
    hello = await fake.user_posts(lea_thread, MENTOR, "Bonjour Léa, pose tes questions.")
    (relayed,) = await gets(service, "student", seen_lea)
    assert relayed["text"] == "Marc (soudeur) :\nBonjour Léa, pose tes questions."
    # she answers: it comes back in the same thread
    await playground_says(service, "student", "Merci ! C'est physique?", reply_to=relayed["id"])
    (question,) = await in_thread(fake, lea_thread, 2)
    assert question["content"] == "Léa :\nMerci ! C'est physique?"

    # Noé is proposed: a second thread; his conversation and Léa's never cross
    seen_noe = await seen_by(service, "noe")
    noe_match = propose(sqlite_db, services, "Noé", "Et les horaires?")
    service.poke_all()
    noe_thread = await opened_thread(fake, 2)
    (noe_request,) = await in_thread(fake, noe_thread, 0)
    assert noe_thread != lea_thread and fake.thread_members[noe_thread] == {fake.bot_id, MENTOR}
    assert "Noé" in noe_request["content"] and "Léa" not in noe_request["content"]
    assert custom_ids(noe_request)[0] == f"passerelle:accept:{noe_match}"
    await fake.user_presses(MENTOR, int(noe_request["id"]), custom_ids(noe_request)[0])
    (noe_intro,) = await gets(service, "noe", seen_noe)
    await in_thread(fake, noe_thread, 1)  # "C'est parti avec Noé…"
    seen_lea, seen_noe = await seen_by(service, "student"), await seen_by(service, "noe")
    await fake.user_posts(noe_thread, MENTOR, "Salut Noé !")
    (to_noe,) = await gets(service, "noe", seen_noe)
    assert to_noe["text"] == "Marc (soudeur) :\nSalut Noé !"
    await fake.user_posts(lea_thread, MENTOR, "Oui, assez physique.")
    (to_lea,) = await gets(service, "student", seen_lea)
    assert to_lea["text"] == "Marc (soudeur) :\nOui, assez physique."
    await playground_says(service, "noe", "Super, merci", reply_to=noe_intro["id"])
    (from_noe,) = await in_thread(fake, noe_thread, 2)
    assert from_noe["content"] == "Noé :\nSuper, merci"
    await asyncio.sleep(0.3)
    assert len(fake.sent(lea_thread)) == 3 and len(fake.sent(noe_thread)) == 3
    assert [m["text"] for m in await gets(service, "student", seen_lea)] == [to_lea["text"]]
    assert [m["text"] for m in await gets(service, "noe", seen_noe)] == [to_noe["text"]]

    # he edits, then deletes his first message in Léa's thread: her copy follows
    seen_lea = await seen_by(service, "student")
    await fake.user_edits(MENTOR, int(hello["id"]), "Bonjour Léa, pose toutes tes questions.")
    edit = await edited_or_deleted(service, "student", seen_lea, "edit_of")
    assert edit["edit_of"] == relayed["id"] and "toutes tes questions" in edit["text"]
    await fake.user_deletes(MENTOR, int(hello["id"]))
    gone = await edited_or_deleted(service, "student", seen_lea, "delete_of")
    assert gone["delete_of"] == relayed["id"]
    # /unsend typed as a reply in the thread takes a message back, and is answered there
    seen_lea, seen_thread = await seen_by(service, "student"), len(fake.sent(lea_thread))
    oops = await fake.user_posts(lea_thread, MENTOR, "Message de trop")
    (copy,) = await gets(service, "student", seen_lea)
    await fake.user_posts(lea_thread, MENTOR, "/unsend", reply_to=int(oops["id"]))
    taken = await edited_or_deleted(service, "student", seen_lea, "delete_of")
    assert taken["delete_of"] == copy["id"]
    (done,) = await in_thread(fake, lea_thread, seen_thread)
    assert done["content"] == catalog.t("fr", "unsend.done")

    # the server's other channels, and the mentors' channel itself, are not listened to
    seen_lea, seen_noe = await seen_by(service, "student"), await seen_by(service, "noe")
    sent_before = len(fake.sent())
    await fake.user_posts(MENTORS_CHANNEL, MENTOR, "Bonjour à tous les mentors")
    await fake.user_posts(LOUNGE, MENTOR, "Quelqu'un a vu Léa?")
    await asyncio.sleep(0.3)
    assert len(fake.sent()) == sent_before
    assert await playground(service, "student", seen_lea) == []
    assert await playground(service, "noe", seen_noe) == []

    # nothing of Marc's Discord self reached either student; his address is still his DM
    dm = fake.dm_channel_id(MENTOR)
    for user in ("student", "noe"):
        got = str([m for m in await playground(service, user) if m["from"] == "bot"])
        for secret in (USERNAME, GLOBAL_NAME, str(MENTOR), AVATAR, str(dm), str(lea_thread),
                       str(noe_thread), "dupont", "mentorat"):
            assert secret not in got
    with sqlite_db.connect() as conn:
        chat, thread_id, reachable = conn.execute(text(
            "SELECT chat_id, thread_id, reachable FROM identities WHERE platform = 'discord'"
        )).one()
        roots = set(conn.execute(text(
            "SELECT thread_id FROM conversation_threads WHERE platform = 'discord'")).scalars())
    assert (chat, thread_id, reachable) == (str(dm), None, 1)
    assert roots == {str(lea_thread), str(noe_thread)}
    assert sent_to_mentor(fake) == dm_messages  # every word of both matches went to threads


async def test_a_server_that_refuses_threads_loses_nothing(
    service: Passerelle, fake: FakeDiscord, sqlite_db: Engine, services: Services,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The bot lacks Create Private Threads: the request comes in the DM, an error is logged,
    the mentor stays reachable, and the conversation goes on in the DM as replies."""
    await enrol(fake, services)
    dm = fake.dm_channel_id(MENTOR)
    seen = sent_to_mentor(fake)
    fake.fail_next(THREADS, 403, code=50013, message="Missing Permissions", times=None)
    with caplog.at_level(logging.ERROR, logger="passerelle.discord"):
        match_id = propose(sqlite_db, services, "Léa", "C'est dur?")
        service.poke_all()
        await fake.wait_sent(seen + 1, channel_id=dm, timeout=5)
    assert "event=discord_thread_not_opened status=403 code=50013" in caplog.text
    request = fake.sent(dm)[seen]
    assert custom_ids(request)[0] == f"passerelle:accept:{match_id}"
    seen_lea = await seen_by(service, "student")
    await fake.user_presses(MENTOR, int(request["id"]), custom_ids(request)[0])
    await gets(service, "student", seen_lea)
    await fake.wait_sent(seen + 2, channel_id=dm, timeout=5)  # "C'est parti…", in the DM
    seen_lea = await seen_by(service, "student")
    await fake.user_dm(MENTOR, "Me voici, en privé.", reply_to=int(request["id"]))
    (relayed,) = await gets(service, "student", seen_lea)
    assert relayed["text"] == "Marc (soudeur) :\nMe voici, en privé."
    with sqlite_db.connect() as conn:
        reachable = conn.execute(text(
            "SELECT reachable FROM identities WHERE platform = 'discord'")).scalar()
    assert reachable
    # no message was ever tried in a "thread" that was the DM's request
    assert not fake.calls_of("POST", rf"^/channels/{request['id']}/messages$")


# The channel on its own -----------------------------------------------------------------------

class Fed:
    """What the channel hands to the bus."""

    def __init__(self) -> None:
        self.inbounds: list[Inbound] = []

    async def __call__(self, inbound: Inbound) -> bool:
        self.inbounds.append(inbound)
        return True

    async def wait(self, count: int) -> list[Inbound]:
        for _ in range(200):
            if len(self.inbounds) >= count:
                return self.inbounds
            await asyncio.sleep(0.02)
        raise AssertionError(f"fed {self.inbounds}")


async def started(fake: FakeDiscord, fed: Fed, **options: object) -> DiscordChannel:
    channel = DiscordChannel(fake.token, mentor_channel_id=MENTORS_CHANNEL, **options)  # type: ignore[arg-type]
    await channel.start(fed)
    await fake.wait_ready(len(fake.identifies) + 1, timeout=5)
    for _ in range(100):
        if channel.healthy():
            break
        await asyncio.sleep(0.02)
    return channel


def opening(dm: int, words: str = "Demande : Léa, 16 ans\nPremière question?") -> Outbound:
    return Outbound(Address("discord", str(dm)), words,
                    buttons=(Button("Accepter", "accept:7"),), opens_thread=True)


async def test_who_is_heard_in_a_thread_even_after_a_restart(fake: FakeDiscord) -> None:
    fed = Fed()
    dm = fake.dm_channel_id(MENTOR)
    channel = await started(fake, fed)
    try:
        thread_id = await channel.send(opening(dm))
        thread = int(thread_id)
        assert fake.channels[thread]["name"] == "Demande : Léa, 16 ans"
        (first,) = fake.sent(thread)
        assert first["components"][0]["components"][0]["custom_id"] == "passerelle:accept:7"
        to_thread = Address("discord", str(dm), thread_id)
        later = await channel.send(Outbound(to_thread, "La suite"))
        assert (fake.message(int(later)) or {})["channel_id"] == thread_id
        await channel.edit(Outbound(to_thread, "La suite, corrigée", edit_of=later))
        assert (fake.message(int(later)) or {})["content"] == "La suite, corrigée"

        said = await fake.user_posts(thread, MENTOR, "Bonjour", reply_to=int(later))
        (inbound,) = await fed.wait(1)
        assert inbound.source == Address("discord", str(dm), thread_id)
        assert inbound.reply_to == thread_id and inbound.platform_user_id == str(MENTOR)
        # a moderator who can see every private thread does not speak for this match
        await fake.user_posts(thread, MODERATOR, "Je passe juste")
        await fake.user_posts(MENTORS_CHANNEL, MENTOR, "Dans le salon des mentors")
        # two mentors' own private thread, the bot in it: none of a student's business
        own = await fake.user_opens_thread(MENTORS_CHANNEL, MENTOR, "Entre mentors",
                                           members=(fake.bot_id, MODERATOR))
        await fake.user_posts(int(own["id"]), MENTOR, "Tu as vu la réunion?")
        assert fake.dispatches[-1].status == "sent"  # the bot hears it, and lets it be
        await channel.delete(Outbound(to_thread, "", delete_of=later))  # our own, echoed
        await asyncio.sleep(0.3)
        assert fed.inbounds == [inbound]
    finally:
        await channel.stop()

    # a restart: the thread and its mentor are forgotten; his deletion is still his (without
    # the members intent Discord lists only the bot: "passerelle added Marc" tells, not the
    # moderator who wrote there first)
    fed = Fed()
    channel = await started(fake, fed)
    try:
        await fake.user_deletes(MENTOR, int(said["id"]))
        (gone,) = await fed.wait(1)
        assert gone.deleted and gone.message_id == said["id"]
        assert gone.source == Address("discord", str(dm), thread_id)
        assert gone.platform_user_id == str(MENTOR)
        (listed,) = fake.calls_of("GET", rf"^/channels/{thread}/thread-members$")
        assert [m["user_id"] for m in listed.response] == [str(fake.bot_id)]
        await fake.user_posts(thread, MENTOR, "Toujours là")
        await fake.user_posts(thread, MODERATOR, "Moi aussi")
        said_again = await fed.wait(2)
        await asyncio.sleep(0.2)
        assert [i.text for i in said_again[1:]] == ["Toujours là"]
    finally:
        await channel.stop()

    # another restart, and Discord refuses the members list outright: the history still tells
    fed = Fed()
    channel = await started(fake, fed)
    try:
        fake.fail_next(rf"^/channels/{thread}/thread-members$", 403, code=50001,
                       message="Missing Access", method="GET")
        await fake.user_posts(thread, MODERATOR, "Je repasse")
        await fake.user_posts(thread, MENTOR, "Encore moi")
        (heard,) = await fed.wait(1)
        assert heard.text == "Encore moi" and heard.platform_user_id == str(MENTOR)
        listed = fake.calls_of("GET", rf"^/channels/{thread}/thread-members$")
        assert 403 in [c.status for c in listed]
        await asyncio.sleep(0.2)
        assert len(fed.inbounds) == 1
    finally:
        await channel.stop()


async def test_what_was_said_in_a_thread_without_a_session_is_read_back(
    fake: FakeDiscord,
) -> None:
    fed = Fed()
    dm = fake.dm_channel_id(MENTOR)
    channel = await started(fake, fed, identify_pause=0.05)
    try:
        thread = int(await channel.send(opening(dm)))
        await fake.user_posts(thread, MENTOR, "Premier")
        await fed.wait(1)
        fake.hold_gateway()
        await fake.invalidate_session()  # not resumable: a new session, events meanwhile lost
        await fake.user_posts(thread, MENTOR, "Pendant la coupure")
        assert fake.dispatches[-1].status == "no session"
        fake.release_gateway()
        await fake.wait_ready(2, timeout=5)
        caught = await fed.wait(2)
        assert [i.text for i in caught] == ["Premier", "Pendant la coupure"]
        assert caught[1].source == Address("discord", str(dm), str(thread))
        await asyncio.sleep(0.2)
        assert len(fed.inbounds) == 2  # "Premier" was read again too, and not fed twice here
    finally:
        await channel.stop()


async def test_a_refusing_server_falls_back_to_the_dm_and_a_busy_one_is_retried(
    fake: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    fed = Fed()
    dm = fake.dm_channel_id(MENTOR)
    channel = await started(fake, fed)
    try:
        # the mentor cannot be added (not in the server): the empty thread goes, the DM has it
        fake.fail_next(r"/thread-members/\d+$", 404, code=10007, message="Unknown Member",
                       method="PUT")
        with caplog.at_level(logging.ERROR, logger="passerelle.discord"):
            in_dm = await channel.send(opening(dm))
        assert "event=discord_thread_not_opened status=404 code=10007" in caplog.text
        assert (fake.message(int(in_dm)) or {})["channel_id"] == str(dm)
        (refused,) = fake.calls_of("POST", THREADS)
        assert int(refused.response["id"]) not in fake.channels  # deleted, not left empty
        # the outbox takes that id for the match's thread: what follows goes to the DM at once
        follow = await channel.send(Outbound(Address("discord", str(dm), in_dm), "Et ensuite"))
        assert (fake.message(int(follow)) or {})["channel_id"] == str(dm)
        assert not fake.calls_of("POST", rf"^/channels/{in_dm}/messages$")

        # Discord is busy (a Cloudflare 429): retried by the workers, in the same thread
        fake.fail_next(r"/thread-members/\d+$", 429, via=False, method="PUT")
        with pytest.raises(RetryLater):
            await channel.send(opening(dm, "Demande : Noé"))
        thread = int(await channel.send(opening(dm, "Demande : Noé")))
        assert len(fake.calls_of("POST", THREADS)) == 2  # not a third thread
        assert MENTOR in fake.thread_members[thread] and len(fake.sent(thread)) == 1

        # the thread falls silent (archived): reopened to write in it
        to_thread = Address("discord", str(dm), str(thread))
        fake.channels[thread]["thread_metadata"]["archived"] = True
        reopened = await channel.send(Outbound(to_thread, "Tu es là?"))
        assert (fake.message(int(reopened)) or {})["channel_id"] == str(thread)
        assert fake.channels[thread]["thread_metadata"]["archived"] is False

        # an admin deleted the thread: the match goes on in the DM, nobody marked unreachable
        del fake.channels[thread]
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="passerelle.discord"):
            moved = await channel.send(Outbound(to_thread, "Toujours là?"))
        assert (fake.message(int(moved)) or {})["channel_id"] == str(dm)
        assert "event=discord_thread_unusable status=404 code=10003" in caplog.text
    finally:
        await channel.stop()
