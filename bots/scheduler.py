"""What happens with time alone: APScheduler runs the core's sweep on our event loop.

The sweep is idempotent (each thing it does changes state in the same transaction as the
messages it writes), so a restart, a missed run or a second instance never sends anything twice;
a run that is late or overlaps the next is simply merged into it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from core.bus import Bus, sweep

log = logging.getLogger("passerelle.scheduler")


class Sweeper:
    def __init__(self, bus: Bus, clock: Callable[[], datetime], every_seconds: float,
                 on_commit: Callable[[], None] = lambda: None) -> None:
        self.bus = bus
        self.clock = clock
        self.every_seconds = every_seconds
        self.on_commit = on_commit
        self.scheduler: AsyncIOScheduler | None = None

    async def run_once(self) -> int:
        """One sweep, off the event loop (it is database work)."""
        try:
            done = await asyncio.to_thread(sweep, self.bus, self.clock())
        except Exception:
            log.exception("event=sweep_failed")
            return 0
        if done:
            self.on_commit()  # wake the workers: there are messages to send
        return done

    def start(self) -> None:
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self.scheduler.add_job(
            self.run_once, "interval", seconds=self.every_seconds, id="sweep",
            # APScheduler plans in real time (the injected clock only dates the sweep itself).
            max_instances=1, coalesce=True, next_run_time=datetime.now(UTC),
        )
        self.scheduler.start()
        log.info("event=scheduler_started every=%ss", self.every_seconds)

    def stop(self) -> None:
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
