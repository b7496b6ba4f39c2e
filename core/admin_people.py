"""Coordinators acting on people: mentors awaiting vetting (approve, reject with a reason),
proposing and ending matches, and revealing who is behind a pseudonym in an emergency.

Scope is checked in core (core.admin_scope): a school's coordinator acts on their school's
students and on mentors (who serve every school); program staff (a coordinator with no school)
on everyone.
Every action is audited with who, what, on whom and from which platform (`Context.audit`).
"""

from __future__ import annotations

from core.admin_scope import is_coordinator, may_act_on
from core.context import Context
from core.errors import DomainError
from core.matches import propose_match
from core.model import Participant, Role, Step
from core.moderation import vet
from core.names import named_first

MAX_LISTED = 20
MAX_REASON = 300  # participants.rejected_reason


def two_named(ctx: Context, args: str) -> tuple[Participant, Participant] | None:
    """A student and a mentor named in this order (either may hold spaces)."""
    words = args.split()
    for cut in range(1, len(words)):
        first = ctx.store.find_participant(" ".join(words[:cut]))
        second = ctx.store.find_participant(" ".join(words[cut:])) if first else None
        if first is not None and second is not None:
            return first, second
    return None


# Mentors awaiting vetting ----------------------------------------------------------------------

def awaiting(ctx: Context) -> list[Participant]:
    """Onboarded mentors nobody vetted nor turned down yet."""
    return [m for m in ctx.store.participants(Role.MENTOR.value)
            if m.step is Step.DONE and not m.vetted and m.rejected_at is None]


def pending(ctx: Context, p: Participant, _: str = "") -> None:
    """`/admin pending`: onboarded mentors nobody vetted yet, Approve and Reject for each."""
    if not is_coordinator(ctx, p):
        return
    waiting = awaiting(ctx)
    if not waiting:
        ctx.tell(p, "pending.none")
        return
    lang = p.language
    shown = waiting[:MAX_LISTED]
    lines = [ctx.t(lang, "pending.line", name=m.pseudonym, profession=m.profession or "—",
                   years=m.years if m.years is not None else "—",
                   kind=ctx.t(lang, f"kind.{m.mentor_kind.value}") if m.mentor_kind else "—")
             for m in shown]
    buttons = tuple(button for m in shown for button in (
        ctx.button(lang, "pending.vet_button", f"vet:{m.id}", name=m.pseudonym),
        ctx.button(lang, "pending.reject_button", f"reject:{m.id}", name=m.pseudonym)))
    ctx.tell(p, "pending.list", buttons=buttons, count=len(waiting), mentors="\n".join(lines))


def vet_button(ctx: Context, p: Participant, mentor_id: int) -> None:
    """The Approve button of `/pending`: the same as `/vet PSEUDONYM`."""
    mentor = _pressed_mentor(ctx, p, mentor_id)
    if mentor is not None:
        vet(ctx, p, mentor.pseudonym or "")


def approve(ctx: Context, p: Participant, args: str) -> None:
    """`/admin approve PSEUDONYM` (= `/vet`)."""
    vet(ctx, p, args)


def reject_button(ctx: Context, p: Participant, mentor_id: int) -> None:
    """The Reject button: a reason is needed, and it is typed as a command (stateless, so it
    works the same on every platform and from the command line): this says which."""
    if not is_coordinator(ctx, p):
        return
    mentor = _pressed_mentor(ctx, p, mentor_id)
    if mentor is not None:
        ctx.tell(p, "reject.how", name=mentor.pseudonym)


def _pressed_mentor(ctx: Context, p: Participant, mentor_id: int) -> Participant | None:
    """The mentor a /pending button names, or None once `p` was told the button is stale."""
    mentor = ctx.store.participant(mentor_id)
    if mentor is None or mentor.role is not Role.MENTOR or not mentor.pseudonym:
        ctx.tell(p, "button.stale")
        return None
    return mentor


def reject(ctx: Context, p: Participant, args: str) -> None:
    """`/admin reject PSEUDONYM reason…`: the mentor is turned down and told why, kindly;
    they leave /pending and are never matched, suggested nor let into a group. A mentor turned
    down after being vetted (a parent's complaint, say) also leaves their conversations (both
    sides told it is the coordination's decision, as for /admin unmatch) and their groups."""
    if not is_coordinator(ctx, p):
        return
    mentor, reason = named_first(ctx, args)
    if mentor is None or mentor.role is not Role.MENTOR:
        ctx.tell(p, "reject.how", name=args.split()[0][:40] if args.split() else "…")
        return
    if not reason:
        ctx.tell(p, "reject.how", name=mentor.pseudonym)
        return
    if mentor.rejected_at is not None:
        ctx.tell(p, "reject.already", name=mentor.pseudonym)
        return
    mentor.vetted = False
    mentor.rejected_at = ctx.now
    mentor.rejected_reason = reason[:MAX_REASON]
    ctx.store.save_participant(mentor)
    ctx.audit(p, "mentor_rejected", {"mentor_id": mentor.id, "reason": mentor.rejected_reason})
    ctx.tell(mentor, "reject.mentor_told", reason=mentor.rejected_reason)
    _withdraw(ctx, mentor)
    ctx.tell(p, "reject.done", name=mentor.pseudonym)


def _withdraw(ctx: Context, mentor: Participant) -> None:
    """A rejected mentor's open conversations end and their group memberships go."""
    from core.relay import end_match  # relay is the one place a match ends

    assert mentor.id is not None
    for open_match in ctx.store.open_matches(mentor.id):
        end_match(ctx, open_match, ended_by=None, told="end.by_coordinator")
    for group in ctx.store.groups_of(mentor.id):
        ctx.store.leave_group(group.id or 0, mentor.id)
    fresh = ctx.store.participant(mentor.id)  # end_match saved them (current conversation)
    if fresh is not None and fresh.current_group_id is not None:
        fresh.current_group_id = None
        ctx.store.save_participant(fresh)


# Matches ---------------------------------------------------------------------------------------

def match(ctx: Context, p: Participant, args: str) -> None:
    """`/admin match STUDENT MENTOR` (the mentor accepts or declines, as always), or
    `/admin match auto [--dry-run] [school]` (the cohort plan, sent once confirmed)."""
    from core import cohort  # cohort builds on matches, as this module does

    if not is_coordinator(ctx, p):
        return
    words = args.split()
    if words and words[0].casefold() in ("auto", "automatique"):
        rest = " ".join(w for w in words[1:] if w.casefold() not in ("--dry-run", "--essai"))
        cohort.coordinator_plan(ctx, p, rest)
        return
    pair = two_named(ctx, args)
    if pair is None:
        ctx.tell(p, "admin.match.how")
        return
    student, mentor = pair
    if student.role is Role.STUDENT and not may_act_on(p, student):
        ctx.tell(p, "admin.not_yours")
        return
    try:
        made = propose_match(ctx, student.pseudonym or "", mentor.pseudonym or "",
                             actor=f"participant:{p.id}")
    except DomainError as refused:
        ctx.tell(p, refused.key, **refused.values)
        return
    ctx.tell(p, "admin.match.proposed", student=student.pseudonym, mentor=mentor.pseudonym,
             id=made.id)


def unmatch(ctx: Context, p: Participant, args: str) -> None:
    """`/unmatch STUDENT MENTOR`: a coordinator ends a match (both are told, as for /end)."""
    from core.relay import end_match  # relay is the one place a match ends

    if not is_coordinator(ctx, p):
        return
    pair = two_named(ctx, args)
    if pair is None or pair[0].id is None:
        ctx.tell(p, "unmatch.how")
        return
    student, mentor = pair
    if not may_act_on(p, student):
        ctx.tell(p, "unmatch.not_yours")
        return
    found = next((m for m in ctx.store.open_matches(student.id or 0)
                  if m.mentor_id == mentor.id and m.student_id == student.id), None)
    if found is None:
        ctx.tell(p, "unmatch.none", student=student.pseudonym, mentor=mentor.pseudonym)
        return
    ctx.audit(p, "unmatch", {"match_id": found.id, "student_id": student.id,
                             "mentor_id": mentor.id})
    end_match(ctx, found, ended_by=None, told="end.by_coordinator")
    ctx.tell(p, "unmatch.done", student=student.pseudonym, mentor=mentor.pseudonym)


# Reveal ----------------------------------------------------------------------------------------

def reveal(ctx: Context, p: Participant, args: str) -> None:
    """`/admin reveal PSEUDONYM reason…`: the person's platform accounts, for a safety
    emergency only. Never without a reason; audited; every program admin is told who
    revealed whom and why."""
    if not is_coordinator(ctx, p):
        return
    target, reason = named_first(ctx, args)
    if target is None:
        ctx.tell(p, "reveal.how")
        return
    if not may_act_on(p, target):
        ctx.tell(p, "admin.not_yours")
        return
    if not reason:
        ctx.tell(p, "reveal.reason_needed", name=target.pseudonym)
        return
    reason = reason[:MAX_REASON]
    lang = p.language
    lines = [ctx.t(lang, "reveal.line", platform=i.platform, user=i.platform_user_id,
                   chat=i.address.chat_id)
             for i in ctx.store.identities_of(target.id or 0)]
    ctx.audit(p, "reveal", {"participant_id": target.id, "reason": reason})
    ctx.tell(p, "reveal.show", name=target.pseudonym, accounts="\n".join(lines) or "—")
    for admin in ctx.store.coordinators_of(None):
        if admin.school_id is None and admin.id != p.id:
            ctx.tell(admin, "reveal.notice", who=p.pseudonym, name=target.pseudonym,
                     reason=reason)
