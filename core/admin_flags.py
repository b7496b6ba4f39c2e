"""`/admin flags`: the moderation queue, in the coordinator's scope.

Messages held for a decision come with the approve / send-redacted / reject buttons they had
when held; flagged messages (delivered, words of concern) with a "seen" button that takes them
out of the queue (core.moderation.close_flag). A school's coordinator sees their school's;
program staff see all.
"""

from __future__ import annotations

from core.admin_scope import is_coordinator
from core.context import Context
from core.model import Held, Participant
from core.moderation import ask_review, show_flagged

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
    sender = ctx.store.participant(held.sender_id)
    about = _about(ctx, held, sender)
    if held.status == "flagged":
        show_flagged(ctx, p, held, sender, about)
    else:
        ask_review(ctx, p, held, sender, about)


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
