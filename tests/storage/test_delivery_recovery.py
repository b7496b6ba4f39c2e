"""A worker that dies mid-way, a new process taking over, and the worker's run loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from bots.delivery import DeliveryWorker
from core.model import Outbound
from storage.engine import make_engine
from storage.outbox import OutboxQueue
from tests.fakes import Sent
from tests.harness import START, Clock, Harness
from tests.storage.delivery_support import (
    MENTOR_PLATFORM,
    STUDENT_PLATFORM,
    conversation,
    drain,
    failing,
    last_id,
    outbox,
    worker_on,
)

LEASE = 60


class ProcessDied(BaseException):  # a BaseException: not something the worker may handle
    """Stands for the process being killed: nothing after it runs, nothing is recorded."""


@pytest.fixture
def second_engine(any_world: Harness) -> Iterator[Callable[[], Engine]]:
    """A new process's engine on the same database (its own pool, its own connections)."""
    engines: list[Engine] = []

    def make() -> Engine:
        engines.append(make_engine(any_world.engine.url.render_as_string(hide_password=False)))
        return engines[-1]

    yield make
    for engine in engines:
        engine.dispose()


def test_a_new_process_delivers_what_a_dead_worker_had_claimed_once_the_lease_runs_out(
    any_world: Harness, second_engine: Callable[[], Engine]
) -> None:
    w = any_world
    conversation(w)
    conversation(w, "kid2", "pro2", "Léa", "Anne")
    mark = last_id(w)
    for body in ("un", "deux"):
        w.say("kid", body, platform=STUDENT_PLATFORM)
    w.say("kid2", "salut", platform=STUDENT_PLATFORM)

    claimed = OutboxQueue(w.engine).claim(MENTOR_PLATFORM, w.clock(), 50, LEASE)
    assert [(i.envelope.message.to.chat_id, i.envelope.message.text) for i in claimed] == [
        ("pro", "Zoé :\nun"), ("pro2", "Léa :\nsalut")
    ]
    # ... and the old process dies here, without recording anything.

    slack = w.channel(MENTOR_PLATFORM)
    before = len(slack.sent)
    fresh = worker_on(w, slack, engine=second_engine(), lease_seconds=LEASE)
    assert drain(fresh) == 0
    w.clock.advance(LEASE - 1)
    assert drain(fresh) == 0
    assert len(slack.sent) == before

    w.clock.advance(2)
    assert drain(fresh) == 3
    assert drain(fresh) == 0
    assert w.texts("pro", MENTOR_PLATFORM) == ["Zoé :\nun", "Zoé :\ndeux"]
    assert w.texts("pro2", MENTOR_PLATFORM) == ["Léa :\nsalut"]
    assert [r.status for r in outbox(w) if r.id > mark] == ["delivered"] * 3


def test_a_new_process_resumes_a_long_message_after_the_parts_the_dead_one_sent(
    any_world: Harness, second_engine: Callable[[], Engine]
) -> None:
    w = any_world
    conversation(w)
    slack = w.channel(MENTOR_PLATFORM)
    slack.max_text = 100
    before, base = len(slack.sent), slack.calls
    mark = last_id(w)
    body = " ".join(f"mot{i:03d}" for i in range(80))  # 559 characters: several parts
    w.say("kid", body, platform=STUDENT_PLATFORM)

    def die_at_third(n: int, _m: Outbound) -> BaseException | None:
        return ProcessDied() if n == 3 else None

    failing(slack, die_at_third)
    with pytest.raises(ProcessDied):
        drain(w.worker(MENTOR_PLATFORM, lease_seconds=LEASE))
    assert len(slack.sent) - before == 2
    [row] = [r for r in outbox(w) if r.id > mark]
    assert (row.status, row.parts_sent) == ("pending", 2)

    failing(slack, lambda _n, _m: None)
    fresh = worker_on(w, slack, engine=second_engine(), lease_seconds=LEASE)
    assert drain(fresh) == 0
    w.clock.advance(LEASE + 1)
    assert drain(fresh) == 1

    sent = slack.sent[before:]
    parts = [s.message.text for s in sent]
    assert len(parts) >= 6
    assert slack.calls - base == len(parts) + 1  # the call the process died in, nothing twice
    assert len(set(parts)) == len(parts)
    assert " ".join(parts).split() == ("Zoé :\n" + body).split()
    [row] = [r for r in outbox(w) if r.id > mark]
    assert (row.status, row.parts_sent) == ("delivered", len(parts))
    assert row.platform_message_ids == ",".join(s.id for s in sent)


@dataclass
class SlowPlatform:
    """Each send takes `seconds` of the test's clock (and a little real time, for a race)."""

    clock: Clock
    seconds: float
    platform: str = MENTOR_PLATFORM
    max_text: int = 100
    sent: list[Sent] = field(default_factory=list)

    async def start(self, feed: object) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, message: Outbound) -> str:
        self.clock.advance(self.seconds)
        await asyncio.sleep(0.02)
        self.sent.append(Sent(f"slow-{len(self.sent) + 1}", message))
        return self.sent[-1].id


async def race(first: DeliveryWorker, other: DeliveryWorker, platform: SlowPlatform) -> int:
    """The first instance claims and sends slowly; the other keeps trying meanwhile. Returns
    how many rows the first instance handled."""
    busy = asyncio.create_task(first.drain_once())
    while not platform.sent and not busy.done():  # the first instance claims first
        await asyncio.sleep(0.001)
    while not busy.done():
        await other.drain_once()
        await asyncio.sleep(0.005)
    return await busy



def test_a_long_message_slower_than_the_lease_is_not_taken_over_by_another_instance(
    any_world: Harness, second_engine: Callable[[], Engine]
) -> None:
    """Each part is well within send_timeout, but all of them together outlast the lease."""
    w = any_world
    conversation(w)
    mark = last_id(w)
    body = " ".join(f"mot{i:03d}" for i in range(80))
    w.say("kid", body, platform=STUDENT_PLATFORM)
    platform = SlowPlatform(w.clock, seconds=LEASE / 2.5)
    first = worker_on(w, platform, lease_seconds=LEASE, send_timeout=LEASE / 2)
    other = worker_on(w, platform, engine=second_engine(), lease_seconds=LEASE)

    assert asyncio.run(race(first, other, platform)) == 1
    parts = [s.message.text for s in platform.sent]
    assert len(parts) >= 6 and w.clock() - START > timedelta(seconds=2 * LEASE)
    assert len(set(parts)) == len(parts), "a part was sent twice"
    assert " ".join(parts).split() == ("Zoé :\n" + body).split()
    [row] = [r for r in outbox(w) if r.id > mark]
    assert (row.status, row.parts_sent) == ("delivered", len(parts))


def test_rows_waiting_on_a_slow_long_message_in_their_batch_are_not_sent_twice(
    any_world: Harness, second_engine: Callable[[], Engine]
) -> None:
    """A short message went out at once, but its batch is recorded when the long one is done."""
    w = any_world
    conversation(w)
    conversation(w, "kid2", "pro2", "Léa", "Anne")
    mark = last_id(w)
    w.say("kid", " ".join(f"mot{i:03d}" for i in range(80)), platform=STUDENT_PLATFORM)
    w.say("kid2", "Juste un mot", platform=STUDENT_PLATFORM)
    platform = SlowPlatform(w.clock, seconds=LEASE / 2.5)
    first = worker_on(w, platform, lease_seconds=LEASE, send_timeout=LEASE / 2)
    other = worker_on(w, platform, engine=second_engine(), lease_seconds=LEASE)

    assert asyncio.run(race(first, other, platform)) == 2
    to_pro2 = [s.message.text for s in platform.sent if s.message.to.chat_id == "pro2"]
    assert to_pro2 == ["Léa :\nJuste un mot"]
    assert [r.status for r in outbox(w) if r.id > mark] == ["delivered", "delivered"]


async def eventually(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not delivered in time"
        await asyncio.sleep(0.01)


@pytest.fixture
def talking(any_world: Harness) -> Harness:
    conversation(any_world)
    return any_world


@pytest.mark.parametrize("poll_seconds", [0.02, 30.0], ids=["short-poll", "long-poll"])
async def test_run_loop_delivers_what_the_bus_writes_when_poked_and_stops_cleanly(
    talking: Harness, poll_seconds: float
) -> None:
    w = talking
    slack = w.channel(MENTOR_PLATFORM)
    worker = w.worker(MENTOR_PLATFORM, poll_seconds=poll_seconds)
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(0.05)
    assert worker.alive()

    for body in ("un", "deux", "trois"):
        w.say("kid", body, platform=STUDENT_PLATFORM)
        worker.poke()
        await eventually(lambda b=body: slack.chat("pro")[-1].message.text.endswith(b))
    assert [s.message.text for s in slack.chat("pro")[-3:]] == [
        "Zoé :\nun", "Zoé :\ndeux", "Zoé :\ntrois"
    ]

    worker.stop()
    await asyncio.wait_for(task, timeout=1)
    assert task.exception() is None


async def test_stop_while_the_worker_is_looking_ends_the_loop_at_once(talking: Harness) -> None:
    """A stop that lands during a drain that finds nothing must not wait for the next poll.

    (The same wake-up carries pokes: one arriving mid-drain must not be thrown away either.)
    """
    w = talking
    worker = w.worker(MENTOR_PLATFORM, poll_seconds=30)
    with w.engine.connect() as conn:  # hold the outbox so the worker's claim has to wait
        tx = conn.begin()
        if w.engine.dialect.name == "postgresql":
            conn.execute(text("LOCK TABLE outbox IN EXCLUSIVE MODE"))
        task = asyncio.create_task(worker.run())
        await asyncio.sleep(0.2)
        assert not task.done()
        worker.stop()
        tx.rollback()
    await asyncio.wait_for(task, timeout=2)
