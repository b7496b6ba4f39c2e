"""Matching at program scale: 70,000 students, 2,500 mentors, ~50 candidates per student.

A seeded synthetic program (numpy, ~1 s, not timed): mentors are spread over 12 career fields;
each student has 1–3 fields and draws 54 candidate mentors from them with replacement (so ~50
distinct ones, and some duplicate pairs for the optimiser to collapse). Score 0–100:
field bonus (40 for a mentor of the student's first field, 20 second, 0 third) + the mentor's
appeal (0–30, so some mentors are wanted by many) + a pair term (0–30).

Each solver runs in its own child process (so that its peak RSS is its own) on the same instance
loaded from a temporary .npy file, and prints: candidate-graph build time (canonical indices,
de-duplication), solve time, peak memory — tracemalloc for Python/numpy allocations (a second,
untimed pass) and ``ru_maxrss`` for the whole process, since OR-Tools allocates in C++ — then
students matched and total score:

- ``ortools`` — ``core.matching.assign`` as shipped: pruned graph, check, grow (the choice);
- ``ortools-whole`` — the same OR-Tools ``solve_max_flow_with_min_cost`` on the whole graph;
- ``ortools-bigM`` — the whole graph, cost −(score + M), ``solve`` with a bypass arc;
- ``scipy-lapjvsp`` — ``scipy.sparse.csgraph.min_weight_full_bipartite_matching`` with each
  mentor cloned once per seat and one dummy "empty seat" column per seat;
- ``scipy-highs`` — the LP relaxation (integral: totally unimodular) with ``linprog(highs)``,
  only with ``--all`` (slow), and cut off at ``--time-limit`` seconds;
- ``greedy`` — ``core.matching.greedy_assign``, the baseline;
- ``ortools-score`` — ``assign(maximise_matched=False)``, for the record.

Targets for ``ortools`` (the shipped path): build + solve ≤ 5 s, peak RSS ≤ 700 MB.

    .venv/bin/python tests/bench/bench_matching.py [--seed 6] [--capacity 3] [--all]

``--capacity 28`` gives 70,000 seats for 70,000 students: nearly everyone is matched, the
pruning certificate fails and the optimiser falls back to the whole graph (the worst case).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from core import matching  # noqa: E402

N_STUDENTS, N_MENTORS, N_FIELDS, DRAWS = 70_000, 2_500, 12, 54
STUDENT_ID0, MENTOR_ID0 = 1_000_000, 1  # ids as a database would hand them out
Array = npt.NDArray[np.int64]


def generate(seed: int) -> Array:
    """The (n, 3) edge array (student_id, mentor_id, score) of the synthetic program."""
    rng = np.random.default_rng(seed)
    mentor_field = np.sort(rng.integers(0, N_FIELDS, N_MENTORS))
    first = np.searchsorted(mentor_field, np.arange(N_FIELDS))
    size = np.searchsorted(mentor_field, np.arange(N_FIELDS), side="right") - first
    appeal = rng.integers(0, 31, N_MENTORS)
    n_fields = rng.integers(1, 4, N_STUDENTS)
    fields = np.argsort(rng.random((N_STUDENTS, N_FIELDS)), axis=1)[:, :3]
    which = (rng.random((N_STUDENTS, DRAWS)) * n_fields[:, None]).astype(np.int64)
    field = np.take_along_axis(fields, which, axis=1)
    mentor = first[field] + (rng.random((N_STUDENTS, DRAWS)) * size[field]).astype(np.int64)
    score = np.array([40, 20, 0])[which] + appeal[mentor] + rng.integers(0, 31, mentor.shape)
    student = np.broadcast_to(np.arange(N_STUDENTS)[:, None], mentor.shape)
    return np.column_stack(
        [student.ravel() + STUDENT_ID0, mentor.ravel() + MENTOR_ID0, score.ravel()]
    ).astype(np.int64)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


# --- the solvers: each returns (build seconds, solve seconds, graph, indices of edges used) ---

Result = tuple[float, float, matching._Graph, Array]


def run_ortools(
    edges: Array,
    capacity: dict[int, int],
    pruning: matching.Pruning | None = matching.PRUNING,
    maximise_matched: bool = True,
) -> Result:
    t0 = time.perf_counter()
    graph = matching._candidate_graph(edges, capacity, drop_negative=not maximise_matched)
    t1 = time.perf_counter()
    used = matching._optimal_edges(graph, maximise_matched=maximise_matched, pruning=pruning)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, graph, used


def run_ortools_big_m(edges: Array, capacity: dict[int, int]) -> Result:
    from ortools.graph.python import min_cost_flow

    t0 = time.perf_counter()
    graph = matching._candidate_graph(edges, capacity, drop_negative=False)
    t1 = time.perf_counter()
    ns, nm, ne = len(graph.student_ids), len(graph.mentor_ids), len(graph.student)
    big_m = 2 * min(ns, int(graph.capacity.sum())) * int(np.abs(graph.score).max()) + 1
    source, sink = ns + nm, ns + nm + 1
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(
        np.concatenate([graph.student, np.full(ns, source), ns + np.arange(nm), [source]]).astype(
            np.int32
        ),
        np.concatenate([ns + graph.mentor, np.arange(ns), np.full(nm, sink), [sink]]).astype(
            np.int32
        ),
        np.concatenate([np.ones(ne + ns, np.int64), graph.capacity, [ns]]),
        np.concatenate([-(graph.score + big_m), np.zeros(ns + nm + 1, np.int64)]),
    )
    flow.set_node_supply(source, ns)
    flow.set_node_supply(sink, -ns)
    status = flow.solve()
    assert status == flow.OPTIMAL, status
    used = np.flatnonzero(flow.flows(np.arange(ne, dtype=np.int32)) > 0)
    return t1 - t0, time.perf_counter() - t1, graph, used


def run_scipy_lapjvsp(edges: Array, capacity: dict[int, int]) -> Result:
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    t0 = time.perf_counter()
    graph = matching._candidate_graph(edges, capacity, drop_negative=False)
    ns, ne = len(graph.student_ids), len(graph.student)
    big_m = 2 * min(ns, int(graph.capacity.sum())) * int(np.abs(graph.score).max()) + 1
    # rows: one per seat; columns: students, then one dummy per seat (that seat left empty).
    # Every seat must be matched (a *full* matching), so the dummies make it always feasible;
    # weights are shifted by +1 because an explicit 0 would be read as "no edge".
    seat_start = np.concatenate(([0], np.cumsum(graph.capacity)[:-1]))
    copies = graph.capacity[graph.mentor]
    edge_of_row = np.repeat(np.arange(ne), copies)
    offset = np.arange(len(edge_of_row)) - np.repeat(np.cumsum(copies) - copies, copies)
    rows = seat_start[graph.mentor[edge_of_row]] + offset
    n_seats = int(graph.capacity.sum())
    matrix = csr_array(
        (
            np.concatenate([(graph.score + big_m + 1)[edge_of_row], np.ones(n_seats)]),
            (
                np.concatenate([rows, np.arange(n_seats)]),
                np.concatenate([graph.student[edge_of_row], ns + np.arange(n_seats)]),
            ),
        ),
        shape=(n_seats, ns + n_seats),
    )
    seat_mentor = np.repeat(np.arange(len(graph.capacity)), graph.capacity)
    t1 = time.perf_counter()
    row, col = min_weight_full_bipartite_matching(matrix, maximize=True)
    real = col < ns
    pairs = col[real] * len(graph.mentor_ids) + seat_mentor[row[real]]
    used = np.flatnonzero(np.isin(graph.student * len(graph.mentor_ids) + graph.mentor, pairs))
    return t1 - t0, time.perf_counter() - t1, graph, used


def run_scipy_highs(edges: Array, capacity: dict[int, int], time_limit: float) -> Result:
    from scipy.optimize import linprog
    from scipy.sparse import csr_array, vstack

    t0 = time.perf_counter()
    graph = matching._candidate_graph(edges, capacity, drop_negative=False)
    ns, nm, ne = len(graph.student_ids), len(graph.mentor_ids), len(graph.student)
    big_m = 2 * min(ns, int(graph.capacity.sum())) * int(np.abs(graph.score).max()) + 1
    ones = np.ones(ne)
    a_ub = vstack(
        [
            csr_array((ones, (graph.student, np.arange(ne))), shape=(ns, ne)),
            csr_array((ones, (graph.mentor, np.arange(ne))), shape=(nm, ne)),
        ]
    ).tocsc()
    b_ub = np.concatenate([np.ones(ns), graph.capacity])
    t1 = time.perf_counter()
    result = linprog(
        -(graph.score + big_m).astype(float),
        A_ub=a_ub,
        b_ub=b_ub,
        bounds=(0, 1),
        method="highs",
        options={"time_limit": time_limit},
    )
    elapsed = time.perf_counter() - t1
    if result.x is None:
        raise TimeoutError(f"no solution after {elapsed:.0f} s ({result.message})")
    return t1 - t0, elapsed, graph, np.flatnonzero(result.x > 0.5)


def run_greedy(edges: Array, capacity: dict[int, int]) -> Result:
    t0 = time.perf_counter()
    graph = matching._candidate_graph(edges, capacity, drop_negative=False)
    t1 = time.perf_counter()
    used = matching._greedy_edges(graph)
    return t1 - t0, time.perf_counter() - t1, graph, used


def solvers(time_limit: float) -> dict[str, Callable[[Array, dict[int, int]], Result]]:
    return {
        "ortools": run_ortools,
        "ortools-whole": lambda e, c: run_ortools(e, c, pruning=None),
        "ortools-bigM": run_ortools_big_m,
        "scipy-lapjvsp": run_scipy_lapjvsp,
        "scipy-highs": lambda e, c: run_scipy_highs(e, c, time_limit),
        "greedy": run_greedy,
        "ortools-score": lambda e, c: run_ortools(e, c, maximise_matched=False),
    }


def child(name: str, path: str, capacity_each: int, time_limit: float) -> None:
    """One solver in this process: print its figures as one JSON line."""
    edges = np.load(path)
    capacity = {MENTOR_ID0 + m: capacity_each for m in range(N_MENTORS)}
    solve = solvers(time_limit)[name]
    baseline = rss_mb()
    build, elapsed, graph, used = solve(edges, capacity)
    peak = rss_mb()
    students = graph.student[used]
    assert len(np.unique(students)) == len(students), "a student matched twice"
    load = np.bincount(graph.mentor[used], minlength=len(graph.capacity))
    assert (load <= graph.capacity).all(), "a mentor over capacity"
    figures = {
        "build": build,
        "solve": elapsed,
        "rss": peak,
        "rss_before": baseline,
        "matched": len(used),
        "score": int(graph.score[used].sum()),
        "edges": len(edges),
        "pairs": len(graph.student),
    }
    del graph, used, students
    tracemalloc.start()
    solve(edges, capacity)
    figures["traced"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(json.dumps(figures))


def spawn(arguments: list[str]) -> dict[str, Any]:
    """Run this script with ``arguments`` in a fresh process; its last line of output, as JSON."""
    run = subprocess.run(
        [sys.executable, __file__, *arguments], capture_output=True, text=True, check=False
    )
    if run.returncode:
        raise RuntimeError((run.stderr.strip().splitlines() or ["?"])[-1])
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--capacity", type=int, default=3, help="seats per mentor")
    parser.add_argument("--all", action="store_true", help="also the (slow) HiGHS LP")
    parser.add_argument("--time-limit", type=float, default=120.0, help="for the HiGHS LP")
    parser.add_argument("--only", help="comma-separated solver names")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--generate", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        started = time.perf_counter()
        edges = generate(args.seed)
        seconds = time.perf_counter() - started
        np.save(args.generate, edges)
        print(json.dumps({"edges": len(edges), "seconds": seconds}))
        return
    if args.child:
        child(args.child, args.path, args.capacity, args.time_limit)
        return

    names = [n for n in solvers(args.time_limit) if args.all or n != "scipy-highs"]
    if args.only:
        names = args.only.split(",")
    if importlib.util.find_spec("scipy") is None:  # not a dependency of Passerelle itself
        print("scipy is not installed: its rows are skipped (pip install scipy to compare)")
        names = [n for n in names if not n.startswith("scipy")]
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "edges.npy")
        # The instance is made in a child too: a child's ru_maxrss starts from its parent's RSS
        # at fork time (Linux folds it in at exec), so this process must stay small.
        made = spawn(["--generate", path, "--seed", str(args.seed)])
        print(
            f"program: {N_STUDENTS:,} students, {N_MENTORS:,} mentors × {args.capacity} "
            f"seats, {made['edges']:,} edges (seed {args.seed}, generated in "
            f"{made['seconds']:.1f} s, not timed)"
        )
        print(
            f"{'solver':<15}{'build s':>9}{'solve s':>9}{'total s':>9}{'RSS MB':>9}"
            f"{'(input)':>9}{'traced MB':>11}{'matched':>9}{'score':>11}"
        )
        spawn(["--child", "greedy", "--path", path, "--capacity", str(args.capacity)])  # warm-up
        figures: dict[str, dict[str, Any]] = {}
        for name in names:
            try:
                f = spawn(
                    [
                        "--child",
                        name,
                        "--path",
                        path,
                        "--capacity",
                        str(args.capacity),
                        "--time-limit",
                        str(args.time_limit),
                    ]
                )
            except RuntimeError as failure:
                print(f"{name:<15} failed: {failure}")
                continue
            figures[name] = f
            print(
                f"{name:<15}{f['build']:>9.2f}{f['solve']:>9.2f}{f['build'] + f['solve']:>9.2f}"
                f"{f['rss']:>9.0f}{f['rss_before']:>9.0f}{f['traced']:>11.0f}"
                f"{f['matched']:>9,}{f['score']:>11,}"
            )
    chosen = figures.get("ortools")
    if chosen:
        print(
            f"distinct candidate pairs: {chosen['pairs']:,} "
            f"({chosen['pairs'] / N_STUDENTS:.1f} per student)"
        )
        total = chosen["build"] + chosen["solve"]
        print(
            f"chosen: OR-Tools SimpleMinCostFlow (solve_max_flow_with_min_cost) on a pruned "
            f"graph, checked against the whole one — build + solve {total:.2f} s "
            f"(target ≤ 5), peak RSS {chosen['rss']:.0f} MB (target ≤ 700)"
        )
        for name, f in figures.items():
            if name != "ortools-score" and name != "ortools" and name != "greedy":
                same = (f["matched"], f["score"]) == (chosen["matched"], chosen["score"])
                print(f"  {name}: same objective as the chosen solver: {same}")
        if "greedy" in figures:
            g = figures["greedy"]
            print(
                f"  greedy: {g['matched'] - chosen['matched']:+,} matched, "
                f"{g['score'] - chosen['score']:+,} score against the optimum"
            )


if __name__ == "__main__":
    main()
