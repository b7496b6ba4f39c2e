"""Faults and crashes, many rounds (issue 11): the storm of tests/e2e/test_faults.py, for as
long as one likes. A student on Telegram and two mentors (Slack, Discord) exchange numbered
messages; the three fake platforms answer `--rate` of the delivering calls with a 429, a 5xx or a
timeout, and `passerelle run` is SIGKILLed at a random moment of each round and restarted.

By default one instance on a SQLite file. `--instances 2` (or more): that many `passerelle run`
on one fresh PostgreSQL schema (PASSERELLE_BENCH_POSTGRES_URL, else 127.0.0.1:5432/test), one of
them killed each round, the leader and a follower in turn, while the others run on
(tests/e2e/test_faults_instances.py); a row the killed instance had claimed waits for its lease
(`--lease`, 5 s by default here; 20 s in production) before another sends it.

Prints one line per round and the totals: messages lost, duplicated (allowed: one per chat per
kill, the message in flight), out of order, the faults injected and the time taken.

    PTB_TIMEDELTA=true .venv/bin/python tests/bench/bench_faults.py [--rounds 100] [--seed N]
        [--messages 3] [--rate 0.2] [--instances 2 [--lease 5]]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PTB_TIMEDELTA", "true")

from sqlalchemy import text  # noqa: E402

from storage.engine import make_engine  # noqa: E402
from tests.e2e.platforms import Cluster, Platforms, RoundResult, Service, Storm  # noqa: E402

POSTGRES_URL = os.environ.get("PASSERELLE_BENCH_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextlib.contextmanager
def postgres_schema(base: str, name: str) -> Iterator[str]:
    """An empty schema of its own (the service's `db upgrade` fills it), dropped after; its
    URL for the service's processes."""
    admin = make_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
        yield f"{base}?options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        admin.dispose()


async def storm(rounds: int, seed: int, messages: int, rate: float, instances: int = 1,
                lease: int = 5) -> list[RoundResult]:
    with tempfile.TemporaryDirectory(prefix="passerelle-faults-") as folder:
        tmp = Path(folder)
        if instances == 1:
            return await play_rounds(
                lambda p: Service(p.env(f"sqlite:///{tmp / 'storm.db'}"), tmp / "logs"),
                rounds, seed, messages, rate)
        with postgres_schema(POSTGRES_URL, f"bench_faults_{os.getpid()}") as url:
            return await play_rounds(
                lambda p: Cluster.on(p, url, tmp / "logs", instances, seed=seed,
                                     PASSERELLE_DELIVERY__LEASE_SECONDS=str(lease)),
                rounds, seed, messages, rate)


async def play_rounds(make: Callable[[Platforms], Service | Cluster], rounds: int, seed: int,
                      messages: int, rate: float) -> list[RoundResult]:
    results: list[RoundResult] = []
    async with Platforms() as platforms:
        service = make(platforms)
        play = Storm(platforms, service, seed, messages=messages, rate=rate)
        try:
            await play.setup()
            for _ in range(rounds):
                result = await play.round()
                results.append(result)
                problems = result.problems()
                print(result.line() + (f"  PROBLEMS {problems}" if problems else ""),
                      flush=True)
        except BaseException:
            print(f"seed {seed}; last log:\n{service.log_tail(6000)}", flush=True)
            raise
        finally:
            await service.stop()
        if platforms.telegram.poll_conflicts:
            print(f"Telegram answered {platforms.telegram.poll_conflicts} getUpdates with 409 "
                  "(two pollers at once)")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--seed", type=int, default=random.randrange(1_000_000))
    parser.add_argument("--messages", type=int, default=3, help="per stream and round")
    parser.add_argument("--rate", type=float, default=0.2)
    parser.add_argument("--instances", type=int, default=1,
                        help="1: SQLite; 2 or more: PostgreSQL, one instance killed a round")
    parser.add_argument("--lease", type=int, default=5,
                        help="seconds a claimed row is held (PostgreSQL; at least 45)")
    args = parser.parse_args()
    where = "SQLite" if args.instances == 1 else f"PostgreSQL, lease {args.lease}s"
    print(f"seed {args.seed}, {args.rounds} rounds, {args.messages} messages per stream "
          f"(4 streams), fault rate {args.rate}, {args.instances} instance(s) on {where}",
          flush=True)
    started = time.monotonic()
    results = asyncio.run(storm(args.rounds, args.seed, args.messages, args.rate,
                                args.instances, args.lease))
    faults: Counter[str] = Counter()
    killed: Counter[str] = Counter()
    for result in results:
        faults.update(result.faults)
        killed.update(result.killed)
    sent = len(results) * 4 * args.messages
    bad = sum(1 for r in results if r.problems())
    seconds = sorted(r.seconds for r in results)
    print(f"total: {len(results)} rounds, {sent} messages, "
          f"{sum(r.kills for r in results)} kills {dict(killed)}, faults {dict(faults)}")
    if seconds:
        print(f"round time: median {statistics.median(seconds):.1f}s, "
              f"max {seconds[-1]:.1f}s")
    print(f"lost {sum(r.lost for r in results)}, duplicated {sum(r.duplicated for r in results)}"
          f", out of order {sum(r.out_of_order for r in results)}, rounds breaking the "
          f"promise {bad}; {time.monotonic() - started:.0f}s")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
