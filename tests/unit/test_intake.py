"""Group commit: events that arrive together share a transaction, and a bad one harms no other."""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine

from bots.intake import Intake
from core.bus import Bus
from core.context import Services
from core.model import Address, Inbound
from storage.store import unit_of_work_factory
from tests.harness import Clock, Harness


def inbound(user: str, text: str, key: str) -> Inbound:
    return Inbound(key, Address("playground", user), user, text, key)


def failing_detector(text: str) -> str | None:
    """A language detector that breaks on one sentence: a real failure inside handling."""
    if "boom" in text:
        raise RuntimeError("detector crashed")
    return "en"


async def test_events_arriving_together_are_all_handled(sqlite_db: Engine, services: Services):
    bus = Bus(unit_of_work_factory(sqlite_db), services)
    commits: list[int] = []
    intake = Intake(bus, Clock(), on_commit=lambda: commits.append(1))
    results = await asyncio.gather(
        *(intake.submit(inbound(f"u{i}", "hello there friend", f"k{i}")) for i in range(30)),
        intake.submit(inbound("u0", "hello there friend", "k0")),  # a retried webhook
    )
    assert results == [True] * 30 + [False]
    assert len(commits) < 30  # they were committed together, not one by one


async def test_one_bad_event_does_not_take_the_others_down(
    sqlite_db: Engine, services: Services
) -> None:
    broken = Services(services.catalog, services.fields, failing_detector)
    intake = Intake(Bus(unit_of_work_factory(sqlite_db), broken), Clock())
    good = [intake.submit(inbound(f"u{i}", "hello there my friend", f"k{i}")) for i in range(5)]
    bad = intake.submit(inbound("x", "boom boom boom", "bad"))
    results = await asyncio.gather(*good, bad, return_exceptions=True)
    assert results[:5] == [True] * 5
    assert isinstance(results[5], RuntimeError)
    # the bad event was not recorded: once the cause is fixed, its retry is handled
    fixed = Intake(Bus(unit_of_work_factory(sqlite_db), services), Clock())
    assert await fixed.submit(inbound("x", "boom boom boom", "bad")) is True


def test_control_characters_are_dropped_before_anything_is_stored(any_world: Harness) -> None:
    world = any_world  # PostgreSQL refuses NUL in text: this must not become a poison message
    world.enrol_student("kid", "Zoé")
    world.enrol_mentor("pro", "Marc")
    world.match("Zoé", "Marc")
    world.texts("kid"), world.texts("pro")
    world.say("kid", "Bon\x00jour\r\n\tça va?\x07")
    assert world.texts("pro") == ["Zoé :\nBonjour\n\tça va?"]
