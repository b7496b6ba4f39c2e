"""A discussion group across platforms, through the whole running service and the real SDKs: a
student on Telegram (python-telegram-bot against our fake Bot API), a mentor on Slack (slack-bolt
in Socket Mode against our fake Slack) and a student on the playground, all on 127.0.0.1.

The Telegram student and the Slack mentor are written into the database as onboarding would
leave them (onboarding through each SDK is tested elsewhere, and both platforms pace a chat at
one message a second): everything about the group itself goes through the platforms.
"""

from __future__ import annotations

import os

os.environ.setdefault("PTB_TIMEDELTA", "true")  # before telegram is imported

import asyncio  # noqa: E402
from collections.abc import AsyncIterator  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402
from sqlalchemy import Engine  # noqa: E402

from bots.app import Passerelle  # noqa: E402
from bots.demo import DEMO_SCHOOL, load_demo  # noqa: E402
from bots.settings import load_settings  # noqa: E402
from core.i18n import Catalog  # noqa: E402
from core.model import (  # noqa: E402
    Address,
    Identity,
    MentorKind,
    Participant,
    Role,
    Step,
)
from storage.store import SqlUnitOfWork  # noqa: E402
from tests.adapters.fake_slack import FakeSlack  # noqa: E402
from tests.adapters.fake_telegram import FakeTelegram  # noqa: E402
from tests.adapters.service import TODAY, playground, playground_says, running  # noqa: E402

TOKEN = "123:ABC"
ZOE = 5001  # her Telegram user id, and her private chat's id
ZOE_NAME, ZOE_HANDLE = "Zoé Secrète", "zoe_secret_handle"
MARC = "U0MARC"  # his Slack user id
MARC_HANDLE, MARC_REAL_NAME = "marc.tremblay", "Marc Tremblay"
GROUP = "Métiers"


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        yield server


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as server:
        server.add_user(MARC, name=MARC_HANDLE, real_name=MARC_REAL_NAME)
        yield server


def enrolled(engine: Engine, slack: FakeSlack) -> None:
    """The demo (Léa, a student of the demo school, on the playground; its coordinator), plus
    Zozo on Telegram, a student of the same school, and Soudo, a vetted mentor on Slack."""
    with SqlUnitOfWork(engine) as store:
        load_demo(store, TODAY)
        school = store.find_school(DEMO_SCHOOL)
        assert school is not None
        zozo = store.add_participant(Participant(
            Role.STUDENT, "Zozo", "fr", school.id, Step.DONE, age=16, fields=["trades"],
            created_at=TODAY))
        soudo = store.add_participant(Participant(
            Role.MENTOR, "Soudo", "fr", None, Step.DONE, mentor_kind=MentorKind.PROFESSIONAL,
            profession="soudeur", fields=["trades"], years=12, capacity=3, vetted=True,
            created_at=TODAY))
        assert zozo.id is not None and soudo.id is not None
        store.add_identity(Identity("telegram", str(ZOE), zozo.id,
                                    Address("telegram", str(ZOE))))
        store.add_identity(Identity("slack", MARC, soudo.id,
                                    Address("slack", slack.dm_channel(MARC))))


@pytest.fixture
async def service(sqlite_db: Engine, telegram: FakeTelegram, slack: FakeSlack
                  ) -> AsyncIterator[Passerelle]:
    """The service as `passerelle run` builds it from its settings (age bands included)."""
    enrolled(sqlite_db, slack)
    settings = load_settings(
        web={"host": "127.0.0.1", "port": 0}, delivery={"poll_seconds": 0.05},
        playground={"enabled": "on"},
        telegram={"token": TOKEN, "base_url": telegram.url, "poll_timeout": 1},
        slack={"bot_token": slack.bot_token, "base_url": slack.api_url,
               "app_token": slack.app_token},
    )
    app = Passerelle(settings, sqlite_db)
    stop, task = await running(app)
    try:
        await slack.wait_connections(1, timeout=5)
        yield app
    finally:
        stop.set()
        await task


def catalog(app: Passerelle) -> Catalog:
    assert app.services is not None
    return app.services.catalog


async def bot_says(app: Passerelle, user: str, seen: int, count: int = 1) -> list[dict]:
    """The bot's messages to a playground user after position `seen`, once `count` arrived."""
    got: list[dict] = []
    for _ in range(10):
        got = [m for m in await playground(app, user, seen) if m["from"] == "bot"]
        if len(got) >= count:
            return got
        await asyncio.sleep(0.05)  # a pane with older messages answers at once
    raise AssertionError(f"{user} got {got}")


async def slack_posts(slack: FakeSlack, seen: int, count: int = 1) -> list[dict[str, Any]]:
    """The next `count` messages the bot posted on Slack after the first `seen`."""
    await slack.wait_posted(seen + count, timeout=5)
    return slack.posted()[seen:seen + count]


async def telegram_says(telegram: FakeTelegram, seen: int, count: int = 1) -> list[dict]:
    await telegram.wait_sent(seen + count, chat_id=ZOE, timeout=5)
    return telegram.sent(ZOE)[seen:seen + count]


async def marc_writes(slack: FakeSlack, text: str, thread_ts: str) -> dict[str, Any]:
    event = slack.dm_message(MARC, text, thread_ts=thread_ts)
    await slack.wait_ack(await slack.push_event(event), timeout=5)  # acked once committed
    return event


async def create_group(app: Passerelle) -> int:
    """The demo coordinator creates the group from the playground; its number is returned."""
    await playground_says(app, "coordinator", f"/group new {GROUP} band=14-17")
    (created,) = await bot_says(app, "coordinator", 0)
    with SqlUnitOfWork(app.engine) as store:
        (group,) = store.open_groups(None, None, everywhere=True)
    assert group.id is not None
    assert created["text"] == catalog(app).t("fr", "group.admin.created", id=group.id,
                                             name=GROUP)
    return group.id


async def everyone_joins(app: Passerelle, telegram: FakeTelegram, slack: FakeSlack,
                         group: int) -> str:
    """Zozo (/join on Telegram), Soudo (/passerelle join on Slack), Léa (/join on the
    playground); returns the Slack thread the group opened for Soudo."""
    t = catalog(app).t
    telegram.user_sends(ZOE, f"/join {group}", first_name=ZOE_NAME, username=ZOE_HANDLE)
    (joined,) = await telegram_says(telegram, 0)
    assert joined["text"] == t("fr", "group.joined", name=GROUP, count=1,
                               how=t("fr", "group.how.chat"), welcome="")

    command = slack.slash_command(MARC, text=f"join {group}")
    await slack.wait_ack(await slack.push_slash_command(command), timeout=5)
    (root,) = await slack_posts(slack, 0)
    assert root["channel"] == slack.dm_channel(MARC) and root["thread_ts"] is None
    assert root["text"] == t("fr", "group.joined", name=GROUP, count=2,
                             how=t("fr", "group.how.thread"), welcome="")

    await recorded(app, Address("slack", slack.dm_channel(MARC)), str(root["ts"]))
    seen = len(await playground(app, "student"))
    await playground_says(app, "student", f"/join {group}")
    (lea,) = await bot_says(app, "student", seen)
    assert lea["text"] == t("fr", "group.joined", name=GROUP, count=3,
                            how=t("fr", "group.how.chat"), welcome="")
    return str(root["ts"])


async def recorded(app: Passerelle, chat: Address, platform_id: str) -> None:
    """Wait until the worker has recorded that the message `platform_id` went out (the fake
    saw it a moment before): only then is a reply to it known to be in the group's thread."""
    for _ in range(200):
        with SqlUnitOfWork(app.engine) as store:
            if store.delivered_ref(chat, platform_id) is not None:
                return
        await asyncio.sleep(0.025)
    raise AssertionError(f"{platform_id} never recorded as delivered")


def secrets_of(slack: FakeSlack) -> tuple[str, ...]:
    """What identifies Zozo on Telegram and Soudo on Slack: none of it may cross."""
    return (str(ZOE), ZOE_NAME, ZOE_HANDLE, MARC, MARC_HANDLE, MARC_REAL_NAME,
            slack.dm_channel(MARC), "Zoé", "Tremblay")


async def test_a_group_across_telegram_slack_and_the_playground(
    service: Passerelle, telegram: FakeTelegram, slack: FakeSlack,
) -> None:
    app, t = service, catalog(service).t
    group = await create_group(app)
    thread = await everyone_joins(app, telegram, slack, group)
    on_slack, on_telegram = len(slack.posted()), len(telegram.sent(ZOE))
    lea_seen = len(await playground(app, "student"))
    samir_seen = len(await playground(app, "mentor"))

    # Zozo writes on Telegram: Soudo reads it in the group's thread, Léa on the playground
    question = telegram.user_sends(ZOE, "Comment devenir soudeur?", first_name=ZOE_NAME,
                                   username=ZOE_HANDLE)
    expected = t("fr", "group.post", group=GROUP, name="Zozo", text="Comment devenir soudeur?")
    (copy,) = await slack_posts(slack, on_slack)
    assert (copy["text"], copy["thread_ts"]) == (expected, thread)
    (lea_copy,) = await bot_says(app, "student", lea_seen)
    assert lea_copy["text"] == expected

    # Soudo answers in the thread: a post of the group (a thread answers no post in particular)
    answer = await marc_writes(slack, "Par un DEP en soudage.", thread)
    expected = t("fr", "group.post", group=GROUP, name="Soudo (soudeur)",
                 text="Par un DEP en soudage.")
    (tg_answer,) = await telegram_says(telegram, on_telegram)
    assert tg_answer["text"] == expected and "reply_to_message" not in tg_answer
    lea_answer = (await bot_says(app, "student", lea_seen, 2))[1]
    assert lea_answer["text"] == expected

    # Léa answers Zozo's post: both others see which post she answers, Zozo under her own
    # message on Telegram, Soudo in the thread
    await playground_says(app, "student", "Moi aussi, je me demandais.", reply_to=lea_copy["id"])
    expected = t("fr", "group.post_reply", group=GROUP, name="Léa", replied="Zozo",
                 quote="Comment devenir soudeur?", text="Moi aussi, je me demandais.")
    (tg_reply,) = await telegram_says(telegram, on_telegram + 1)
    assert tg_reply["text"] == expected
    assert tg_reply["reply_to_message"]["message_id"] == question["message_id"]
    (slack_reply,) = await slack_posts(slack, on_slack + 1)
    assert (slack_reply["text"], slack_reply["thread_ts"]) == (expected, thread)

    # Zozo answers Soudo's copy on Telegram: quoted for Soudo and for Léa
    telegram.user_sends(ZOE, "Merci!", reply_to=tg_answer["message_id"], first_name=ZOE_NAME,
                        username=ZOE_HANDLE)
    expected = t("fr", "group.post_reply", group=GROUP, name="Zozo", replied="Soudo",
                 quote="Par un DEP en soudage.", text="Merci!")
    (thanks,) = await slack_posts(slack, on_slack + 2)
    assert (thanks["text"], thanks["thread_ts"]) == (expected, thread)
    lea_thanks = (await bot_says(app, "student", lea_seen, 3))[2]
    assert lea_thanks["text"] == expected
    assert lea_thanks["reply_to"] == lea_answer["id"]  # under her copy of Soudo's answer

    # nobody got their own posts back, nothing else went out, and no copy names anyone's
    # platform self; Samir, Léa's mentor, outside the group, heard nothing of it
    await asyncio.sleep(0.3)
    assert len(telegram.sent(ZOE)) == on_telegram + 2
    assert len(slack.posted()) == on_slack + 3
    lea_got = [m for m in await playground(app, "student", lea_seen) if m["from"] == "bot"]
    assert len(lea_got) == 3  # not her own post
    assert [m for m in await playground(app, "mentor", samir_seen) if m["from"] == "bot"] == []
    copies = [m["text"] for m in telegram.sent(ZOE)[on_telegram:]]
    copies += [m["text"] for m in slack.posted()[on_slack:]]
    copies += [str(b.get("text", "")) for m in slack.posted()[on_slack:]
               for b in m.get("blocks") or []]
    copies += [m["text"] for m in lea_got]
    for secret in (*secrets_of(slack), answer["ts"]):
        assert not [c for c in copies if secret in c], secret


async def test_a_telegram_member_who_blocked_the_bot_is_skipped(
    service: Passerelle, telegram: FakeTelegram, slack: FakeSlack,
) -> None:
    """Telegram refuses Zozo's copy (403): Léa and Soudo are not held up, nobody is told
    about Zozo, and the next post has no copy for her at all."""
    app, t = service, catalog(service).t
    group = await create_group(app)
    thread = await everyone_joins(app, telegram, slack, group)
    lea_seen = len(await playground(app, "student"))
    telegram.user_blocks(ZOE)
    on_slack, on_telegram = len(slack.posted()), len(telegram.sent(ZOE))

    await playground_says(app, "student", "Quelqu'un ici?")
    (copy,) = await slack_posts(slack, on_slack)
    assert copy["text"] == t("fr", "group.post", group=GROUP, name="Léa", text="Quelqu'un ici?")
    calls = await telegram.wait_calls("sendMessage", on_telegram + 1, chat_id=ZOE, timeout=5)
    assert calls[-1].status == 403
    await marc_writes(slack, "Oui, moi.", thread)
    (answer,) = await bot_says(app, "student", lea_seen)
    assert answer["text"] == t("fr", "group.post", group=GROUP, name="Soudo (soudeur)",
                               text="Oui, moi.")
    await asyncio.sleep(0.5)
    assert len(telegram.sent(ZOE)) == on_telegram
    assert len([c for c in telegram.calls_of("sendMessage")
                if str(c.params.get("chat_id")) == str(ZOE)]) == on_telegram + 1
    assert [m["text"] for m in await playground(app, "student", lea_seen)
            if m["from"] == "bot"] == [answer["text"]]  # and nothing about Zozo
    assert len(slack.posted()) == on_slack + 1
