"""The sweep (`core.bus.sweep`: request expiry, nudges, check-ins, surveys) over 100,000 active
matches on SQLite, the way the scheduler runs it. Prints figures; asserts nothing.

Seeded: 20,000 students and 2,500 mentors, 100,000 active matches made over the last 400 days,
silent for up to 67 days, a fifth with a student waiting for an answer, each staged as
yesterday's sweeps left it. Three sweeps are timed:
- "a day's first sweep": everything that fell due in the last day (a few thousand);
- "a quiet minute": the sweep right after (nothing due: what every minute costs);
- "the first sweep after a week down": a week of nudges at once (batched per kind).
Target (issue 8): a sweep ≤ 1 s.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import insert, text  # noqa: E402

from bots.app import build_services  # noqa: E402
from core.bus import Bus, sweep  # noqa: E402
from storage.engine import make_engine  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.store import unit_of_work_factory  # noqa: E402
from storage.tables import IdentityRow, MatchRow, ParticipantRow  # noqa: E402

NOW = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 11:00 in Toronto: not quiet hours


def seed(engine, matches_n: int, students_n: int, mentors_n: int, rng: random.Random
         ) -> None:  # type: ignore[no-untyped-def]
    people = [
        {"role": "student", "pseudonym": f"S{i}", "pseudonym_key": f"s{i}", "language": "fr",
         "step": "done", "age": 16, "fields": "health", "mentor_kind": None,
         "capacity": None, "vetted": False, "profession": None,
         "created_at": NOW - timedelta(days=500)}
        for i in range(students_n)
    ] + [
        {"role": "mentor", "pseudonym": f"M{i}", "pseudonym_key": f"m{i}", "language": "en",
         "step": "done", "age": None, "fields": "health", "mentor_kind": "professional",
         "capacity": 40,
         "vetted": True, "profession": "x", "created_at": NOW - timedelta(days=500)}
        for i in range(mentors_n)
    ]
    with engine.begin() as conn:
        conn.execute(insert(ParticipantRow.__table__), people)
        conn.execute(insert(IdentityRow.__table__), [
            {"platform": "playground", "platform_user_id": f"u{i}", "participant_id": i,
             "chat_id": f"u{i}", "reachable": True}
            for i in range(1, len(people) + 1)
        ])
        rows = []
        day = timedelta(days=1)
        for _ in range(matches_n):
            # The state yesterday's sweeps left: every match staged for what it had been due.
            made = NOW - timedelta(days=rng.uniform(1, 400))
            silent = min(timedelta(days=rng.uniform(0, 67)), NOW - made)
            waited = timedelta(hours=rng.uniform(0, 100)) if rng.random() < 0.2 else None
            yesterday = silent - day
            stage = 2 if yesterday >= timedelta(days=60) else 1 \
                if yesterday >= timedelta(days=14) else 0
            unanswered = None if waited is None else (
                2 if waited - day >= timedelta(hours=72) else 1
                if waited - day >= timedelta(hours=48) else 0)
            surveys_done = max(0, int(((NOW - day - made).days - 30) // 60) + 1)
            rows.append({
                "student_id": rng.randint(1, students_n),
                "mentor_id": students_n + rng.randint(1, mentors_n), "status": "active",
                "created_at": made, "last_activity_at": NOW - silent,
                "silence_stage": stage, "unanswered_stage": unanswered or 0,
                "unanswered_since": None if waited is None else NOW - waited,
                "next_survey_at": made + timedelta(days=30 + 60 * surveys_done)
                if surveys_done else None,
            })
        conn.execute(insert(MatchRow.__table__), rows)


def timed(bus: Bus, now: datetime) -> tuple[float, int]:
    start = time.perf_counter()
    done = sweep(bus, now)
    return time.perf_counter() - start, done


def main(matches_n: int = 100_000, students_n: int = 20_000, mentors_n: int = 2_500) -> None:
    rng = random.Random(8)
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/bench.db")
        upgrade(engine)
        start = time.perf_counter()
        seed(engine, matches_n, students_n, mentors_n, rng)
        print(f"seeded {matches_n:,} active matches in {time.perf_counter() - start:.1f} s")
        bus = Bus(unit_of_work_factory(engine), build_services())
        day, day_n = timed(bus, NOW)
        quiet, quiet_n = timed(bus, NOW + timedelta(minutes=1))
        print(f"a day's first sweep: {day:.3f} s, {day_n:,} messages written")
        print(f"a quiet minute: {quiet:.3f} s, {quiet_n:,} messages")
        week, week_n = timed(bus, NOW + timedelta(days=7))
        print(f"the first sweep after a week down: {week:.3f} s, {week_n:,} messages")
        with engine.connect() as conn:
            queued = conn.execute(text("select count(*) from outbox")).scalar_one()
        print(f"outbox rows written in all: {queued:,}")
        print(f"target: a sweep ≤ 1 s over {matches_n:,} active matches")
        engine.dispose()


if __name__ == "__main__":
    main()
