"""What the privacy rights need from the database (core.privacy): everything held on one
person, erasing them, and the retention purge. A mixin of the SQL store (it uses its connection).

Erasing keeps what the statistics count: the participant row stays, emptied of everything
personal and marked `erased`, so that matches (and the counts made of them) still point at it.
Everything else that is theirs is deleted or blanked in the same transaction, in every table.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.model import DEFAULT_LANGUAGE, Step
from core.privacy import Holdings, Written
from storage import mapping
from storage.tables import (
    BC,
    BL,
    GM,
    GP,
    GT,
    HM,
    INV,
    RP,
    SA,
    A,
    E,
    I,
    M,
    N,
    O,
    P,
    R,
    T,
    X,
)

_INSERTS = {"sqlite": sqlite_insert, "postgresql": pg_insert}

PENDING = "pending"
# What an audit entry of an erased person keeps: which things it was about, never who or what.
_AUDIT_KEPT = frozenset({"match_id", "group_id", "held_id", "school_id", "role"})
# Audit keys that name a person (by participant id) in someone else's entry.
_AUDIT_PEOPLE = frozenset({"participant_id", "blocked", "mentor_id", "student_id", "target_id",
                           "sender_id", "reviewer_id"})
# A file's name can name them (an export's), and its bytes are a message body too.
_BLANK_TEXT = {"text": "", "buttons": "", "file_name": None, "file_data": None}
# A copy that still has something to blank: its text, or a file.
_HAS_BODY = or_(O.c.text != "", O.c.file_name.is_not(None))
_BLANK_ADDRESS = {
    "chat_id": "", "thread_id": None, "private_to": None, "reply_to": None,
    "platform_message_id": None, "platform_message_ids": "", "last_error": None,
} | _BLANK_TEXT


class PrivacyQueries:
    conn: Connection
    _participant_rows: dict[int, Any]
    _addresses: dict[int, Any]

    # /mydata ------------------------------------------------------------------------------
    def holdings(self, participant_id: int) -> Holdings:
        pid = participant_id
        identities = tuple(self.identities_of(pid))  # type: ignore[attr-defined]
        matches = tuple(mapping.match_from(r) for r in self.conn.execute(
            select(M).where(or_(M.c.student_id == pid, M.c.mentor_id == pid)).order_by(M.c.id)))
        sent = self.conn.execute(
            select(R.c.created_at, R.c.body, R.c.match_id)
            .where(R.c.sender_id == pid, R.c.body != "").order_by(R.c.id))
        messages = tuple(Written(r.created_at, r.body, match_id=r.match_id) for r in sent)
        posted = self.conn.execute(
            select(GP.c.created_at, GP.c.body, GP.c.group_id)
            .where(GP.c.author_id == pid, GP.c.body != "").order_by(GP.c.id))
        posts = tuple(Written(r.created_at, r.body, group_id=r.group_id) for r in posted)
        answers = tuple((r.match_id, r.question, r.answer) for r in self.conn.execute(
            select(SA.c.match_id, SA.c.question, SA.c.answer)
            .where(SA.c.participant_id == pid).order_by(SA.c.id)))
        nudges = self.conn.execute(
            select(func.count()).select_from(N).where(N.c.participant_id == pid)).scalar_one()
        held = tuple(Written(r.created_at, r.body, match_id=r.match_id, group_id=r.group_id,
                             status=r.status) for r in self.conn.execute(
            select(HM.c.created_at, HM.c.body, HM.c.match_id, HM.c.group_id, HM.c.status)
            .where(HM.c.sender_id == pid, HM.c.body != "").order_by(HM.c.id)))
        broadcasts = tuple(Written(r.created_at, r.body, scope=r.scope) for r in self.conn.execute(
            select(BC.c.created_at, BC.c.body, BC.c.scope)
            .where(BC.c.author_id == pid, BC.c.body != "").order_by(BC.c.id)))
        return Holdings(identities, matches, messages, posts, answers, int(nudges), held,
                        broadcasts)

    # /forgetme ----------------------------------------------------------------------------
    def erase_participant(self, participant_id: int, now: datetime) -> dict[str, int]:
        """Erase everything held on a person but the anonymous row the statistics count; how
        many rows each kind of erasure touched."""
        pid = participant_id
        self._participant_rows.clear()
        self._addresses.clear()
        person = self.conn.execute(select(P).where(P.c.id == pid)).first()
        if person is None:
            return {}
        identities = self.conn.execute(
            select(I.c.platform, I.c.platform_user_id, I.c.chat_id)
            .where(I.c.participant_id == pid)).all()
        counts: dict[str, int] = {}
        outbox_after = self._erase_outbox(pid, identities, person.pseudonym, counts)
        mine = {"source_chat_id": "", "source_message_id": ""}
        counts["messages"] = self._run(
            update(R).where(R.c.sender_id == pid).values(body="", **mine))
        counts["posts"] = self._run(
            update(GP).where(GP.c.author_id == pid).values(body="", **mine))
        # What still waits for a coordinator is withdrawn, not sent.
        self._run(update(HM).where(HM.c.sender_id == pid, HM.c.status == "held")
                  .values(status="withdrawn"))
        counts["held"] = self._run(
            update(HM).where(HM.c.sender_id == pid).values(body="", **mine))
        counts["broadcasts"] = self._erase_broadcasts(pid)
        counts["questions"] = self._run(
            update(M).where(M.c.student_id == pid, M.c.question.is_not(None)).values(question=None))
        if person.pseudonym:
            counts["named"] = self._unname(person.pseudonym)
        counts["answers"] = self._run(delete(SA).where(SA.c.participant_id == pid))
        counts["nudges"] = self._run(delete(N).where(N.c.participant_id == pid))
        self._run(delete(T).where(T.c.participant_id == pid))
        self._run(delete(GT).where(GT.c.participant_id == pid))
        counts["groups"] = self._run(delete(GM).where(GM.c.participant_id == pid))
        self._run(delete(BL).where(or_(BL.c.blocker_id == pid, BL.c.blocked_id == pid)))
        self._run(delete(INV).where(INV.c.participant_id == pid))
        for identity in identities:  # dedup keys that name the account (the playground's)
            uid = identity.platform_user_id
            self._run(delete(E).where(or_(E.c.event_key.contains(f":{uid}:", autoescape=True),
                                          E.c.event_key.endswith(f":{uid}", autoescape=True))))
        counts["identities"] = self._run(delete(I).where(I.c.participant_id == pid))
        counts["audit"] = self._erase_audit(pid, person.pseudonym)
        joined = person.created_at
        self.conn.execute(update(P).where(P.c.id == pid).values(
            pseudonym=None, pseudonym_key=None, language=DEFAULT_LANGUAGE, step=Step.ERASED.value,
            age=None, fields="", mentor_kind=None, profession=None, years=None, capacity=None,
            vetted=False, paused=False, bio=None, current_match_id=None, current_group_id=None,
            timezone=None, nudges_off=True, snoozed_until=None, pending_text=None,
            # The month is enough for counting who joined when; the second could single out.
            created_at=joined.replace(day=1, hour=0, minute=0, second=0, microsecond=0),
        ))
        self.conn.execute(insert(X).values(participant_id=pid, outbox_after=outbox_after, at=now))
        return counts

    def _erase_broadcasts(self, pid: int) -> int:
        """A coordinator's broadcasts lose their words, and so do their copies: those still
        waiting are dropped, those delivered blanked."""
        copies = O.c.broadcast_id.in_(select(BC.c.id).where(BC.c.author_id == pid))
        self._run(delete(O).where(copies, O.c.status == PENDING))
        self._run(update(O).where(copies, O.c.status != PENDING, _HAS_BODY).values(**_BLANK_TEXT))
        return self._run(update(BC).where(BC.c.author_id == pid, BC.c.body != "")
                         .values(body=""))

    def _run(self, statement: Any) -> int:
        return int(self.conn.execute(statement).rowcount or 0)

    def _erase_outbox(self, pid: int, identities: list[Any], pseudonym: str | None,
                      counts: dict[str, int]) -> int:
        """Their outbox: what waits for them or comes from them is dropped; what went out has
        its copy blanked (and, sent to them, its address). The outbox id from which the sweep
        blanks the copies still to go out (`settle_erasures`)."""
        to_them = or_(O.c.recipient_id == pid, *(
            and_(O.c.platform == i.platform, or_(O.c.chat_id == i.chat_id,
                                                 O.c.private_to == i.platform_user_id))
            for i in identities))
        posts = select(GP.c.id).where(GP.c.author_id == pid)
        about = or_(O.c.sender_id == pid, O.c.match_id.in_(_matches_of(pid)),
                    O.c.post_id.in_(posts))
        # Others' replies to their posts quote them: those copies go out, then are blanked.
        replies = O.c.post_id.in_(select(GP.c.id).where(GP.c.reply_to_post.in_(posts)))
        counts["outbox_dropped"] = self._run(
            delete(O).where(O.c.status == PENDING, or_(to_them, about)))
        sent = O.c.status != PENDING
        counts["outbox_blanked"] = self._run(
            update(O).where(sent, to_them, O.c.chat_id != "").values(**_BLANK_ADDRESS)
        ) + self._run(
            update(O).where(sent, or_(about, replies), _HAS_BODY).values(**_BLANK_TEXT))
        if pseudonym:
            counts["outbox_blanked"] += self._blank_mentions(pseudonym)
        last = self.conn.execute(select(func.max(O.c.id))).scalar_one_or_none() or 0
        waiting = self.conn.execute(
            select(func.min(O.c.id)).where(O.c.status == PENDING, replies)).scalar_one_or_none()
        return min(last, waiting - 1) if waiting is not None else last

    def _blank_mentions(self, pseudonym: str) -> int:
        """Delivered copies that name them (a member list, a coordinator's plan or report)."""
        named = _naming(pseudonym)
        rows = self.conn.execute(
            select(O.c.id, O.c.text)
            .where(O.c.status != PENDING, O.c.text.icontains(pseudonym, autoescape=True)))
        ids = [r.id for r in rows if named.search(r.text)]
        if not ids:
            return 0
        return self._run(update(O).where(O.c.id.in_(ids)).values(**_BLANK_TEXT))

    def _unname(self, pseudonym: str) -> int:
        """What others wrote keeps its words but loses their name ("merci Zoé!" → "merci …!"):
        a name is personal wherever it is written."""
        named = _naming(pseudonym)
        changed = 0
        bodies = [(R, R.c.body), (GP, GP.c.body), (M, M.c.question), (HM, HM.c.body)]
        for table, column in bodies:
            rows = self.conn.execute(select(table.c.id, column.label("body"))
                                     .where(column.icontains(pseudonym, autoescape=True)))
            for row in rows.all():
                if named.search(row.body):
                    self.conn.execute(update(table).where(table.c.id == row.id)
                                      .values({column.name: named.sub("…", row.body)}))
                    changed += 1
        return changed

    def _erase_audit(self, pid: int, pseudonym: str | None) -> int:
        """Their entries keep the action and the things it was about, not who or with what;
        others' entries lose what names them."""
        changed = 0
        actor = f"participant:{pid}"
        about_them = or_(A.c.detail.contains(f'": {pid},', autoescape=True),
                         A.c.detail.contains(f'": {pid}}}', autoescape=True))
        if pseudonym:
            about_them = or_(about_them, A.c.detail.contains(pseudonym, autoescape=True))
        rows = self.conn.execute(
            select(A.c.id, A.c.actor, A.c.detail).where(or_(A.c.actor == actor, about_them)))
        for row in rows.all():
            try:
                detail = json.loads(row.detail)
            except ValueError:
                detail = {}
            if not isinstance(detail, dict):
                detail = {}
            if row.actor == actor:
                kept = {k: v for k, v in detail.items() if k in _AUDIT_KEPT}
            else:
                kept = {k: v for k, v in detail.items()
                        if not (k in _AUDIT_PEOPLE and v == pid)
                        and not (pseudonym and isinstance(v, str) and pseudonym in v)}
            new_actor = "erased" if row.actor == actor else row.actor
            if kept != detail or new_actor != row.actor:
                self.conn.execute(update(A).where(A.c.id == row.id).values(
                    actor=new_actor, detail=json.dumps(kept, ensure_ascii=False)))
                changed += 1
        return changed

    def settle_erasures(self, now: datetime) -> int:
        """Blank the copies about erased people that went out since their erasure (their
        farewell: its address too); an erasure is settled once none is left to go out."""
        blanked = 0
        waiting = self.conn.execute(
            select(X.c.id, X.c.participant_id, X.c.outbox_after)
            .where(X.c.settled_at.is_(None)).order_by(X.c.id)).all()
        for erasure in waiting:
            pid = erasure.participant_id
            since = O.c.id > erasure.outbox_after
            to_them = O.c.recipient_id == pid
            posts = select(GP.c.id).where(GP.c.author_id == pid)
            about = or_(O.c.sender_id == pid, O.c.match_id.in_(_matches_of(pid)),
                        O.c.post_id.in_(posts),
                        O.c.post_id.in_(select(GP.c.id).where(GP.c.reply_to_post.in_(posts))))
            sent = O.c.status != PENDING
            blanked += self._run(
                update(O).where(since, sent, to_them, O.c.chat_id != "").values(**_BLANK_ADDRESS))
            blanked += self._run(
                update(O).where(since, sent, about, _HAS_BODY).values(**_BLANK_TEXT))
            left = self.conn.execute(
                select(O.c.id).where(since, O.c.status == PENDING, or_(to_them, about)).limit(1)
            ).first()
            if left is None:
                self.conn.execute(update(X).where(X.c.id == erasure.id).values(settled_at=now))
        return blanked

    # retention ----------------------------------------------------------------------------
    def claim_purge(self, day: str, now: datetime) -> bool:
        """Record that `day`'s purge runs; False if it ran (or runs) already."""
        statement = _INSERTS[self.conn.dialect.name](RP).on_conflict_do_nothing(
            index_elements=["day"]).returning(RP.c.day)
        return self.conn.execute(statement, {"day": day, "at": now, "bodies": 0}).first() \
            is not None

    def purge_bodies(self, before: datetime, day: str | None = None) -> int:
        """Blank every message body written before `before`: relayed messages, group posts,
        a request's first question, held messages decided on, and the outbox's delivered (or
        failed) copies. Only non-blank ones are touched: a second run changes nothing. The
        count is kept with `day`'s purge, when given."""
        purged = self._run(
            update(R).where(R.c.created_at < before, R.c.body != "").values(body=""))
        purged += self._run(
            update(GP).where(GP.c.created_at < before, GP.c.body != "").values(body=""))
        purged += self._run(
            update(M).where(M.c.created_at < before, M.c.question.is_not(None))
            .values(question=None))
        purged += self._run(
            update(HM).where(HM.c.created_at < before, HM.c.status != "held",
                             HM.c.body != "").values(body=""))
        purged += self._run(
            update(O).where(O.c.created_at < before, O.c.status != PENDING, _HAS_BODY)
            .values(**_BLANK_TEXT))
        purged += self._run(  # coordinators' broadcasts (a draft that old expired long ago)
            update(BC).where(BC.c.created_at < before, BC.c.body != "").values(body=""))
        if day is not None:
            self.conn.execute(update(RP).where(RP.c.day == day).values(bodies=purged))
        return purged


def _naming(pseudonym: str) -> re.Pattern[str]:
    """The pseudonym as a word of its own, whatever its case."""
    return re.compile(rf"(?<!\w){re.escape(pseudonym)}(?!\w)", re.IGNORECASE)


def _matches_of(pid: int) -> Any:
    return select(M.c.id).where(or_(M.c.student_id == pid, M.c.mentor_id == pid))
