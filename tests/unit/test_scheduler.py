"""The scheduler runs the core's sweep by itself, on our loop, and a sweep is idempotent."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bots.scheduler import Sweeper
from core.bus import sweep
from tests.harness import Harness


def waiting_request(world: Harness) -> int:
    world.enrol_student("kid", "Zoé")
    world.enrol_mentor("pro", "Marc")
    match_id = world.propose("Zoé", "Marc")
    world.texts("pro")
    return match_id


def status(world: Harness, match_id: int) -> str:
    with world.store() as store:
        match = store.match(match_id)
    assert match is not None
    return match.status.value


async def test_the_scheduler_expires_unanswered_requests_on_its_own(world: Harness) -> None:
    match_id = await asyncio.to_thread(waiting_request, world)  # the harness runs its own loop
    later = world.clock.now + timedelta(hours=73)
    woken: list[bool] = []
    sweeper = Sweeper(world.bus, lambda: later, every_seconds=0.05,
                      on_commit=lambda: woken.append(True))
    sweeper.start()
    try:
        for _ in range(100):
            # The sweep commits in a worker thread; the wake-up follows on the loop just after.
            if status(world, match_id) == "expired" and woken:
                break
            await asyncio.sleep(0.02)
    finally:
        sweeper.stop()
    assert status(world, match_id) == "expired" and woken == [True]


async def test_a_sweep_before_the_timeout_or_a_second_one_does_nothing(world: Harness) -> None:
    match_id = await asyncio.to_thread(waiting_request, world)  # the harness runs its own loop
    early = Sweeper(world.bus, lambda: world.clock.now + timedelta(hours=71), every_seconds=60)
    assert await early.run_once() == 0 and status(world, match_id) == "requested"
    late = Sweeper(world.bus, lambda: world.clock.now + timedelta(hours=73), every_seconds=60)
    assert await late.run_once() == 1
    assert await late.run_once() == 0
    world.clock.advance(73 * 3600)
    assert await asyncio.to_thread(world.texts, "pro") == [world.services.catalog.t(
        "fr", "request.expired_mentor", name="Zoé")]


def test_a_sweep_forgets_event_keys_older_than_a_week(world: Harness) -> None:
    world.say("kid", "/start NOPE-1", event_key="old-event")
    world.clock.advance(6 * 24 * 3600)
    world.say("kid", "/start NOPE-2", event_key="recent-event")
    sweep(world.bus, world.clock.now + timedelta(days=1, seconds=1))
    with world.store() as store:
        kept = {row[0] for row in store.conn.exec_driver_sql(
            "SELECT event_key FROM processed_events")}
    assert kept == {"recent-event"}
    assert world.say("kid", "/start NOPE-1", event_key="recent-event") is False  # still a repeat
