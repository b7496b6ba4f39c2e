"""What the nudges read and write: a match's activity, how far its nudging went, survey answers
and the log of nudges sent. A mixin of the SQL store (it uses its connection).

Every candidate query is a range read on columns the relay keeps current, and every step of a
nudge is a conditional UPDATE (`stage = from`) or a unique insert: two instances sweeping at
once, or a sweep run again after a crash, find the work already claimed and send nothing twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.model import MatchStatus, Nudgeable
from storage.tables import SA, M, N, R

_ACTIVE = M.c.status == MatchStatus.ACTIVE.value
_STAGES = {"unanswered": M.c.unanswered_stage, "silence": M.c.silence_stage}
_INSERTS = {"sqlite": sqlite_insert, "postgresql": pg_insert}


def _due(row: Any) -> Nudgeable:
    return Nudgeable(row.id, row.student_id, row.mentor_id, row.created_at)


class NudgeQueries:
    conn: Connection

    def record_activity(self, match_id: int, by_student: bool, now: datetime) -> None:
        """A message was relayed: the silence ends; a student's starts (or continues) a wait
        for an answer, a mentor's ends it."""
        values: dict[str, Any] = {"last_activity_at": now, "silence_stage": 0}
        if by_student:
            values["unanswered_since"] = func.coalesce(M.c.unanswered_since, now)
        else:
            values |= {"unanswered_since": None, "unanswered_stage": 0}
        self.conn.execute(update(M).where(M.c.id == match_id).values(**values))

    def unanswered(self, before: datetime, stage: int, limit: int) -> list[Nudgeable]:
        """Active matches whose student has waited since before `before`, nudged `stage` times."""
        rows = self.conn.execute(
            select(M.c.id, M.c.student_id, M.c.mentor_id, M.c.created_at)
            .where(_ACTIVE, M.c.unanswered_since <= before, M.c.unanswered_stage == stage)
            .order_by(M.c.unanswered_since).limit(limit)
        )
        return [_due(r) for r in rows]

    def silent(self, before: datetime, stage: int, limit: int) -> list[Nudgeable]:
        """Active matches where nothing was said since before `before` (or ever, since made)."""
        last = func.coalesce(M.c.last_activity_at, M.c.created_at)
        rows = self.conn.execute(
            select(M.c.id, M.c.student_id, M.c.mentor_id, M.c.created_at)
            .where(_ACTIVE, last <= before, M.c.silence_stage == stage)
            .order_by(last).limit(limit)
        )
        return [_due(r) for r in rows]

    def survey_due(self, now: datetime, first_before: datetime, limit: int
                   ) -> list[Nudgeable]:
        """Active matches due a how-is-it-going question: their next date passed, or (never
        asked) they were made before `first_before`."""
        rows = self.conn.execute(
            select(M.c.id, M.c.student_id, M.c.mentor_id, M.c.created_at)
            .where(_ACTIVE, or_(M.c.next_survey_at <= now,
                                and_(M.c.next_survey_at.is_(None),
                                     M.c.created_at <= first_before)))
            .order_by(M.c.id).limit(limit)
        )
        return [_due(r) for r in rows]

    def silent_since(self, match_id: int) -> datetime:
        """When the last thing was said in a match (its making, if nothing ever was)."""
        return self.conn.execute(
            select(func.coalesce(M.c.last_activity_at, M.c.created_at))
            .where(M.c.id == match_id)).scalar_one()

    def last_nudge_at(self, match_id: int, kind: str) -> datetime | None:
        return self.conn.execute(
            select(func.max(N.c.at)).where(N.c.match_id == match_id, N.c.kind == kind)
        ).scalar_one_or_none()

    def advance(self, match_id: int, what: str, from_stage: int, to_stage: int) -> bool:
        """Move a match's nudging on, if nobody else did: True when this sweep owns the step."""
        column = _STAGES[what]
        result = self.conn.execute(
            update(M).where(M.c.id == match_id, column == from_stage)
            .values({column.name: to_stage})
        )
        return result.rowcount == 1

    def next_survey(self, match_id: int, was: datetime | None, at: datetime) -> bool:
        """Set the next survey date, if it still is `was` (else another sweep asked)."""
        current = M.c.next_survey_at.is_(None) if was is None else M.c.next_survey_at == was
        result = self.conn.execute(
            update(M).where(M.c.id == match_id, current).values(next_survey_at=at))
        return result.rowcount == 1

    def survey_date(self, match_id: int) -> datetime | None:
        return self.conn.execute(
            select(M.c.next_survey_at).where(M.c.id == match_id)).scalar_one_or_none()

    def record_nudge(self, kind: str, participant_id: int, match_id: int | None, anchor: str,
                     now: datetime) -> bool:
        """Log a nudge; False if this one (kind, person, anchor) was already sent."""
        statement = _INSERTS[self.conn.dialect.name](N).on_conflict_do_nothing(
            index_elements=["kind", "participant_id", "anchor"]).returning(N.c.id)
        row = self.conn.execute(statement, {
            "kind": kind, "participant_id": participant_id, "match_id": match_id,
            "anchor": anchor, "at": now}).first()
        return row is not None

    def answer_survey(self, match_id: int, participant_id: int, question: str, answer: str,
                      now: datetime) -> bool:
        """Store an answer (a second press replaces it); True if it is the first."""
        key = and_(SA.c.match_id == match_id, SA.c.participant_id == participant_id,
                   SA.c.question == question)
        if self.conn.execute(update(SA).where(key).values(answer=answer, at=now)).rowcount:
            return False
        self.conn.execute(insert(SA).values(match_id=match_id, participant_id=participant_id,
                                            question=question, answer=answer, at=now))
        return True

    def survey_answers(self, match_id: int) -> dict[tuple[int, str], str]:
        rows = self.conn.execute(
            select(SA.c.participant_id, SA.c.question, SA.c.answer)
            .where(SA.c.match_id == match_id))
        return {(r.participant_id, r.question): r.answer for r in rows}

    def end_surveys_unanswered(self, ended_before: datetime, ended_after: datetime,
                               limit: int) -> list[tuple[int, int]]:
        """(match, participant) of matches ended in the window whose end survey that person
        has not answered, and was not reminded of."""
        people = []
        for column in (M.c.student_id, M.c.mentor_id):
            answered = select(SA.c.id).where(SA.c.match_id == M.c.id,
                                             SA.c.participant_id == column,
                                             SA.c.question == "reason").exists()
            reminded = select(N.c.id).where(N.c.kind == "end_reminder",
                                            N.c.participant_id == column,
                                            N.c.match_id == M.c.id).exists()
            people.append(
                select(M.c.id.label("match_id"), column.label("participant_id"))
                .where(M.c.status == MatchStatus.ENDED.value, M.c.ended_at <= ended_before,
                       M.c.ended_at > ended_after, ~answered, ~reminded))
        rows = self.conn.execute(people[0].union_all(people[1]).limit(limit))
        return [(r.match_id, r.participant_id) for r in rows]

    def mentor_figures(self, since: datetime, until: datetime
                       ) -> list[tuple[int, int, int]]:
        """(mentor, students ever accepted, answers written in [since, until)) for every mentor
        who has had a student."""
        answers = (
            select(R.c.sender_id, func.count().label("n"))
            .where(R.c.created_at >= since, R.c.created_at < until)
            .group_by(R.c.sender_id).subquery()
        )
        helped = func.count(func.distinct(M.c.student_id))
        accepted = M.c.status.in_([MatchStatus.ACTIVE.value, MatchStatus.ENDED.value])
        rows = self.conn.execute(
            select(M.c.mentor_id, helped.label("students"),
                   func.coalesce(func.max(answers.c.n), 0).label("answers"))
            .outerjoin(answers, answers.c.sender_id == M.c.mentor_id)
            .where(accepted).group_by(M.c.mentor_id).order_by(M.c.mentor_id)
        )
        return [(r.mentor_id, int(r.students), int(r.answers)) for r in rows]

