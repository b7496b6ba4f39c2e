"""Faults and crashes, many rounds (issue 11): the storm of tests/e2e/test_faults.py, for as
long as one likes. A student on Telegram and two mentors (Slack, Discord) exchange numbered
messages; the three fake platforms answer `--rate` of the delivering calls with a 429, a 5xx or a
timeout, and `passerelle run` is SIGKILLed at a random moment of each round and restarted.

Prints one line per round and the totals: messages lost, duplicated (allowed: one per chat per
kill, the message in flight), out of order, the faults injected and the time taken.

    PTB_TIMEDELTA=true .venv/bin/python tests/bench/bench_faults.py [--rounds 100] [--seed N]
        [--messages 3] [--rate 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PTB_TIMEDELTA", "true")

from tests.e2e.platforms import Platforms, RoundResult, Service, Storm  # noqa: E402


async def storm(rounds: int, seed: int, messages: int, rate: float) -> list[RoundResult]:
    results: list[RoundResult] = []
    with tempfile.TemporaryDirectory(prefix="passerelle-faults-") as folder:
        tmp = Path(folder)
        async with Platforms() as platforms:
            service = Service(platforms.env(f"sqlite:///{tmp / 'storm.db'}"), tmp / "logs")
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
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--seed", type=int, default=random.randrange(1_000_000))
    parser.add_argument("--messages", type=int, default=3, help="per stream and round")
    parser.add_argument("--rate", type=float, default=0.2)
    args = parser.parse_args()
    print(f"seed {args.seed}, {args.rounds} rounds, {args.messages} messages per stream "
          f"(4 streams), fault rate {args.rate}", flush=True)
    started = time.monotonic()
    results = asyncio.run(storm(args.rounds, args.seed, args.messages, args.rate))
    faults: Counter[str] = Counter()
    for result in results:
        faults.update(result.faults)
    sent = len(results) * 4 * args.messages
    bad = sum(1 for r in results if r.problems())
    print(f"total: {len(results)} rounds, {sent} messages, "
          f"{sum(r.kills for r in results)} kills, faults {dict(faults)}")
    print(f"lost {sum(r.lost for r in results)}, duplicated {sum(r.duplicated for r in results)}"
          f", out of order {sum(r.out_of_order for r in results)}, rounds breaking the "
          f"promise {bad}; {time.monotonic() - started:.0f}s")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
