"""Where a participant is reached: the statement every read of an address shares."""

from __future__ import annotations

from typing import Any

from sqlalchemy import FromClause, select

from storage.tables import I


def best_address_of(people: FromClause) -> Any:
    """The identity a participant (a row of `people`) was last seen at and can be reached on."""
    return (
        select(I.c.id)
        .where(I.c.participant_id == people.c.id, I.c.reachable.is_(True))
        .order_by(I.c.last_seen_at.desc().nulls_last(), I.c.id.desc())
        .limit(1)
        .correlate(people)
        .scalar_subquery()
    )
