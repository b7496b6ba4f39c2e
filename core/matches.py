"""Matches: proposing one to a mentor, the mentor's answer, and matching directly.

A mentor accepts or declines every proposal (a coordinator's, and later the matcher's and a
student's own request): nobody is handed a student they did not agree to take on.
"""

from __future__ import annotations

from datetime import timedelta

from core.context import Context
from core.errors import DomainError
from core.model import Match, MatchStatus, MentorKind, Participant, Role, Step
from core.moderation import is_minor
from core.relay import display_name


def propose_match(
    ctx: Context, student_name: str, mentor_name: str, actor: str, question: str | None = None
) -> Match:
    """Ask a mentor to take a student on; nothing is said to the student until they accept."""
    student, mentor = _pair(ctx, student_name, mentor_name)
    return _request(ctx, student, mentor, actor, question, requested_by=None)


def send_proposal(ctx: Context, student: Participant, mentor: Participant, actor: str) -> Match:
    """A proposal the platform made (the cohort plan): checked like any other."""
    _check_pair(ctx, student, mentor)
    return _request(ctx, student, mentor, actor, None, requested_by=None)


def request_mentor(
    ctx: Context, student: Participant, mentor: Participant, question: str | None
) -> Match:
    """The student's own request (/request, or a suggestion's button): DomainError if it may
    not be made (too many waiting, already asked, mentor unavailable)."""
    assert student.id is not None
    waiting = [m for m in ctx.store.open_matches(student.id)
               if m.status is MatchStatus.REQUESTED and m.requested_by == student.id]
    limit = ctx.services.rules.max_open_requests
    if len(waiting) >= limit:
        raise DomainError("request.too_many", max=limit)
    if not mentor.vetted:  # students only ever see vetted mentors: to them, nobody is there
        raise DomainError("request.unknown_mentor", name=mentor.pseudonym)
    _check_pair(ctx, student, mentor)
    rules = ctx.services.rules
    too_young = (mentor.mentor_kind is MentorKind.PEER
                 and (student.age or 0) < rules.peer_min_age)
    if too_young or mentor.language != student.language:  # the filters /suggest applies
        raise DomainError("request.unavailable", name=mentor.pseudonym)
    return _request(ctx, student, mentor, f"participant:{student.id}", question,
                    requested_by=student.id)


def _request(ctx: Context, student: Participant, mentor: Participant, actor: str,
             question: str | None, requested_by: int | None) -> Match:
    if mentor.paused:
        raise DomainError("match.paused", mentor=mentor.pseudonym)
    assert student.id is not None and mentor.id is not None
    match = ctx.store.add_match(Match(student.id, mentor.id, status=MatchStatus.REQUESTED,
                                      created_at=ctx.now, question=question,
                                      requested_by=requested_by))
    if requested_by is None:  # a proposal: an admin action, with where it was typed
        ctx.audit(actor, "match_request", {"match_id": match.id})
    else:
        ctx.store.audit(actor, "match_request", {"match_id": match.id}, ctx.now)
    _send_request(ctx, match, student, mentor)
    return match


def create_match(ctx: Context, student_name: str, mentor_name: str, actor: str) -> Match:
    """Match a student with a mentor who already agreed, and introduce them to each other."""
    student, mentor = _pair(ctx, student_name, mentor_name)
    assert student.id is not None and mentor.id is not None
    match = ctx.store.add_match(Match(student.id, mentor.id, created_at=ctx.now))
    ctx.audit(actor, "match_create", {"match_id": match.id})
    _introduce(ctx, match, student, mentor, mentor_key="match.intro_mentor", opens_thread=True)
    return match


def accept_request(ctx: Context, mentor: Participant, match_id: int) -> None:
    """The mentor's "accept": the match starts, and the student hears the good news."""
    match = _own_request(ctx, mentor, match_id)
    if match is None:
        return
    load = len(ctx.store.active_matches(mentor.id or 0))
    if mentor.capacity is not None and load >= mentor.capacity:
        ctx.tell(mentor, "request.full", about_match=match.id, capacity=mentor.capacity)
        return
    student = ctx.store.participant(match.student_id)
    assert student is not None
    match.status = MatchStatus.ACTIVE
    ctx.store.save_match(match)
    ctx.store.audit(f"participant:{mentor.id}", "match_accept", {"match_id": match.id}, ctx.now)
    _introduce(ctx, match, student, mentor, mentor_key="request.accepted", opens_thread=False)


def decline_request(ctx: Context, mentor: Participant, match_id: int) -> None:
    match = _own_request(ctx, mentor, match_id)
    if match is None:
        return
    match.status = MatchStatus.DECLINED
    match.ended_at = ctx.now
    match.ended_by = mentor.id
    ctx.store.save_match(match)
    ctx.store.audit(f"participant:{mentor.id}", "match_decline", {"match_id": match.id}, ctx.now)
    ctx.tell(mentor, "request.declined", about_match=match.id)
    _tell_student_closed(ctx, match, mentor, "request.declined_student")


def expire_requests(ctx: Context, older_than: timedelta) -> int:
    """Close kindly the requests nobody answered in time; the student gets other mentors."""
    expired = ctx.store.expired_requests(ctx.now - older_than)
    for match in expired:
        match.status = MatchStatus.EXPIRED
        match.ended_at = ctx.now
        ctx.store.save_match(match)
        ctx.store.audit("system", "match_expire", {"match_id": match.id}, ctx.now)
        mentor = ctx.store.participant(match.mentor_id)
        if mentor is None:
            continue
        student = ctx.store.participant(match.student_id)
        ctx.tell(mentor, "request.expired_mentor", about_match=match.id,
                 name=display_name(ctx, student, mentor.language) if student else "?")
        _tell_student_closed(ctx, match, mentor, "request.expired_student")
    return len(expired)


def withdraw_request(ctx: Context, match: Match, ended_by: Participant | None) -> None:
    """A request closed before the mentor answered (a block, a coordinator's decision, a
    mentor turned down) lapses: it never was a conversation, so it is not counted as one that
    ended and nobody is asked the end survey. The mentor hears it is withdrawn; a student who
    asked gets other mentors at once. Whoever closed it is answered by their own command."""
    match.status = MatchStatus.EXPIRED
    match.ended_at = ctx.now
    match.ended_by = ended_by.id if ended_by else None
    ctx.store.save_match(match)
    ctx.store.audit(f"participant:{ended_by.id}" if ended_by else "system", "match_expire",
                    {"match_id": match.id}, ctx.now)
    mentor = ctx.store.participant(match.mentor_id)
    if mentor is None:
        return
    if ended_by is None or ended_by.id != mentor.id:
        student = ctx.store.participant(match.student_id)
        ctx.tell(mentor, "request.withdrawn_mentor", about_match=match.id,
                 name=display_name(ctx, student, mentor.language) if student else "?")
    if ended_by is None or ended_by.id != match.student_id:
        _tell_student_closed(ctx, match, mentor, "request.withdrawn_student")


def _tell_student_closed(ctx: Context, match: Match, mentor: Participant, key: str) -> None:
    """A student who asked hears that it will not happen, and gets other mentors at once.
    (A coordinator's proposal was never announced to the student: nothing to take back.)"""
    if match.requested_by is None:
        return
    student = ctx.store.participant(match.student_id)
    if student is None:
        return
    ctx.tell(student, key, name=display_name(ctx, mentor, student.language))
    from core import choosing  # choosing builds on matches: imported here, not at the top

    choosing.suggest(ctx, student, quiet_if_none=False)


def _own_request(ctx: Context, mentor: Participant, match_id: int) -> Match | None:
    """The mentor's request `match_id` if it still waits for an answer; else say why not."""
    match = ctx.store.match(match_id)
    if match is None or match.mentor_id != mentor.id:
        ctx.tell(mentor, "button.stale")
        return None
    if match.status is not MatchStatus.REQUESTED:
        ctx.tell(mentor, f"request.already_{match.status.value}", about_match=match.id)
        return None
    return match


def _send_request(ctx: Context, match: Match, student: Participant, mentor: Participant) -> None:
    lang = mentor.language
    buttons = (
        ctx.button(lang, "request.accept", f"accept:{match.id}"),
        ctx.button(lang, "request.decline", f"decline:{match.id}"),
        ctx.button(lang, "pause.button", "pause:on"),
    )
    question = match.question or ctx.t(lang, "request.no_question")
    ctx.tell(mentor, "request.to_mentor", buttons=buttons, about_match=match.id,
             opens_thread=True, question=question, **_student_card(ctx, student, lang))


def _student_card(ctx: Context, student: Participant, lang: str) -> dict[str, object]:
    """What a mentor learns about a student: pseudonym, age and interests, never more."""
    return {
        "name": display_name(ctx, student, lang),
        "age": student.age or "?",
        "fields": ctx.services.fields.labels(student.fields, lang) or "—",
    }


def _introduce(
    ctx: Context, match: Match, student: Participant, mentor: Participant, *,
    mentor_key: str, opens_thread: bool,
) -> None:
    for p in (student, mentor):
        # With one conversation, plain messages go to it. With a second one, guessing would send
        # a greeting meant for the newcomer to the first person: the next message asks instead.
        p.current_match_id = match.id if p.current_match_id is None else None
        ctx.store.save_participant(p)
    ctx.tell(student, "match.intro_student", about_match=match.id,
             name=display_name(ctx, mentor, student.language))
    end = ctx.button(mentor.language, "end.button", f"endask:{match.id}")
    ctx.tell(mentor, mentor_key, buttons=(end,), about_match=match.id,
             opens_thread=opens_thread, **_student_card(ctx, student, mentor.language))


def _pair(ctx: Context, student_name: str, mentor_name: str) -> tuple[Participant, Participant]:
    """The two people a match would join, if they may be matched (else DomainError)."""
    student = _onboarded(ctx, student_name, Role.STUDENT)
    mentor = _onboarded(ctx, mentor_name, Role.MENTOR)
    _check_pair(ctx, student, mentor)
    return student, mentor


def _check_pair(ctx: Context, student: Participant, mentor: Participant) -> None:
    assert student.id is not None and mentor.id is not None
    if mentor.id in ctx.store.blocked_with(student.id):
        raise DomainError("match.blocked", student=student.pseudonym, mentor=mentor.pseudonym)
    if mentor.rejected_at is not None:  # turned down by a coordinator: never matched
        raise DomainError("match.rejected", mentor=mentor.pseudonym)
    if not mentor.vetted and is_minor(ctx, student):
        raise DomainError("match.unvetted", student=student.pseudonym, mentor=mentor.pseudonym)
    if any(m.mentor_id == mentor.id for m in ctx.store.open_matches(student.id)):
        raise DomainError("match.exists", student=student.pseudonym, mentor=mentor.pseudonym)
    load = len(ctx.store.active_matches(mentor.id))
    if mentor.capacity is not None and load >= mentor.capacity:
        raise DomainError("match.full", mentor=mentor.pseudonym, capacity=mentor.capacity)


def _onboarded(ctx: Context, pseudonym: str, role: Role) -> Participant:
    p = ctx.store.find_participant(pseudonym)
    if p is None or p.role is not role:
        raise DomainError(f"match.no_{role.value}", name=pseudonym)
    if p.step is not Step.DONE:
        raise DomainError("match.not_onboarded", name=pseudonym)
    return p
