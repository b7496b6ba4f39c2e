"""Text helpers the relay needs on every platform."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable


def split_text(text: str, limit: int, measure: Callable[[str], int] = len) -> list[str]:
    """Cut `text` into parts of at most `limit`, on line or word boundaries.

    Platforms refuse (or silently clip) long messages; we never truncate, so a long message
    becomes several. A word longer than the limit is the only thing cut mid-word. `measure` is
    how the platform counts length (Telegram counts UTF-16 units, so an emoji counts twice).
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    if measure(text) <= limit:
        return [text]
    parts: list[str] = []
    # Whitespace at a cut is dropped: a part starting with it would cut the next word needlessly,
    # and a part made only of it is refused by the platforms ("message text is empty").
    rest = text.lstrip()
    while measure(rest) > limit:
        fits = _longest_prefix(rest, limit, measure)
        window = rest[: fits + 1]
        # A line break is the nicest place to cut, unless it leaves a stub of a part (the
        # "Name :" header of a relayed message would otherwise go out alone).
        cut = window.rfind("\n")
        if cut < fits // 2:
            cut = max(cut, window.rfind(" "))
        if cut <= 0:
            parts.append(rest[:fits])
            rest = rest[fits:].lstrip()
            continue
        parts.append(rest[:cut].rstrip())
        rest = rest[cut + 1 :].lstrip()
    if rest:
        parts.append(rest)
    return parts or [""]


def _longest_prefix(text: str, limit: int, measure: Callable[[str], int]) -> int:
    """How many characters of `text` fit in `limit` (at least one, so that progress is made)."""
    if measure is len:
        return min(limit, len(text))
    low, high = 1, min(limit, len(text))
    while low < high:
        middle = (low + high + 1) // 2
        if measure(text[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


def utf16_length(text: str) -> int:
    """Length as Telegram counts it: characters outside the BMP (most emoji) count twice."""
    return len(text.encode("utf-16-le")) // 2


def fold(text: str) -> str:
    """Case and accents ignored ("Santé" and "sante" are one word): how people's words are
    compared with ours."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))
