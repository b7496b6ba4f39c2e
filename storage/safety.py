"""What youth safety keeps: messages held for review, blocks, and who reviews (a mixin of the SQL
store, on its connection)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, desc, insert, or_, select, update

from core.model import Address, Held, Identity, Participant, Role
from storage import mapping
from storage.tables import (
    BL,
    HM,
    I,
    P,
    R,
)

# What a coordinator still has to look at: messages held for a decision, flagged ones not seen.
OPEN_STATUSES = ("held", "flagged")


def _held(row: Any) -> Held:
    return Held(
        id=row.id, sender_id=row.sender_id, match_id=row.match_id, group_id=row.group_id,
        reply_to_post=row.reply_to_post, body=row.body, reasons=tuple(
            r for r in row.reasons.split(",") if r),
        source=Address(row.source_platform, row.source_chat_id),
        message_id=row.source_message_id, status=row.status, school_id=row.school_id,
    )


class SafetyQueries:
    conn: Connection

    def hold(self, held: Held, now: datetime) -> Held:
        new_id = self.conn.execute(insert(HM).values(
            sender_id=held.sender_id, match_id=held.match_id, group_id=held.group_id,
            reply_to_post=held.reply_to_post, body=held.body, reasons=",".join(held.reasons),
            source_platform=held.source.platform, source_chat_id=held.source.chat_id,
            source_message_id=held.message_id, status=held.status, school_id=held.school_id,
            created_at=now,
        )).inserted_primary_key[0]
        return replace(held, id=new_id)

    def held(self, held_id: int) -> Held | None:
        row = self.conn.execute(select(HM).where(HM.c.id == held_id)).first()
        return _held(row) if row else None

    def review(self, held_id: int, status: str, reviewer_id: int, now: datetime,
               was: str = "held") -> bool:
        """Decide on a held message (or close a flagged one: `was="flagged"`), if nobody did
        first (True: this decision counts)."""
        result = self.conn.execute(
            update(HM).where(HM.c.id == held_id, HM.c.status == was)
            .values(status=status, reviewed_by=reviewer_id, reviewed_at=now)
        )
        return result.rowcount == 1

    def moderation_queue(self, school_id: int | None, limit: int) -> list[Held]:
        """Held messages awaiting a decision and flagged ones nobody closed, oldest first: of
        one school (None: all of them, for program staff)."""
        query = select(HM).where(HM.c.status.in_(OPEN_STATUSES))
        if school_id is not None:
            query = query.where(HM.c.school_id == school_id)
        return [_held(r) for r in self.conn.execute(query.order_by(HM.c.id).limit(limit))]

    def identities_of(self, participant_id: int) -> list[Identity]:
        """Every platform account of a person (for a coordinator's audited /admin reveal)."""
        rows = self.conn.execute(select(I).where(I.c.participant_id == participant_id)
                                 .order_by(I.c.id))
        return [mapping.identity_from(r) for r in rows]

    def coordinators_of(self, school_id: int | None) -> list[Participant]:
        """Who reviews for a school: its coordinators, else program staff (no school)."""
        onboarded = select(P).where(P.c.role == Role.COORDINATOR.value, P.c.step == "done")
        found: list[Participant] = []
        if school_id is not None:
            found = self._people(onboarded.where(P.c.school_id == school_id))
        return found or self._people(onboarded.where(P.c.school_id.is_(None)))

    def _people(self, query: Any) -> list[Participant]:
        return [mapping.participant_from(r) for r in self.conn.execute(query.order_by(P.c.id))]

    def block(self, blocker_id: int, blocked_id: int, now: datetime) -> None:
        exists = self.conn.execute(select(BL.c.id).where(
            BL.c.blocker_id == blocker_id, BL.c.blocked_id == blocked_id)).first()
        if exists is None:
            self.conn.execute(insert(BL).values(blocker_id=blocker_id, blocked_id=blocked_id,
                                               at=now))

    def blocked_with(self, participant_id: int) -> frozenset[int]:
        """Everyone this person blocked or was blocked by."""
        rows = self.conn.execute(select(BL.c.blocker_id, BL.c.blocked_id).where(
            or_(BL.c.blocker_id == participant_id, BL.c.blocked_id == participant_id)))
        return frozenset(r.blocked_id if r.blocker_id == participant_id else r.blocker_id
                         for r in rows)

    def recent_messages(self, match_id: int, limit: int) -> list[tuple[int, str]]:
        """The last messages of a match (sender, body), oldest first: what a report shows."""
        rows = self.conn.execute(
            select(R.c.sender_id, R.c.body).where(R.c.match_id == match_id, R.c.body != "")
            .order_by(desc(R.c.id)).limit(limit))
        return [(r.sender_id, r.body) for r in rows][::-1]
