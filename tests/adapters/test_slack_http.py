"""Slack's HTTP mode (Events API): signed POSTs to our aiohttp server, checked by Bolt.

A forged or stale request is refused with 401 and changes nothing; a retried delivery is
acknowledged and changes nothing; events, button presses and the slash command all arrive here.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Engine, text

from adapters.slack_adapter import EVENTS_PATH
from bots.app import Passerelle
from core.context import Services
from tests.adapters.fake_slack import SIGNING_SECRET, FakeSlack
from tests.adapters.test_slack_e2e import CODE, MENTOR, fake, serve, settings_for  # noqa: F401


@pytest.fixture
async def service(sqlite_db: Engine, services: Services, fake: FakeSlack  # noqa: F811
                  ) -> AsyncIterator[Passerelle]:
    async for app in serve(sqlite_db, services, settings_for(fake, signing_secret=SIGNING_SECRET)):
        for _ in range(200):  # started (auth.test answered) in the background
            if app.healthy().get("platforms", {}).get("slack"):
                break
            await asyncio.sleep(0.02)
        yield app


def url(app: Passerelle) -> str:
    return f"http://127.0.0.1:{app.port}{EVENTS_PATH}"


def handled_events(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM processed_events")).scalar() or 0)


async def test_url_verification_and_forged_or_stale_requests(
    service: Passerelle, fake: FakeSlack, sqlite_db: Engine  # noqa: F811
) -> None:
    status, body = await fake.post_signed(url(service), fake.url_verification("abc123"),
                                          signing_secret=SIGNING_SECRET)
    assert status == 200 and json.loads(body) == {"challenge": "abc123"}

    body_of = fake.event_callback(fake.dm_message(MENTOR, CODE))
    before = handled_events(sqlite_db)
    refused = [
        await fake.post_signed(url(service), body_of, signing_secret="not-the-secret"),
        await fake.post_signed(url(service), body_of, signing_secret=SIGNING_SECRET,
                               timestamp=int(time.time()) - 6 * 60),
        await fake.post_signed(url(service), body_of, signing_secret=SIGNING_SECRET,
                               signature="v0=" + "0" * 64),
    ]
    assert [status for status, _ in refused] == [401, 401, 401]
    await asyncio.sleep(0.2)
    assert handled_events(sqlite_db) == before and fake.posted() == []


async def test_events_retries_buttons_and_the_slash_command_over_http(
    service: Passerelle, fake: FakeSlack, sqlite_db: Engine, services: Services  # noqa: F811
) -> None:
    catalog = services.catalog
    body = fake.event_callback(fake.dm_message(MENTOR, CODE))
    status, _ = await fake.post_signed(url(service), body, signing_secret=SIGNING_SECRET)
    assert status == 200
    (welcome, choose) = await fake.wait_posted(2, timeout=5)
    assert welcome["text"] == catalog.t("fr", "welcome.mentor")
    handled = handled_events(sqlite_db)

    # Slack did not see our 200 in time and sends it again: acknowledged, nothing changes
    status, _ = await fake.post_signed(url(service), body, signing_secret=SIGNING_SECRET,
                                       retry_num=1)
    assert status == 200
    await asyncio.sleep(0.3)
    assert len(fake.posted()) == 2 and handled_events(sqlite_db) == handled

    # a button press arrives as a signed form post; the choice is shown in place of the buttons
    english = next(b for b in choose["blocks"][-1]["elements"] if b["value"] == "lang:en")
    press = fake.block_action(MENTOR, choose["ts"], None, english["action_id"])
    status, _ = await fake.post_signed(url(service), fake.interactive_body(press),
                                       signing_secret=SIGNING_SECRET)
    assert status == 200
    (asked,) = (await fake.wait_posted(3, timeout=5))[2:]
    assert asked["text"] == catalog.t("en", "onboarding.pseudonym").replace(
        "&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    (update,) = await fake.wait_calls("chat.update", timeout=5)
    assert update.params["blocks"][-1]["type"] == "context"

    # the slash command: acknowledged at once, answered privately in English now
    form = fake.slash_command_body(fake.slash_command(MENTOR, text="help"))
    status, _ = await fake.post_signed(url(service), form, signing_secret=SIGNING_SECRET)
    assert status == 200
    (private,) = await fake.wait_ephemerals(1, timeout=5)
    assert private["user"] == MENTOR
    assert private["text"] == catalog.t("en", "help.onboarding")
