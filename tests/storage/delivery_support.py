"""Helpers for the delivery tests: a conversation across two platforms, draining, outbox reads."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from sqlalchemy import Engine, Row, select

from bots.delivery import DeliveryWorker
from core.model import Outbound
from core.ports import Channel
from storage.outbox import OutboxQueue
from storage.store import I, O, unit_of_work_factory
from tests.fakes import FakeChannel
from tests.harness import Harness

STUDENT_PLATFORM = "telegram"
MENTOR_PLATFORM = "discord"  # a label: any platform without a thread per match


def conversation(
    w: Harness, student: str = "kid", mentor: str = "pro",
    student_name: str = "Zoé", mentor_name: str = "Marc",
) -> int:
    """A student on Telegram matched with a mentor on Slack, every setup message delivered."""
    w.enrol_student(student, student_name, platform=STUDENT_PLATFORM)
    w.enrol_mentor(mentor, mentor_name, platform=MENTOR_PLATFORM)
    match_id = w.match(student_name, mentor_name)
    settle_setup(w)
    return match_id


def settle_setup(w: Harness) -> None:
    """Deliver what onboarding and matching wrote, and mark it as already seen."""
    for platform in (STUDENT_PLATFORM, MENTOR_PLATFORM):
        w.deliver(platform)
        for chat in {s.message.to.chat_id for s in w.channel(platform).sent}:
            w.seen[(platform, chat)] = len(w.channel(platform).chat(chat))


def drain(worker: DeliveryWorker, rounds: int = 50) -> int:
    """Run drain_once until it finds nothing due; return how many rows were handled."""

    async def go() -> int:
        handled = 0
        for _ in range(rounds):
            n = await worker.drain_once()
            if not n:
                break
            handled += n
        return handled

    return asyncio.run(go())


def drain_one(worker: DeliveryWorker) -> int:
    """Exactly one drain_once (one claimed batch)."""
    return asyncio.run(worker.drain_once())


def outbox(w: Harness, *, platform: str | None = None, chat: str | None = None) -> list[Row]:
    query = select(O).order_by(O.c.id)
    if platform is not None:
        query = query.where(O.c.platform == platform)
    if chat is not None:
        query = query.where(O.c.chat_id == chat)
    with w.engine.connect() as conn:
        return list(conn.execute(query).all())


def last_id(w: Harness) -> int:
    rows = outbox(w)
    return rows[-1].id if rows else 0


def identity_reachable(w: Harness, platform: str, user: str) -> bool:
    with w.engine.connect() as conn:
        value = conn.execute(
            select(I.c.reachable).where(I.c.platform == platform, I.c.platform_user_id == user)
        ).scalar_one()
    return bool(value)


def failing(channel: FakeChannel, decide: Callable[[int, Outbound], BaseException | None]) -> None:
    """Script `channel` from now on; `decide` gets the call number counted from this moment."""
    base = channel.calls
    channel.script = lambda n, message: decide(n - base, message)


def fail_first(channel: FakeChannel, *errors: BaseException) -> None:
    """The next len(errors) sends raise these, in order; later sends succeed."""
    failing(channel, lambda n, _m: errors[n - 1] if n <= len(errors) else None)


def worker_on(
    w: Harness, channel: Channel, engine: Engine | None = None, **options: object
) -> DeliveryWorker:
    """The real DeliveryWorker on any channel (and, for a 'new process', any engine)."""
    engine = engine if engine is not None else w.engine
    options.setdefault("rng", random.Random(7))
    return DeliveryWorker(
        channel, OutboxQueue(engine), unit_of_work_factory(engine), w.services,
        clock=w.clock, **options,  # type: ignore[arg-type]
    )
