"""Intake: hands inbound events to the bus, committing those that arrive together in one go.

Each caller awaits its own event's outcome, so a platform is still acknowledged only after the
transaction holding its event has committed; but when many events arrive at once (a burst of
webhooks, a busy group), they share one transaction, one commit and one trip to the database
thread instead of paying for one each.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from core.bus import Bus
from core.model import Inbound

log = logging.getLogger("passerelle.intake")

MAX_BATCH = 64


class Intake:
    def __init__(self, bus: Bus, clock: Callable[[], datetime],
                 on_commit: Callable[[], None] = lambda: None) -> None:
        self.bus = bus
        self.clock = clock
        self.on_commit = on_commit
        self._waiting: list[tuple[Inbound, asyncio.Future[bool]]] = []
        self._running: asyncio.Task[None] | None = None

    async def submit(self, inbound: Inbound) -> bool:
        """Handle one event; True once committed, False if it was a repeat. Raises on failure."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((inbound, future))
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        """Commit what is waiting, batch after batch, until nothing is left."""
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            await self._commit(batch)

    async def _commit(self, batch: list[tuple[Inbound, asyncio.Future[bool]]]) -> None:
        inbounds = [inbound for inbound, _ in batch]
        try:
            results = await asyncio.to_thread(self.bus.handle_many, inbounds, self.clock())
        except Exception:
            if len(batch) == 1:
                inbound, future = batch[0]
                log.exception("event=handle_error platform=%s", inbound.source.platform)
                _settle(future, error=RuntimeError("the event could not be handled"))
                return
            # One of them is at fault: find it by handling each on its own.
            for one in batch:
                await self._commit([one])
            return
        self.on_commit()
        for (_, future), accepted in zip(batch, results, strict=True):
            _settle(future, accepted)


def _settle(future: asyncio.Future[bool], accepted: bool = False,
            error: BaseException | None = None) -> None:
    if future.done():  # the caller gave up waiting (client disconnected)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(accepted)
