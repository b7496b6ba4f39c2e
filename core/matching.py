"""Optimal student → mentor assignment, as a pure function of the candidate graph.

The matching round hands us a sparse candidate graph — ``(student_id, mentor_id, score)`` edges,
one per pair that survived filtering (field, language, availability…) — and each mentor's number
of free seats. :func:`assign` returns the best assignment; :func:`greedy_assign` is the baseline
it is measured against.

Objective (default, ``maximise_matched=True``): first the number of students matched, then the
total score (lexicographic). A mentor for everyone who can have one matters more than a better
mentor for a few; among assignments that match as many students as possible we take the one with
the highest total score. With ``maximise_matched=False`` the total score alone is maximised (a
student is left unmatched rather than given a negative-score edge), and among assignments of
equal score the one matching more students wins.

Why min-cost flow. The problem is a b-matching on a bipartite graph (each student ≤ 1 mentor,
mentor m ≤ capacity[m] students), i.e. a flow network source → student (cap 1) → mentor (cap 1,
cost −score) → sink (cap = capacity). Its constraint matrix is totally unimodular, so with
integral capacities a min-cost flow solver returns an integral optimum: every optimal flow of
value F *is* an assignment matching F students, and vice versa. The solution is exact, not a
heuristic, and the solver works on the sparse graph (~50 candidates per student), never on a
dense 70,000 × 2,500 matrix.

Solver, PICKED BY MEASUREMENT with ``tests/bench/bench_matching.py`` (70,000 students, 2,500
mentors × 3 seats, 3.78 M edges = 3.50 M distinct pairs, 50 per student, scores 0–100, seed 6;
2 cores shared with other jobs, so times vary by ±20 % from run to run; each solver in its own
process; RSS includes the 140 MB of interpreter, libraries and input edges; every solver reached
the same optimum, 7,500 matched, score 638,367):

================================================  =======  =======  ========  =========
solver (default objective)                         build    solve    peak RSS  Python heap
================================================  =======  =======  ========  =========
OR-Tools min-cost flow, pruned + checked (ours)     0.22 s   0.53 s    425 MB     268 MB
OR-Tools ``solve_max_flow_with_min_cost``, whole    0.22 s   3.2–4.3   651 MB     259 MB
OR-Tools ``solve`` with big-M costs, whole          0.20 s   3.4–4.5   554 MB     205 MB
SciPy ``min_weight_full_bipartite_matching``        2.2 s    1.3 s   1,042 MB     829 MB
SciPy ``linprog(method="highs")`` on the LP         1.1 s   104 s    3,399 MB   1,206 MB
greedy baseline (:func:`greedy_assign`)             0.22 s   0.45 s    373 MB     205 MB
================================================  =======  =======  ========  =========

("build" = canonicalising the candidate graph; "Python heap" = tracemalloc's peak, which sees
numpy but not OR-Tools' C++ allocations, hence the RSS column.) SciPy's sparse LAPJV only knows
*perfect one-to-one* matchings, so each mentor is cloned once per seat (edges × capacity) and
every seat gets an "empty seat" dummy: its memory grows with the capacities (7 GB and 129 s with
28 seats per mentor). HiGHS solves the LP generically, two orders of magnitude slower. OR-Tools'
cost-scaling min-cost flow keeps one arc per candidate pair whatever the capacities, and its
``solve_max_flow_with_min_cost`` is exactly our lexicographic objective without big-M costs
(as fast here, twice as fast with 28 seats per mentor: 7 s against 14 s, the big costs adding
cost-scaling phases): it is the solver. Solving the whole graph takes ~3.5 s of the
5 s budget, so we first solve a much smaller graph and *prove* its answer optimal (Pruning,
below); when the proof fails the whole graph is solved after all. The worst case is a program
with a seat for nearly everyone (``--capacity 28``: 70,000 seats), where no pruned graph can be
certified: then it costs the whole-graph solve plus one small round (~0.5 s): 6.4 s measured,
against 7.3 s for the whole graph alone in the same (loaded) run. ``maximise_matched=False``
costs 0.29 + 0.75 s on the main instance, 10.7 s in that worst case. The greedy baseline finds
the optimum on the main instance (9 students per seat: every mentor has plenty of excellent
candidates); with 28 seats per mentor it matches 767 students fewer (69,233 against 70,000) and
loses 112,513 points of score.

Lexicographic objective, proof. ``solve_max_flow_with_min_cost`` returns, among all feasible
flows of *maximum value*, one of minimum cost. Flows of value F are exactly the assignments that
match F students (integrality above), and the cost of such a flow is −(total score). So the
result matches the maximum possible number of students, and among those assignments has the
maximum total score — which is the lexicographic optimum by definition. No big-M is needed, so
costs stay in the scores' own small range (the big-M alternative, cost −(score + M) with
M = 2·K·max|score| + 1 where K bounds the number matched, is also correct — one more matched
student gains at least M − 2·K·max|score| > 0 — but its larger costs add cost-scaling phases:
up to twice slower, see above).

``maximise_matched=False``, proof. Negative-score edges are dropped (removing one from any
assignment raises its score, so no optimum uses one). Each remaining edge gets the weight
w = score·(K + 1) + 1, where K = the most students that can be matched, and a zero-cost
source → sink bypass lets the flow leave students unmatched; ``solve`` then minimises −Σw.
For an assignment with total score S matching k ≤ K students, Σw = (K + 1)·S + k with
0 ≤ k < K + 1, so comparing Σw compares S first and k only between equal S.

Pruning, proof. In a program with many more students than seats, a mentor with 3 seats and
1,400 candidates will never take the 1,000th. Each mentor m therefore keeps only its best
``2·capacity[m] + 2`` candidates (best score first; equal scores in a fixed scrambled order, see
:func:`_rank_by_mentor`), the pruned graph G' is solved exactly, and its solution x is accepted
for the whole graph G when every mentor m whose list was cut has a kept candidate t that x
leaves unmatched. Why that proves x optimal: both objectives are a maximum-weight b-matching with
positive weights that grow with the score (w = M + score by default, M large as above;
w = score·(K + 1) + 1 otherwise). Its LP, max Σ w·x subject to Σ_m x[s, m] ≤ 1 per student and
Σ_s x[s, m] ≤ capacity[m] per mentor, has integral optima (total unimodularity), so x, optimal on
G', is LP-optimal on G', and G' has an optimal dual (u ≥ 0 per student, v ≥ 0 per mentor,
u[s] + v[m] ≥ w[s, m] on every edge of G') satisfying complementary slackness with x. The
unmatched t has u[t] = 0, so v[m] ≥ w[t, m]; every cut edge (s, m) ranks below t in m's list, so
w[s, m] ≤ w[t, m] ≤ v[m] ≤ u[s] + v[m]. Mentors whose list was not cut have all their edges in G'.
So (u, v) is dual-feasible for G as well, with the same objective value as x, which is feasible
in G: by weak duality x is optimal on G. When the check fails for some mentors their lists grow
(×4, and every cut list ×2 from the second round) and G' is solved again; after
``Pruning.max_rounds`` failed rounds, or when over a quarter of the cut mentors fail (a seat for
nearly everyone: few unmatched students anywhere), the whole graph is solved. Lists only grow,
so this ends, and the answer is exact whichever way it ends.

Determinism. The input is canonicalised before the graph is built: ids are mapped to dense
indices in increasing id order, duplicate pairs are collapsed to their best score, and arcs are
added in (student, mentor) order. Any permutation of the same edges (and any duplication of a
pair with at most its best score) therefore yields the very same arc arrays, and OR-Tools'
min-cost flow is a single-threaded deterministic algorithm, so the same assignment comes back.
The pruning depends on the canonical graph only, so it changes nothing to this.

This module is pure: numpy and OR-Tools (computation libraries), no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt
from ortools.graph.python import min_cost_flow

Edges = Iterable[tuple[int, int, int]] | npt.NDArray[np.integer]
"""Candidate edges: an iterable of ``(student_id, mentor_id, score)`` integer triples, or an
``(n, 3)`` integer numpy array with the same columns (the fast path for large programs: building
3.5 M Python tuples alone costs seconds)."""


_EdgeIndices = npt.NDArray[np.int64]
"""Indices of edges of a :class:`_Graph`."""

_GREEDY_CHUNK: Final = 1 << 16
"""Edges turned into Python ints at a time by the greedy baseline."""

_INT64_SAFE: Final = 2**62
"""Bound on |cost| we hand to OR-Tools. Its cost scaling multiplies costs by (nodes + 1) and
checks for overflow itself (``BAD_COST_RANGE``); we also refuse to build costs that would
overflow int64 in numpy, where wrap-around would be silent."""


class Pruning(NamedTuple):
    """How the pruned graph starts and when to give up on it (see Pruning above)."""

    factor: int = 2
    """Each mentor first keeps its ``factor·capacity + extra`` best candidates…"""
    extra: int = 2
    max_rounds: int = 4
    """…failed checks after which the whole graph is solved instead…"""
    hopeless: float = 0.25
    """…or at once when more than this share of the truncated mentors fail the check."""


PRUNING: Final = Pruning()


class _Graph:
    """The canonical candidate graph: dense indices, one edge per pair (best score), sorted."""

    __slots__ = ("capacity", "mentor_ids", "mentor", "score", "student", "student_ids")

    def __init__(
        self,
        student_ids: npt.NDArray[np.int64],
        mentor_ids: npt.NDArray[np.int64],
        capacity: npt.NDArray[np.int64],
        student: npt.NDArray[np.int64],
        mentor: npt.NDArray[np.int64],
        score: npt.NDArray[np.int64],
    ) -> None:
        self.student_ids = student_ids  # dense student index → id (increasing)
        self.mentor_ids = mentor_ids  # dense mentor index → id (increasing)
        self.capacity = capacity  # per dense mentor index, ≥ 1
        self.student = student  # per edge, sorted by (student, mentor), no duplicate pair
        self.mentor = mentor
        self.score = score


def _edge_array(edges: Edges) -> npt.NDArray[np.int64]:
    """The edges as an (n, 3) int64 array, without copying an int64 array that already is one."""
    if isinstance(edges, np.ndarray):
        array = edges
        if array.size == 0:
            return np.empty((0, 3), dtype=np.int64)
    else:
        rows = list(edges)
        if not rows:
            return np.empty((0, 3), dtype=np.int64)
        # No dtype forced: a float (2.5) must be refused, not truncated. Ints beyond int64 give
        # an object array, refused the same way: nothing sensible can be done with them.
        array = np.array(rows)
    if array.dtype.kind not in "iu":
        raise TypeError(f"edges must be integer (student_id, mentor_id, score), not {array.dtype}")
    if array.dtype == np.uint64 and array.size and array.max() > np.iinfo(np.int64).max:
        raise OverflowError("edges hold values beyond int64")
    if array.ndim != 2 or array.shape[1] != 3:
        raise ValueError(f"edges must have shape (n, 3), got {array.shape}")
    return array.astype(np.int64, copy=False)


def _compact(ids: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(sorted unique ids, index of each id in them) — ``np.unique(return_inverse=True)``.

    Database ids are dense, so when their span is small a presence table does it in O(n + span)
    without a sort; otherwise fall back to ``np.unique``.
    """
    low, high = int(ids.min()), int(ids.max())
    span = high - low + 1
    if span <= 4 * len(ids) + 65_536:
        present = np.zeros(span, dtype=bool)
        offsets = ids - low
        present[offsets] = True
        rank = np.cumsum(present, dtype=np.int64) - 1
        return np.flatnonzero(present).astype(np.int64) + low, rank[offsets]
    unique, inverse = np.unique(ids, return_inverse=True)
    return unique.astype(np.int64), inverse.astype(np.int64).reshape(-1)


def _candidate_graph(
    edges: Edges, capacity: Mapping[int, int], *, drop_negative: bool
) -> _Graph | None:
    """Canonicalise the input (see Determinism in the module docstring); None if no edge is usable.

    Edges to mentors without a seat (capacity 0 or absent) can never be used, so they are dropped
    before anything else, as are negative-score edges when ``drop_negative``.
    """
    array = _edge_array(edges)
    if len(array) == 0:
        return None
    mentor_ids, mentor = _compact(array[:, 1])
    seats = np.fromiter(
        (_seats(capacity, int(m)) for m in mentor_ids), dtype=np.int64, count=len(mentor_ids)
    )
    keep = seats[mentor] > 0
    if drop_negative:
        keep &= array[:, 2] >= 0
    if not keep.all():
        array, mentor = array[keep], mentor[keep]
        if len(array) == 0:
            return None
        # Re-index the mentors that still have an edge, so that no node is idle.
        used, mentor = _compact(mentor)
        mentor_ids, seats = mentor_ids[used], seats[used]
    student_ids, student = _compact(array[:, 0])
    score = array[:, 2]
    n_mentors = len(mentor_ids)
    pair = student * n_mentors + mentor  # < 2^63: both factors are < the number of edges
    low, high = int(score.min()), int(score.max())
    score_span = high - low + 1
    if (len(student_ids) * n_mentors) * score_span < _INT64_SAFE:
        # One int64 sort of (pair, score) packed together: sorted by pair, and the last row of a
        # pair holds its best score. Several times faster than a lexsort of 3.5 M rows.
        packed = pair * score_span + (score - low)
        packed.sort()
        pair, best = np.divmod(packed, score_span)
        best += low
    else:  # scores too spread out to pack: sort by pair, then score
        order = np.lexsort((score, pair))
        pair, best = pair[order], score[order]
    last = np.empty(len(pair), dtype=bool)
    last[-1] = True
    np.not_equal(pair[1:], pair[:-1], out=last[:-1])
    pair, best = pair[last], best[last]
    student, mentor = np.divmod(pair, n_mentors)
    # A mentor never takes more students than it has candidates: clipping keeps the capacities
    # (and so OR-Tools' flow bounds) small whatever the caller passes.
    seats = np.minimum(seats, np.bincount(mentor, minlength=n_mentors))
    return _Graph(student_ids, mentor_ids, seats, student, mentor, best)


def _seats(capacity: Mapping[int, int], mentor_id: int) -> int:
    seats = capacity.get(mentor_id, 0)
    if seats < 0:
        raise ValueError(f"mentor {mentor_id} has a negative capacity ({seats})")
    return int(seats)


def assign(
    edges: Edges, capacity: Mapping[int, int], *, maximise_matched: bool = True
) -> dict[int, int]:
    """The optimal assignment ``{student_id: mentor_id}`` for a candidate graph.

    ``edges``: ``(student_id, mentor_id, score)`` integer triples, or an ``(n, 3)`` integer numpy
    array (fast path). Scores are taken as given integers and may be negative (a poor but
    possible match); with the default objective a negative edge is still used when it lets one
    more student be matched. Scores must stay well inside int64 once multiplied by the number of
    students (|score| ≤ 10^9 is always fine); a ValueError says so otherwise. Duplicate pairs
    count once, with their best score.

    ``capacity``: mentor id → number of students the mentor can take (≥ 0). A mentor absent from
    it has capacity 0; a negative capacity is a ValueError.

    Every student gets at most one mentor and no mentor more than its capacity. The objective
    (lexicographic: students matched, then total score; or total score, then students matched
    with ``maximise_matched=False``), its proof, the solver and determinism are explained in
    the module docstring.
    """
    return _assign(edges, capacity, maximise_matched=maximise_matched, pruning=PRUNING)


def _assign(
    edges: Edges,
    capacity: Mapping[int, int],
    *,
    maximise_matched: bool,
    pruning: Pruning | None,
) -> dict[int, int]:
    """:func:`assign` with the pruning settings as a parameter (None: solve the whole graph).

    For the tests, which prune down to one candidate per mentor and never give up so that every
    branch of the check-and-grow loop runs on small instances, and for the benchmark, which
    compares with the whole graph.
    """
    graph = _candidate_graph(edges, capacity, drop_negative=not maximise_matched)
    if graph is None:
        return {}
    return _as_dict(
        graph, _optimal_edges(graph, maximise_matched=maximise_matched, pruning=pruning)
    )


def _as_dict(graph: _Graph, used: _EdgeIndices) -> dict[int, int]:
    """``{student_id: mentor_id}`` for the edges ``used``, as plain Python ints."""
    return dict(
        zip(
            graph.student_ids[graph.student[used]].tolist(),
            graph.mentor_ids[graph.mentor[used]].tolist(),
            strict=True,
        )
    )


def _optimal_edges(
    graph: _Graph, *, maximise_matched: bool, pruning: Pruning | None
) -> _EdgeIndices:
    """Which edges of ``graph`` an optimal assignment uses: solve a pruned graph, check, grow.

    Each mentor keeps its ``factor·capacity + extra`` best candidates. The pruned solution is
    optimal for the whole graph as soon as every truncated mentor has a kept candidate left
    unmatched (proof: Pruning, in the module docstring); otherwise the lists grow and the pruned
    graph is solved again, or the whole graph is solved: when ``pruning`` is None, after
    ``max_rounds`` failures, when the ``hopeless`` share of failures is passed, or once the kept
    edges would be half of the graph.
    """
    n_students, n_mentors = len(graph.student_ids), len(graph.mentor_ids)
    degree = np.bincount(graph.mentor, minlength=n_mentors)
    most_matched = min(n_students, int(graph.capacity.sum()))
    if not maximise_matched and (
        int(np.abs(graph.score).max()) * (most_matched + 1) + 1 >= _INT64_SAFE
    ):
        raise ValueError("scores too large to weigh against the number of students matched")
    if pruning is None:
        keep = degree.copy()
    else:
        first = pruning.factor * graph.capacity + pruning.extra
        keep = np.minimum(degree, np.maximum(1, first))
    rank = _rank_by_mentor(graph) if (keep < degree).any() else None
    rounds = 0
    while True:
        if rank is None or not (keep < degree).any():
            return _solve(graph, None, maximise_matched, most_matched)
        kept = np.flatnonzero(rank < keep[graph.mentor])
        used = _solve(graph, kept, maximise_matched, most_matched)
        matched = np.zeros(n_students, dtype=bool)
        matched[graph.student[used]] = True
        has_open_candidate = np.zeros(n_mentors, dtype=bool)
        has_open_candidate[graph.mentor[kept[~matched[graph.student[kept]]]]] = True
        truncated = keep < degree
        failing = truncated & ~has_open_candidate
        if not failing.any():
            return used
        rounds += 1
        assert pruning is not None  # (nothing is truncated without it)
        if rounds > pruning.max_rounds or failing.sum() > pruning.hopeless * truncated.sum():
            # Seats for nearly everyone (few unmatched students anywhere) or a long chase:
            # the certificate will not come cheaply, the whole graph is the faster way.
            keep = degree
            continue
        # Growing only the failing lists can ping-pong (a student pushed out of one list is
        # missing from the next): from the second round on every truncated list grows too.
        if rounds > 1:
            keep[truncated] = np.minimum(degree[truncated], 2 * keep[truncated])
        keep[failing] = np.minimum(degree[failing], 4 * keep[failing])
        if 2 * int(keep.sum()) >= len(graph.student):
            keep = degree


def _rank_by_mentor(graph: _Graph) -> npt.NDArray[np.int64]:
    """Per edge, its rank among its mentor's candidates: best score first.

    Equal scores are ordered by a fixed scramble of (student, mentor), not by student id: ranking
    ties by id would put the same low-id students at the top of every list they are on, they
    can take one mentor only, and the pruning check would keep failing. For a given mentor the
    scramble is a bijection of the student index (an odd multiplier modulo a power of two ≥ the
    number of students), so the order is total and depends on the graph only.
    """
    n_students, n_mentors = len(graph.student_ids), len(graph.mentor_ids)
    bits = max(1, (n_students - 1).bit_length())
    scramble = (
        graph.student.astype(np.uint64) * np.uint64(0x9E3779B1)
        + graph.mentor.astype(np.uint64) * np.uint64(0x7FEB352D)
    ) & np.uint64((1 << bits) - 1)
    scramble = scramble.astype(np.int64)
    high = int(graph.score.max())
    score_span = high - int(graph.score.min()) + 1
    if (n_mentors * score_span) << bits < _INT64_SAFE:  # one packed int64 sort, as above
        packed = ((graph.mentor * score_span + (high - graph.score)) << bits) | scramble
        order = np.argsort(packed)
    else:
        order = np.lexsort((scramble, -graph.score, graph.mentor))
    ends = np.cumsum(np.bincount(graph.mentor, minlength=n_mentors))
    first_of_mentor = np.concatenate(([0], ends[:-1]))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - first_of_mentor[graph.mentor[order]]
    return rank


def _solve(
    graph: _Graph,
    kept: npt.NDArray[np.int64] | None,
    maximise_matched: bool,
    most_matched: int,
) -> _EdgeIndices:
    """Min-cost flow on the edges ``kept`` of ``graph`` (all if None): which edges carry flow.

    Network: source → student (capacity 1) → mentor (capacity 1, cost below) → sink (capacity =
    seats). Default objective: ``solve_max_flow_with_min_cost`` with cost −score. Otherwise
    weight score·(most_matched + 1) + 1, cost −weight, plus a zero-cost source → sink bypass so
    that students may stay unmatched, and ``solve`` (proofs in the module docstring).
    """
    n_mentors = len(graph.mentor_ids)
    if kept is None:
        student, mentor, score = graph.student, graph.mentor, graph.score
    else:
        student, mentor, score = graph.student[kept], graph.mentor[kept], graph.score[kept]
    # Only the students with a kept edge become nodes; the same increasing order as their ids.
    if kept is None:
        n_students = len(graph.student_ids)
    else:
        present, student = _compact(student)
        n_students = len(present)
    n_edges = len(student)
    source, sink = n_students + n_mentors, n_students + n_mentors + 1
    # Arc order: the candidate edges first (arc i = edge i), then source → students, then
    # mentors → sink, then (when students may stay unmatched) the bypass.
    tails = [student, np.full(n_students, source), n_students + np.arange(n_mentors)]
    heads = [n_students + mentor, np.arange(n_students), np.full(n_mentors, sink)]
    capacities = [np.ones(n_edges + n_students, dtype=np.int64), graph.capacity]
    if maximise_matched:
        costs = [-score, np.zeros(n_students + n_mentors, dtype=np.int64)]
    else:
        costs = [-(score * (most_matched + 1) + 1), np.zeros(n_students + n_mentors + 1, np.int64)]
        tails.append(np.array([source]))
        heads.append(np.array([sink]))
        capacities.append(np.array([n_students], dtype=np.int64))
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(
        np.concatenate(tails).astype(np.int32),
        np.concatenate(heads).astype(np.int32),
        np.concatenate(capacities),
        np.concatenate(costs),
    )
    flow.set_node_supply(source, n_students)
    flow.set_node_supply(sink, -n_students)
    status = flow.solve_max_flow_with_min_cost() if maximise_matched else flow.solve()
    if status != min_cost_flow.SimpleMinCostFlow.OPTIMAL:
        raise ValueError(f"min-cost flow failed ({status.name}): are the scores too large?")
    carries = flow.flows(np.arange(n_edges, dtype=np.int32)) > 0
    return np.flatnonzero(carries) if kept is None else kept[carries]


def greedy_assign(
    edges: Edges, capacity: Mapping[int, int], *, maximise_matched: bool = True
) -> dict[int, int]:
    """The baseline: take edges by decreasing score, keeping each one that still fits.

    Ties are broken by (student id, mentor id), so the result does not depend on edge order.
    With ``maximise_matched=False`` negative-score edges are skipped, as :func:`assign` does;
    otherwise they are taken last, since a poor match still counts as a match. Not optimal on
    either objective (a student taking a contested mentor may leave another with none); it
    exists to measure what the optimiser gains.
    """
    graph = _candidate_graph(edges, capacity, drop_negative=not maximise_matched)
    if graph is None:
        return {}
    return _as_dict(graph, _greedy_edges(graph))


def _greedy_edges(graph: _Graph) -> _EdgeIndices:
    """The edges the greedy baseline takes (see :func:`greedy_assign`)."""
    order = _greedy_order(graph)
    seats = graph.capacity.tolist()
    free_seats = sum(seats)
    taken = [False] * len(graph.student_ids)
    chosen: list[int] = []
    # In chunks: once every seat is filled (usually long before the end of 3.5 M edges) the
    # rest is never turned into Python ints.
    for begin in range(0, len(order), _GREEDY_CHUNK):
        chunk = order[begin : begin + _GREEDY_CHUNK].tolist()
        for edge, student, mentor in zip(
            chunk, graph.student[chunk].tolist(), graph.mentor[chunk].tolist(), strict=True
        ):
            if taken[student] or not seats[mentor]:
                continue
            taken[student] = True
            seats[mentor] -= 1
            chosen.append(edge)
            free_seats -= 1
            if not free_seats:
                return np.array(chosen, dtype=np.int64)
    return np.array(chosen, dtype=np.int64)


def _greedy_order(graph: _Graph) -> _EdgeIndices:
    """Edge indices by decreasing score, then student, then mentor (a packed sort if it fits)."""
    n_edges = len(graph.student)
    high = int(graph.score.max())
    if (high - int(graph.score.min()) + 1) * n_edges < _INT64_SAFE:
        # the edges are sorted by (student, mentor) already: their index is that tie-break
        return np.argsort((high - graph.score) * n_edges + np.arange(n_edges))
    return np.lexsort((graph.mentor, graph.student, -graph.score))
