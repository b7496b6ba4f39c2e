"""Coordinators' commands that act on people: mentors awaiting vetting, ending a match.

Scope is checked here, in core: a school's coordinator acts on their school's students (and on
mentors, who serve every school); program staff (no school) on everyone. Every action is
audited (who, what, on whom; the time is the row's).
"""

from __future__ import annotations

from core.context import Context
from core.model import Participant, Role, Step
from core.moderation import vet

MAX_LISTED = 20


def pending(ctx: Context, p: Participant) -> None:
    """`/pending`: onboarded mentors nobody vetted yet, a button to vet each."""
    if p.role is not Role.COORDINATOR:
        ctx.tell(p, "command.coordinators_only")
        return
    waiting = [m for m in ctx.store.participants(Role.MENTOR.value)
               if m.step is Step.DONE and not m.vetted]
    if not waiting:
        ctx.tell(p, "pending.none")
        return
    lang = p.language
    lines = [ctx.t(lang, "pending.line", name=m.pseudonym, profession=m.profession or "—",
                   years=m.years if m.years is not None else "—",
                   kind=ctx.t(lang, f"kind.{m.mentor_kind.value}") if m.mentor_kind else "—")
             for m in waiting[:MAX_LISTED]]
    buttons = tuple(ctx.button(lang, "pending.vet_button", f"vet:{m.id}", name=m.pseudonym)
                    for m in waiting[:MAX_LISTED])
    ctx.tell(p, "pending.list", buttons=buttons, count=len(waiting), mentors="\n".join(lines))


def vet_button(ctx: Context, p: Participant, mentor_id: int) -> None:
    """The button of `/pending`: the same as `/vet PSEUDONYM`."""
    mentor = ctx.store.participant(mentor_id)
    if mentor is None or mentor.role is not Role.MENTOR or not mentor.pseudonym:
        ctx.tell(p, "button.stale")
        return
    vet(ctx, p, mentor.pseudonym)


def unmatch(ctx: Context, p: Participant, args: str) -> None:
    """`/unmatch STUDENT MENTOR`: a coordinator ends a match (both are told, as for /end)."""
    from core.relay import end_match  # relay is the one place a match ends

    if p.role is not Role.COORDINATOR:
        ctx.tell(p, "command.coordinators_only")
        return
    names = args.split()
    student = ctx.store.find_participant(names[0]) if len(names) == 2 else None
    mentor = ctx.store.find_participant(names[1]) if len(names) == 2 else None
    if student is None or mentor is None or student.id is None:
        ctx.tell(p, "unmatch.how")
        return
    if p.school_id is not None and student.school_id != p.school_id:
        ctx.tell(p, "unmatch.not_yours")
        return
    match = next((m for m in ctx.store.open_matches(student.id)
                  if m.mentor_id == mentor.id), None)
    if match is None:
        ctx.tell(p, "unmatch.none", student=student.pseudonym, mentor=mentor.pseudonym)
        return
    ctx.store.audit(f"participant:{p.id}", "unmatch", {"match_id": match.id}, ctx.now)
    end_match(ctx, match, ended_by=None, told="end.by_coordinator")
    ctx.tell(p, "unmatch.done", student=student.pseudonym, mentor=mentor.pseudonym)
