"""Matching a whole cohort at once: every waiting student, at most one mentor each, optimally.

The plan is only a proposal: each pair becomes a request the mentor accepts or declines, like
any other. `--dry-run` shows it (with scores) for a coordinator to review before anything is
sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.admin_scope import is_coordinator, school_in_scope
from core.commands import row_id
from core.context import Context
from core.errors import DomainError
from core.matches import send_proposal
from core.matching import assign
from core.model import Participant
from core.scoring import MentorCard, MentorPool, Rules, StudentCard, Weights

CANDIDATES_PER_STUDENT = 50  # the best few are all an optimal plan ever needs


@dataclass(frozen=True, slots=True)
class Pair:
    student_id: int
    mentor_id: int
    score: int


def candidate_edges(
    students: Sequence[StudentCard], pool: MentorPool, weights: Weights, rules: Rules,
    per_student: int = CANDIDATES_PER_STUDENT,
) -> np.ndarray:
    """(student, mentor, score) rows: each student's best eligible mentors who share a field
    or a neighbouring one (the sparse candidate graph).

    A mentor's score depends on the student only through their fields, language, region and
    whether the peer age rule applies; students alike in those (most of a cohort: a dozen
    fields) share one computation."""
    ids = np.array([m.id for m in pool.mentors], dtype=np.int64)
    best_of: dict[tuple[object, ...], tuple[np.ndarray, np.ndarray]] = {}
    rows: list[np.ndarray] = []
    for student in students:
        key = (tuple(sorted(student.fields)), student.language, student.region,
               student.age >= rules.peer_min_age)
        if key not in best_of:
            best_of[key] = _best_mentors(student, pool, weights, rules, per_student, ids)
        mentors, totals = best_of[key]
        if mentors.size == 0:
            continue
        block = np.empty((mentors.size, 3), dtype=np.int64)
        block[:, 0] = student.id
        block[:, 1] = mentors
        block[:, 2] = totals
        rows.append(block)
    return np.concatenate(rows) if rows else np.empty((0, 3), dtype=np.int64)


def _best_mentors(student: StudentCard, pool: MentorPool, weights: Weights, rules: Rules,
                  per_student: int, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = pool.eligible(student, rules)
    parts = pool.score_parts(student, weights)
    ok &= (parts["same_field"] > 0) | (parts["neighbour_field"] > 0)
    candidates = np.flatnonzero(ok)
    total = sum(parts.values())[candidates]
    if candidates.size > per_student:
        best = np.lexsort((ids[candidates], -total))[:per_student]
        candidates, total = candidates[best], total[best]
    return ids[candidates], total


def plan(
    students: Sequence[StudentCard], mentors: Sequence[MentorCard], pool: MentorPool,
    weights: Weights, rules: Rules, maximise_matched: bool = True,
) -> list[Pair]:
    """The optimal proposal: first as many students matched as possible, then the best total
    score (or the best total score alone with `maximise_matched=False`)."""
    edges = candidate_edges(students, pool, weights, rules)
    capacity = {m.id: max(m.capacity - m.load - m.pending, 0) for m in mentors
                if m.vetted and not m.paused}
    chosen = assign(edges, capacity, maximise_matched=maximise_matched)
    return sorted(_pairs(edges, chosen), key=lambda p: p.student_id)


def _pairs(edges: np.ndarray, chosen: dict[int, int]) -> list[Pair]:
    """The chosen pairs with their scores, found among millions of edges without a dict of
    them all (which would cost more memory than the solver)."""
    if not chosen:
        return []
    wanted = np.array(list(chosen.items()), dtype=np.int64)
    span = int(max(edges[:, 1].max(), wanted[:, 1].max())) + 1
    hit = np.isin(edges[:, 0] * span + edges[:, 1], wanted[:, 0] * span + wanted[:, 1])
    found = edges[hit]
    best: dict[tuple[int, int], int] = {}
    for s, m, v in found.tolist():  # duplicates of a pair: the solver counted the best score
        best[(s, m)] = max(v, best.get((s, m), v))
    return [Pair(s, m, best[(s, m)]) for s, m in chosen.items()]


def propose_plan(ctx: Context, pairs: Sequence[Pair], actor: str) -> int:
    """Send each mentor the request of the plan (they accept or decline, as always)."""
    sent = 0
    for pair in pairs:
        student = ctx.store.participant(pair.student_id)
        mentor = ctx.store.participant(pair.mentor_id)
        if student is None or mentor is None:
            continue
        try:
            send_proposal(ctx, student, mentor, actor)
        except DomainError:  # things moved since the plan (a mentor paused, a student asked)
            continue
        sent += 1
    return sent


def _school_plan(ctx: Context, school_id: int | None) -> tuple[list[Pair], list[MentorCard]]:
    """The plan for one school's waiting students, and the mentors it drew on."""
    students = ctx.store.waiting_students(school_id)
    mentors = ctx.store.mentor_cards()
    pool = MentorPool(mentors, ctx.services.fields)
    return plan(students, mentors, pool, ctx.services.weights, ctx.services.rules), mentors


def plan_scope(ctx: Context, p: Participant, named: str) -> int | None:
    """The school a coordinator plans for: their own; program staff name one (the whole
    program is planned from the command line, `passerelle match auto`). None (and why, told)
    when they may not."""
    if not is_coordinator(ctx, p):
        return None
    if not named:
        if p.school_id is None:
            ctx.tell(p, "cohort.no_school")
        return p.school_id
    school = school_in_scope(ctx, p, named)
    return school.id if school is not None else None


def coordinator_plan(ctx: Context, p: Participant, named: str = "") -> None:
    """`/matchauto [school]`: the plan for the coordinator's school, to review before anything
    is sent (a button sends it)."""
    school_id = plan_scope(ctx, p, named)
    if school_id is None:
        return
    pairs, mentors = _school_plan(ctx, school_id)
    if not pairs:
        ctx.tell(p, "cohort.nothing")
        return
    names = {m.id: m.pseudonym for m in mentors}
    lines = []
    for pair in pairs[:40]:
        student = ctx.store.participant(pair.student_id)
        lines.append(ctx.t(p.language, "cohort.line", student=student.pseudonym if student
                           else "?", mentor=names.get(pair.mentor_id, "?"), score=pair.score))
    more = len(pairs) - len(lines)
    if more > 0:
        lines.append(ctx.t(p.language, "cohort.more", count=more))
    action = "matchauto:go" if school_id == p.school_id else f"matchauto:go:{school_id}"
    go = ctx.button(p.language, "cohort.send", action, count=len(pairs))
    ctx.tell(p, "cohort.plan", buttons=(go,), count=len(pairs), list="\n".join(lines))


def coordinator_send(ctx: Context, p: Participant, value: str = "go") -> None:
    """The coordinator approved (`matchauto:go[:<school id>]`): the plan is made again now
    (things moved since), checked in scope again, and sent."""
    _, _, school = value.partition(":")
    named = ""
    if school:
        number = row_id(school)
        found = ctx.store.school(number) if number is not None else None
        if found is None:
            ctx.tell(p, "button.stale")
            return
        named = found.name
    school_id = plan_scope(ctx, p, named)
    if school_id is None:
        return
    pairs, _ = _school_plan(ctx, school_id)
    sent = propose_plan(ctx, pairs, actor=f"participant:{p.id}")
    ctx.audit(p, "cohort_proposed", {"school_id": school_id, "proposals": sent})
    ctx.tell(p, "cohort.sent", count=sent)
