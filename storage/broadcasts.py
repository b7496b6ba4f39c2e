"""Coordinators' broadcasts in the database: the drafts and who each one reaches.

A mixin of the SQL store (it uses its connection). Every audience is one statement that reads
each recipient with where they are reached (the same best address a relayed message uses): a
broadcast to thousands costs one read, and its copies one bulk insert into the outbox. Only
people with a reachable address are returned: the draft's count is of those who will get it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, insert, or_, select, update

from core.model import Address, Broadcast, Participant, Role, School, Step
from storage import mapping
from storage.addresses import best_address_of
from storage.tables import BC, GM, PR, I, P, S

_REACHED = (
    select(P, I.c.platform.label("a_platform"), I.c.chat_id.label("a_chat_id"),
           I.c.thread_id.label("a_thread_id"))
    .join(I, I.c.id == best_address_of(P))  # an inner join: the unreachable are not counted
    .order_by(P.c.id)
)

_ONBOARDED = P.c.step == Step.DONE.value
_STUDENTS = and_(P.c.role == Role.STUDENT.value, _ONBOARDED)
# Mentors a coordinator vouched for (and did not turn down): those the program stands behind.
_MENTORS = and_(P.c.role == Role.MENTOR.value, _ONBOARDED, P.c.vetted.is_(True),
                P.c.rejected_at.is_(None))

Recipients = list[tuple[Participant, Address]]


def _broadcast_from(row: Any) -> Broadcast:
    return Broadcast(
        author_id=row.author_id, scope=row.scope, body=row.body, target_id=row.target_id,
        recipients=row.recipients, status=row.status, created_at=row.created_at,
        sent_at=row.sent_at, id=row.id,
    )


class BroadcastQueries:
    conn: Connection

    def add_broadcast(self, broadcast: Broadcast) -> Broadcast:
        broadcast.id = self.conn.execute(insert(BC).values(
            author_id=broadcast.author_id, scope=broadcast.scope, target_id=broadcast.target_id,
            body=broadcast.body, recipients=broadcast.recipients, status=broadcast.status,
            created_at=broadcast.created_at, sent_at=broadcast.sent_at,
        )).inserted_primary_key[0]
        return broadcast

    def broadcast(self, broadcast_id: int) -> Broadcast | None:
        row = self.conn.execute(select(BC).where(BC.c.id == broadcast_id)).first()
        return _broadcast_from(row) if row else None

    def mark_broadcast(self, broadcast_id: int, from_status: str, to_status: str,
                       now: datetime, recipients: int | None = None) -> bool:
        """Move a broadcast on if it still is `from_status`: of two presses (or two instances)
        only one sees True, and only that one sends."""
        values: dict[str, Any] = {"status": to_status}
        if to_status == "sent":
            values["sent_at"] = now
        if recipients is not None:
            values["recipients"] = recipients
        result = self.conn.execute(
            update(BC).where(BC.c.id == broadcast_id, BC.c.status == from_status).values(**values)
        )
        return result.rowcount == 1

    def school_list(self) -> list[School]:
        """Every school, by name: what program staff may name in a broadcast."""
        rows = self.conn.execute(
            select(S.c.id, S.c.name, PR.c.name.label("program"))
            .join(PR, PR.c.id == S.c.program_id).order_by(S.c.name)
        )
        return [School(r.name, r.program, r.id) for r in rows]

    # audiences ----------------------------------------------------------------------------
    def school_students(self, school_id: int) -> Recipients:
        """A school's onboarded students that can be reached."""
        return self._reached(and_(_STUDENTS, P.c.school_id == school_id))

    def vetted_mentors(self) -> Recipients:
        """Every onboarded, vetted mentor that can be reached (program-wide)."""
        return self._reached(_MENTORS)

    def group_recipients(self, group_id: int) -> Recipients:
        """A group's members (not removed; muted ones read) that can be reached."""
        members = select(GM.c.participant_id).where(GM.c.group_id == group_id,
                                                    GM.c.removed.is_(False))
        return self._reached(and_(_ONBOARDED, P.c.id.in_(members)))

    def program_recipients(self) -> Recipients:
        """Every school's onboarded students and the vetted mentors, reachable."""
        return self._reached(or_(_STUDENTS, _MENTORS))

    def _reached(self, where: Any) -> Recipients:
        return [
            (mapping.participant_from(r), Address(r.a_platform, r.a_chat_id, r.a_thread_id))
            for r in self.conn.execute(_REACHED.where(where))
        ]
