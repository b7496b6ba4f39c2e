"""Parsing what a person typed into a command, or deciding it is a plain message."""

from __future__ import annotations

import re
from dataclasses import dataclass

_COMMAND = re.compile(r"^/([A-Za-z][A-Za-z0-9_]{0,31})(?:@[A-Za-z0-9_]+)?(?:\s+(.*))?$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    args: str = ""


def parse_command(text: str) -> Command | None:
    """`/name@bot args` → Command(name lower-cased, args stripped); anything else → None."""
    match = _COMMAND.match(text.strip())
    if not match:
        return None
    return Command(match.group(1).lower(), (match.group(2) or "").strip())


def row_id(value: str) -> int | None:
    """A row id as a button carries it (ASCII digits that fit a database integer), else None:
    a button's value comes back from the platform, and is checked like anything typed."""
    if value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


# The commands offered in a platform's command menu, in this order; descriptions are the catalog's
# `menu.<command>` sentences.
MENU = ("help", "suggest", "mentors", "request", "profile", "language", "end", "unsend")
