"""The program's figures, counted in the database (a mixin of the SQL store)."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from core.model import Figures, MatchStatus, Role
from storage.tables import (
    MatchRow,
    ParticipantRow,
    RelayedMessageRow,
    SchoolRow,
    SurveyAnswerRow,
)

M = MatchRow.__table__
P = ParticipantRow.__table__
R = RelayedMessageRow.__table__
S = SchoolRow.__table__
SA = SurveyAnswerRow.__table__


class FigureQueries:
    conn: Connection

    def figures(self, school_id: int | None) -> Figures:
        """Counts for one school (its students and their matches; mentors program-wide, as
        they serve every school) or, with None, the whole program."""
        done = P.c.step == "done"

        def people(role: Role, *where: object) -> int:
            scoped = (P.c.school_id == school_id,) if school_id is not None \
                and role is not Role.MENTOR else ()
            return int(self.conn.execute(
                select(func.count()).select_from(P)
                .where(done, P.c.role == role.value, *scoped, *where)).scalar_one())

        students = select(P.c.id).where(P.c.role == Role.STUDENT.value)
        if school_id is not None:
            students = students.where(P.c.school_id == school_id)
        in_scope = M.c.student_id.in_(students)

        def matches(status: MatchStatus) -> int:
            return int(self.conn.execute(
                select(func.count()).select_from(M)
                .where(in_scope, M.c.status == status.value)).scalar_one())

        ended = self.conn.execute(
            select(M.c.created_at, M.c.ended_at)
            .where(in_scope, M.c.status == MatchStatus.ENDED.value,
                   M.c.ended_at.is_not(None))).all()
        days = [(r.ended_at - r.created_at).total_seconds() / 86400 for r in ended]
        active_mentors = int(self.conn.execute(
            select(func.count(func.distinct(M.c.mentor_id)))
            .where(in_scope, M.c.status == MatchStatus.ACTIVE.value)).scalar_one())
        relayed = int(self.conn.execute(
            select(func.count()).select_from(R)
            .where(R.c.match_id.in_(select(M.c.id).where(in_scope)))).scalar_one())
        answers = self.conn.execute(
            select(SA.c.answer, func.count().label("n"))
            .where(SA.c.question == "influence",
                   SA.c.participant_id.in_(students)).group_by(SA.c.answer)).all()
        counted = {r.answer: int(r.n) for r in answers}
        schools = 1 if school_id is not None else int(self.conn.execute(
            select(func.count()).select_from(S)).scalar_one())
        return Figures(
            students=people(Role.STUDENT),
            mentors=people(Role.MENTOR),
            vetted_mentors=people(Role.MENTOR, P.c.vetted.is_(True)),
            active_mentors=active_mentors,
            coordinators=people(Role.COORDINATOR),
            schools=schools,
            active_matches=matches(MatchStatus.ACTIVE),
            ended_matches=matches(MatchStatus.ENDED),
            average_days=sum(days) / len(days) if days else None,
            relayed=relayed,
            influenced=counted.get("yes", 0) + counted.get("somewhat", 0),
            influence_answers=sum(counted.values()),
        )


