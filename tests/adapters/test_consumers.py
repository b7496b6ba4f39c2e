"""Taking events in, apart from sending: Telegram's long polling and the Discord gateway run on
the leader only (bots/leadership.py), while every instance sends."""

from __future__ import annotations

import os

os.environ.setdefault("PTB_TIMEDELTA", "true")  # before telegram is imported

import asyncio  # noqa: E402
from collections.abc import AsyncIterator, Callable  # noqa: E402

import pytest  # noqa: E402

from adapters.discord_adapter import DiscordChannel  # noqa: E402
from adapters.telegram_adapter import TelegramChannel  # noqa: E402
from core.model import Address, Inbound, Outbound  # noqa: E402
from tests.adapters.fake_discord import FakeDiscord  # noqa: E402
from tests.adapters.fake_telegram import FakeTelegram  # noqa: E402

TOKEN = "123:ABC"
ZOE = 5001
MENTOR = 310_000_000_000_000_077


async def until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(250):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        yield server


async def test_telegram_polls_only_while_consuming_and_sends_either_way(
    telegram: FakeTelegram,
) -> None:
    fed: list[Inbound] = []

    async def feed(inbound: Inbound) -> bool:
        fed.append(inbound)
        return True

    channel = TelegramChannel(TOKEN, base_url=telegram.url, poll_timeout=1, consume=False)
    await channel.start(feed)
    try:
        await until(channel.healthy, "bootstrapped")
        await channel.send(Outbound(Address("telegram", str(ZOE)), "bonjour"))
        assert telegram.texts(ZOE) == ["bonjour"] and telegram.calls_of("getUpdates") == []

        telegram.user_sends(ZOE, "un")
        await channel.start_consuming()
        await until(lambda: [i.text for i in fed] == ["un"], "the first update fed")
        await channel.stop_consuming()
        polls = len(telegram.calls_of("getUpdates"))
        telegram.user_sends(ZOE, "deux")  # waits for the next consumer, confirmed by nobody
        assert len(telegram.calls_of("getUpdates")) == polls and len(telegram.pending) == 1

        await channel.start_consuming()  # this instance leads again
        await until(lambda: [i.text for i in fed] == ["un", "deux"], "the second update fed")
    finally:
        await channel.stop()


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        with server.patched():
            server.add_user(MENTOR, username="m", global_name="M")
            yield server


async def test_discord_opens_the_gateway_only_while_consuming_and_sends_either_way(
    discord_fake: FakeDiscord,
) -> None:
    fake = discord_fake

    async def feed(_: Inbound) -> bool:
        return True

    channel = DiscordChannel(fake.token, identify_pause=0, consume=False)
    await channel.start(feed)
    try:
        await until(channel.healthy, "logged in")  # REST only: what a follower needs
        dm = fake.dm_channel_id(MENTOR)
        await channel.send(Outbound(Address("discord", str(dm)), "bonjour"))
        assert [m["content"] for m in fake.sent(dm)] == ["bonjour"]
        assert fake.live_connections == []

        await channel.start_consuming()
        await fake.wait_ready(timeout=5)
        await until(channel.healthy, "connected")

        await channel.stop_consuming()  # another instance takes over the gateway
        await until(lambda: fake.live_connections == [], "the gateway closed")
        await until(channel.healthy, "logged in again, to send")
        await channel.send(Outbound(Address("discord", str(dm)), "encore"))
        assert [m["content"] for m in fake.sent(dm)] == ["bonjour", "encore"]
        assert fake.live_connections == []
    finally:
        await channel.stop()
