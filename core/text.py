"""Text helpers the relay needs on every platform."""

from __future__ import annotations


def split_text(text: str, limit: int) -> list[str]:
    """Cut `text` into parts of at most `limit` characters, on line or word boundaries.

    Platforms refuse (or silently clip) long messages; we never truncate, so a long message
    becomes several. A word longer than the limit is the only thing cut mid-word.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    # Whitespace at a cut is dropped: a part starting with it would cut the next word needlessly,
    # and a part made only of it is refused by the platforms ("message text is empty").
    rest = text.lstrip()
    while len(rest) > limit:
        window = rest[: limit + 1]
        # A line break is the nicest place to cut, unless it leaves a stub of a part (the
        # "Name :" header of a relayed message would otherwise go out alone).
        cut = window.rfind("\n")
        if cut < limit // 2:
            cut = max(cut, window.rfind(" "))
        if cut <= 0:
            cut = limit
            parts.append(rest[:cut])
            rest = rest[cut:].lstrip()
            continue
        parts.append(rest[:cut].rstrip())
        rest = rest[cut + 1 :].lstrip()
    if rest:
        parts.append(rest)
    return parts or [""]
