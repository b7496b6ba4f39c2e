"""Pacing sends to what a platform tolerates: a minimum gap per chat and a ceiling per second.

Telegram, Slack and Discord answer 429 when pushed harder, and Slack may even drop messages
silently; spacing sends ourselves is cheaper than being told off and retrying.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class RateLimiter:
    def __init__(
        self, *, per_chat_interval: float = 0.0, per_second: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.per_chat_interval = per_chat_interval
        self.gap = 1.0 / per_second if per_second > 0 else 0.0
        self.clock = clock
        self.sleep = sleep
        self._next_any = 0.0
        self._next_chat: dict[str, float] = {}

    async def wait(self, chat: str) -> None:
        """Reserve the next slot this chat may use, and sleep until it comes."""
        now = self.clock()
        slot = max(now, self._next_any, self._next_chat.get(chat, 0.0))
        self._next_any = slot + self.gap
        self._next_chat[chat] = slot + self.per_chat_interval
        if len(self._next_chat) > 10_000:
            self._forget(now)
        if slot > now:
            await self.sleep(slot - now)

    def back_off(self, chat: str, seconds: float, *, everyone: bool = False) -> None:
        """The platform said 429: this chat (or, for a limit on the whole bot, every chat)
        waits `seconds` before its next send. Without this, the other rows of the same chat,
        or of other chats when the limit is global, would each be refused in turn."""
        until = self.clock() + max(0.0, seconds)
        if everyone:
            self._next_any = max(self._next_any, until)
        else:
            self._next_chat[chat] = max(self._next_chat.get(chat, 0.0), until)

    def _forget(self, now: float) -> None:
        self._next_chat = {chat: t for chat, t in self._next_chat.items() if t > now}


def limiter_for(channel: object) -> RateLimiter | None:
    """The pacing a channel declares (min_chat_interval, max_per_second), if any."""
    interval = float(getattr(channel, "min_chat_interval", 0.0) or 0.0)
    per_second = float(getattr(channel, "max_per_second", 0.0) or 0.0)
    if not interval and not per_second:
        return None
    return RateLimiter(per_chat_interval=interval, per_second=per_second)
