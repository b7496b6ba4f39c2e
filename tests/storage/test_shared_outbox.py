"""Two instances drain one outbox on PostgreSQL: every row sent once, in order within each chat."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select

from bots.delivery import DeliveryWorker
from core.context import Services
from core.model import Address, Envelope, Outbound
from storage.engine import make_engine
from storage.migrate import upgrade
from storage.outbox import OutboxQueue
from storage.store import O, SqlUnitOfWork, unit_of_work_factory
from tests.conftest import drop_postgres_schema, postgres_engine

CHATS = 12
PER_CHAT = 25


class RecordingChannel:
    """A platform shared by the instances: it notes who sent what, in the order it arrived."""

    platform = "discord"
    max_text = 2000

    def __init__(self, name: str, arrivals: list[tuple[str, str, str]], seed: int) -> None:
        self.name = name
        self.arrivals = arrivals
        self.rng = random.Random(seed)

    async def start(self, feed: object) -> None: ...
    async def stop(self) -> None: ...

    async def send(self, message: Outbound) -> str:
        await asyncio.sleep(self.rng.random() / 500)  # sends overlap, as on a network
        self.arrivals.append((self.name, message.to.chat_id, message.text))
        return f"{self.name}-{len(self.arrivals)}"

    async def edit(self, message: Outbound) -> None: ...
    async def delete(self, message: Outbound) -> None: ...


@pytest.fixture
def pg() -> Iterator[Engine]:
    engine = postgres_engine()
    upgrade(engine)
    yield engine
    drop_postgres_schema(engine)


def fill(engine: Engine) -> None:
    """Rows for many chats, interleaved as conversations write them."""
    now = datetime.now(UTC)
    envelopes = [Envelope(Outbound(Address("discord", f"chat{chat}"), f"{chat}:{n}"))
                 for n in range(PER_CHAT) for chat in range(CHATS)]
    with SqlUnitOfWork(engine) as store:
        store.enqueue(envelopes, now)


def worker(engine: Engine, channel: RecordingChannel, services: Services) -> DeliveryWorker:
    return DeliveryWorker(channel, OutboxQueue(engine), unit_of_work_factory(engine), services,
                          poll_seconds=0.02, batch_size=4, lease_seconds=60)


@pytest.mark.postgres
async def test_two_instances_send_each_row_once_and_in_order_per_chat(
    pg: Engine, services: Services,
) -> None:
    await asyncio.to_thread(fill, pg)
    arrivals: list[tuple[str, str, str]] = []
    url = pg.url.render_as_string(hide_password=False)
    engines = [make_engine(url), make_engine(url)]  # two instances: two pools
    workers = [worker(engine, RecordingChannel(f"i{k}", arrivals, k), services)
               for k, engine in enumerate(engines)]
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        for _ in range(2000):
            if len(arrivals) >= CHATS * PER_CHAT:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # anything sent twice would show now
    finally:
        for w in workers:
            w.stop()
        await asyncio.gather(*tasks)
        for engine in engines:
            engine.dispose()

    texts = Counter(text for _, _, text in arrivals)
    assert len(texts) == CHATS * PER_CHAT and set(texts.values()) == {1}
    for chat in range(CHATS):
        said = [text for _, c, text in arrivals if c == f"chat{chat}"]
        assert said == [f"{chat}:{n}" for n in range(PER_CHAT)]
    assert {name for name, _, _ in arrivals} == {"i0", "i1"}  # both took a share
    with pg.connect() as conn:
        statuses = dict(conn.execute(select(O.c.status, func.count()).group_by(O.c.status)).all())
    assert statuses == {"delivered": CHATS * PER_CHAT}


class SlowChannel(RecordingChannel):
    """A platform that takes `delay` seconds to accept each message (a slow network, or a
    pacer holding the batch)."""

    def __init__(self, name: str, arrivals: list[tuple[str, str, str]], delay: float) -> None:
        super().__init__(name, arrivals, 0)
        self.delay = delay

    async def send(self, message: Outbound) -> str:
        await asyncio.sleep(self.delay)
        self.arrivals.append((self.name, message.to.chat_id, message.text))
        return f"{self.name}-{len(self.arrivals)}"


@pytest.mark.postgres
async def test_a_live_worker_keeps_its_short_leases_while_a_slow_send_lasts(
    pg: Engine, services: Services,
) -> None:
    """The lease is 0.3 s, a send takes 1 s: the sending worker renews its claim, so the other
    instance, polling all along, takes nothing of that batch and nothing is sent twice."""
    now = datetime.now(UTC)
    with SqlUnitOfWork(pg) as store:
        store.enqueue([Envelope(Outbound(Address("discord", "slow"), "only once"))], now)
    arrivals: list[tuple[str, str, str]] = []
    url = pg.url.render_as_string(hide_password=False)
    engines = [make_engine(url), make_engine(url)]
    slow = DeliveryWorker(SlowChannel("slow", arrivals, 1.0), OutboxQueue(engines[0]),
                          unit_of_work_factory(engines[0]), services, poll_seconds=0.02,
                          lease_seconds=0.3)
    other = DeliveryWorker(RecordingChannel("other", arrivals, 1), OutboxQueue(engines[1]),
                           unit_of_work_factory(engines[1]), services, poll_seconds=0.02,
                           lease_seconds=0.3)
    first = asyncio.create_task(slow.drain_once())
    await asyncio.sleep(0.05)  # the slow worker has claimed the row
    try:
        while not first.done():
            assert await other.drain_once() == 0
            await asyncio.sleep(0.05)
        assert await first == 1
    finally:
        for engine in engines:
            engine.dispose()
    assert arrivals == [("slow", "slow", "only once")]


@pytest.mark.postgres
async def test_the_rows_of_a_dead_instance_are_taken_over_when_its_lease_ends(
    pg: Engine, services: Services,
) -> None:
    now = datetime.now(UTC)
    with SqlUnitOfWork(pg) as store:
        store.enqueue([Envelope(Outbound(Address("discord", "c"), "after the lease"))], now)
    dead = OutboxQueue(pg)
    assert len(dead.claim("discord", now, 10, 0.5)) == 1  # claimed, then the process died
    arrivals: list[tuple[str, str, str]] = []
    survivor = DeliveryWorker(RecordingChannel("survivor", arrivals, 2), OutboxQueue(pg),
                              unit_of_work_factory(pg), services, lease_seconds=0.5)
    assert await survivor.drain_once() == 0  # still leased
    await asyncio.sleep(0.6)
    assert await survivor.drain_once() == 1
    assert arrivals == [("survivor", "c", "after the lease")]
