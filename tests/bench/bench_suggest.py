"""Suggestion speed: MentorPool.suggest over 2,500 mentors, then the whole /suggest on the bus.

1. A seeded pool of 2,500 MentorCards over the fields of config/fields.toml and 1,000 random
   students: the pool's build time, then MentorPool.suggest per student, p50 / p99 / max
   (target: p99 ≤ 5 ms).
2. The same number of mentors in a SQLite database: `/suggest` through the real bus, p50 / p99
   over 200 calls. It includes what the pure run leaves out: the transaction, loading the cards
   from the database, building the pool, the texts and the outbox. The parts (loading the cards,
   building the pool) are timed on their own as well.

    .venv/bin/python tests/bench/bench_suggest.py [MENTORS] [STUDENTS] [BUS_CALLS]
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bots.app import build_services  # noqa: E402
from bots.catalogs import load_fields  # noqa: E402
from core.bus import Bus  # noqa: E402
from core.fields import FieldList  # noqa: E402
from core.model import (  # noqa: E402
    Address,
    Identity,
    Inbound,
    MentorKind,
    Participant,
    Role,
    School,
    Step,
)
from core.scoring import MentorCard, MentorPool, Rules, StudentCard, Weights  # noqa: E402
from storage.engine import make_engine  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.store import SqlUnitOfWork, unit_of_work_factory  # noqa: E402

SEED = 20260901
REGIONS = ("Laurentides", "Montérégie", "Estrie", "Outaouais", "Mauricie", "Capitale",
           "Montréal", "Saguenay")
KINDS = (MentorKind.PROFESSIONAL,) * 6 + (MentorKind.PEER,) * 3 + (MentorKind.REPRESENTATIVE,)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def cuts(samples: list[float]) -> tuple[float, float, float]:
    """p50, p99, max."""
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return q[49], q[98], max(samples)


def random_mentor(rng: random.Random, i: int, keys: list[str]) -> MentorCard:
    capacity = rng.randint(1, 5)
    return MentorCard(
        id=i, pseudonym=f"Mentor{i}", kind=rng.choice(KINDS).value, profession="métier",
        years=rng.randint(0, 30), fields=tuple(rng.sample(keys, rng.choice((1, 1, 1, 2)))),
        language=rng.choice(("fr", "fr", "fr", "en")), capacity=capacity,
        load=rng.randint(0, capacity), paused=rng.random() < 0.05, vetted=rng.random() < 0.9,
        region=rng.choice((*REGIONS, None)),
    )


def random_student(rng: random.Random, i: int, keys: list[str]) -> StudentCard:
    return StudentCard(id=100_000 + i, age=rng.randint(14, 20),
                       fields=tuple(rng.sample(keys, rng.randint(1, 3))),
                       language=rng.choice(("fr", "fr", "fr", "en")),
                       region=rng.choice((*REGIONS, None)))


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def pure_run(fields: FieldList, mentors: int, students: int) -> None:
    rng = random.Random(SEED)
    keys = [f.key for f in fields]
    cards = [random_mentor(rng, i, keys) for i in range(1, mentors + 1)]
    kids = [random_student(rng, i, keys) for i in range(students)]
    weights, rules = Weights(), Rules()

    builds = [timed(lambda: MentorPool(cards, fields)) for _ in range(20)]
    pool = MentorPool(cards, fields)
    for kid in kids[:20]:  # warm up
        pool.suggest(kid, weights, rules)
    times, empty = [], 0
    for kid in kids:
        start = time.perf_counter()
        found = pool.suggest(kid, weights, rules)
        times.append(time.perf_counter() - start)
        empty += not found
    p50, p99, worst = cuts(times)
    print(f"MentorPool over {mentors:,} mentors ({len(keys)} fields), {students:,} students")
    print(f"  pool build:            {ms(statistics.median(builds))} median of 20"
          f" (max {ms(max(builds))})")
    print(f"  suggest p50/p99/max:   {ms(p50)} / {ms(p99)} / {ms(worst)}"
          f"  (target p99 ≤ 5 ms: {'ok' if p99 <= 0.005 else 'MISSED'})")
    print(f"  students with none:    {empty}")


def seed_database(engine, fields: FieldList, mentors: int, students: int  # type: ignore[no-untyped-def]
                  ) -> list[str]:
    """`mentors` mentors and `students` students, each in a school of a region; the
    students' platform users."""
    rng = random.Random(SEED)
    keys = [f.key for f in fields]
    now = datetime.now(UTC)
    users = []
    with SqlUnitOfWork(engine) as store:
        schools = []
        for region in REGIONS:
            school = store.add_school(School(f"École {region}", region))
            schools.append(school.id)
        for i in range(1, mentors + 1):
            card = random_mentor(rng, i, keys)
            p = store.add_participant(Participant(
                Role.MENTOR, card.pseudonym, card.language,  # type: ignore[arg-type]
                rng.choice(schools), Step.DONE, fields=list(card.fields),
                mentor_kind=MentorKind(card.kind), profession=card.profession,
                years=card.years, capacity=card.capacity, vetted=card.vetted,
                paused=card.paused, created_at=now))
            assert p.id is not None
            store.add_identity(Identity("playground", f"m{i}", p.id, Address("playground",
                                                                               f"m{i}")))
        for i in range(students):
            kid = random_student(rng, i, keys)
            p = store.add_participant(Participant(
                Role.STUDENT, f"Eleve{i}", kid.language,  # type: ignore[arg-type]
                rng.choice(schools), Step.DONE, age=kid.age, fields=list(kid.fields),
                created_at=now))
            assert p.id is not None
            store.add_identity(Identity("playground", f"s{i}", p.id, Address("playground",
                                                                               f"s{i}")))
            users.append(f"s{i}")
    return users


def bus_run(db: Path, mentors: int, calls: int) -> None:
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    services = build_services()
    start = time.perf_counter()
    users = seed_database(engine, services.fields, mentors, calls)
    seeding = time.perf_counter() - start
    bus = Bus(unit_of_work_factory(engine), services)

    loads, builds = [], []
    for _ in range(20):
        with SqlUnitOfWork(engine) as store:
            begin = time.perf_counter()
            cards = store.mentor_cards()
            loads.append(time.perf_counter() - begin)
        builds.append(timed(lambda: MentorPool(cards, services.fields)))  # noqa: B023

    def suggest(user: str, n: int) -> float:
        inbound = Inbound(f"bench:{user}:{n}", Address("playground", user), user, "/suggest",
                          f"in-{n}")
        begin = time.perf_counter()
        assert bus.handle(inbound, datetime.now(UTC))
        return time.perf_counter() - begin

    for n, user in enumerate(users[:10]):  # warm up
        suggest(user, -n - 1)
    times = [suggest(user, n) for n, user in enumerate(users)]
    engine.dispose()
    p50, p99, worst = cuts(times)
    print(f"/suggest through the bus, SQLite, {mentors:,} mentors, {calls} calls"
          f" (seeding took {seeding:.1f} s)")
    print(f"  /suggest p50/p99/max:  {ms(p50)} / {ms(p99)} / {ms(worst)}")
    print(f"  of which mentor_cards: {ms(statistics.median(loads))} median"
          f" + pool build {ms(statistics.median(builds))} median")


def main() -> None:
    mentors = int(sys.argv[1]) if len(sys.argv) > 1 else 2500
    students = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    calls = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    pure_run(load_fields(), mentors, students)
    with tempfile.TemporaryDirectory() as tmp:
        bus_run(Path(tmp) / "bench.db", mentors, calls)


if __name__ == "__main__":
    main()
