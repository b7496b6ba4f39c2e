"""How a participant is shown to others: the only thing about a person that ever crosses."""

from __future__ import annotations

from collections.abc import Callable

from core.context import Context
from core.model import Participant, Role

MAX_NAME_WORDS = 4  # a pseudonym is at most 24 characters: a few words


def display_name(ctx: Context, p: Participant, lang: str) -> str:
    """How a participant is shown to the other side: pseudonym, and a mentor's trade."""
    return shown_name(ctx, p.pseudonym or "?", p.profession if p.role is Role.MENTOR else None,
                      lang)


def shown_name(ctx: Context, pseudonym: str, profession: str | None, lang: str) -> str:
    """A pseudonym, with the trade when it is a mentor's (what a student chooses by)."""
    if profession:
        return ctx.t(lang, "relay.name_with_profession", name=pseudonym, profession=profession)
    return pseudonym


def named_first(ctx: Context, text: str,
                accept: Callable[[Participant], bool] = lambda _: True
                ) -> tuple[Participant | None, str]:
    """The person named first in `text` and the words after the name. A pseudonym may hold
    spaces ("Marie Eve"): the longest run of first words that names someone `accept`s is the
    name. (None, the text stripped) when no run does."""
    words = text.split()
    for cut in range(min(len(words), MAX_NAME_WORDS), 0, -1):
        found = ctx.store.find_participant(" ".join(words[:cut]))
        if found is not None and accept(found):
            return found, " ".join(words[cut:])
    return None, text.strip()
