"""The cohort path as `passerelle match auto` runs it, minus the database: mentor cards → pool →
candidate graph (scoring every student) → optimal plan. Prints figures; asserts nothing.

Seeded: 70,000 students and 2,500 mentors (capacity 3) over the 12 fields of config/fields.toml.
Targets (issue 6): build + solve ≤ 5 s, ≤ 700 MB.
"""

from __future__ import annotations

import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bots.catalogs import load_fields  # noqa: E402
from core.cohort import _pairs, candidate_edges  # noqa: E402
from core.matching import assign, greedy_assign  # noqa: E402
from core.scoring import MentorCard, MentorPool, Rules, StudentCard, Weights  # noqa: E402


def main(students_n: int = 70_000, mentors_n: int = 2_500, seed: int = 6) -> None:
    fields = load_fields()
    keys = [f.key for f in fields]
    rng = random.Random(seed)
    mentors = [
        MentorCard(i, f"M{i}", rng.choice(["professional", "peer", "representative"]), "x",
                   rng.randint(0, 30), (rng.choice(keys),), rng.choice(["fr", "fr", "en"]), 3,
                   0, region=rng.choice(["Montréal", "Québec", "Laval"]))
        for i in range(1, mentors_n + 1)
    ]
    students = [
        StudentCard(100_000 + i, rng.randint(14, 30), tuple(rng.sample(keys, rng.randint(1, 3))),
                    rng.choice(["fr", "fr", "en"]), rng.choice(["Montréal", "Québec", "Laval"]))
        for i in range(students_n)
    ]
    start = time.perf_counter()
    pool = MentorPool(mentors, fields)
    edges = candidate_edges(students, pool, Weights(), Rules())
    built = time.perf_counter() - start
    capacity = {m.id: m.capacity for m in mentors}
    start = time.perf_counter()
    plan = assign(edges, capacity)
    solved = time.perf_counter() - start
    total = sum(p.score for p in _pairs(edges, plan))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    greedy = greedy_assign(edges, capacity)
    greedy_time = time.perf_counter() - start
    greedy_total = sum(p.score for p in _pairs(edges, greedy))
    print(f"students {students_n:,}  mentors {mentors_n:,}  candidate edges {len(edges):,}")
    print(f"candidate graph (scoring every student): {built:.2f} s")
    print(f"optimal plan (assign): {solved:.2f} s  matched {len(plan):,}  total score {total:,}")
    print(f"greedy baseline: {greedy_time:.2f} s  matched {len(greedy):,}  "
          f"total score {greedy_total:,}")
    print(f"build + solve: {built + solved:.2f} s (target ≤ 5 s)  peak RSS {peak:.0f} MB "
          f"(target ≤ 700 MB)")


if __name__ == "__main__":
    main()
