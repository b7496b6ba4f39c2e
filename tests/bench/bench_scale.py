"""Relay throughput with 1 and 2 instances on PostgreSQL: bus → outbox → delivery workers → null
channels, each instance a process of its own (as `passerelle run` would be).

Every instance takes its share of the people writing (as a load balancer spreads webhooks) and
runs a delivery worker on the one shared outbox; a message may be accepted by one instance and
sent by the other. Prints messages/s and p50/p99 latency (accepted → handed to the platform, on
the machine's monotonic clock, which all processes share) for each round.

    .venv/bin/python tests/bench/bench_scale.py [N] [PEOPLE_WRITING_AT_ONCE] [POSTGRES_URL]
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, func, select, text  # noqa: E402

from bots.app import build_services  # noqa: E402
from bots.delivery import DeliveryWorker  # noqa: E402
from bots.intake import Intake  # noqa: E402
from core.bus import Bus  # noqa: E402
from core.model import Address, Inbound  # noqa: E402
from storage.engine import make_engine  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.outbox import OutboxQueue  # noqa: E402
from storage.store import O, unit_of_work_factory  # noqa: E402
from tests.bench.bench_relay import PAIRS, NullChannel, seed  # noqa: E402

POSTGRES_URL = os.environ.get("PASSERELLE_BENCH_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@dataclass
class Share:
    """What one instance saw: when its people wrote, and when its worker handed each over."""

    written: dict[str, float]
    arrived: dict[str, float]
    started: float
    finished: float


class TimedNullChannel(NullChannel):
    """The relay bench's null channel, on the clock every process shares."""

    async def send(self, message) -> str:  # type: ignore[no-untyped-def]
        self.count += 1
        self.arrived[message.text.rsplit("#", 1)[-1]] = time.monotonic()
        return str(self.count)


def delivered(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(
            select(func.count()).select_from(O).where(O.c.status == "delivered")).scalar_one())


async def serve_share(url: str, index: int, instances: int, n: int, senders: int,
                      start: mp.synchronize.Barrier) -> Share:  # type: ignore[name-defined]
    """One instance: its people write their messages; its worker drains the shared outbox until
    every message of the round went out (by whichever instance)."""
    engine = make_engine(url)
    services = build_services()
    channel = TimedNullChannel()
    worker = DeliveryWorker(channel, OutboxQueue(engine), unit_of_work_factory(engine), services,
                            poll_seconds=0.05, batch_size=100)
    intake = Intake(Bus(unit_of_work_factory(engine), services), lambda: datetime.now(UTC),
                    on_commit=worker.poke)
    written: dict[str, float] = {}
    mine = range(index, senders, instances)  # this instance's share of the people writing

    async def person(k: int) -> None:
        for i in range(k, n, senders):
            pair = i % PAIRS
            sender = f"s{pair}" if (i // PAIRS) % 2 == 0 else f"m{pair}"
            written[str(i)] = time.monotonic()
            await intake.submit(Inbound(f"scale:{i}", Address("playground", sender), sender,
                                        f"question number #{i}", str(i)))

    task = asyncio.create_task(worker.run())
    await asyncio.to_thread(start.wait)
    started = time.monotonic()
    await asyncio.gather(*(person(k) for k in mine))
    while await asyncio.to_thread(delivered, engine) < n:
        await asyncio.sleep(0.01)
    finished = time.monotonic()
    worker.stop()
    await task
    engine.dispose()
    return Share(written, channel.arrived, started, finished)


def instance_process(url: str, index: int, instances: int, n: int, senders: int,
                     start: mp.synchronize.Barrier, results: mp.Queue) -> None:  # type: ignore[name-defined]
    results.put(asyncio.run(serve_share(url, index, instances, n, senders, start)))


def fresh_schema(base: str, name: str) -> str:
    """A schema of its own in the database (dropped first), migrated and seeded; its URL."""
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    admin.dispose()
    url = f"{base}?options=-csearch_path%3D{name}"
    engine = make_engine(url)
    upgrade(engine)
    seed(engine)
    engine.dispose()
    return url


def drop_schema(base: str, name: str) -> None:
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    admin.dispose()


def scale_round(base: str, instances: int, n: int, senders: int) -> tuple[float, list[float]]:
    """`instances` processes relay `n` messages between them: elapsed seconds, latencies."""
    name = f"bench_scale_{os.getpid()}_{instances}"
    url = fresh_schema(base, name)
    context = mp.get_context("spawn")  # a clean process each, like separate `passerelle run`s
    start, results = context.Barrier(instances), context.Queue()
    processes = [context.Process(target=instance_process,
                                 args=(url, k, instances, n, senders, start, results))
                 for k in range(instances)]
    try:
        for process in processes:
            process.start()
        shares: list[Share] = [results.get(timeout=600) for _ in processes]
        for process in processes:
            process.join()
    finally:
        drop_schema(base, name)
    written = {tag: at for share in shares for tag, at in share.written.items()}
    arrived = {tag: at for share in shares for tag, at in share.arrived.items()}
    assert len(arrived) == n, f"{len(arrived)} of {n} messages handed over"
    elapsed = max(s.finished for s in shares) - min(s.started for s in shares)
    return elapsed, [arrived[tag] - written[tag] for tag in written]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    senders = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    base = sys.argv[3] if len(sys.argv) > 3 else POSTGRES_URL
    print(f"relayed messages: {n} per round ({senders} people writing at once, {PAIRS} "
          f"matches), PostgreSQL, {os.cpu_count()} cores")
    for instances in (1, 2):
        elapsed, latencies = scale_round(base, instances, n, senders)
        cuts = statistics.quantiles(latencies, n=100)
        print(f"{instances} instance{'s' if instances > 1 else ' '}:  "
              f"{n / elapsed:7,.0f} messages/s   latency p50 {cuts[49] * 1000:6.1f} ms   "
              f"p99 {cuts[98] * 1000:6.1f} ms")


if __name__ == "__main__":
    main()
