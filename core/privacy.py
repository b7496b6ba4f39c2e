"""A person's privacy rights (Quebec's Law 25): seeing what Passerelle holds on them, being
erased, and message bodies kept no longer than the retention period.

`/mydata` sends the asker, and only them, everything held on them (their own platform ids
included: they are theirs to see): a JSON file of it all (profile, accounts, conversations, the
messages and group posts they wrote, survey answers, reminder settings; keys in English), with
a short readable summary in their language as its caption. Every platform takes files; the
outbox drops the file's bytes once it is delivered.

`/forgetme` asks first (a button); on yes, their open conversations end (the other side is told
kindly), and the store erases them: identities, profile, what they wrote, survey answers, their
copies in the outbox, their trace in the audit log. What the statistics count stays, anonymous:
the matches keep pointing at their participant row, emptied and marked erased. The "it is done"
message is written with their address before the address is erased; the sweep blanks that
outbox row's address and text once it was delivered (core.bus.sweep → `settle`). Someone who
writes again from the same account is a stranger: onboarding starts over with an invite code.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.context import Context
from core.model import Attachment, Identity, Match, MatchStatus, Participant, Role, Step
from core.names import display_name
from core.nudges import ask_end_survey
from core.profile import profile_lines

log = logging.getLogger("passerelle.privacy")


@dataclass(frozen=True, slots=True)
class Written:
    """Something a person wrote that is kept: a relayed message (`match_id`), a group post
    (`group_id`), a message held for review or flagged (`status`), a broadcast (`scope`)."""

    at: datetime
    body: str
    match_id: int | None = None
    group_id: int | None = None
    status: str | None = None
    scope: str | None = None


@dataclass(frozen=True, slots=True)
class Holdings:
    """What the database holds on one participant, beyond their profile."""

    identities: tuple[Identity, ...] = ()
    matches: tuple[Match, ...] = ()
    messages: tuple[Written, ...] = ()
    posts: tuple[Written, ...] = ()
    answers: tuple[tuple[int, str, str], ...] = ()  # (match, question, answer)
    nudges_sent: int = 0
    held: tuple[Written, ...] = ()  # what they wrote that was held for review, or flagged
    broadcasts: tuple[Written, ...] = ()  # a coordinator's messages to many


# /mydata ----------------------------------------------------------------------------------------

EXPORT_TYPE = "application/json"


def show_data(ctx: Context, p: Participant) -> None:
    """`/mydata`: everything held on the asker, to them only: a summary in their language, and
    the whole of it as a JSON file."""
    assert p.id is not None
    held = ctx.store.holdings(p.id)
    lang = p.language
    names = {m.id or 0: _other_name(ctx, m, p) for m in held.matches}
    sections = [
        _section(ctx, lang, f"mydata.profile.{p.role.value}", _profile_lines(ctx, p)),
        _section(ctx, lang, f"mydata.accounts.{p.role.value}", [
            ctx.t(lang, "mydata.account", platform=i.platform, user=i.platform_user_id,
                  chat=i.address.chat_id,
                  state=ctx.t(lang, "mydata.reachable" if i.reachable else "mydata.unreachable"))
            for i in held.identities]),
        _section(ctx, lang, "mydata.reminders", _reminder_lines(ctx, p, held)),
        ctx.t(lang, f"mydata.counts.{p.role.value}", matches=len(held.matches),
              messages=len(held.messages) + len(held.held) + len(held.broadcasts),
              posts=len(held.posts), answers=len(held.answers)),
    ]
    data = export(ctx, p, held, names, _group_names(ctx, held))
    file = Attachment(export_name(p, ctx.now), EXPORT_TYPE, encode_export(data))
    ctx.store.audit(f"participant:{p.id}", "data_export", {}, ctx.now)
    log.info("event=data_export bytes=%d", len(file.data))
    ctx.tell(p, f"mydata.show.{p.role.value}", attachment=file, date=_day(ctx.now), file=file.name,
             sections="\n\n".join(sections))


def export_name(p: Participant, now: datetime) -> str:
    """passerelle-<pseudonym>-<day>.json (`donnees`/`data` without a pseudonym): letters,
    digits and dashes only, whatever the pseudonym holds."""
    default = "donnees" if p.language == "fr" else "data"
    who = re.sub(r"[^\w-]+", "-", p.pseudonym or "").strip("-_") or default
    return f"passerelle-{who}-{now.date().isoformat()}.json"


def encode_export(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")


def export(ctx: Context, p: Participant, held: Holdings, names: dict[int, str],
           groups: dict[int, str]) -> dict[str, Any]:
    """Everything held on `p`, as plain data: what /mydata's file holds. Nobody else's words:
    a conversation's first question is shown to the student who asked it only."""
    school = ctx.store.school(p.school_id) if p.school_id else None
    return {
        "exported_at": _iso(ctx.now),
        "profile": {
            "pseudonym": p.pseudonym, "role": p.role.value, "language": p.language,
            "school": school.name if school else None, "age": p.age, "fields": list(p.fields),
            "mentor_kind": p.mentor_kind.value if p.mentor_kind else None,
            "profession": p.profession, "years": p.years, "capacity": p.capacity,
            "vetted": p.vetted, "paused": p.paused, "bio": p.bio,
            "signed_up": p.step is Step.DONE, "step": p.step.value,
            "message_waiting": p.pending_text, "since": _iso(p.created_at),
            "rejected_at": _iso(p.rejected_at), "rejected_reason": p.rejected_reason,
        },
        "identities": [
            {"platform": i.platform, "account_id": i.platform_user_id,
             "chat_id": i.address.chat_id, "thread_id": i.address.thread_id,
             "reachable": i.reachable, "last_seen_at": _iso(i.last_seen_at)}
            for i in held.identities],
        "reminders": {
            "enabled": not p.nudges_off, "timezone": p.timezone,
            "program_timezone": ctx.services.nudge_rules.timezone,
            "snoozed_until": _iso(p.snoozed_until), "reminders_sent": held.nudges_sent,
        },
        "matches": [
            {"id": m.id, "with": names.get(m.id or 0, "?"), "status": m.status.value,
             "started_at": _iso(m.created_at), "ended_at": _iso(m.ended_at),
             "first_question": m.question if m.student_id == p.id else None}
            for m in held.matches],
        "messages": [
            {"at": _iso(w.at), "match_id": w.match_id, "to": names.get(w.match_id or 0, "?"),
             "text": w.body}
            for w in held.messages],
        "group_posts": [
            {"at": _iso(w.at), "group_id": w.group_id, "group": groups.get(w.group_id or 0, "?"),
             "text": w.body}
            for w in held.posts],
        "survey_answers": [
            {"match_id": match_id, "question": question, "answer": answer}
            for match_id, question, answer in held.answers],
        "reviewed_messages": [
            {"at": _iso(w.at), "match_id": w.match_id, "group_id": w.group_id,
             "status": w.status, "text": w.body}
            for w in held.held],
        "broadcasts": [
            {"at": _iso(w.at), "scope": w.scope, "text": w.body} for w in held.broadcasts],
    }


def _other_name(ctx: Context, m: Match, p: Participant) -> str:
    assert p.id is not None
    other = ctx.store.participant(m.other(p.id))
    return display_name(ctx, other, p.language) if other else "?"


def _group_names(ctx: Context, held: Holdings) -> dict[int, str]:
    names: dict[int, str] = {}
    for w in held.posts:
        gid = w.group_id or 0
        if gid not in names:
            group = ctx.store.group(gid)
            names[gid] = group.name if group else "?"
    return names


def _section(ctx: Context, lang: str, key: str, lines: list[str], **values: object) -> str:
    body = "\n".join(lines) if lines else ctx.t(lang, "mydata.none")
    return ctx.t(lang, key, lines=body, **values)


def _day(at: datetime | None) -> str:
    return at.date().isoformat() if at else "—"


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


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


# /forgetme --------------------------------------------------------------------------------------

def ask_forget(ctx: Context, p: Participant) -> None:
    """`/forgetme`: what it erases, and a button to confirm (nothing happens without it)."""
    lang = p.language
    buttons = (ctx.button(lang, "forget.yes_button", "forget:yes"),
               ctx.button(lang, "forget.no_button", "forget:no"))
    ctx.tell(p, f"forget.confirm.{p.role.value}", buttons=buttons)


def is_forget_button(action: str | None) -> bool:
    return action is not None and action.startswith("forget:")


def answer(ctx: Context, p: Participant, action: str) -> None:
    """The answer to /forgetme's question (at any step of onboarding too)."""
    if action == "forget:yes":
        forget(ctx, p)
    elif action == "forget:no":
        ctx.tell(p, f"forget.kept.{p.role.value}")
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
    ctx.tell(p, f"forget.done.{p.role.value}")
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
