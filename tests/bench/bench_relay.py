"""Relay throughput: bus → SQLite → outbox → delivery worker → a null channel.

Prints messages/s and p50/p99 latency (a message accepted → handed to the platform), then the
rate of committing the same rows with plain sqlite3 and the same pragmas (the storage limit),
and the ratio of the two. Targets: ≥ 1,000 relayed messages/s on 2 cores, ratio ≥ 0.3.

    .venv/bin/python tests/bench/bench_relay.py [N] [PEOPLE_WRITING_AT_ONCE]
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bots.app import build_services  # noqa: E402
from bots.delivery import DeliveryWorker  # noqa: E402
from bots.intake import Intake  # noqa: E402
from core.bus import Bus  # noqa: E402
from core.model import Address, Identity, Inbound, Match, Participant, Role, Step  # noqa: E402
from core.ports import Channel  # noqa: E402
from storage.engine import make_engine  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.outbox import OutboxQueue  # noqa: E402
from storage.store import SqlUnitOfWork, unit_of_work_factory  # noqa: E402

PAIRS = 50


class NullChannel:
    """Accepts everything at once and notes when each message arrived."""

    platform = "playground"
    max_text = 4000

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.count = 0

    async def start(self, feed: object) -> None: ...
    async def stop(self) -> None: ...

    async def send(self, message) -> str:  # type: ignore[no-untyped-def]
        self.count += 1
        tag = message.text.rsplit("#", 1)[-1]
        self.arrived[tag] = time.perf_counter()
        return str(self.count)


def seed(engine) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    with SqlUnitOfWork(engine) as store:
        for i in range(PAIRS):
            ids = []
            for role, user in ((Role.STUDENT, f"s{i}"), (Role.MENTOR, f"m{i}")):
                p = store.add_participant(Participant(role, f"{user}-name", "fr", None, Step.DONE,
                                                      profession="x", created_at=now))
                assert p.id is not None
                store.add_identity(Identity("playground", user, p.id, Address("playground", user)))
                ids.append(p.id)
            store.add_match(Match(ids[0], ids[1], created_at=now))


async def relay_run(n: int, db: Path, senders: int) -> tuple[float, list[float]]:
    """`senders` people write at once, each waiting for their message to be accepted before
    writing the next (as a platform waits for our answer to a webhook)."""
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    seed(engine)
    services = build_services()
    channel = NullChannel()
    worker = DeliveryWorker(channel, OutboxQueue(engine), unit_of_work_factory(engine), services,
                            poll_seconds=0.05, batch_size=100)
    _: Channel = channel
    intake = Intake(Bus(unit_of_work_factory(engine), services), lambda: datetime.now(UTC),
                    on_commit=worker.poke)
    sent_at: dict[str, float] = {}

    async def person(k: int) -> None:
        for i in range(k, n, senders):
            pair = i % PAIRS
            sender = f"s{pair}" if (i // PAIRS) % 2 == 0 else f"m{pair}"
            tag = str(i)
            sent_at[tag] = time.perf_counter()
            await intake.submit(Inbound(f"bench:{i}", Address("playground", sender), sender,
                                        f"question number #{tag}", str(i)))

    task = asyncio.create_task(worker.run())
    start = time.perf_counter()
    await asyncio.gather(*(person(k) for k in range(senders)))
    while channel.count < n:
        await asyncio.sleep(0.002)
    elapsed = time.perf_counter() - start
    worker.stop()
    await task
    engine.dispose()
    latencies = [channel.arrived[t] - sent_at[t] for t in sent_at]
    return elapsed, latencies


def plain_sqlite_run(n: int, db: Path) -> float:
    """The same rows per message, written with sqlite3 directly: the ceiling for our storage."""
    conn = sqlite3.connect(db, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        conn.execute(f"PRAGMA {pragma}")
    conn.executescript("""
        CREATE TABLE processed_events (event_key TEXT PRIMARY KEY, processed_at TEXT);
        CREATE TABLE relayed (id INTEGER PRIMARY KEY, match_id INT, sender_id INT, body TEXT,
            source_platform TEXT, source_chat_id TEXT, source_message_id TEXT,
            dest_message_id TEXT, created_at TEXT);
        CREATE TABLE outbox (id INTEGER PRIMARY KEY, platform TEXT, chat_id TEXT, text TEXT,
            status TEXT, match_id INT, relayed_id INT, platform_message_id TEXT,
            next_attempt_at TEXT, created_at TEXT, delivered_at TEXT);
        CREATE INDEX ix_q ON outbox (platform, status, chat_id, id);
    """)
    start = time.perf_counter()
    for i in range(n):
        now = datetime.now(UTC).isoformat()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO processed_events VALUES (?, ?)", (f"bench:{i}", now))
        rid = conn.execute(
            "INSERT INTO relayed (match_id, sender_id, body, source_platform, source_chat_id, "
            "source_message_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (i % PAIRS, 1, f"question number #{i}", "playground", "s", str(i), now)).lastrowid
        oid = conn.execute(
            "INSERT INTO outbox (platform, chat_id, text, status, match_id, relayed_id, "
            "next_attempt_at, created_at) VALUES ('playground', ?, ?, 'pending', ?, ?, ?, ?)",
            (f"m{i % PAIRS}", f"question number #{i}", i % PAIRS, rid, now, now)).lastrowid
        conn.execute("COMMIT")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE outbox SET status='delivered', platform_message_id=?, delivered_at=?"
                     " WHERE id=?", (str(i), now, oid))
        conn.execute("UPDATE relayed SET dest_message_id=? WHERE id=?", (str(i), rid))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    senders = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    with tempfile.TemporaryDirectory() as tmp:
        elapsed, latencies = asyncio.run(relay_run(n, Path(tmp) / "bench.db", senders))
        plain = plain_sqlite_run(n, Path(tmp) / "plain.db")
    rate, plain_rate = n / elapsed, n / plain
    cuts = statistics.quantiles(latencies, n=100)
    print(f"relayed messages:      {n} ({senders} people writing at once, {PAIRS} matches)")
    print(f"relay rate:            {rate:,.0f} messages/s  (target ≥ 1,000)")
    print(f"latency p50 / p99:     {cuts[49] * 1000:.1f} ms / {cuts[98] * 1000:.1f} ms")
    print(f"plain sqlite3 rate:    {plain_rate:,.0f} messages/s (same rows, same pragmas)")
    print(f"ratio relay / sqlite3: {rate / plain_rate:.2f}  (target ≥ 0.3)")


if __name__ == "__main__":
    main()
