"""The optimiser against brute force, its edge cases, its determinism and the greedy baseline."""

from __future__ import annotations

import functools
import random
from collections.abc import Iterable, Mapping

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.matching import PRUNING, Pruning, _assign, assign, greedy_assign

Edge = tuple[int, int, int]

STUDENTS = [101, 102, 103, 104, 105, 106]
CHASE = Pruning(factor=0, extra=1, max_rounds=1_000, hopeless=1.0)
"""One candidate per mentor at first, and never give up: every growth round gets exercised."""
MENTORS = [7, 8, 9, 10]


@st.composite
def instances(draw: st.DrawFn) -> tuple[list[Edge], dict[int, int]]:
    """Up to 6 students, 4 mentors, capacities 0–3 (some mentors absent), scores −5..20.

    Duplicate pairs are allowed on purpose: the best score must count.
    """
    pairs = [(s, m) for s in STUDENTS for m in MENTORS]
    chosen = draw(st.lists(st.sampled_from(pairs), max_size=16))
    edges = [(s, m, draw(st.integers(-5, 20))) for s, m in chosen]
    capacity = {
        m: draw(st.integers(0, 3)) for m in MENTORS if draw(st.booleans()) or m == MENTORS[0]
    }
    return edges, capacity


def best_scores(edges: Iterable[Edge]) -> dict[tuple[int, int], int]:
    best: dict[tuple[int, int], int] = {}
    for s, m, score in edges:
        best[(s, m)] = max(score, best.get((s, m), score))
    return best


def brute_force(edges: list[Edge], capacity: Mapping[int, int], *, matched_first: bool) -> tuple:
    """The best objective over every feasible assignment, by exhaustive search.

    Objective as a tuple compared lexicographically: (matched, score) by default, (score,
    matched) for ``maximise_matched=False`` — the tie-break documented in core.matching.
    """
    best = best_scores(edges)
    students = sorted({s for s, _ in best})
    options = {s: [(m, sc) for (t, m), sc in sorted(best.items()) if t == s] for s in students}

    @functools.cache
    def search(i: int, seats: tuple[tuple[int, int], ...]) -> tuple[int, int]:
        if i == len(students):
            return (0, 0)
        left = dict(seats)
        results = [search(i + 1, seats)]  # this student unmatched
        for mentor, score in options[students[i]]:
            if left.get(mentor, 0) > 0:
                after = tuple(sorted({**left, mentor: left[mentor] - 1}.items()))
                matched, total = search(i + 1, after)
                results.append((matched + 1, total + score))
        return max(results, key=lambda r: r if matched_first else (r[1], r[0]))

    matched, total = search(0, tuple(sorted((m, c) for m, c in capacity.items() if c > 0)))
    return (matched, total) if matched_first else (total, matched)


def objective(
    result: Mapping[int, int],
    edges: list[Edge],
    capacity: Mapping[int, int],
    *,
    matched_first: bool,
) -> tuple[int, int]:
    """The objective of an assignment, after checking that it is feasible."""
    best = best_scores(edges)
    assert all((s, m) in best for s, m in result.items()), "an assigned pair is not an edge"
    for mentor in set(result.values()):
        assert list(result.values()).count(mentor) <= capacity.get(mentor, 0), "over capacity"
    assert all(type(s) is int and type(m) is int for s, m in result.items())
    total = sum(best[pair] for pair in result.items())
    return (len(result), total) if matched_first else (total, len(result))


@settings(max_examples=150, deadline=None)
@given(instance=instances(), matched_first=st.booleans())
def test_assign_is_optimal_against_brute_force(
    instance: tuple[list[Edge], dict[int, int]], matched_first: bool
) -> None:
    edges, capacity = instance
    expected = brute_force(edges, capacity, matched_first=matched_first)
    # The default, the whole graph without pruning, and pruning down to one candidate per
    # mentor that never gives up (so that the check-and-grow loop runs): all reach the optimum.
    for pruning in (PRUNING, None, CHASE):
        result = _assign(edges, capacity, maximise_matched=matched_first, pruning=pruning)
        assert objective(result, edges, capacity, matched_first=matched_first) == expected
        if not matched_first:
            assert all(best_scores(edges)[pair] >= 0 for pair in result.items())


@settings(max_examples=100, deadline=None)
@given(instance=instances(), matched_first=st.booleans())
def test_greedy_is_feasible_and_never_beats_assign(
    instance: tuple[list[Edge], dict[int, int]], matched_first: bool
) -> None:
    edges, capacity = instance
    optimal = assign(edges, capacity, maximise_matched=matched_first)
    greedy = greedy_assign(edges, capacity, maximise_matched=matched_first)
    assert objective(greedy, edges, capacity, matched_first=matched_first) <= objective(
        optimal, edges, capacity, matched_first=matched_first
    )


@settings(max_examples=60, deadline=None)
@given(instance=instances(), matched_first=st.booleans(), seed=st.integers(0, 2**32))
def test_same_edges_in_any_order_give_the_same_assignment(
    instance: tuple[list[Edge], dict[int, int]], matched_first: bool, seed: int
) -> None:
    edges, capacity = instance
    shuffled = edges[:]
    random.Random(seed).shuffle(shuffled)
    # a worse duplicate of a pair changes nothing either
    shuffled += [(s, m, score - 3) for s, m, score in edges[:2]]
    reordered_capacity = dict(reversed(list(capacity.items())))
    for solver in (assign, greedy_assign):
        first = solver(edges, capacity, maximise_matched=matched_first)
        assert solver(shuffled, reordered_capacity, maximise_matched=matched_first) == first
        as_array = np.array(shuffled, dtype=np.int64).reshape(-1, 3)
        assert solver(as_array, capacity, maximise_matched=matched_first) == first


def test_determinism_on_a_tie_heavy_instance() -> None:
    """Many equal scores: the tie is broken the same way whatever the edge order."""
    edges = [(s, m, 5) for s in range(1, 41) for m in range(1, 6)]
    capacity = {m: 2 for m in range(1, 6)}
    first = assign(edges, capacity)
    assert len(first) == 10
    for seed in range(5):
        shuffled = edges[:]
        random.Random(seed).shuffle(shuffled)
        assert assign(shuffled, capacity) == first


def test_empty_input() -> None:
    assert assign([], {1: 3}) == {}
    assert assign(iter(()), {}) == {}
    assert assign(np.empty((0, 3), dtype=np.int64), {1: 3}) == {}
    assert greedy_assign([], {1: 3}) == {}


def test_zero_capacity_and_a_mentor_missing_from_capacity_take_nobody() -> None:
    edges = [(1, 10, 50), (1, 11, 40), (1, 12, 1), (2, 10, 30)]
    assert assign(edges, {10: 0, 12: 1}) == {1: 12}  # 11 is absent: capacity 0
    assert assign(edges, {10: 0, 11: 0}) == {}
    assert greedy_assign(edges, {10: 0, 12: 1}) == {1: 12}


def test_more_mentors_than_students() -> None:
    edges = [(1, m, m) for m in range(10, 20)] + [(2, 15, 100)]
    capacity = {m: 1 for m in range(10, 20)}
    assert assign(edges, capacity) == {1: 19, 2: 15}


def test_isolated_students_stay_unmatched() -> None:
    edges = [(1, 10, 5), (2, 11, 7), (3, 12, 9)]  # 2 and 3 only know mentors without a seat
    assert assign(edges, {10: 2, 11: 0}) == {1: 10}


def test_duplicate_edges_keep_the_best_score() -> None:
    edges = [(1, 10, 5), (2, 10, 30), (1, 10, 50), (1, 10, -4)]
    assert assign(edges, {10: 1}) == {1: 10}  # 50 beats 30; the first or last copy would not
    assert greedy_assign(edges, {10: 1}) == {1: 10}


def test_capacity_is_respected_and_the_best_students_are_taken() -> None:
    edges = [(s, 10, s) for s in range(1, 8)]
    assert assign(edges, {10: 3}) == {5: 10, 6: 10, 7: 10}


def test_matched_first_differs_from_score_only() -> None:
    """Mentor A is the only one student 2 can have; student 1 could settle for B."""
    edges = [(1, 100, 10), (1, 200, 1), (2, 100, 2)]
    capacity = {100: 1, 200: 1}
    assert assign(edges, capacity) == {1: 200, 2: 100}  # 2 matched, score 3
    assert assign(edges, capacity, maximise_matched=False) == {1: 100}  # score 10
    assert greedy_assign(edges, capacity) == {1: 100}  # the greedy takes the 10 first


def test_negative_scores() -> None:
    edges = [(1, 100, 10), (2, 100, 9), (2, 200, -5)]
    capacity = {100: 1, 200: 1}
    # a poor match is still a match by default …
    assert assign(edges, capacity) == {1: 100, 2: 200}
    # … but never when only the score counts
    assert assign(edges, capacity, maximise_matched=False) == {1: 100}
    assert greedy_assign(edges, capacity, maximise_matched=False) == {1: 100}
    assert assign([(1, 100, -3)], {100: 1}, maximise_matched=False) == {}


def test_zero_score_edges_are_taken_when_they_cost_nothing() -> None:
    edges = [(1, 100, 0), (2, 100, 4), (3, 200, 0)]
    assert assign(edges, {100: 1, 200: 1}, maximise_matched=False) == {2: 100, 3: 200}


def test_large_ids_and_sparse_id_ranges() -> None:
    big = 2**40
    edges = [(big, 3, 1), (big + 7, 3, 2), (5, 2**50, 9)]
    assert assign(edges, {3: 1, 2**50: 1}) == {big + 7: 3, 5: 2**50}


def test_numpy_array_input_of_any_integer_dtype() -> None:
    edges = np.array([[1, 10, 5], [2, 10, 7], [2, 11, 1]], dtype=np.int32)
    assert assign(edges, {10: 1, 11: 1}) == {1: 10, 2: 11}
    result = assign(edges, {10: 1, 11: 1})
    assert all(type(k) is int and type(v) is int for k, v in result.items())


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="negative capacity"):
        assign([(1, 10, 5)], {10: -1})
    with pytest.raises(ValueError, match="shape"):
        assign(np.zeros((3, 2), dtype=np.int64), {})
    with pytest.raises(TypeError):
        assign(np.zeros((3, 3), dtype=np.float64), {})
    with pytest.raises(TypeError):
        assign([(1, 10, 2.5)], {10: 1})  # type: ignore[list-item]
    with pytest.raises(TypeError):
        assign([(2**70, 10, 1)], {10: 1})  # beyond int64
    with pytest.raises(ValueError):
        assign([(1, 10, 1), (2, 10)], {10: 1})  # type: ignore[list-item]
    with pytest.raises(ValueError, match="too large"):
        assign([(1, 10, 2**61), (2, 10, 1)], {10: 2}, maximise_matched=False)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("matched_first", [True, False])
def test_pruning_agrees_with_the_whole_graph_on_mid_size_instances(
    seed: int, matched_first: bool
) -> None:
    """Hundreds of students competing for few seats: the pruned graph must grow and still agree.

    Seat counts range from scarce to plentiful so that the check fails in some runs (plentiful
    seats match nearly everyone, so truncated lists run out of unmatched students).
    """
    rng = np.random.default_rng(seed)
    n_students, n_mentors = 300, 25
    students = np.repeat(np.arange(n_students), 8)
    mentors = rng.integers(0, n_mentors, len(students))
    scores = rng.integers(-10 if matched_first else 0, 30, len(students))
    edges = np.column_stack([students, mentors, scores])
    capacity = {m: int(c) for m, c in enumerate(rng.integers(0, 4 + 6 * seed, n_mentors))}
    whole = _assign(edges, capacity, maximise_matched=matched_first, pruning=None)
    as_tuples = [tuple(row) for row in edges.tolist()]
    for pruning in (CHASE, PRUNING, Pruning(max_rounds=0)):
        pruned = _assign(edges, capacity, maximise_matched=matched_first, pruning=pruning)
        assert objective(pruned, as_tuples, capacity, matched_first=matched_first) == objective(
            whole, as_tuples, capacity, matched_first=matched_first
        )
    greedy = greedy_assign(edges, capacity, maximise_matched=matched_first)
    assert objective(greedy, as_tuples, capacity, matched_first=matched_first) <= objective(
        whole, as_tuples, capacity, matched_first=matched_first
    )
