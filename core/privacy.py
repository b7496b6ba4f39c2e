"""A person's privacy rights (Quebec's Law 25): seeing what Passerelle holds on them, being
erased, and message bodies kept no longer than the retention period.

`/mydata` sends the asker, and only them, a readable account of everything held on them (their
own platform ids included: they are theirs to see). Our channels carry text and buttons, no
files: the account is one message, which the delivery layer splits at the platform's limit.

`/forgetme` asks first (a button); on yes, their open conversations end (the other side is told
kindly), and the store erases them: identities, profile, what they wrote, survey answers, their
copies in the outbox, their trace in the audit log. What the statistics count stays, anonymous:
the matches keep pointing at their participant row, emptied and marked erased. The "it is done"
message is written with their address before the address is erased; the sweep blanks that
outbox row's address and text once it was delivered (core.bus.sweep → `settle`). Someone who
writes again from the same account is a stranger: onboarding starts over with an invite code.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.context import Context
from core.model import Identity, Match, MatchStatus, Participant, Role, Step
from core.names import display_name
from core.nudges import INFLUENCE, REASONS, ask_end_survey
from core.profile import profile_lines

log = logging.getLogger("passerelle.privacy")


@dataclass(frozen=True, slots=True)
class Written:
    """Something a person wrote that is kept: a relayed message (`match_id`) or a group post
    (`group_id`)."""

    at: datetime
    body: str
    match_id: int | None = None
    group_id: int | None = None


@dataclass(frozen=True, slots=True)
class Holdings:
    """What the database holds on one participant, beyond their profile."""

    identities: tuple[Identity, ...] = ()
    matches: tuple[Match, ...] = ()
    messages: tuple[Written, ...] = ()
    posts: tuple[Written, ...] = ()
    answers: tuple[tuple[int, str, str], ...] = ()  # (match, question, answer)
    nudges_sent: int = 0


# /mydata ----------------------------------------------------------------------------------------

_STATUS = {
    MatchStatus.REQUESTED: "mydata.status.requested",
    MatchStatus.ACTIVE: "mydata.status.active",
    MatchStatus.DECLINED: "mydata.status.declined",
    MatchStatus.EXPIRED: "mydata.status.expired",
    MatchStatus.ENDED: "mydata.status.ended",
}
_QUESTIONS = {
    "reason": "mydata.question.reason",
    "influence": "mydata.question.influence",
    "quality": "mydata.question.quality",
    "thanks": "mydata.question.thanks",
}
_ANSWERS = {
    ("reason", r): f"survey.reason.{r}" for r in REASONS
} | {("influence", a): f"survey.influence.{a}" for a in INFLUENCE}


def show_data(ctx: Context, p: Participant) -> None:
    """`/mydata`: everything held on the asker, to them only, in their language."""
    assert p.id is not None
    held = ctx.store.holdings(p.id)
    lang = p.language
    names: dict[int, str] = {}
    for m in held.matches:
        other = ctx.store.participant(m.other(p.id))
        names[m.id or 0] = display_name(ctx, other, lang) if other else "?"
    sections = [
        _section(ctx, lang, "mydata.profile", _profile_lines(ctx, p)),
        _section(ctx, lang, "mydata.accounts", [
            ctx.t(lang, "mydata.account", platform=i.platform, user=i.platform_user_id,
                  chat=i.address.chat_id,
                  state=ctx.t(lang, "mydata.reachable" if i.reachable else "mydata.unreachable"))
            for i in held.identities]),
        _section(ctx, lang, "mydata.reminders", _reminder_lines(ctx, p, held)),
        _section(ctx, lang, "mydata.matches", _match_lines(ctx, lang, held, names),
                 count=len(held.matches)),
        _section(ctx, lang, "mydata.messages", [
            ctx.t(lang, "mydata.message", date=_day(w.at), name=names.get(w.match_id or 0, "?"),
                  text=w.body)
            for w in held.messages], count=len(held.messages)),
        _section(ctx, lang, "mydata.posts", _post_lines(ctx, lang, held), count=len(held.posts)),
        _section(ctx, lang, "mydata.answers", [
            ctx.t(lang, "mydata.answer", id=match_id,
                  question=ctx.t(lang, _QUESTIONS[q]) if q in _QUESTIONS else q,
                  answer=ctx.t(lang, _ANSWERS[q, a]) if (q, a) in _ANSWERS else a)
            for match_id, q, a in held.answers], count=len(held.answers)),
    ]
    ctx.store.audit(f"participant:{p.id}", "data_export", {}, ctx.now)
    log.info("event=data_export")
    ctx.tell(p, "mydata.show", date=_day(ctx.now), sections="\n\n".join(sections))


def _section(ctx: Context, lang: str, key: str, lines: list[str], **values: object) -> str:
    body = "\n".join(lines) if lines else ctx.t(lang, "mydata.none")
    return ctx.t(lang, key, lines=body, **values)


def _day(at: datetime | None) -> str:
    return at.date().isoformat() if at else "—"


def _profile_lines(ctx: Context, p: Participant) -> list[str]:
    """The profile as /profile shows it, and what else is kept about them."""
    lang = p.language
    lines = profile_lines(ctx, p)
    if p.role is Role.MENTOR and p.paused:
        lines.append(ctx.t(lang, "mydata.paused"))
    if p.bio:
        lines.append(ctx.t(lang, "mydata.bio", bio=p.bio))
    if p.step is not Step.DONE:
        lines.append(ctx.t(lang, "mydata.onboarding"))
    if p.pending_text:
        lines.append(ctx.t(lang, "mydata.pending", text=p.pending_text))
    lines.append(ctx.t(lang, "mydata.since", date=_day(p.created_at)))
    return lines


def _reminder_lines(ctx: Context, p: Participant, held: Holdings) -> list[str]:
    lang = p.language
    state = ctx.t(lang, "nudges.state.off" if p.nudges_off else "nudges.state.on")
    lines = [ctx.t(lang, "mydata.nudges", state=state, count=held.nudges_sent),
             ctx.t(lang, "mydata.timezone",
                   zone=p.timezone or ctx.services.nudge_rules.timezone)]
    if p.snoozed_until is not None and p.snoozed_until > ctx.now:
        lines.append(ctx.t(lang, "mydata.snoozed", date=_day(p.snoozed_until)))
    return lines


def _match_lines(ctx: Context, lang: str, held: Holdings, names: dict[int, str]) -> list[str]:
    lines = []
    for m in held.matches:
        lines.append(ctx.t(lang, "mydata.match", id=m.id, name=names.get(m.id or 0, "?"),
                           status=ctx.t(lang, _STATUS[m.status]), start=_day(m.created_at),
                           end=_day(m.ended_at)))
        if m.question:
            lines.append(ctx.t(lang, "mydata.first_question", text=m.question))
    return lines


def _post_lines(ctx: Context, lang: str, held: Holdings) -> list[str]:
    group_names: dict[int, str] = {}
    lines = []
    for w in held.posts:
        gid = w.group_id or 0
        if gid not in group_names:
            group = ctx.store.group(gid)
            group_names[gid] = group.name if group else "?"
        lines.append(ctx.t(lang, "mydata.post", date=_day(w.at), group=group_names[gid],
                           text=w.body))
    return lines


# /forgetme --------------------------------------------------------------------------------------

def ask_forget(ctx: Context, p: Participant) -> None:
    """`/forgetme`: what it erases, and a button to confirm (nothing happens without it)."""
    lang = p.language
    buttons = (ctx.button(lang, "forget.yes_button", "forget:yes"),
               ctx.button(lang, "forget.no_button", "forget:no"))
    ctx.tell(p, "forget.confirm", buttons=buttons)


def is_forget_button(action: str | None) -> bool:
    return action is not None and action.startswith("forget:")


def answer(ctx: Context, p: Participant, action: str) -> None:
    """The answer to /forgetme's question (at any step of onboarding too)."""
    if action == "forget:yes":
        forget(ctx, p)
    elif action == "forget:no":
        ctx.tell(p, "forget.kept")
    else:
        ctx.tell(p, "button.stale")


def forget(ctx: Context, p: Participant) -> None:
    """Erase a participant, in this transaction: conversations ended kindly first, then the
    farewell written (its address resolved now), then everything the store holds on them."""
    assert p.id is not None
    ended = 0
    for match in ctx.store.open_matches(p.id):
        _close(ctx, match, p)
        ended += 1
    # Nothing else for them from this event: only the farewell goes to their chat.
    ctx.out[:] = [env for env in ctx.out if env.recipient_id != p.id]
    ctx.tell(p, "forget.done")
    counts = ctx.store.erase_participant(p.id, ctx.now)
    ctx.store.audit("system", "participant_erased", {"matches_ended": ended}, ctx.now)
    log.info("event=participant_erased matches_ended=%d %s", ended,
             " ".join(f"{name}={n}" for name, n in sorted(counts.items())))


def _close(ctx: Context, match: Match, leaving: Participant) -> None:
    """An open match of someone leaving Passerelle closes, and the other side hears it kindly:
    a conversation ends as with /end (the end survey included); a request lapses."""
    assert leaving.id is not None
    active = match.status is MatchStatus.ACTIVE
    # A request that will never be answered lapses (an ended match is one that took place).
    match.status = MatchStatus.ENDED if active else MatchStatus.EXPIRED
    match.ended_at = ctx.now
    match.ended_by = leaving.id
    ctx.store.save_match(match)
    action = "match_end" if active else "match_expire"
    ctx.store.audit("system", action, {"match_id": match.id, "reason": "erased"}, ctx.now)
    other = ctx.store.participant(match.other(leaving.id))
    if other is None:
        return
    if other.current_match_id == match.id:
        other.current_match_id = None
        other.pending_text = None
        ctx.store.save_participant(other)
    name = display_name(ctx, leaving, other.language)
    if active:
        ctx.tell(other, "forget.partner_left", about_match=match.id, name=name)
        ask_end_survey(ctx, match, other)
    elif other.role is Role.MENTOR:
        ctx.tell(other, "forget.request_withdrawn", about_match=match.id, name=name)
    elif match.requested_by is not None:  # a coordinator's proposal was never announced
        ctx.tell(other, "forget.request_closed", name=name)


# Time ---------------------------------------------------------------------------------------------

def purge_due(ctx: Context) -> int:
    """Once a day (the first sweep of each UTC day), blank the message bodies older than the
    retention period; the number of bodies blanked. The day is claimed in the same
    transaction, so a second sweep or instance finds it taken and reads nothing else."""
    day = ctx.now.date().isoformat()
    if not ctx.store.claim_purge(day, ctx.now):
        return 0
    return ctx.store.purge_bodies(ctx.now - timedelta(days=ctx.services.retention_days), day)


def settle(ctx: Context) -> int:
    """Blank the outbox copies about erased people that went out since (their farewell's
    address and text included); the number of rows blanked."""
    return ctx.store.settle_erasures(ctx.now)
