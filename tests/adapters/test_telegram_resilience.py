"""Telegram misbehaving must not take the service down, and one bad update must not hold up
the others (the real python-telegram-bot against the fake Bot API on 127.0.0.1)."""

from __future__ import annotations

import os

os.environ.setdefault("PTB_TIMEDELTA", "true")  # before telegram is imported

import asyncio  # noqa: E402

from adapters import telegram_adapter  # noqa: E402
from adapters.telegram_adapter import TelegramChannel  # noqa: E402
from core.model import Inbound  # noqa: E402
from tests.adapters.fake_telegram import FakeTelegram  # noqa: E402

TOKEN = "123:ABC"


async def test_start_returns_at_once_and_connects_when_telegram_answers() -> None:
    async with FakeTelegram(token=TOKEN) as fake:
        fake.fail_next("getMe", 502, "Bad Gateway", times=1)
        got: list[Inbound] = []

        async def feed(inbound: Inbound) -> bool:
            got.append(inbound)
            return True

        channel = TelegramChannel(TOKEN, base_url=fake.url, poll_timeout=1, sleep=_quick_sleep)
        await asyncio.wait_for(channel.start(feed), 1)  # does not wait for Telegram
        assert channel.healthy() is False  # /healthz says so until Telegram answers
        fake.user_sends(42, "Bonjour")
        for _ in range(200):
            if got:
                break
            await asyncio.sleep(0.02)
        assert channel.healthy() is True
        await channel.stop()
    assert [i.text for i in got] == ["Bonjour"]
    assert len(fake.calls_of("getMe")) >= 2  # failed once, then retried


async def test_an_update_that_keeps_failing_is_set_aside() -> None:
    async with FakeTelegram(token=TOKEN) as fake:
        handled: list[str] = []
        tries: list[str] = []

        async def feed(inbound: Inbound) -> bool:
            tries.append(inbound.text)
            if inbound.text == "poison":
                raise RuntimeError("cannot be handled")
            handled.append(inbound.text)
            return True

        channel = TelegramChannel(TOKEN, base_url=fake.url, poll_timeout=1, sleep=_quick_sleep)
        await channel.start(feed)
        fake.user_sends(42, "avant")
        fake.user_sends(43, "poison")
        fake.user_sends(44, "après")
        for _ in range(300):
            if "après" in handled:
                break
            await asyncio.sleep(0.02)
        await channel.stop()
    assert handled == ["avant", "après"]
    assert tries.count("poison") == telegram_adapter.MAX_TRIES


_real_sleep = asyncio.sleep


async def _quick_sleep(seconds: float) -> None:
    """Back-off delays shrunk so the test does not wait them out (the loop still yields)."""
    await _real_sleep(min(seconds, 0.01))


async def test_an_album_is_answered_once() -> None:
    async with FakeTelegram(token=TOKEN) as fake:
        got: list[Inbound] = []

        async def feed(inbound: Inbound) -> bool:
            got.append(inbound)
            return True

        channel = TelegramChannel(TOKEN, base_url=fake.url, poll_timeout=1, sleep=_quick_sleep)
        await channel.start(feed)
        for _ in range(3):
            fake.user_sends_photo(42, media_group_id="album-1")
        fake.user_sends(42, "et voilà")
        for _ in range(200):
            if any(i.text == "et voilà" for i in got):
                break
            await asyncio.sleep(0.02)
        await channel.stop()
    assert [(i.media, i.text) for i in got] == [("photo", ""), (None, "et voilà")]
