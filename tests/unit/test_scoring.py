"""MentorPool on hand-built cards (no database): the hard filters, each weighted part of the
score, the order of the suggestions, and a property against a plain-Python reference scorer.

Fields are the real ones (config/fields.toml): health and social are neighbours (group "health"),
computing, science and environment too (group "science"); arts has no neighbour.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bots.catalogs import load_fields
from core.fields import FieldList
from core.scoring import MentorCard, MentorPool, Rules, StudentCard, Suggestion, Weights

FIELDS: FieldList = load_fields()
FIELD_KEYS = tuple(f.key for f in FIELDS)
GROUP = {f.key: f.group or f.key for f in FIELDS}
PARTS = ("same_field", "neighbour_field", "shared_interests", "region", "availability", "load")
RULES = Rules()
WEIGHTS = Weights()


def mentor(id: int, *fields: str, **changes: Any) -> MentorCard:
    """A vetted, free, French-speaking professional (capacity 4, nobody yet)."""
    card = MentorCard(id=id, pseudonym=f"M{id}", kind="professional", profession="métier",
                      years=5, fields=fields or ("health",), language="fr", capacity=4, load=0)
    return dataclasses.replace(card, **changes)


def student(*fields: str, **changes: Any) -> StudentCard:
    card = StudentCard(id=10_000, age=16, fields=fields or ("health",), language="fr")
    return dataclasses.replace(card, **changes)


def pool(*mentors: MentorCard) -> MentorPool:
    return MentorPool(list(mentors), FIELDS)


def ids(found: list[Suggestion]) -> list[int]:
    return [s.mentor.id for s in found]


def by_id(found: list[Suggestion]) -> dict[int, Suggestion]:
    return {s.mentor.id: s for s in found}


# hard filters ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("why", "changes", "who"),
    [
        ("not vetted", {"vetted": False}, {}),
        ("paused", {"paused": True}, {}),
        ("at capacity", {"capacity": 2, "load": 2}, {}),
        ("over capacity (capacity lowered)", {"capacity": 1, "load": 3}, {}),
        ("no capacity at all", {"capacity": 0, "load": 0}, {}),
        ("another language", {"language": "en"}, {}),
        ("the student speaks another language", {}, {"language": "en"}),
        ("a peer for a 15-year-old", {"kind": "peer"}, {"age": 15}),
        ("a peer for a 14-year-old", {"kind": "peer"}, {"age": 14}),
    ],
)
def test_a_hard_filter_excludes_a_mentor(why: str, changes: dict[str, Any],
                                         who: dict[str, Any]) -> None:
    ok, barred = mentor(1), mentor(2, **changes)
    kid = student(**who)
    p = pool(ok, barred)
    eligible = p.eligible(kid, RULES)
    assert eligible.tolist()[1] is False, why
    found = p.suggest(kid, WEIGHTS, RULES)
    assert 2 not in ids(found), why
    if kid.language == "fr":
        assert ids(found) == [1], why  # the filter removes that mentor, nobody else


def test_peers_mentor_students_from_the_minimum_age() -> None:
    p = pool(mentor(1, kind="peer"), mentor(2, kind="representative"), mentor(3))
    assert p.eligible(student(age=16), RULES).tolist() == [True, True, True]
    assert p.eligible(student(age=17), RULES).tolist() == [True, True, True]
    assert p.eligible(student(age=15), RULES).tolist() == [False, True, True]
    stricter = Rules(peer_min_age=18)
    assert p.eligible(student(age=17), stricter).tolist() == [False, True, True]
    assert ids(p.suggest(student(age=17), WEIGHTS, stricter)) == [2, 3]


def test_an_empty_pool_suggests_nobody() -> None:
    p = pool()
    assert p.eligible(student(), RULES).tolist() == []
    assert p.suggest(student(), WEIGHTS, RULES) == []


# the parts of the score ------------------------------------------------------------------------

def test_same_field_beats_neighbouring_field_beats_nothing() -> None:
    p = pool(mentor(1, "arts"), mentor(2, "social"), mentor(3, "health"), mentor(4, "law"))
    found = p.suggest(student("health"), WEIGHTS, RULES)
    assert ids(found) == [3, 2]  # arts and law share nothing: never suggested
    same, near = found
    assert (same.parts["same_field"], same.parts["neighbour_field"]) == (40, 0)
    assert (near.parts["same_field"], near.parts["neighbour_field"]) == (0, 15)
    assert (same.same_fields, same.neighbour_fields, same.shared) == (("health",), (), 1)
    assert (near.same_fields, near.neighbour_fields, near.shared) == ((), ("social",), 0)


def test_a_same_field_mentor_stays_ahead_of_a_free_neighbour_even_when_busy() -> None:
    busy_same = mentor(1, "health", capacity=3, load=2)  # 40 + 3 - 7 = 36
    free_near = mentor(2, "social", capacity=3, load=0)  # 15 + 10 - 0 = 25
    found = pool(busy_same, free_near).suggest(student("health"), WEIGHTS, RULES)
    assert [(s.mentor.id, s.total) for s in found] == [(1, 36), (2, 25)]


def test_mentors_with_neither_the_same_nor_a_neighbouring_field_are_never_suggested() -> None:
    unrelated = [mentor(i, key, region="Nord") for i, key in enumerate(
        ("arts", "business", "law", "hospitality", "civil_eng", "trades", "transport"), start=1)]
    kid = student("health", "social", region="Nord")
    assert pool(*unrelated).suggest(kid, WEIGHTS, RULES, k=50) == []
    assert all(pool(*unrelated).eligible(kid, RULES))  # eligible, only irrelevant


def test_a_neighbour_counts_only_without_a_same_field() -> None:
    both = mentor(1, "health", "computing")
    found = pool(both).suggest(student("health", "science"), WEIGHTS, RULES)
    assert found[0].parts["same_field"] == 40
    assert found[0].parts["neighbour_field"] == 0  # computing is a neighbour of science
    assert found[0].neighbour_fields == ()


def test_shared_interests_count_each_field_beyond_the_first() -> None:
    p = pool(mentor(1, "health"), mentor(2, "health", "social"),
             mentor(3, "science", "health", "social"), mentor(4, "computing", "environment"))
    found = by_id(p.suggest(student("health", "social", "science"), WEIGHTS, RULES))
    assert {i: s.parts["shared_interests"] for i, s in found.items()} == {1: 0, 2: 8, 3: 16, 4: 0}
    assert {i: s.shared for i, s in found.items()} == {1: 1, 2: 2, 3: 3, 4: 0}
    assert found[3].same_fields == ("science", "health", "social")  # in the mentor's order
    assert found[4].neighbour_fields == ("computing", "environment")
    assert ids(p.suggest(student("health", "social", "science"), WEIGHTS, RULES)) == [3, 2, 1, 4]


def test_the_same_region_adds_points() -> None:
    p = pool(mentor(1, region="Nord"), mentor(2, region="Sud"), mentor(3))
    found = by_id(p.suggest(student(region="Nord"), WEIGHTS, RULES))
    assert {i: s.parts["region"] for i, s in found.items()} == {1: 10, 2: 0, 3: 0}
    assert ids(p.suggest(student(region="Nord"), WEIGHTS, RULES)) == [1, 2, 3]
    # a student with no region shares none, not even with mentors who have none either
    found = by_id(p.suggest(student(region=None), WEIGHTS, RULES))
    assert {i: s.parts["region"] for i, s in found.items()} == {1: 0, 2: 0, 3: 0}


@pytest.mark.parametrize(("capacity", "load", "availability", "load_part"), [
    (4, 0, 10, 0),
    (4, 1, 8, -2),  # 7.5 and 2.5, rounded half to even
    (4, 3, 2, -8),
    (3, 1, 7, -3),
    (3, 2, 3, -7),
    (1, 0, 10, 0),
    (10, 9, 1, -9),
])
def test_availability_and_load_parts(capacity: int, load: int, availability: int,
                                     load_part: int) -> None:
    found = pool(mentor(1, capacity=capacity, load=load)).suggest(student(), WEIGHTS, RULES)
    assert (found[0].parts["availability"], found[0].parts["load"]) == (availability, load_part)


def test_of_two_equal_mentors_the_less_loaded_comes_first() -> None:
    busy = mentor(1, capacity=4, load=3)  # the lower id: would win a tie
    free = mentor(2, capacity=4, load=1)
    found = pool(busy, free).suggest(student(), WEIGHTS, RULES)
    assert ids(found) == [2, 1]
    assert found[0].total - found[1].total == (8 - 2) - (2 - 8)


def test_load_spreads_the_work_across_a_team() -> None:
    """Five mentors in one field, one student after another: each goes to the least loaded."""
    loads = {i: 0 for i in range(1, 6)}
    for _ in range(10):
        p = pool(*(mentor(i, capacity=4, load=n) for i, n in loads.items()))
        chosen = p.suggest(student(), WEIGHTS, RULES, k=1)[0].mentor.id
        assert loads[chosen] == min(loads.values())
        loads[chosen] += 1
    assert sorted(loads.values()) == [2, 2, 2, 2, 2]


WEIGHT_SETS = [
    Weights(),
    Weights(same_field=100, neighbour_field=1, shared_interest=0, region=3, availability=0,
            load=20),
    Weights(same_field=7, neighbour_field=5, shared_interest=30, region=50, availability=25,
            load=3),
]


@pytest.mark.parametrize("weights", WEIGHT_SETS, ids=["default", "field-heavy", "region-heavy"])
def test_parts_follow_the_weights_and_sum_to_the_total(weights: Weights) -> None:
    p = pool(
        mentor(1, "health", "social", capacity=4, load=1, region="Nord"),
        mentor(2, "social", capacity=3, load=2),
        mentor(3, "health", capacity=5, load=0, region="Sud"),
        mentor(4, "arts"),
    )
    kid = student("health", "social", region="Nord")
    found = by_id(p.suggest(kid, weights, RULES))
    w = weights
    assert found[1].parts == {
        "same_field": w.same_field, "neighbour_field": 0, "shared_interests": w.shared_interest,
        "region": w.region, "availability": round(0.75 * w.availability),
        "load": -round(0.25 * w.load),
    }
    assert found[2].parts == {
        "same_field": w.same_field, "neighbour_field": 0, "shared_interests": 0, "region": 0,
        "availability": round(1 / 3 * w.availability), "load": -round(2 / 3 * w.load),
    }
    assert found[3].parts == {
        "same_field": w.same_field, "neighbour_field": 0, "shared_interests": 0, "region": 0,
        "availability": w.availability, "load": 0,
    }
    assert 4 not in found
    for s in found.values():
        assert tuple(s.parts) == PARTS
        assert all(type(v) is int for v in s.parts.values())  # plain ints, printable
        assert s.total == sum(s.parts.values())
        assert s.total == sum(reference_parts(s.mentor, kid, weights).values())
    totals = [s.total for s in p.suggest(kid, weights, RULES)]
    assert totals == sorted(totals, reverse=True)


def test_a_neighbour_part_follows_its_weight() -> None:
    weights = Weights(neighbour_field=33)
    found = pool(mentor(1, "environment")).suggest(student("computing"), weights, RULES)
    assert found[0].parts["neighbour_field"] == 33 and found[0].parts["same_field"] == 0


# order, exclusion and how many -----------------------------------------------------------------

def test_ties_go_to_the_lower_mentor_id_every_time() -> None:
    twins = [mentor(i) for i in (3, 8, 21, 40, 57, 90)]
    for _ in range(3):
        found = pool(*twins).suggest(student(), WEIGHTS, RULES)
        assert ids(found) == [3, 8, 21, 40, 57]
        assert len({s.total for s in found}) == 1


def test_ties_go_to_the_lower_mentor_id_whatever_the_order_of_the_cards() -> None:
    found = pool(mentor(9), mentor(4), mentor(6)).suggest(student(), WEIGHTS, RULES)
    assert ids(found) == [4, 6, 9]


def test_exclude_leaves_out_mentors_already_asked() -> None:
    p = pool(mentor(1, "health", "social"), mentor(2), mentor(3, "social"))
    kid = student("health", "social")
    assert ids(p.suggest(kid, WEIGHTS, RULES)) == [1, 2, 3]
    assert ids(p.suggest(kid, WEIGHTS, RULES, exclude=frozenset({1}))) == [2, 3]
    assert ids(p.suggest(kid, WEIGHTS, RULES, exclude=frozenset({2, 999}))) == [1, 3]
    assert p.suggest(kid, WEIGHTS, RULES, exclude=frozenset({1, 2, 3})) == []


def test_k_limits_how_many_and_defaults_to_the_rules() -> None:
    p = pool(*(mentor(i, capacity=10, load=i % 4) for i in range(1, 13)))
    assert len(p.suggest(student(), WEIGHTS, RULES)) == RULES.suggestions == 5
    assert len(p.suggest(student(), WEIGHTS, Rules(suggestions=3))) == 3
    assert len(p.suggest(student(), WEIGHTS, RULES, k=2)) == 2
    assert len(p.suggest(student(), WEIGHTS, RULES, k=1)) == 1
    assert len(p.suggest(student(), WEIGHTS, RULES, k=50)) == 12
    # the first k are the same, whatever k
    assert ids(p.suggest(student(), WEIGHTS, RULES, k=3)) == ids(
        p.suggest(student(), WEIGHTS, RULES, k=12))[:3]


def test_k_zero_suggests_nobody() -> None:
    p = pool(mentor(1), mentor(2))
    assert p.suggest(student(), WEIGHTS, RULES, k=0) == []


# a property against a plain-Python reference ---------------------------------------------------

def reference_parts(m: MentorCard, s: StudentCard, w: Weights) -> dict[str, int]:
    """The score, part by part, for one mentor, written the obvious way."""
    mine = {k for k in m.fields if k in GROUP}
    theirs = {k for k in s.fields if k in GROUP}
    common = len(mine & theirs)
    near = bool({GROUP[k] for k in mine} & {GROUP[k] for k in theirs})
    free = (m.capacity - m.load) / m.capacity if m.capacity > 0 else 0.0
    taken = m.load / m.capacity if m.capacity > 0 else 1.0
    return {
        "same_field": w.same_field if common else 0,
        "neighbour_field": w.neighbour_field if near and not common else 0,
        "shared_interests": max(common - 1, 0) * w.shared_interest,
        "region": w.region if s.region and m.region == s.region else 0,
        "availability": round(free * w.availability),  # round half to even, as numpy's rint
        "load": -round(taken * w.load),
    }


def reference_eligible(m: MentorCard, s: StudentCard, rules: Rules) -> bool:
    return (m.vetted and not m.paused and m.load < m.capacity and m.language == s.language
            and not (m.kind == "peer" and s.age < rules.peer_min_age))


def reference_relevant(m: MentorCard, s: StudentCard) -> bool:
    mine = {GROUP[k] for k in m.fields if k in GROUP}
    return bool(mine & {GROUP[k] for k in s.fields if k in GROUP})


KINDS = ("professional", "professional", "peer", "representative")
REGIONS = (None, "Nord", "Sud", "Est")


def decode_pool(codes: list[int]) -> list[MentorCard]:
    """Mentors in id order (as the store gives them), each read from one integer, digit by
    digit (one draw per mentor keeps the property fast; 0 shrinks to a plain mentor): mostly
    vetted and not paused, capacity 0–5, load 0–6 (over capacity too), 0–3 fields."""
    cards, last = [], 0
    for code in codes:
        code, gap = divmod(code, 3)
        code, kind = divmod(code, 4)
        code, language = divmod(code, 3)
        code, capacity = divmod(code, 6)
        code, load = divmod(code, 7)
        code, paused = divmod(code, 4)
        code, unvetted = divmod(code, 4)
        code, region = divmod(code, 4)
        picks = []
        for _ in range(3):
            code, pick = divmod(code, 16)  # 12–15: no field in that slot
            if pick < len(FIELD_KEYS) and FIELD_KEYS[pick] not in picks:
                picks.append(FIELD_KEYS[pick])
        last += 1 + gap
        cards.append(MentorCard(
            id=last, pseudonym=f"M{last}", kind=KINDS[kind], profession="", years=0,
            fields=tuple(picks), language=("fr", "fr", "en")[language], capacity=capacity,
            load=load, paused=paused == 3, vetted=unvetted != 3, region=REGIONS[region],
        ))
    return cards


pools = st.integers(0, 40).flatmap(
    lambda n: st.lists(st.integers(0, 2**40 - 1), min_size=n, max_size=n)).map(decode_pool)
students = st.builds(
    StudentCard, id=st.just(99_999), age=st.integers(14, 20),
    fields=st.lists(st.sampled_from(FIELD_KEYS), min_size=1, max_size=5, unique=True).map(tuple),
    language=st.sampled_from(("fr", "en")), region=st.sampled_from(REGIONS),
)
weights_drawn = st.one_of(st.just(Weights()), st.builds(
    Weights, same_field=st.integers(1, 60), neighbour_field=st.integers(1, 40),
    shared_interest=st.integers(0, 20), region=st.integers(0, 20),
    availability=st.integers(0, 20), load=st.integers(0, 20),
))
rules_drawn = st.builds(Rules, peer_min_age=st.integers(14, 18), suggestions=st.integers(1, 6))


@settings(max_examples=200, deadline=None)
@given(cards=pools, kid=students, weights=weights_drawn, rules=rules_drawn,
       k=st.one_of(st.none(), st.integers(1, 8)), data=st.data())
def test_suggest_agrees_with_a_plain_python_scorer(
    cards: list[MentorCard], kid: StudentCard, weights: Weights, rules: Rules, k: int | None,
    data: st.DataObject,
) -> None:
    exclude = frozenset(data.draw(st.sets(st.sampled_from([c.id for c in cards]))
                                  if cards else st.just(set())))
    found = MentorPool(cards, FIELDS).suggest(kid, weights, rules, exclude=exclude, k=k)

    limit = k if k is not None else rules.suggestions
    assert len(found) <= limit
    cards_by_id = {c.id: c for c in cards}
    for s in found:
        m = cards_by_id[s.mentor.id]
        assert reference_eligible(m, kid, rules) and m.id not in exclude
        assert reference_relevant(m, kid)
        assert s.parts == reference_parts(m, kid, weights)
        assert s.total == sum(s.parts.values())
    totals = [s.total for s in found]
    assert totals == sorted(totals, reverse=True)

    candidates = [c for c in cards if reference_eligible(c, kid, rules)
                  and reference_relevant(c, kid) and c.id not in exclude]
    scored = sorted(((sum(reference_parts(c, kid, weights).values()), c.id) for c in candidates),
                    key=lambda pair: (-pair[0], pair[1]))
    assert [(s.total, s.mentor.id) for s in found] == scored[:limit]
