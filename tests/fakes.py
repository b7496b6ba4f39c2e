"""Fakes of the outside world for tests: a chat platform that records what it is sent."""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from core.model import Outbound


@dataclass
class Sent:
    id: str
    message: Outbound


@dataclass
class FakeChannel:
    """A platform that accepts everything, unless `script` says what to raise for a call.

    `script` is consulted once per send with the 1-based call number and the message; returning
    an exception makes that call raise it (a 429, a timeout, a blocked user...).
    """

    platform: str = "playground"
    max_text: int = 4000
    threads: bool = False  # each match in its own thread, like Slack
    script: Callable[[int, Outbound], BaseException | None] | None = None
    delays: Sequence[float] = ()  # the first sends hang this long (a send that times out)
    sent: list[Sent] = field(default_factory=list)
    edits: list[Outbound] = field(default_factory=list)
    deletions: list[Outbound] = field(default_factory=list)
    calls: int = 0
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    async def start(self, feed: object) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, message: Outbound) -> str:
        self._check(message)
        if self.calls <= len(self.delays):
            await asyncio.sleep(self.delays[self.calls - 1])
        sent = Sent(f"{self.platform}-{next(self._ids)}", message)
        self.sent.append(sent)
        return sent.id

    async def edit(self, message: Outbound) -> None:
        self._check(message)
        self.edits.append(message)

    async def delete(self, message: Outbound) -> None:
        self._check(message)
        self.deletions.append(message)

    def _check(self, message: Outbound) -> None:
        self.calls += 1
        if self.script is not None:
            error = self.script(self.calls, message)
            if error is not None:
                raise error

    def chat(self, chat_id: str) -> list[Sent]:
        return [s for s in self.sent if s.message.to.chat_id == chat_id]

    def by_chat(self) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = defaultdict(list)
        for s in self.sent:
            grouped[s.message.to.chat_id].append(s.message.text)
        return dict(grouped)
