"""Delivery workers: drain the outbox to each platform, never dropping and never duplicating.

One worker per platform. It claims due rows (oldest first, one per chat so order holds within a
conversation), sends them through the platform's Channel, and records the outcome. Parts of a
long message are recorded as they go, so a retry resumes where it stopped instead of re-sending;
a file goes with the last part only (see `plan_parts`), so it is uploaded once, after its text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial

from bots.ratelimit import limiter_for
from core.context import Context, Services
from core.delivery import OutboxItem, delivery_failed, next_attempt, recipient_unreachable
from core.model import OP_DELETE, OP_EDIT, Address, Attachment, Button, Outbound
from core.ports import Channel, PermanentFailure, RetryLater, UnitOfWorkFactory, Unreachable
from core.text import split_text
from storage.outbox import OutboxQueue

log = logging.getLogger("passerelle.delivery")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class DeliveryWorker:
    def __init__(
        self,
        channel: Channel,
        queue: OutboxQueue,
        uow: UnitOfWorkFactory,
        services: Services,
        *,
        clock: Clock = utc_now,
        poll_seconds: float = 0.5,
        batch_size: int = 50,
        lease_seconds: float = 60,
        send_timeout: float = 30,
        rng: random.Random | None = None,
    ) -> None:
        self.channel = channel
        self.queue = queue
        self.uow = uow
        self.services = services
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        self.send_timeout = send_timeout
        self.rng = rng or random.Random()
        self.wakeup = asyncio.Event()
        self.limiter = limiter_for(channel)
        # How the platform counts a message's length (Telegram: UTF-16 units).
        self.measure: Callable[[str], int] = getattr(channel, "text_length", len)
        self.notify: Callable[[], None] = self.poke  # who to wake when a failure writes rows
        self.last_beat = time.monotonic()
        self._stopping = False
        self._running = False

    @property
    def platform(self) -> str:
        return self.channel.platform

    def alive(self, within: float = 30) -> bool:
        """Running, and its loop went round recently (a stuck send would stop the beat)."""
        recent = time.monotonic() - self.last_beat < max(within, self.poll_seconds * 4)
        return self._running and recent

    def poke(self) -> None:
        """New rows were written: look now instead of at the next poll."""
        self.wakeup.set()

    async def run(self) -> None:
        log.info("event=worker_start platform=%s", self.platform)
        self._running = True
        try:
            while not self._stopping:
                self.last_beat = time.monotonic()
                self.wakeup.clear()  # before the drain: a poke or stop during it is not lost
                try:
                    busy = await self.drain_once()
                except Exception:  # the worker must outlive any one failure
                    log.exception("event=worker_error platform=%s", self.platform)
                    busy = 0
                if busy:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), timeout=self.poll_seconds)
        finally:
            self._running = False

    def stop(self) -> None:
        self._stopping = True
        self.wakeup.set()

    async def drain_once(self) -> int:
        """Claim one batch and send it; return how many rows were handled."""
        items = await asyncio.to_thread(
            self.queue.claim, self.platform, self.clock(), self.batch_size, self.lease_seconds
        )
        if items:
            batch = [item.id for item in items]
            keeper = asyncio.create_task(self._keep_leases(batch))
            try:
                sent = await asyncio.gather(
                    *(self.send(item, batch) for item in items), return_exceptions=True
                )
            finally:
                keeper.cancel()
                await asyncio.gather(keeper, return_exceptions=True)
            # Whatever went wrong with one row's bookkeeping, the rows the platform accepted are
            # recorded: otherwise they would be sent again when their lease ends.
            for item, outcome in zip(items, sent, strict=True):
                if isinstance(outcome, BaseException):
                    log.error("event=send_bookkeeping_error platform=%s outbox=%s error=%s",
                              self.platform, item.id, type(outcome).__name__)
            done = [(item, ids) for item, ids in zip(items, sent, strict=True)
                    if isinstance(ids, tuple)]
            if done:
                await asyncio.to_thread(self.queue.delivered_many, done, self.clock(),
                                        self._threads)
            fatal = [o for o in sent
                     if isinstance(o, BaseException) and not isinstance(o, Exception)]
            if fatal:  # the process is going down (exit, interrupt): let it, once that is saved
                raise fatal[0]
        return len(items)

    async def _keep_leases(self, batch: list[int]) -> None:
        """Renew the batch's leases every third of a lease while it is being sent (pacing may
        hold a batch longer than a lease): the lease then only says how soon another instance
        takes over the rows of one that died, so it can be short."""
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            until = self.clock() + timedelta(seconds=self.lease_seconds)
            try:
                await asyncio.to_thread(self.queue.renew, batch, until)
            except Exception:  # the next renewal, or the lease itself, covers a missed one
                log.exception("event=lease_renewal_error platform=%s", self.platform)

    async def send(
        self, item: OutboxItem, batch: list[int] | None = None
    ) -> tuple[str, ...] | None:
        """Send a row's remaining parts; return their platform ids, or None when it failed.

        A failure is recorded here (retry, failed, unreachable). A success is left for the
        caller to record, so that a whole batch is marked delivered in one transaction; until
        then, each part recorded renews the lease of the `batch` (the rows claimed with this one).
        """
        conv = item.envelope.match_id
        try:
            ids = await self._act(item, batch)
        except RetryLater as error:
            if self.limiter is not None and error.retry_after:
                # this chat's next rows (and parts) wait too, instead of each being refused
                self.limiter.back_off(item.envelope.message.to.chat_id, error.retry_after)
            await self._retry(item, str(error), error.retry_after)
        except (TimeoutError, ConnectionError, OSError) as error:
            await self._retry(item, type(error).__name__, None)
        except Unreachable as error:
            log.info("event=unreachable platform=%s conversation=%s", self.platform, conv)
            reason = f"unreachable: {error}"[:300]
            await asyncio.to_thread(
                self._settle, partial(self.queue.fail_destination, item, reason),
                recipient_unreachable,
            )
        except PermanentFailure as error:
            await self._give_up(item, f"permanent: {error}")
        except Exception as error:  # an adapter bug must not lose the row: retry it
            log.exception("event=send_error platform=%s conversation=%s", self.platform, conv)
            await self._retry(item, f"error: {type(error).__name__}", None)
        else:
            log.info(
                "event=delivered platform=%s conversation=%s outbox=%s op=%s parts=%d",
                self.platform, conv, item.id, item.envelope.op, len(ids),
            )
            return tuple(ids)
        return None

    async def _act(self, item: OutboxItem, batch: list[int] | None) -> list[str]:
        """Do what the row asks on the platform; return the platform ids it produced."""
        message = item.envelope.message
        op = item.envelope.op
        if self.limiter is not None:
            await self.limiter.wait(message.to.chat_id)
        if op == OP_DELETE:
            if message.delete_of is None:  # its copy never went out: nothing to take back
                return []
            for part in item.copy_parts or (message.delete_of,):
                async with asyncio.timeout(self.send_timeout):
                    await self.channel.delete(replace(message, delete_of=part))
            return [message.delete_of]
        if op == OP_EDIT and message.edit_of is not None:
            if self.measure(message.text) <= self.channel.max_text:
                try:
                    async with asyncio.timeout(self.send_timeout):
                        await self.channel.edit(message)
                    return [message.edit_of]
                except PermanentFailure as error:  # too old to edit, say: send it anew
                    log.info("event=edit_refused platform=%s reason=%s", self.platform,
                             str(error)[:80])
            message = replace(message, edit_of=None)
        return await self._send_parts(item, message, batch)

    @property
    def _threads(self) -> bool:
        """The platform hangs a match's messages in a thread its first message opens."""
        return bool(getattr(self.channel, "threads", False))

    async def _send_parts(
        self, item: OutboxItem, message: Outbound, batch: list[int] | None
    ) -> list[str]:
        if message.attachment is not None:
            self._check_size(item, message.attachment)
        parts = plan_parts(
            message, self.channel.max_text, self.measure,
            max_caption=getattr(self.channel, "max_caption", self.channel.max_text),
            file_buttons=getattr(self.channel, "file_buttons", True),
        )
        ids = list(item.platform_message_ids)
        for index in range(item.parts_sent, len(parts)):
            last = index == len(parts) - 1
            part = Outbound(
                _part_address(message, ids, self._threads), parts[index].text,
                buttons=parts[index].buttons,
                reply_to=message.reply_to if index == 0 else None,
                opens_thread=message.opens_thread and index == 0,
                attachment=message.attachment if parts[index].file else None,
            )
            if index > item.parts_sent and self.limiter is not None:
                await self.limiter.wait(message.to.chat_id)
            async with asyncio.timeout(self.send_timeout):  # no extra task, unlike wait_for
                ids.append(await self.channel.send(part))
            if not last:
                until = self.clock() + timedelta(seconds=self.lease_seconds)
                await asyncio.to_thread(
                    self.queue.record_part, item.id, index + 1, tuple(ids), until,
                    batch or [item.id],
                )
        return ids

    def _check_size(self, item: OutboxItem, file: Attachment) -> None:
        """A file over the platform's upload limit would be refused after its text went out:
        refuse it first, saying why in the log (the bytes themselves are never logged)."""
        limit = getattr(self.channel, "max_file_bytes", None)
        if limit is None or len(file.data) <= limit:
            return
        log.warning(
            "event=file_too_large platform=%s outbox=%s type=%s bytes=%d limit=%d",
            self.platform, item.id, file.mime, len(file.data), limit,
        )
        raise PermanentFailure(f"file too large for {self.platform}: "
                               f"{len(file.data)} bytes, at most {limit}")

    async def _retry(self, item: OutboxItem, reason: str, retry_after: float | None) -> None:
        at = next_attempt(self.clock(), item.attempts + 1, retry_after, self.rng.random())
        if at is None:
            await self._give_up(item, f"gave up after {item.attempts + 1} attempts: {reason}")
            return
        log.info(
            "event=retry platform=%s conversation=%s outbox=%s attempt=%d reason=%s",
            self.platform, item.envelope.match_id, item.id, item.attempts + 1, reason[:80],
        )
        await asyncio.to_thread(
            partial(self.queue.retry, item, at, reason, counts=retry_after is None)
        )

    async def _give_up(self, item: OutboxItem, reason: str) -> None:
        log.warning(
            "event=failed platform=%s conversation=%s outbox=%s reason=%s",
            self.platform, item.envelope.match_id, item.id, reason[:120],
        )
        await asyncio.to_thread(
            self._settle, partial(self.queue.failed, item, reason), delivery_failed
        )

    def _settle(
        self,
        mark: Callable[..., list[OutboxItem]],
        decide: Callable[[Context, list[OutboxItem]], None],
    ) -> None:
        """Record a failure and let the core decide who is told, in one transaction: a crash
        can never leave a message failed with nobody told."""
        now = self.clock()
        with self.uow() as store:
            failed = mark(conn=store.conn)  # type: ignore[attr-defined]
            ctx = Context(store, self.services, now)
            decide(ctx, failed)
            store.enqueue(ctx.out, now)
        self.notify()


@dataclass(frozen=True, slots=True)
class Part:
    """One platform message of an outbox row: its text, its buttons, whether the file goes."""

    text: str
    buttons: tuple[Button, ...] = ()
    file: bool = False


def plan_parts(
    message: Outbound, max_text: int, measure: Callable[[str], int] = len, *,
    max_caption: int | None = None, file_buttons: bool = True,
) -> list[Part]:
    """The messages a row becomes: its text cut at `max_text`, the buttons on the last part,
    and its file (if any) on the last part only, the same way on every try (parts are counted
    as they go out, so a retry resumes at the first one not recorded).

    The file carries the whole text as its caption when it fits `max_caption` (and, where an
    upload cannot carry buttons, has none); else the text goes first, then the file alone."""
    texts = split_text(message.text, max_text, measure)
    caption = max_text if max_caption is None else max_caption
    if message.attachment is not None and len(texts) == 1 and measure(texts[0]) <= caption \
            and (file_buttons or not message.buttons):
        return [Part(texts[0], message.buttons, file=True)]
    parts = [Part(text) for text in texts[:-1]] + [Part(texts[-1], message.buttons)]
    if message.attachment is not None:
        parts.append(Part("", file=True))
    return parts


def _part_address(message: Outbound, ids: list[str], threads: bool) -> Address:
    """Where one part goes: once the first part of a thread's opening message is out, the
    rest follow it into that thread (on Discord a private thread has no message to hang on)."""
    if threads and message.opens_thread and ids and message.to.thread_id is None:
        return replace(message.to, thread_id=ids[0])
    return message.to
