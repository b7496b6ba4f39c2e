"""`/stats [school]`: the figures the program publishes, for a coordinator's scope.

A school's coordinator sees their school (its students and their matches; mentors are counted
program-wide, as they serve every school); program staff (a coordinator with no school) see the
whole program, or one school by name.
"""

from __future__ import annotations

from core.context import Context
from core.model import Participant, Role


def stats(ctx: Context, p: Participant, args: str) -> None:
    if p.role is not Role.COORDINATOR:
        ctx.tell(p, "command.coordinators_only")
        return
    school_id, scope = p.school_id, None
    named = args.strip()
    if named:
        school = ctx.store.find_school(named)
        if school is None:
            ctx.tell(p, "stats.unknown_school", name=named[:80])
            return
        if p.school_id is not None and school.id != p.school_id:
            ctx.tell(p, "stats.not_yours")
            return
        school_id, scope = school.id, school.name
    elif p.school_id is not None:
        own = ctx.store.school(p.school_id)
        scope = own.name if own else None
    lang = p.language
    f = ctx.store.figures(school_id)
    share = (f"{100 * f.influenced / f.influence_answers:.0f} %" if f.influence_answers
             else "—")
    days = f"{f.average_days:.0f}" if f.average_days is not None else "—"
    ctx.store.audit(f"participant:{p.id}", "stats", {"school_id": school_id}, ctx.now)
    ctx.tell(p, "stats.show", scope=scope or ctx.t(lang, "stats.program"),
             students=f.students, mentors=f.mentors, vetted=f.vetted_mentors,
             active_mentors=f.active_mentors, coordinators=f.coordinators, schools=f.schools,
             active=f.active_matches, ended=f.ended_matches, days=days, relayed=f.relayed,
             share=share, answers=f.influence_answers)
