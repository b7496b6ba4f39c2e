"""A student finds a mentor: the platform's suggestions, browsing, and asking one of them.

Every way ends in a request the mentor accepts or declines (core.matches); this module is the
student's side of it, in their words and their language.
"""

from __future__ import annotations

from core.context import Context
from core.errors import DomainError
from core.matches import request_mentor
from core.model import MatchStatus, MentorKind, Participant, Role, Step
from core.names import named_first, shown_name
from core.onboarding import KIND_WORDS
from core.scoring import MentorCard, MentorPool, StudentCard, Suggestion

PAGE_SIZE = 5


def is_student(ctx: Context, p: Participant) -> bool:
    if p.role is Role.STUDENT:
        return True
    ctx.tell(p, "command.students_only")
    return False


def student_card(ctx: Context, p: Participant) -> StudentCard:
    school = ctx.store.school(p.school_id) if p.school_id else None
    return StudentCard(id=p.id or 0, age=p.age or 0, fields=tuple(p.fields),
                       language=p.language, region=school.program if school else None)


def _asked(ctx: Context, p: Participant) -> frozenset[int]:
    """Mentors this student has, asked, or was declined by (or not answered by): never
    suggested again."""
    return ctx.store.mentors_met(p.id or 0)


def suggest(ctx: Context, p: Participant, quiet_if_none: bool = False) -> None:
    """`/suggest`: the best mentors for this student, each with its reasons in plain words."""
    if not is_student(ctx, p):
        return
    pool = MentorPool(ctx.store.mentor_cards(), ctx.services.fields)
    found = pool.suggest(student_card(ctx, p), ctx.services.weights, ctx.services.rules,
                         exclude=_asked(ctx, p))
    if not found:
        if not quiet_if_none:
            ctx.tell(p, "suggest.none")
        return
    lines = [
        ctx.t(p.language, "suggest.line", n=i, name=_name(ctx, s.mentor, p.language),
              reasons=explain(ctx, s, p.language))
        for i, s in enumerate(found, start=1)
    ]
    ctx.tell(p, "suggest.list", buttons=_ask_buttons(ctx, p, [s.mentor for s in found]),
             list="\n".join(lines))


def explain(ctx: Context, s: Suggestion, lang: str) -> str:
    """Why a mentor is suggested, in plain words: "même domaine : génie civil · parle
    français · 2 intérêts en commun"."""
    fields = ctx.services.fields
    reasons = []
    if s.same_fields:
        reasons.append(ctx.t(lang, "reason.same_field", field=fields.labels([s.same_fields[0]],
                                                                            lang)))
    elif s.neighbour_fields:
        reasons.append(ctx.t(lang, "reason.neighbour_field",
                             field=fields.labels([s.neighbour_fields[0]], lang)))
    reasons.append(ctx.t(lang, f"reason.language.{lang}"))
    if s.shared >= 2:
        reasons.append(ctx.t(lang, "reason.shared", count=s.shared))
    if s.parts.get("region", 0) > 0:
        reasons.append(ctx.t(lang, "reason.region"))
    return ctx.t(lang, "reason.separator").join(reasons)


def browse(ctx: Context, p: Participant, args: str, page: int = 0) -> None:
    """`/mentors [field] [kind]`: available, vetted mentors, a page at a time."""
    if not is_student(ctx, p):
        return
    field_key, kind = _filters(ctx, args)
    card = student_card(ctx, p)
    pool = MentorPool(ctx.store.mentor_cards(), ctx.services.fields)
    eligible = pool.eligible(card, ctx.services.rules)
    mentors = [m for m, ok in zip(pool.mentors, eligible, strict=True) if ok
               and (field_key is None or field_key in m.fields)
               and (kind is None or m.kind == kind.value)]
    if not mentors:
        ctx.tell(p, "mentors.none")
        return
    pages = (len(mentors) + PAGE_SIZE - 1) // PAGE_SIZE
    page = min(max(page, 0), pages - 1)
    shown = mentors[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]
    lines = [_mentor_line(ctx, m, p.language) for m in shown]
    buttons = list(_ask_buttons(ctx, p, shown))
    query = f"{field_key or ''}:{kind.value if kind else ''}"
    if page > 0:
        buttons.append(ctx.button(p.language, "mentors.previous", f"mentors:{page - 1}:{query}"))
    if page < pages - 1:
        buttons.append(ctx.button(p.language, "mentors.next", f"mentors:{page + 1}:{query}"))
    ctx.tell(p, "mentors.list", buttons=tuple(buttons), list="\n".join(lines), page=page + 1,
             pages=pages)


def browse_page(ctx: Context, p: Participant, value: str) -> None:
    """A "next page" button: `mentors:<page>:<field>:<kind>`."""
    page, _, query = value.partition(":")
    field_key, _, kind = query.partition(":")
    if not (page.isascii() and page.isdigit()):
        ctx.tell(p, "button.stale")
        return
    browse(ctx, p, f"{field_key} {kind}".strip(), int(page))


def _filters(ctx: Context, args: str) -> tuple[str | None, MentorKind | None]:
    """What follows /mentors: a field (number, key or name) and/or a kind, in any order."""
    field_key: str | None = None
    kind: MentorKind | None = None
    rest: list[str] = []
    for word in args.split():
        if kind is None and word.casefold() in KIND_WORDS and not word.isdigit():
            kind = KIND_WORDS[word.casefold()]
        else:
            rest.append(word)
    if rest:
        found = ctx.services.fields.find(" ".join(rest))
        field_key = found.key if found else None
    return field_key, kind


def _mentor_line(ctx: Context, m: MentorCard, lang: str) -> str:
    line = ctx.t(lang, "mentors.line", name=m.pseudonym, kind=ctx.t(lang, f"kind.{m.kind}"),
                 profession=m.profession or "—", years=m.years,
                 language=ctx.t(lang, f"language.name.{m.language}"))
    return f"{line}\n  « {m.bio} »" if m.bio else line


def _name(ctx: Context, m: MentorCard, lang: str) -> str:
    return shown_name(ctx, m.pseudonym, m.profession or None, lang)


def _ask_buttons(ctx: Context, p: Participant, mentors: list[MentorCard]) -> tuple:
    return tuple(ctx.button(p.language, "suggest.ask", f"ask:{m.id}", name=m.pseudonym)
                 for m in mentors)


def request(ctx: Context, p: Participant, args: str) -> None:
    """`/request <mentor> <first question>`."""
    if not is_student(ctx, p):
        return
    words = args.split()
    if not words:
        ctx.tell(p, "request.how")
        return
    # The longest run of first words that names an onboarded mentor; the rest is the question.
    mentor, question = named_first(
        ctx, args, lambda m: m.role is Role.MENTOR and m.step is Step.DONE)
    if mentor is not None:
        _send(ctx, p, mentor, question or None)
        return
    ctx.tell(p, "request.unknown_mentor", name=words[0])


def ask(ctx: Context, p: Participant, mentor_id: int) -> None:
    """A suggestion's or a list's button: ask this mentor (the first question comes later)."""
    if not is_student(ctx, p):
        return
    mentor = ctx.store.participant(mentor_id)
    if mentor is None or mentor.role is not Role.MENTOR or mentor.step is not Step.DONE:
        ctx.tell(p, "button.stale")
        return
    _send(ctx, p, mentor, None)


def _send(ctx: Context, p: Participant, mentor: Participant, question: str | None) -> None:
    try:
        request_mentor(ctx, p, mentor, question)
    except DomainError as refused:
        if refused.key == "match.exists":
            existing = [m for m in ctx.store.open_matches(p.id or 0) if m.mentor_id == mentor.id]
            waiting = existing and existing[0].status is MatchStatus.REQUESTED
            ctx.tell(p, "request.already_sent" if waiting else "request.already_matched",
                     name=mentor.pseudonym)
            return
        if refused.key in ("match.full", "match.paused"):
            ctx.tell(p, "request.unavailable", name=mentor.pseudonym)
            return
        ctx.tell(p, refused.key, **refused.values)
        return
    ctx.tell(p, "request.sent", name=mentor.pseudonym)
