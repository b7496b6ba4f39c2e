"""Youth safety inside the relay: what a message may carry, who reviews, reports and blocks.

Every relayed text (1:1 or a group post) is screened before anything is written for its
recipients. Where a minor is in the conversation and the program holds (the default), a text
carrying contact details is kept, its sender told why, and the coordinators of the student's
school get it with approve / send-redacted / reject buttons; between adults it is redacted and
delivered, and the sender told. Words of the keyword lists flag the message to the coordinators
(it still goes); words of distress also send the student the help lines at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from core.admin_scope import covers, is_coordinator
from core.commands import row_id
from core.context import Context
from core.model import Address, Held, Inbound, Match, MatchStatus, Participant, Role
from core.names import display_name
from core.safety import redact
from core.text import fold

SELF_HARM = "self_harm"
# Every flag a message can carry: the keyword lists (config/safety/keywords.toml) and contact
# details; each is named in the catalogs (`safety.flag.<flag>`).
FLAGS = (SELF_HARM, "harassment", "sexual", "meeting", "contact")


@dataclass(frozen=True, slots=True)
class Screening:
    text: str  # what may be delivered (redacted between adults)
    held: bool = False
    redacted: bool = False
    flags: tuple[str, ...] = ()


def fold_words(text: str) -> str:
    """Lower case, no accents, words of letters and digits one space apart (an apostrophe
    splits: "t'es" is "t es")."""
    return " ".join(re.findall(r"[a-z0-9]+", fold(text)))


def flags_of(ctx: Context, text: str) -> tuple[str, ...]:
    """The keyword lists a text touches (whole words or phrases, accents and case ignored)."""
    folded = f" {fold_words(text)} "
    return tuple(flag for flag, words in ctx.services.safety_rules.keywords.items()
                 if any(f" {word} " in folded for word in words))


def is_minor(ctx: Context, p: Participant) -> bool:
    """A student under the program's age of majority (an unknown age counts as a minor)."""
    return p.role is Role.STUDENT and (p.age is None
                                       or p.age < ctx.services.safety_rules.minor_age)


def screen(ctx: Context, sender: Participant, text: str, minors: bool, program: str | None
           ) -> Screening:
    """What happens to `text` on its way to people among whom there are `minors` or not."""
    flags = flags_of(ctx, text)
    found = redact(text, sender.language)
    if not found.found:
        return Screening(text, flags=flags)
    if minors and ctx.services.safety_rules.holds(program):
        return Screening(text, held=True, flags=(*flags, "contact"))
    return Screening(found.text, redacted=True, flags=flags)


def admit(ctx: Context, sender: Participant, text: str, inbound: Inbound, *, minors: bool,
          program: str | None, school_of: int | None, about: str,
          match_id: int | None = None, group_id: int | None = None,
          reply_to_post: int | None = None) -> str | None:
    """The text that may go on (redacted between adults), flags raised; None: held for the
    coordinators of `school_of`. The relay and group posts both come through here."""
    verdict = screen(ctx, sender, text, minors, program)
    if verdict.held:
        hold(ctx, sender, text, inbound, school_of=school_of, match_id=match_id,
             group_id=group_id, reply_to_post=reply_to_post, reasons=verdict.flags,
             about=about)
        return None
    if verdict.redacted:
        ctx.tell(sender, "safety.redacted_note", about_match=match_id, about_group=group_id)
    flag(ctx, sender, text, verdict.flags, school_of, about, source=inbound.source.home,
         message_id=inbound.message_id, match_id=match_id, group_id=group_id)
    return verdict.text


def hold(ctx: Context, sender: Participant, text: str, inbound: Inbound, *, school_of: int | None,
         match_id: int | None = None, group_id: int | None = None,
         reply_to_post: int | None = None, reasons: tuple[str, ...] = (),
         about: str = "") -> None:
    """Keep the message; tell its sender kindly; ask the school's coordinators to decide."""
    assert sender.id is not None
    held = ctx.store.hold(Held(sender.id, text, inbound.source.home, inbound.message_id,
                               match_id, group_id, reply_to_post, reasons,
                               school_id=school_of), ctx.now)
    ctx.store.audit(f"participant:{sender.id}", "message_held",
                    {"held_id": held.id, "reasons": list(reasons)}, ctx.now)
    ctx.tell(sender, "safety.held", about_match=match_id, about_group=group_id)
    for coordinator in ctx.store.coordinators_of(school_of):
        ask_review(ctx, coordinator, held, sender, about)


def flag(ctx: Context, sender: Participant, text: str, flags: tuple[str, ...],
         school_of: int | None, about: str, *, source: Address | None = None,
         message_id: str = "", match_id: int | None = None, group_id: int | None = None
         ) -> None:
    """Words of concern: the coordinators read the message (it was delivered) and it waits
    in their queue (`/admin flags`) until one of them marks it seen; a student in distress
    gets the help lines at once."""
    if not flags:
        return
    assert sender.id is not None
    where = source or ctx.store.address_of(sender.id) or Address("playground", "")
    flagged = ctx.store.hold(Held(sender.id, text, where, message_id, match_id, group_id,
                                  reasons=flags, status="flagged", school_id=school_of),
                             ctx.now)
    ctx.store.audit(f"participant:{sender.id}", "message_flagged",
                    {"flags": list(flags), "held_id": flagged.id}, ctx.now)
    for coordinator in ctx.store.coordinators_of(school_of):
        show_flagged(ctx, coordinator, flagged, sender, about)
    if SELF_HARM in flags and sender.role is Role.STUDENT:
        ctx.tell(sender, "safety.helplines")


def ask_review(ctx: Context, coordinator: Participant, held: Held, sender: Participant | None,
               about: str) -> None:
    """A held message as a coordinator reads it (when it is held, and in `/admin flags`): who,
    where, the text and what hiding the details would leave; approve / send redacted /
    reject."""
    lang = coordinator.language
    buttons = (ctx.button(lang, "safety.approve", f"held:ok:{held.id}"),
               ctx.button(lang, "safety.send_redacted", f"held:redact:{held.id}"),
               ctx.button(lang, "safety.reject", f"held:no:{held.id}"))
    ctx.tell(coordinator, "safety.review", buttons=buttons, name=_name(ctx, sender, lang),
             about=about, text=held.body, hidden=redact(held.body, lang).text)


def show_flagged(ctx: Context, coordinator: Participant, held: Held,
                 sender: Participant | None, about: str) -> None:
    """A flagged message (delivered) as a coordinator reads it, with the button that takes it
    out of the queue. Reasons the catalogs do not name (none today) are left out."""
    lang = coordinator.language
    labels = ", ".join(ctx.t(lang, f"safety.flag.{f}") for f in held.reasons if f in FLAGS)
    seen = ctx.button(lang, "flags.seen_button", f"flag:seen:{held.id}")
    ctx.tell(coordinator, "safety.flagged", buttons=(seen,), name=_name(ctx, sender, lang),
             about=about, flags=labels or "—", text=held.body)


def _name(ctx: Context, sender: Participant | None, lang: str) -> str:
    return display_name(ctx, sender, lang) if sender is not None else "?"


def review(ctx: Context, reviewer: Participant, value: str) -> None:
    """A coordinator's decision on a held message: `ok|redact|no:<id>`; the first counts."""
    from core import groups, relay  # they call this module for every message they relay

    pressed = _pressed(ctx, reviewer, value, ("ok", "redact", "no"),
                       lambda status: status != "flagged")
    if pressed is None:
        return
    decision, held = pressed
    assert reviewer.id is not None and held.id is not None
    status = {"ok": "approved", "redact": "redacted", "no": "rejected"}[decision]
    if not ctx.store.review(held.id, status, reviewer.id, ctx.now):
        ctx.tell(reviewer, "safety.already_reviewed")
        return
    ctx.audit(reviewer, "message_reviewed", {"held_id": held.id, "decision": status})
    sender = ctx.store.participant(held.sender_id)
    ctx.tell(reviewer, f"safety.reviewed.{decision}")
    if sender is None:
        return
    if decision == "no":
        ctx.tell(sender, "safety.rejected", about_match=held.match_id,
                 about_group=held.group_id)
        return
    text = held.body if decision == "ok" else redact(held.body, sender.language).text
    inbound = Inbound(f"held:{held.id}", held.source, "", text, message_id=held.message_id)
    if held.match_id is not None:
        match = ctx.store.match(held.match_id)
        if match is None or match.status is not MatchStatus.ACTIVE:
            ctx.tell(sender, "relay.conversation_gone")
            return
        relay.deliver(ctx, sender, match, text, inbound, screened=True)
    elif held.group_id is not None:
        group = ctx.store.group(held.group_id)
        replied = ctx.store.post(held.reply_to_post) if held.reply_to_post else None
        if group is None or group.closed:
            return
        groups.post(ctx, sender, group, text, inbound, replied, screened=True)
    ctx.tell(sender, f"safety.released.{decision}", about_match=held.match_id,
             about_group=held.group_id)


def close_flag(ctx: Context, p: Participant, value: str) -> None:
    """The "seen" button of a flagged message (`flag:seen:<id>`): out of the queue; the
    first coordinator to press it counts."""
    pressed = _pressed(ctx, p, value, ("seen",), lambda status: status in ("flagged", "seen"))
    if pressed is None:
        return
    held = pressed[1]
    assert p.id is not None and held.id is not None
    if not ctx.store.review(held.id, "seen", p.id, ctx.now, was="flagged"):
        ctx.tell(p, "flags.already_seen")
        return
    ctx.audit(p, "flag_seen", {"held_id": held.id})
    ctx.tell(p, "flags.closed")


def _pressed(ctx: Context, p: Participant, value: str, verbs: tuple[str, ...],
             fits: Callable[[str], bool]) -> tuple[str, Held] | None:
    """The verb and the message of a coordinator's button on a held or flagged message
    (`<verb>:<id>`), or None once `p` was told why not: not a coordinator, a verb or a status
    that does not fit (stale), or another school's message."""
    verb, _, held_id = value.partition(":")
    number = row_id(held_id)
    held = ctx.store.held(number) if number is not None else None
    if p.role is not Role.COORDINATOR or verb not in verbs or held is None or not fits(
            held.status):
        ctx.tell(p, "button.stale")
        return None
    if not covers(p, held.school_id):
        ctx.tell(p, "admin.not_yours")
        return None
    return verb, held


# Reports and blocks -----------------------------------------------------------------------------

def report(ctx: Context, p: Participant, match: Match | None, words: str) -> None:
    """`/report [what happened]`: the school's coordinators get it with the last messages."""
    if match is None or match.id is None:
        ctx.tell(p, "report.which")
        return
    other = ctx.store.participant(match.other(p.id or 0))
    student = ctx.store.participant(match.student_id)
    limit = ctx.services.safety_rules.report_messages
    names = {pid: ctx.store.participant(pid) for pid in (match.student_id, match.mentor_id)}
    ctx.store.audit(f"participant:{p.id}", "report", {"match_id": match.id}, ctx.now)
    for coordinator in ctx.store.coordinators_of(student.school_id if student else None):
        lang = coordinator.language
        lines = "\n".join(
            f"{display_name(ctx, who, lang) if (who := names.get(sender)) else '?'} : {body}"
            for sender, body in ctx.store.recent_messages(match.id, limit))
        ctx.tell(coordinator, "report.received", name=display_name(ctx, p, lang),
                 other=display_name(ctx, other, lang) if other else "?",
                 words=words or "—", messages=lines or "—")
    ctx.tell(p, "report.sent")


def block(ctx: Context, p: Participant, match: Match | None) -> None:
    """`/block`: the conversation ends now, and these two are never matched again."""
    from core.relay import end_match  # relay screens through this module

    if match is None or match.id is None:
        ctx.tell(p, "block.which")
        return
    assert p.id is not None
    other_id = match.other(p.id)
    ctx.store.block(p.id, other_id, ctx.now)
    ctx.store.audit(f"participant:{p.id}", "block",
                    {"match_id": match.id, "blocked": other_id}, ctx.now)
    if match.status in (MatchStatus.ACTIVE, MatchStatus.REQUESTED):
        end_match(ctx, match, ended_by=p)
    ctx.tell(p, "block.done")


def vet(ctx: Context, coordinator: Participant, pseudonym: str) -> None:
    """`/vet <mentor>`: a coordinator vouches for a mentor (who and when: the audit log)."""
    if not is_coordinator(ctx, coordinator):
        return
    mentor = ctx.store.find_participant(pseudonym.strip()) if pseudonym.strip() else None
    if mentor is None or mentor.role is not Role.MENTOR:
        ctx.tell(coordinator, "vet.unknown", name=pseudonym.strip()[:40] or "?")
        return
    if not mentor.vetted:
        mentor.vetted = True
        mentor.rejected_at = mentor.rejected_reason = None  # a coordinator changed their mind
        ctx.store.save_participant(mentor)
        ctx.audit(coordinator, "mentor_vetted", {"mentor_id": mentor.id})
        ctx.tell(mentor, "vet.mentor_told")
    ctx.tell(coordinator, "vet.done", name=mentor.pseudonym)
