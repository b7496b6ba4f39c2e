"""What people received, for tests through the Harness: several inboxes in one delivery run,
the catalog's sentences, and the audit trail."""

from __future__ import annotations

import json

from sqlalchemy import select

from storage.tables import A
from tests.harness import Harness


def t(w: Harness, lang: str, key: str, **values: object) -> str:
    return w.services.catalog.t(lang, key, **values)


def news(w: Harness, *users: str, platform: str = "playground") -> dict[str, list[str]]:
    """Deliver once, then what each of `users` received since last looked at (as Harness.texts
    does, with one delivery run for them all)."""
    w.deliver(platform)
    got = {}
    for user in users:
        received = w.channel(platform).chat(user)
        start = w.seen.get((platform, user), 0)
        w.seen[(platform, user)] = len(received)
        got[user] = [s.message.text for s in received[start:]]
    return got


def settle(w: Harness, *users: str, platform: str = "playground") -> None:
    """Deliver everything so far and forget it: the next inbox starts empty."""
    news(w, *users, platform=platform)


def unheard(w: Harness, *users: str, platform: str = "playground") -> dict[str, list[str]]:
    """What any of `users` received that they should not have: `{}` when all is quiet."""
    return {user: got for user, got in news(w, *users, platform=platform).items() if got}


def audit_rows(w: Harness) -> list[tuple[str, str, dict[str, object]]]:
    with w.sql().conn as conn:  # closed at once: an open SQLite read would hold the write lock
        rows = conn.execute(select(A.c.actor, A.c.action, A.c.detail).order_by(A.c.id)).all()
    return [(r.actor, r.action, json.loads(r.detail)) for r in rows]


def end_survey(w: Harness, role: str, other: str, lang: str = "fr") -> list[str]:
    """What follows the end of a match: the end survey (and, for a student, whether it
    influenced their choice and a way to thank `other`, the mentor)."""
    said = [t(w, lang, "survey.end_reason")]
    if role == "student":
        said += [t(w, lang, "survey.influence"), t(w, lang, "thanks.offer", name=other)]
    return said
