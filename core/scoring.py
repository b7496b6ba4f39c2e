"""Which mentors suit a student, and why: hard filters, then a weighted, explainable score.

The mentors are held as columns (numpy arrays), so one student's scores over 2,500 mentors are a
handful of vector operations instead of a Python loop per mentor. Every score is the sum of
named parts, each a weight times a feature, so it can be printed part by part and explained to a
teenager in plain words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from core.fields import FieldList


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each reason counts (config/passerelle.toml [matching.weights])."""

    same_field: int = 40
    neighbour_field: int = 15  # a field of the same group in config/fields.toml
    shared_interest: int = 8  # each field in common beyond the first
    region: int = 10
    availability: int = 10  # times the share of the mentor's capacity still free
    load: int = 10  # subtracted, times the share already taken: spreads the work


@dataclass(frozen=True, slots=True)
class Rules:
    """The program's hard rules (config/passerelle.toml [matching])."""

    peer_min_age: int = 16  # students already in a field mentor students this old or older
    max_open_requests: int = 3
    request_timeout_hours: float = 72.0  # then the request is closed kindly
    suggestions: int = 5


@dataclass(frozen=True, slots=True)
class MentorCard:
    """What matching needs to know about a mentor (no platform identity: none is needed)."""

    id: int
    pseudonym: str
    kind: str
    profession: str
    years: int
    fields: tuple[str, ...]
    language: str
    capacity: int
    load: int  # students they mentor now
    pending: int = 0  # requests waiting for their answer
    paused: bool = False
    vetted: bool = True
    region: str | None = None
    bio: str | None = None


@dataclass(frozen=True, slots=True)
class StudentCard:
    id: int
    age: int
    fields: tuple[str, ...]
    language: str
    region: str | None = None


@dataclass(frozen=True, slots=True)
class Suggestion:
    mentor: MentorCard
    parts: dict[str, int]  # name → points (the total is their sum)
    same_fields: tuple[str, ...] = ()  # the fields in common (for the explanation)
    neighbour_fields: tuple[str, ...] = ()
    shared: int = 0

    @property
    def total(self) -> int:
        return sum(self.parts.values())


@dataclass
class MentorPool:
    """Every mentor as columns; built once per request (or cached) from the store's cards."""

    mentors: Sequence[MentorCard]
    fields: FieldList
    _field_index: dict[str, int] = field(init=False)
    _group_index: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        keys = [f.key for f in self.fields]
        groups = sorted({f.group or f.key for f in self.fields})
        self._field_index = {k: i for i, k in enumerate(keys)}
        self._group_index = {g: i for i, g in enumerate(groups)}
        self._group_of = {f.key: f.group or f.key for f in self.fields}
        n = len(self.mentors)
        self.field_hot = np.zeros((n, len(keys)), dtype=np.int8)
        self.group_hot = np.zeros((n, len(groups)), dtype=np.int8)
        for row, mentor in enumerate(self.mentors):
            for key in mentor.fields:
                if key in self._field_index:
                    self.field_hot[row, self._field_index[key]] = 1
                    self.group_hot[row, self._group_index[self._group_of[key]]] = 1
        self.capacity = np.array([m.capacity for m in self.mentors], dtype=np.int32)
        self.load = np.array([m.load for m in self.mentors], dtype=np.int32)
        self.available = np.array(
            [m.vetted and not m.paused for m in self.mentors], dtype=bool
        ) & (self.load < self.capacity)
        self.language = np.array([m.language for m in self.mentors], dtype=object)
        self.peer = np.array([m.kind == "peer" for m in self.mentors], dtype=bool)
        self.region = np.array([m.region or "" for m in self.mentors], dtype=object)

    def eligible(self, student: StudentCard, rules: Rules) -> np.ndarray:
        """Hard filters: vetted, not paused, room left, a shared language, the age rules."""
        ok = self.available & (self.language == student.language)
        if student.age < rules.peer_min_age:
            ok &= ~self.peer
        return ok

    def score_parts(self, student: StudentCard, weights: Weights) -> dict[str, np.ndarray]:
        """Each part of every mentor's score, as integer arrays (one entry per mentor)."""
        wanted = np.zeros(self.field_hot.shape[1], dtype=np.int8)
        groups = np.zeros(self.group_hot.shape[1], dtype=np.int8)
        for key in student.fields:
            if key in self._field_index:
                wanted[self._field_index[key]] = 1
                groups[self._group_index[self._group_of[key]]] = 1
        common = self.field_hot.astype(np.int32) @ wanted.astype(np.int32)
        near = (self.group_hot.astype(np.int32) @ groups.astype(np.int32)) > 0
        same = common > 0
        free = np.where(self.capacity > 0, (self.capacity - self.load) / np.maximum(
            self.capacity, 1), 0.0)
        taken = np.where(self.capacity > 0, self.load / np.maximum(self.capacity, 1), 1.0)
        region = (self.region == (student.region or "\0")) if student.region else np.zeros(
            len(self.mentors), dtype=bool)
        return {
            "same_field": same * weights.same_field,
            "neighbour_field": (near & ~same) * weights.neighbour_field,
            "shared_interests": np.maximum(common - 1, 0) * weights.shared_interest,
            "region": region * weights.region,
            "availability": np.rint(free * weights.availability).astype(np.int64),
            "load": -np.rint(taken * weights.load).astype(np.int64),
        }

    def suggest(self, student: StudentCard, weights: Weights, rules: Rules,
                exclude: frozenset[int] = frozenset(), k: int | None = None
                ) -> list[Suggestion]:
        """The best mentors for a student, best first; ties go to the mentor with the lower id
        (deterministic). Only mentors who share a field or a neighbouring one are proposed."""
        count = rules.suggestions if k is None else k
        if not self.mentors:
            return []
        ok = self.eligible(student, rules)
        if exclude:
            ok &= ~np.isin(np.array([m.id for m in self.mentors]), list(exclude))
        parts = self.score_parts(student, weights)
        relevant = (parts["same_field"] > 0) | (parts["neighbour_field"] > 0)
        ok &= relevant
        total = sum(parts.values())
        candidates = np.flatnonzero(ok)
        if candidates.size == 0:
            return []
        # By total descending, then by mentor id: the same answer whatever the cards' order.
        ids = np.array([self.mentors[i].id for i in candidates], dtype=np.int64)
        order = candidates[np.lexsort((ids, -total[candidates]))][:count]
        return [self._suggestion(int(row), student, parts) for row in order]

    def _suggestion(self, row: int, student: StudentCard, parts: dict[str, np.ndarray]
                    ) -> Suggestion:
        mentor = self.mentors[row]
        same = tuple(k for k in mentor.fields if k in student.fields)
        groups = {self._group_of.get(k) for k in student.fields}
        near = () if same else tuple(
            k for k in mentor.fields if self._group_of.get(k) in groups)
        return Suggestion(mentor, {name: int(values[row]) for name, values in parts.items()},
                          same, near, len(same))
