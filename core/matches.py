"""Creating matches by hand (the CLI now; coordinators and the matcher later)."""

from __future__ import annotations

from core.context import Context
from core.errors import DomainError
from core.fields import FieldList
from core.model import Match, Participant, Role, Step
from core.relay import display_name


def create_match(ctx: Context, student_name: str, mentor_name: str, actor: str) -> Match:
    """Match a student with a mentor and introduce them to each other."""
    student = _onboarded(ctx, student_name, Role.STUDENT)
    mentor = _onboarded(ctx, mentor_name, Role.MENTOR)
    assert student.id is not None and mentor.id is not None
    if any(m.mentor_id == mentor.id for m in ctx.store.active_matches(student.id)):
        raise DomainError("match.exists", student=student.pseudonym, mentor=mentor.pseudonym)
    load = len(ctx.store.active_matches(mentor.id))
    if mentor.capacity is not None and load >= mentor.capacity:
        raise DomainError("match.full", mentor=mentor.pseudonym, capacity=mentor.capacity)
    match = ctx.store.add_match(Match(student.id, mentor.id, created_at=ctx.now))
    ctx.store.audit(actor, "match_create", {"match_id": match.id}, ctx.now)
    fields: FieldList = ctx.services.fields
    for p in (student, mentor):
        # With one conversation, plain messages go to it. With a second one, guessing would send
        # a greeting meant for the newcomer to the first person: the next message asks instead.
        p.current_match_id = match.id if p.current_match_id is None else None
        ctx.store.save_participant(p)
    ctx.tell(student, "match.intro_student", name=display_name(ctx, mentor, student.language))
    ctx.tell(
        mentor, "match.intro_mentor", name=display_name(ctx, student, mentor.language),
        fields=fields.labels(student.fields, mentor.language) or "—",
        age=student.age or "?",
    )
    return match


def _onboarded(ctx: Context, pseudonym: str, role: Role) -> Participant:
    p = ctx.store.find_participant(pseudonym)
    if p is None or p.role is not role:
        raise DomainError(f"match.no_{role.value}", name=pseudonym)
    if p.step is not Step.DONE:
        raise DomainError("match.not_onboarded", name=pseudonym)
    return p
