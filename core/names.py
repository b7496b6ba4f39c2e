"""How a participant is shown to others: the only thing about a person that ever crosses."""

from __future__ import annotations

from core.context import Context
from core.model import Participant, Role


def display_name(ctx: Context, p: Participant, lang: str) -> str:
    """How a participant is shown to the other side: pseudonym, and a mentor's trade."""
    return shown_name(ctx, p.pseudonym or "?", p.profession if p.role is Role.MENTOR else None,
                      lang)


def shown_name(ctx: Context, pseudonym: str, profession: str | None, lang: str) -> str:
    """A pseudonym, with the trade when it is a mentor's (what a student chooses by)."""
    if profession:
        return ctx.t(lang, "relay.name_with_profession", name=pseudonym, profession=profession)
    return pseudonym
