"""The program's figures, counted in the database (a mixin of the SQL store).

A period [since, until) filters each figure by the moment that makes it count: people by when
they joined (those who joined before the period's end), matches by when they started (active: still
active now), ended matches by when they ended, messages by when they were relayed, survey answers
by when they were given. None on a side leaves that side open.
"""

from __future__ import annotations

from datetime import datetime
from statistics import median
from typing import Any

from sqlalchemy import Connection, func, select

from core.model import Figures, MatchStatus, Role
from storage.tables import (
    SA,
    M,
    P,
    R,
    S,
)

ACCEPTED = (MatchStatus.ACTIVE.value, MatchStatus.ENDED.value)


def within(column: Any, since: datetime | None, until: datetime | None) -> list[Any]:
    """The conditions that put `column` in [since, until)."""
    found = []
    if since is not None:
        found.append(column >= since)
    if until is not None:
        found.append(column < until)
    return found


class FigureQueries:
    conn: Connection

    def figures(self, school_id: int | None, *, since: datetime | None = None,
                until: datetime | None = None) -> Figures:
        """Counts for one school (its students and their matches; mentors program-wide, as
        they serve every school) or, with None, the whole program; over [since, until)."""
        done = P.c.step == "done"
        joined = within(P.c.created_at, None, until)

        def people(role: Role, *where: object) -> int:
            scoped = (P.c.school_id == school_id,) if school_id is not None \
                and role is not Role.MENTOR else ()
            return int(self.conn.execute(
                select(func.count()).select_from(P)
                .where(done, P.c.role == role.value, *scoped, *joined, *where)).scalar_one())

        students = select(P.c.id).where(P.c.role == Role.STUDENT.value)
        if school_id is not None:
            students = students.where(P.c.school_id == school_id)
        in_scope = M.c.student_id.in_(students)
        started = (in_scope, M.c.status.in_(ACCEPTED), *within(M.c.created_at, since, until))

        def count(*where: object) -> int:
            return int(self.conn.execute(
                select(func.count()).select_from(M).where(*where)).scalar_one())

        ended = self.conn.execute(
            select(M.c.created_at, M.c.ended_at)
            .where(in_scope, M.c.status == MatchStatus.ENDED.value, M.c.ended_at.is_not(None),
                   *within(M.c.ended_at, since, until))).all()
        days = [(r.ended_at - r.created_at).total_seconds() / 86400 for r in ended]
        relayed = int(self.conn.execute(
            select(func.count()).select_from(R)
            .where(R.c.match_id.in_(select(M.c.id).where(in_scope)),
                   *within(R.c.created_at, since, until))).scalar_one())
        answers = self.conn.execute(
            select(SA.c.answer, func.count().label("n"))
            .where(SA.c.question == "influence", SA.c.participant_id.in_(students),
                   *within(SA.c.at, since, until)).group_by(SA.c.answer)).all()
        counted = {r.answer: int(r.n) for r in answers}
        schools = 1 if school_id is not None else int(self.conn.execute(
            select(func.count()).select_from(S)).scalar_one())
        waits, waiting = self._first_responses(started)
        return Figures(
            students=people(Role.STUDENT),
            mentors=people(Role.MENTOR),
            vetted_mentors=people(Role.MENTOR, P.c.vetted.is_(True)),
            active_mentors=self._active_mentors(in_scope, since, until),
            coordinators=people(Role.COORDINATOR),
            schools=schools,
            active_matches=count(*started, M.c.status == MatchStatus.ACTIVE.value),
            ended_matches=len(ended),
            average_days=sum(days) / len(days) if days else None,
            relayed=relayed,
            influenced=counted.get("yes", 0) + counted.get("somewhat", 0),
            influence_answers=sum(counted.values()),
            first_response_hours=median(waits) if waits else None,
            answered_matches=len(waits),
            waiting_matches=waiting,
        )

    def _active_mentors(self, in_scope: Any, since: datetime | None,
                        until: datetime | None) -> int:
        """Mentors who accompanied a student (in scope) at some time in the period: a match
        that started before its end and had not ended before its start."""
        running = [in_scope, M.c.status.in_(ACCEPTED), *within(M.c.created_at, None, until)]
        if since is not None:
            running.append((M.c.status == MatchStatus.ACTIVE.value) | (M.c.ended_at >= since))
        return int(self.conn.execute(
            select(func.count(func.distinct(M.c.mentor_id))).where(*running)).scalar_one())

    def _first_responses(self, started: tuple[Any, ...]) -> tuple[list[float], int]:
        """For the matches `started` selects where the student wrote: the hours from the
        student's first relayed message to the mentor's first one after it (where the mentor
        answered), and how many active ones still wait for that answer.

        One row per match, so this stays small however many messages there are; the relayed
        messages are read through their match_id index.
        """
        asked = (
            select(R.c.match_id, func.min(R.c.created_at).label("asked"))
            .join(M, M.c.id == R.c.match_id)
            .where(R.c.sender_id == M.c.student_id, *started)
            .group_by(R.c.match_id).subquery()
        )
        answer = R.alias("answer")
        answered = (
            select(func.min(answer.c.created_at))
            .where(answer.c.match_id == asked.c.match_id, answer.c.sender_id == M.c.mentor_id,
                   answer.c.created_at > asked.c.asked)
            .scalar_subquery()
        )
        rows = self.conn.execute(
            select(asked.c.asked, answered.label("answered"), M.c.status)
            .join(M, M.c.id == asked.c.match_id)).all()
        waits = [(r.answered - r.asked).total_seconds() / 3600 for r in rows
                 if r.answered is not None]
        waiting = sum(1 for r in rows
                      if r.answered is None and r.status == MatchStatus.ACTIVE.value)
        return waits, waiting
