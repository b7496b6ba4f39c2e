"""Intake: hands inbound events to the bus, committing those that arrive together in one go.

Each caller awaits its own event's outcome, so a platform is still acknowledged only after the
transaction holding its event has committed; but when many events arrive at once (a burst of
webhooks, a busy group), they share one transaction, one commit and one trip to the database
thread instead of paying for one each.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime

from core.bus import Bus
from core.model import Address, Inbound

log = logging.getLogger("passerelle.intake")

MAX_BATCH = 64
# What the database keeps of an event (storage/tables.py: processed_events.event_key, and the
# ids of identities, outbox rows and relayed messages); PostgreSQL refuses anything longer.
MAX_KEY = 200
MAX_ID = 64


class Intake:
    def __init__(self, bus: Bus, clock: Callable[[], datetime],
                 on_commit: Callable[[], None] = lambda: None) -> None:
        self.bus = bus
        self.clock = clock
        self.on_commit = on_commit
        self._waiting: list[tuple[Inbound, asyncio.Future[bool]]] = []
        self._running: asyncio.Task[None] | None = None

    async def submit(self, inbound: Inbound) -> bool:
        """Handle one event; True once committed, False if it was a repeat or is refused (logged:
        it could never be stored, and a retry would not change that). Raises on failure."""
        inbound = well_formed(inbound)
        problem = unstorable(inbound)
        if problem is not None:
            log.warning("event=inbound_refused platform=%s reason=%s",
                        inbound.source.platform, problem)
            return False
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


def well_formed(inbound: Inbound) -> Inbound:
    """`inbound` with every lone surrogate (half of a UTF-16 pair: JSON may carry one escaped,
    and no database can store it) replaced by U+FFFD, so that the rest of the words still go."""
    changes = {name: _repaired(value) for name, value in _texts(inbound)
               if not _encodable(value)}
    source = {name: _repaired(value) for name, value in _texts(inbound.source)
              if not _encodable(value)}
    if source:
        changes["source"] = dataclasses.replace(inbound.source, **source)  # type: ignore[assignment]
    return dataclasses.replace(inbound, **changes) if changes else inbound  # type: ignore[arg-type]


def unstorable(inbound: Inbound) -> str | None:
    """Why the database could not record this event, if it could not (an id longer than
    its column: a payload no platform sends, a forged or broken one)."""
    if len(inbound.event_key) > MAX_KEY:
        return "event_key_too_long"
    ids = (inbound.platform_user_id, inbound.message_id, inbound.reply_to,
           inbound.source.chat_id, inbound.source.thread_id, inbound.source.private_to)
    if any(value is not None and len(value) > MAX_ID for value in ids):
        return "id_too_long"
    return None


def _texts(item: Inbound | Address) -> list[tuple[str, str]]:
    return [(f.name, getattr(item, f.name)) for f in dataclasses.fields(item)
            if isinstance(getattr(item, f.name), str)]


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _repaired(value: str) -> str:
    # Through UTF-16, a pair of surrogates becomes its character again; a lone one, U+FFFD.
    return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _settle(future: asyncio.Future[bool], accepted: bool = False,
            error: BaseException | None = None) -> None:
    if future.done():  # the caller gave up waiting (client disconnected)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(accepted)
