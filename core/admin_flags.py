"""`/admin flags`: the moderation queue, in the coordinator's scope.

Messages held for a decision come with the approve / send-redacted / reject buttons they had
when held; flagged messages (delivered, words of concern) with a "seen" button that takes them
out of the queue (core.moderation.close_flag). A school's coordinator sees their school's;
program staff see all.
"""

from __future__ import annotations

from core.admin_people import is_coordinator
from core.context import Context
from core.model import Held, Participant
from core.names import display_name
from core.safety import redact

MAX_LISTED = 20


def flags(ctx: Context, p: Participant, _: str = "") -> None:
    if not is_coordinator(ctx, p):
        return
    queue = ctx.store.moderation_queue(p.school_id, MAX_LISTED + 1)
    if not queue:
        ctx.tell(p, "flags.none")
        return
    ctx.tell(p, "flags.header", count=min(len(queue), MAX_LISTED),
             more=ctx.t(p.language, "flags.more") if len(queue) > MAX_LISTED else "")
    for held in queue[:MAX_LISTED]:
        show(ctx, p, held)


def show(ctx: Context, p: Participant, held: Held) -> None:
    """One item of the queue, as the coordinators were first told of it, with its buttons."""
    lang = p.language
    sender = ctx.store.participant(held.sender_id)
    name = display_name(ctx, sender, lang) if sender else "?"
    about = _about(ctx, held, sender)
    if held.status == "flagged":
        labels = ", ".join(ctx.t(lang, f"safety.flag.{f}") for f in held.reasons
                           if f in FLAGS)
        seen = ctx.button(lang, "flags.seen_button", f"flag:seen:{held.id}")
        ctx.tell(p, "safety.flagged", buttons=(seen,), name=name, about=about,
                 flags=labels or "—", text=held.body)
        return
    buttons = (ctx.button(lang, "safety.approve", f"held:ok:{held.id}"),
               ctx.button(lang, "safety.send_redacted", f"held:redact:{held.id}"),
               ctx.button(lang, "safety.reject", f"held:no:{held.id}"))
    ctx.tell(p, "safety.review", buttons=buttons, name=name, about=about, text=held.body,
             hidden=redact(held.body, lang).text)


FLAGS = ("self_harm", "harassment", "sexual", "meeting", "contact")


def _about(ctx: Context, held: Held, sender: Participant | None) -> str:
    """Where it was written, as the relay names it: "Zoé → Marc", "Zoé → 👥 Santé"."""
    who = sender.pseudonym if sender and sender.pseudonym else "?"
    if held.match_id is not None:
        found = ctx.store.match(held.match_id)
        other = ctx.store.participant(found.other(held.sender_id)) if found else None
        return f"{who} → {other.pseudonym if other else '?'}"
    if held.group_id is not None:
        group = ctx.store.group(held.group_id)
        return f"{who} → 👥 {group.name if group else '?'}"
    return who
