"""The core's Store port on SQLAlchemy Core statements over the sqlmodel tables.

Core statements rather than ORM sessions: the relay's hot path is a handful of small reads and
inserts per message, and the ORM's unit-of-work bookkeeping would cost more than the SQL.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.model import (
    Address,
    DeliveredRef,
    Envelope,
    Identity,
    Invite,
    Match,
    MatchStatus,
    Participant,
    Platform,
    Role,
    School,
    Step,
)
from core.scoring import MentorCard, StudentCard
from storage import mapping
from storage.addresses import best_address_of
from storage.broadcasts import BroadcastQueries
from storage.engine import write_connection, write_lock
from storage.figures import FigureQueries
from storage.groups import GroupQueries
from storage.nudges import NudgeQueries
from storage.privacy import PrivacyQueries
from storage.safety import SafetyQueries
from storage.tables import INV, PR, A, E, I, M, O, P, R, S

# The statements every relayed message runs, built once: building a statement costs more than
# executing it on SQLite, and these run several times per message.
# An identity comes with its participant, and a participant with their current address: the bus
# always asks for the second right after the first.
_P_COLUMNS = [c.label(f"p_{c.name}") for c in P.c]
_IDENTITY = (
    select(I, *_P_COLUMNS)
    .outerjoin(P, P.c.id == I.c.participant_id)
    .where(I.c.platform == bindparam("platform"), I.c.platform_user_id == bindparam("user"))
)

_BEST_ADDRESS = best_address_of(P)
_PARTICIPANT = (
    select(P, I.c.platform.label("a_platform"), I.c.chat_id.label("a_chat_id"),
           I.c.thread_id.label("a_thread_id"))
    .outerjoin(I, I.c.id == _BEST_ADDRESS)
    .where(P.c.id == bindparam("id"))
)
# A participant's active matches, each with the other person's row and address: relaying a
# message needs all three, and this is one statement instead of three.
_OTHER = P.alias("other")
_OTHER_ADDRESS = best_address_of(_OTHER)
_ACTIVE_MATCHES = (
    select(
        M, *[c.label(f"p_{c.name}") for c in _OTHER.c],
        I.c.platform.label("a_platform"), I.c.chat_id.label("a_chat_id"),
        I.c.thread_id.label("a_thread_id"),
    )
    .join(
        _OTHER,
        _OTHER.c.id == case((M.c.student_id == bindparam("pid"), M.c.mentor_id),
                            else_=M.c.student_id),
    )
    .outerjoin(I, I.c.id == _OTHER_ADDRESS)
    .where(
        M.c.status == MatchStatus.ACTIVE.value,
        (M.c.student_id == bindparam("pid")) | (M.c.mentor_id == bindparam("pid")),
    )
    .order_by(M.c.id)
)
_ADDRESS_OF = (
    select(I.c.platform, I.c.chat_id, I.c.thread_id)
    .where(I.c.participant_id == bindparam("pid"), I.c.reachable.is_(True))
    .order_by(I.c.last_seen_at.desc().nulls_last(), I.c.id.desc())
    .limit(1)
)
_ADD_RELAYED = insert(R)
_ENQUEUE = insert(O)
_CLAIM_EVENT = {
    "sqlite": sqlite_insert(E).on_conflict_do_nothing(index_elements=["event_key"])
    .returning(E.c.event_key),
    "postgresql": pg_insert(E).on_conflict_do_nothing(index_elements=["event_key"])
    .returning(E.c.event_key),
}


def _prefixed(row: Any) -> SimpleNamespace:
    """A row's `p_`-prefixed columns seen as a participant row."""
    return SimpleNamespace(**{k[2:]: v for k, v in row._mapping.items() if k.startswith("p_")})


class SqlStore(GroupQueries, NudgeQueries, SafetyQueries, PrivacyQueries, FigureQueries,
               BroadcastQueries):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        # Rows read alongside others in this transaction, dropped as soon as they are written.
        self._participant_rows: dict[int, Any] = {}
        self._addresses: dict[int, Address | None] = {}

    # events -----------------------------------------------------------------------------
    def claim_events(self, event_keys: Sequence[str], now: datetime) -> set[str]:
        keys = list(dict.fromkeys(event_keys))
        if not keys:
            return set()
        statement = _CLAIM_EVENT[self.conn.dialect.name]  # settings admit SQLite or PostgreSQL
        rows = self.conn.execute(statement, [{"event_key": k, "processed_at": now} for k in keys])
        return {row.event_key for row in rows}

    def forget_events(self, before: datetime) -> int:
        result = self.conn.execute(delete(E).where(E.c.processed_at < before))
        return int(result.rowcount or 0)

    def claim_event(self, event_key: str, now: datetime) -> bool:
        return event_key in self.claim_events([event_key], now)

    # identities -------------------------------------------------------------------------
    def identity(self, platform: Platform, platform_user_id: str) -> Identity | None:
        row = self.conn.execute(_IDENTITY, {"platform": platform, "user": platform_user_id}).first()
        if row is None:
            return None
        if row.p_id is not None:
            self._participant_rows[row.p_id] = _prefixed(row)
        return mapping.identity_from(row)

    def add_identity(self, identity: Identity) -> Identity:
        self._addresses.clear()
        result = self.conn.execute(insert(I).values(**_identity_values(identity)))
        identity.id = result.inserted_primary_key[0]
        return identity

    def save_identity(self, identity: Identity) -> None:
        self._addresses.clear()
        values = _identity_values(identity)
        self.conn.execute(update(I).where(I.c.id == identity.id).values(**values))

    def mark_unreachable(self, address: Address) -> bool:
        self._addresses.clear()
        result = self.conn.execute(
            update(I)
            .where(I.c.platform == address.platform, I.c.chat_id == address.chat_id,
                   I.c.reachable.is_(True))
            .values(reachable=False)
        )
        return result.rowcount > 0

    def address_of(self, participant_id: int) -> Address | None:
        if participant_id in self._addresses:
            return self._addresses[participant_id]
        row = self.conn.execute(_ADDRESS_OF, {"pid": participant_id}).first()
        return Address(row.platform, row.chat_id, row.thread_id) if row else None

    # participants -----------------------------------------------------------------------
    def participant(self, participant_id: int) -> Participant | None:
        cached = self._participant_rows.get(participant_id)
        if cached is not None:
            return mapping.participant_from(cached)
        row = self.conn.execute(_PARTICIPANT, {"id": participant_id}).first()
        if row is None:
            return None
        self._remember(participant_id, row, row)
        return mapping.participant_from(row)

    def add_participant(self, participant: Participant) -> Participant:
        values = mapping.participant_values(participant)
        values["created_at"] = participant.created_at
        result = self.conn.execute(insert(P).values(**values))
        participant.id = result.inserted_primary_key[0]
        return participant

    def save_participant(self, participant: Participant) -> None:
        self._participant_rows.pop(participant.id or 0, None)
        values = mapping.participant_values(participant)
        self.conn.execute(update(P).where(P.c.id == participant.id).values(**values))

    def pseudonym_taken(self, pseudonym: str, except_id: int | None = None) -> bool:
        query = select(P.c.id).where(P.c.pseudonym_key == pseudonym.casefold())
        if except_id is not None:
            query = query.where(P.c.id != except_id)
        return self.conn.execute(query.limit(1)).first() is not None

    def find_participant(self, pseudonym: str) -> Participant | None:
        row = self.conn.execute(select(P).where(P.c.pseudonym_key == pseudonym.casefold())).first()
        return mapping.participant_from(row) if row else None

    def participants(self, role: str | None = None) -> list[Participant]:
        query = select(P).order_by(P.c.id)
        if role:
            query = query.where(P.c.role == role)
        return [mapping.participant_from(r) for r in self.conn.execute(query)]

    def count_participants(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(P)).scalar_one())

    # schools ----------------------------------------------------------------------------
    def school(self, school_id: int) -> School | None:
        row = self.conn.execute(
            select(S.c.id, S.c.name, PR.c.name.label("program"))
            .join(PR, PR.c.id == S.c.program_id).where(S.c.id == school_id)
        ).first()
        return School(row.name, row.program, row.id) if row else None

    def find_school(self, name: str) -> School | None:
        row = self.conn.execute(select(S.c.id).where(S.c.name == name)).first()
        return self.school(row.id) if row else None

    def add_school(self, school: School) -> School:
        program = self.conn.execute(select(PR.c.id).where(PR.c.name == school.program)).first()
        program_id = (
            program.id if program
            else self.conn.execute(insert(PR).values(name=school.program)).inserted_primary_key[0]
        )
        new_id = self.conn.execute(
            insert(S).values(name=school.name, program_id=program_id)
        ).inserted_primary_key[0]
        return School(school.name, school.program, new_id)

    # invites ----------------------------------------------------------------------------
    def invite(self, code: str) -> Invite | None:
        row = self.conn.execute(select(INV).where(INV.c.code == code.upper())).first()
        return mapping.invite_from(row) if row else None

    def add_invite(self, invite: Invite, now: datetime) -> Invite:
        self.conn.execute(
            insert(INV).values(
                code=invite.code.upper(), role=invite.role.value, school_id=invite.school_id,
                participant_id=invite.participant_id, max_uses=invite.max_uses, uses=invite.uses,
                created_at=now,
            )
        )
        return invite

    def use_invite(self, code: str) -> bool:
        """Count one use, unless the code is used up (checked and counted in one statement, so
        two people racing for the last use cannot both have it)."""
        result = self.conn.execute(
            update(INV)
            .where(INV.c.code == code.upper(),
                   INV.c.max_uses.is_(None) | (INV.c.uses < INV.c.max_uses))
            .values(uses=INV.c.uses + 1)
        )
        return result.rowcount == 1

    # matches ----------------------------------------------------------------------------
    def match(self, match_id: int) -> Match | None:
        row = self.conn.execute(select(M).where(M.c.id == match_id)).first()
        return mapping.match_from(row) if row else None

    def add_match(self, match: Match) -> Match:
        result = self.conn.execute(
            insert(M).values(
                student_id=match.student_id, mentor_id=match.mentor_id, status=match.status.value,
                created_at=match.created_at, question=match.question,
                requested_by=match.requested_by,
            )
        )
        match.id = result.inserted_primary_key[0]
        return match

    def save_match(self, match: Match) -> None:
        self.conn.execute(
            update(M).where(M.c.id == match.id).values(
                status=match.status.value, ended_at=match.ended_at, ended_by=match.ended_by,
                created_at=match.created_at,
            )
        )

    def mentor_cards(self) -> list[MentorCard]:
        def count(status: MatchStatus):  # type: ignore[no-untyped-def]
            return (select(func.count()).where(M.c.mentor_id == P.c.id,
                                               M.c.status == status.value).scalar_subquery())

        rows = self.conn.execute(
            select(P.c.id, P.c.pseudonym, P.c.mentor_kind, P.c.profession, P.c.years,
                   P.c.fields, P.c.language, P.c.capacity, P.c.paused, P.c.vetted, P.c.bio,
                   PR.c.name.label("region"), count(MatchStatus.ACTIVE).label("load"),
                   count(MatchStatus.REQUESTED).label("pending"))
            .outerjoin(S, S.c.id == P.c.school_id).outerjoin(PR, PR.c.id == S.c.program_id)
            .where(P.c.role == Role.MENTOR.value, P.c.step == Step.DONE.value,
                   P.c.rejected_at.is_(None))  # a mentor turned down is offered to nobody
            .order_by(P.c.id)
        )
        return [
            MentorCard(
                id=r.id, pseudonym=r.pseudonym or "?", kind=r.mentor_kind or "professional",
                profession=r.profession or "", years=r.years or 0,
                fields=tuple(r.fields.split(",")) if r.fields else (), language=r.language,
                capacity=r.capacity if r.capacity is not None else 1, load=int(r.load),
                pending=int(r.pending), paused=bool(r.paused), vetted=bool(r.vetted),
                region=r.region, bio=r.bio,
            )
            for r in rows
        ]

    def mentors_met(self, student_id: int) -> frozenset[int]:
        """Mentors this student had (or asked), and anyone either of them blocked."""
        rows = self.conn.execute(select(M.c.mentor_id).where(M.c.student_id == student_id))
        return frozenset(r.mentor_id for r in rows) | self.blocked_with(student_id)

    def waiting_students(self, school_id: int | None = None) -> list[StudentCard]:
        busy = select(M.c.student_id).where(
            M.c.status.in_((MatchStatus.ACTIVE.value, MatchStatus.REQUESTED.value)))
        query = (
            select(P, PR.c.name.label("region"))
            .outerjoin(S, S.c.id == P.c.school_id).outerjoin(PR, PR.c.id == S.c.program_id)
            .where(P.c.role == Role.STUDENT.value, P.c.step == Step.DONE.value,
                   P.c.id.not_in(busy))
            .order_by(P.c.id)
        )
        if school_id is not None:
            query = query.where(P.c.school_id == school_id)
        return [
            StudentCard(id=r.id, age=r.age or 0,
                        fields=tuple(r.fields.split(",")) if r.fields else (),
                        language=r.language, region=r.region)
            for r in self.conn.execute(query)
        ]

    def expired_requests(self, before: datetime) -> list[Match]:
        rows = self.conn.execute(
            select(M).where(M.c.status == MatchStatus.REQUESTED.value, M.c.created_at < before)
            .order_by(M.c.id)
        )
        return [mapping.match_from(row) for row in rows]

    def open_matches(self, participant_id: int) -> list[Match]:
        rows = self.conn.execute(
            select(M).where(
                M.c.status.in_((MatchStatus.ACTIVE.value, MatchStatus.REQUESTED.value)),
                (M.c.student_id == participant_id) | (M.c.mentor_id == participant_id),
            ).order_by(M.c.id)
        )
        return [mapping.match_from(row) for row in rows]

    def active_matches(self, participant_id: int) -> list[Match]:
        matches = []
        for row in self.conn.execute(_ACTIVE_MATCHES, {"pid": participant_id}):
            self._remember(row.p_id, _prefixed(row), row)
            matches.append(mapping.match_from(row))
        return matches

    def _remember(self, participant_id: int, participant_row: Any, address_row: Any) -> None:
        """Keep a participant and their address read along with something else."""
        self._participant_rows[participant_id] = participant_row
        self._addresses[participant_id] = (
            Address(address_row.a_platform, address_row.a_chat_id, address_row.a_thread_id)
            if address_row.a_platform else None
        )

    def matches(self) -> list[Match]:
        return [mapping.match_from(r) for r in self.conn.execute(select(M).order_by(M.c.id))]

    # relayed messages -------------------------------------------------------------------
    def add_relayed(
        self, match_id: int, sender_id: int, body: str, source: Address, message_id: str,
        now: datetime,
    ) -> int:
        result = self.conn.execute(
            _ADD_RELAYED,
            {"match_id": match_id, "sender_id": sender_id, "body": body,
             "source_platform": source.platform, "source_chat_id": source.chat_id,
             "source_message_id": message_id, "dest_message_id": None, "created_at": now},
        )
        return int(result.inserted_primary_key[0])

    def find_relayed(
        self, source: Address, message_id: str, sender_id: int
    ) -> tuple[int, int] | None:
        if not message_id:
            return None
        row = self.conn.execute(
            select(R.c.id, R.c.match_id).where(
                R.c.source_platform == source.platform, R.c.source_chat_id == source.chat_id,
                R.c.source_message_id == message_id, R.c.sender_id == sender_id,
            ).order_by(R.c.id.desc()).limit(1)
        ).first()
        return (row.id, row.match_id) if row else None

    def set_relayed_body(self, relayed_id: int, body: str) -> None:
        self.conn.execute(update(R).where(R.c.id == relayed_id).values(body=body))

    def relayed_source(self, relayed_id: int) -> tuple[Address, str] | None:
        row = self.conn.execute(
            select(R.c.source_platform, R.c.source_chat_id, R.c.source_message_id)
            .where(R.c.id == relayed_id)
        ).first()
        if row is None or not row.source_message_id:
            return None
        return Address(row.source_platform, row.source_chat_id), row.source_message_id

    def delivered_ref(self, address: Address, platform_message_id: str) -> DeliveredRef | None:
        where = (O.c.platform == address.platform, O.c.chat_id == address.chat_id)
        columns = (O.c.match_id, O.c.relayed_id, O.c.group_id, O.c.post_id)
        row = self.conn.execute(
            select(*columns)
            .where(*where, O.c.platform_message_id == platform_message_id).limit(1)
        ).first()
        if row is None:  # a reply to an earlier part of a message sent in several parts
            parts = literal(",") + O.c.platform_message_ids + literal(",")
            row = self.conn.execute(
                select(*columns)
                .where(*where, O.c.parts_sent > 1,
                       parts.contains(f",{platform_message_id},", autoescape=True))
                .order_by(O.c.id.desc()).limit(1)
            ).first()
        if row is None:
            return None
        return DeliveredRef(row.match_id, row.relayed_id, row.group_id, row.post_id)

    # outbox & audit ---------------------------------------------------------------------
    def enqueue(self, envelopes: Sequence[Envelope], now: datetime) -> None:
        if envelopes:
            self.conn.execute(_ENQUEUE, [_outbox_values(env, now) for env in envelopes])

    def audit(self, actor: str, action: str, detail: dict[str, object], now: datetime) -> None:
        self.conn.execute(
            insert(A).values(at=now, actor=actor, action=action,
                             detail=json.dumps(detail, default=str, ensure_ascii=False))
        )


def _identity_values(identity: Identity) -> dict[str, Any]:
    return {
        "platform": identity.platform, "platform_user_id": identity.platform_user_id,
        "participant_id": identity.participant_id, "chat_id": identity.address.chat_id,
        "thread_id": identity.address.thread_id, "reachable": identity.reachable,
        "last_seen_at": identity.last_seen_at,
    }


def _outbox_values(env: Envelope, now: datetime) -> dict[str, Any]:
    msg = env.message
    return {
        "platform": msg.to.platform, "chat_id": msg.to.chat_id, "thread_id": msg.to.thread_id,
        "private_to": msg.to.private_to, "opens_thread": env.opens_thread,
        "text": msg.text, "buttons": mapping.buttons_to_json(msg.buttons),
        "reply_to": msg.reply_to, "recipient_id": env.recipient_id, "sender_id": env.sender_id,
        "match_id": env.match_id, "relayed_id": env.relayed_id, "op": env.op,
        "group_id": env.group_id, "post_id": env.post_id, "broadcast_id": env.broadcast_id,
        "status": "pending",
        "attempts": 0, "parts_sent": 0, "next_attempt_at": now, "created_at": now,
        "platform_message_ids": "",
        **mapping.attachment_values(msg.attachment),
    }


class SqlUnitOfWork:
    """One transaction: commits when the block ends normally, rolls back on an exception."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None

    def __enter__(self) -> SqlStore:
        self._lock = write_lock(self.engine)
        self._lock.__enter__()
        try:
            self._conn = write_connection(self.engine)
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise
        self._tx = self._conn.begin()
        return SqlStore(self._conn)

    def __exit__(self, exc_type: object, *_: object) -> None:
        assert self._conn is not None
        try:
            if exc_type is None:
                self._tx.commit()
            else:
                self._tx.rollback()
        finally:
            self._conn.close()
            self._conn = None
            self._lock.__exit__(None, None, None)


def unit_of_work_factory(engine: Engine):  # type: ignore[no-untyped-def]
    return lambda: SqlUnitOfWork(engine)

