"""A mentor's own settings: taking a break, how many students at once, the good mentor kit."""

from __future__ import annotations

from core.context import Context
from core.model import Participant, Role
from core.onboarding import MAX_CAPACITY
from core.safety import has_contact_details


def is_mentor(ctx: Context, p: Participant) -> bool:
    """Mentor commands are for mentors; anyone else is told so, kindly."""
    if p.role is Role.MENTOR:
        return True
    ctx.tell(p, "command.mentors_only")
    return False


def set_paused(ctx: Context, p: Participant, paused: bool | None) -> None:
    """Pause (no new requests; current conversations go on) or resume; None switches."""
    if not is_mentor(ctx, p):
        return
    p.paused = (not p.paused) if paused is None else paused
    ctx.store.save_participant(p)
    ctx.store.audit(f"participant:{p.id}", "mentor_pause" if p.paused else "mentor_resume",
                    {}, ctx.now)
    if p.paused:
        ctx.tell(p, "pause.on", buttons=(ctx.button(p.language, "pause.resume_button",
                                                    "pause:off"),))
    else:
        ctx.tell(p, "pause.off")


def capacity(ctx: Context, p: Participant, args: str) -> None:
    """`/capacity` shows how many students a mentor takes at once; `/capacity 3` sets it."""
    if not is_mentor(ctx, p):
        return
    assert p.id is not None
    load = len(ctx.store.active_matches(p.id))
    value = args.strip()
    if not value:
        ctx.tell(p, "capacity.show", capacity=p.capacity or "—", load=load)
        return
    if not (value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_CAPACITY):
        ctx.tell(p, "capacity.invalid", max=MAX_CAPACITY)
        return
    p.capacity = int(value)
    ctx.store.save_participant(p)
    ctx.store.audit(f"participant:{p.id}", "mentor_capacity", {"capacity": p.capacity}, ctx.now)
    key = "capacity.set_below_load" if load > p.capacity else "capacity.set"
    ctx.tell(p, key, capacity=p.capacity, load=load)


def kit(ctx: Context, p: Participant) -> None:
    """The good mentor kit: how to answer a teenager well, and what never to do."""
    if not is_mentor(ctx, p):
        return
    cards = ctx.services.kit.cards
    if not cards:
        ctx.tell(p, "kit.text")
        return
    lang = p.language
    shown = "\n\n".join(ctx.t(lang, "kit.card", title=c.title(lang), body=c.body(lang))
                        for c in cards)
    ctx.tell(p, "kit.cards", cards=shown)


MAX_BIO = 280


def bio(ctx: Context, p: Participant, args: str) -> None:
    """`/bio` shows a mentor's few words to students; `/bio …` sets them (no contact details:
    students reach mentors through Passerelle only)."""
    if not is_mentor(ctx, p):
        return
    text = " ".join(args.split())
    if not text:
        ctx.tell(p, "bio.show" if p.bio else "bio.none", bio=p.bio or "")
        return
    if len(text) > MAX_BIO or has_contact_details(text):
        ctx.tell(p, "bio.invalid", max=MAX_BIO)
        return
    p.bio = text
    ctx.store.save_participant(p)
    ctx.store.audit(f"participant:{p.id}", "mentor_bio", {}, ctx.now)
    ctx.tell(p, "bio.set", bio=text)
