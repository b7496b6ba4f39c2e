"""What the Discord adapter keeps in memory (chats, threads, its own deletions...) stays
bounded: past _REMEMBERED entries of a map, the oldest are forgotten first."""

from __future__ import annotations

from typing import Any

_REMEMBERED = 1000  # chats / own deletions kept in memory (oldest forgotten first)


def _forget_oldest(kept: dict[Any, Any]) -> None:
    """Memory stays bounded: past _REMEMBERED entries, the oldest go first."""
    while len(kept) > _REMEMBERED:
        kept.pop(next(iter(kept)))
