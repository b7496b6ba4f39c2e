"""Pacing: a gap per chat, a ceiling for the whole bot, with a clock the test moves."""

from __future__ import annotations

from bots.ratelimit import RateLimiter, limiter_for


class Time:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


async def test_one_chat_gets_one_message_a_second() -> None:
    t = Time()
    limiter = RateLimiter(per_chat_interval=1.0, per_second=30, clock=t.clock, sleep=t.sleep)
    for _ in range(3):
        await limiter.wait("chat-1")
    assert t.slept == [1.0, 1.0]


async def test_many_chats_share_the_bot_ceiling() -> None:
    t = Time()
    limiter = RateLimiter(per_chat_interval=1.0, per_second=30, clock=t.clock, sleep=t.sleep)
    for i in range(31):
        await limiter.wait(f"chat-{i}")
    assert round(t.now - 100.0, 6) == 1.0  # 31 messages to 31 chats take one second at 30/s


async def test_waiting_is_not_needed_when_sends_are_spread_out() -> None:
    t = Time()
    limiter = RateLimiter(per_chat_interval=1.0, per_second=30, clock=t.clock, sleep=t.sleep)
    await limiter.wait("a")
    t.now += 5
    await limiter.wait("a")
    assert t.slept == []


def test_channels_declare_their_pacing() -> None:
    class Paced:
        min_chat_interval = 1.0
        max_per_second = 30.0

    class Free:
        pass

    assert limiter_for(Free()) is None
    limiter = limiter_for(Paced())
    assert limiter is not None and limiter.per_chat_interval == 1.0


async def test_a_429_holds_that_chat_for_the_time_the_platform_asked() -> None:
    t = Time()
    limiter = RateLimiter(per_chat_interval=1.0, per_second=30, clock=t.clock, sleep=t.sleep)
    await limiter.wait("a")
    limiter.back_off("a", 5.0)
    await limiter.wait("b")  # another chat is not held
    await limiter.wait("a")
    assert t.slept == [round(1 / 30, 6), round(5.0 - 1 / 30, 6)]


async def test_a_429_on_the_whole_bot_holds_every_chat() -> None:
    t = Time()
    limiter = RateLimiter(per_chat_interval=1.0, per_second=30, clock=t.clock, sleep=t.sleep)
    limiter.back_off("a", 3.0, everyone=True)
    await limiter.wait("b")
    assert t.slept == [3.0]


async def test_a_shorter_429_never_shortens_a_longer_hold() -> None:
    t = Time()
    limiter = RateLimiter(per_chat_interval=0.0, per_second=30, clock=t.clock, sleep=t.sleep)
    limiter.back_off("a", 5.0)
    limiter.back_off("a", 1.0)
    await limiter.wait("a")
    assert t.slept == [5.0]
