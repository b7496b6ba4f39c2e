"""A person's profile as they see it themselves (`/profile`, and the start of `/mydata`)."""

from __future__ import annotations

from core.context import Context
from core.model import Participant, Role


def profile_lines(ctx: Context, p: Participant) -> list[str]:
    lang = p.language
    lines = [
        ctx.t(lang, "profile.pseudonym", name=p.pseudonym or "—"),
        ctx.t(lang, f"profile.role.{p.role.value}"),
        ctx.t(lang, "profile.language", language=ctx.t(lang, f"language.name.{lang}")),
    ]
    school = ctx.store.school(p.school_id) if p.school_id else None
    if school:
        lines.append(ctx.t(lang, "profile.school", school=school.name))
    if p.age is not None:
        lines.append(ctx.t(lang, "profile.age", age=p.age))
    if p.fields:
        lines.append(ctx.t(lang, "profile.fields",
                           fields=ctx.services.fields.labels(p.fields, lang)))
    if p.role is Role.MENTOR:
        kind = ctx.t(lang, f"kind.{p.mentor_kind.value}") if p.mentor_kind else "—"
        lines.append(ctx.t(lang, "profile.mentor", kind=kind, profession=p.profession or "—",
                           years=p.years if p.years is not None else "—",
                           capacity=p.capacity or "—"))
        lines.append(ctx.t(lang, "profile.vetted" if p.vetted else "profile.unvetted"))
    return lines
