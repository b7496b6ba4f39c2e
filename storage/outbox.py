"""The delivery side of the outbox: claiming due rows and recording what the platform said.

A row's file (an export, a chart) travels in the row until it is delivered or failed for good:
then its bytes are dropped in the statement that records the outcome (its name and type stay).

A row is claimed with a lease (claimed_until) rather than a lock held across the network call,
so a worker that dies mid-send only delays its rows until the lease runs out; on PostgreSQL the
claim also skips rows another instance is claiming at the same moment (FOR UPDATE SKIP LOCKED).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import (
    Connection,
    Engine,
    Update,
    bindparam,
    case,
    delete,
    func,
    insert,
    null,
    select,
    update,
)

from core.delivery import OutboxItem
from core.model import OP_DELETE, OP_EDIT, OP_SEND, Address, Envelope, Outbound
from storage import mapping
from storage.engine import writing
from storage.tables import GT, O, R, T

_CHAT_HEADS = (
    select(func.min(O.c.id))
    .where(O.c.platform == bindparam("platform"), O.c.status == "pending")
    .group_by(O.c.chat_id)
)
# An edit or a removal acts on the copy delivered for its relayed message, whose id is known
# only once that copy went out: it is read when the row is claimed, not when it was written.
_DELIVERED_COPY = (
    select(R.c.dest_message_id).where(R.c.id == O.c.relayed_id).scalar_subquery()
)
# A removal takes back every part of a copy that went out in several.
_O2 = O.alias("sent_copy")
_COPY_PARTS = (
    select(_O2.c.platform_message_ids).where(
        _O2.c.relayed_id == O.c.relayed_id, _O2.c.op == OP_SEND, _O2.c.status == "delivered",
    ).order_by(_O2.c.id).limit(1).scalar_subquery()
)
# A group post's copies are one per member: the one of this row's recipient.
_POST_COPY = (
    select(_O2.c.platform_message_id, _O2.c.platform_message_ids).where(
        _O2.c.post_id == O.c.post_id, _O2.c.recipient_id == O.c.recipient_id,
        _O2.c.op == OP_SEND, _O2.c.status == "delivered",
    ).order_by(_O2.c.id).limit(1)
)
_POST_COPY_ID = _POST_COPY.with_only_columns(_O2.c.platform_message_id).scalar_subquery()
_POST_COPY_PARTS = _POST_COPY.with_only_columns(_O2.c.platform_message_ids).scalar_subquery()
# A match's messages go into the thread its first message opened for that recipient, when the
# platform has threads; that thread is known only once the first message was delivered.
_MATCH_THREAD = (
    select(T.c.thread_id).where(
        T.c.match_id == O.c.match_id, T.c.participant_id == O.c.recipient_id,
        T.c.platform == O.c.platform, T.c.chat_id == O.c.chat_id,
    ).limit(1).scalar_subquery()
)
# A group's copies go into the thread the group opened for that member, likewise.
_GROUP_THREAD = (
    select(GT.c.thread_id).where(
        GT.c.group_id == O.c.group_id, GT.c.participant_id == O.c.recipient_id,
        GT.c.platform == O.c.platform, GT.c.chat_id == O.c.chat_id,
    ).limit(1).scalar_subquery()
)

_CLAIM = (
    select(
        O,
        case((O.c.op == OP_SEND, null()), (O.c.relayed_id.is_not(None), _DELIVERED_COPY),
             (O.c.post_id.is_not(None), _POST_COPY_ID), else_=None).label("copy_id"),
        # A message that opens a thread never goes into an older one (it would become a
        # root inside a thread).
        case((O.c.opens_thread.is_(True) | O.c.thread_id.is_not(None), null()),
             (O.c.match_id.is_not(None), _MATCH_THREAD),
             (O.c.group_id.is_not(None), _GROUP_THREAD),
             else_=None).label("match_thread"),
        case((O.c.op != OP_DELETE, null()), (O.c.relayed_id.is_not(None), _COPY_PARTS),
             (O.c.post_id.is_not(None), _POST_COPY_PARTS), else_=None).label("copy_parts"),
    )
    .where(
        O.c.id.in_(_CHAT_HEADS),
        O.c.next_attempt_at <= bindparam("now"),
        (O.c.claimed_until.is_(None)) | (O.c.claimed_until < bindparam("now")),
    )
    .order_by(O.c.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True, of=O)
)
_MARK_DELIVERED = (
    update(O)
    .where(O.c.id == bindparam("row_id"))
    .values(
        status=bindparam("status"), delivered_at=bindparam("delivered_at"),
        claimed_until=bindparam("claimed_until"), parts_sent=bindparam("parts_sent"),
        platform_message_ids=bindparam("platform_message_ids"),
        platform_message_id=bindparam("platform_message_id"), attempts=bindparam("attempts"),
        file_data=None,  # a delivered file's bytes are private and large: not kept
    )
)
_MARK_RELAYED = (
    update(R).where(R.c.id == bindparam("row_id"))
    .values(dest_message_id=bindparam("dest_message_id"))
)


def _renewal(batch: Sequence[int], until: datetime) -> Update:
    return (update(O)
            .where(O.c.id.in_(batch), O.c.status == "pending", O.c.claimed_until.is_not(None))
            .values(claimed_until=until))


class OutboxQueue:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def claim(self, platform: str, now: datetime, limit: int, lease: float) -> list[OutboxItem]:
        """Due rows of `platform`, at most one per chat (the oldest), so order is kept per chat.

        The oldest pending row of each chat is found in one pass over the queue index; a chat
        whose oldest row is waiting (backing off, or being sent by someone else) sends nothing.
        """
        with writing(self.engine) as conn:
            rows = conn.execute(
                _CLAIM, {"platform": platform, "now": now, "limit": limit}
            ).all()
            if rows:
                conn.execute(
                    update(O)
                    .where(O.c.id.in_([r.id for r in rows]))
                    .values(claimed_until=now + timedelta(seconds=lease))
                )
        return [_item(r) for r in rows]

    def record_part(
        self, item_id: int, parts_sent: int, message_ids: tuple[str, ...],
        until: datetime, batch: Sequence[int],
    ) -> None:
        """One part of a split message went out: remember it so a retry never re-sends it.

        The lease of the batch's rows still claimed is renewed to `until`: each part fits in a
        lease, but a long message as a whole may not, and the rows already sent wait for the
        batch to be recorded; another instance must take none of them over meanwhile.
        """
        with writing(self.engine) as conn:
            conn.execute(
                update(O).where(O.c.id == item_id).values(
                    parts_sent=parts_sent, platform_message_ids=",".join(message_ids),
                    platform_message_id=message_ids[-1] if message_ids else None,
                )
            )
            conn.execute(_renewal(batch, until))

    def renew(self, batch: Sequence[int], until: datetime) -> None:
        """Extend the lease of the batch's rows still claimed and waiting (a live worker's)."""
        with writing(self.engine) as conn:
            conn.execute(_renewal(batch, until))

    def delivered_many(
        self, done: list[tuple[OutboxItem, tuple[str, ...]]], now: datetime,
        threaded: bool = False,
    ) -> None:
        """Record accepted messages, a batch in one transaction (one commit, not one each).

        On a platform with threads (`threaded`), a match's first message to a person becomes
        the root of the thread the rest of that match goes into.
        """
        rows = [
            {"row_id": item.id, "status": "delivered", "delivered_at": now,
             "claimed_until": None, "parts_sent": len(ids),
             "platform_message_ids": ",".join(ids),
             "platform_message_id": ids[-1] if ids else None, "attempts": item.attempts + 1}
            for item, ids in done
        ]
        relayed = [
            {"row_id": item.envelope.relayed_id, "dest_message_id": ids[-1]}
            for item, ids in done
            if item.envelope.relayed_id is not None and ids and item.envelope.op == OP_SEND
        ]
        roots = [
            (item.envelope, ids[0]) for item, ids in done
            if threaded and ids and item.envelope.opens_thread
            and item.envelope.recipient_id is not None
            and (item.envelope.match_id is not None or item.envelope.group_id is not None)
        ]
        with writing(self.engine) as conn:
            conn.execute(_MARK_DELIVERED, rows)
            if relayed:
                conn.execute(_MARK_RELAYED, relayed)
            for envelope, root in roots:
                _record_thread(conn, envelope, root)

    def retry(self, item: OutboxItem, at: datetime, error: str, *, counts: bool = True) -> None:
        """Try again at `at`; a wait the platform asked for (`counts=False`) is no attempt."""
        with writing(self.engine) as conn:
            conn.execute(
                update(O).where(O.c.id == item.id).values(
                    attempts=item.attempts + (1 if counts else 0), next_attempt_at=at,
                    claimed_until=None,
                    last_error=error[:300],
                )
            )

    def failed(self, item: OutboxItem, error: str, conn: Connection | None = None
               ) -> list[OutboxItem]:
        """Mark `item` failed, in `conn`'s transaction when given (so that telling its sender
        commits with it), else in one of its own."""
        with _transaction(self.engine, conn) as tx:
            tx.execute(
                update(O).where(O.c.id == item.id).values(
                    status="failed", attempts=item.attempts + 1, claimed_until=None,
                    last_error=error[:300], file_data=None,
                )
            )
        return [item]

    def fail_destination(
        self, item: OutboxItem, error: str, conn: Connection | None = None
    ) -> list[OutboxItem]:
        """Fail `item` and every other message waiting for the same chat; return them all.

        Used when the recipient blocked the bot: nothing queued for them can arrive, and each
        sender should hear it now rather than one retry at a time.
        """
        to = item.envelope.message.to
        with _transaction(self.engine, conn) as tx:
            rows = tx.execute(
                select(O).where(
                    O.c.platform == to.platform, O.c.chat_id == to.chat_id,
                    O.c.status == "pending",
                ).order_by(O.c.id).with_for_update(of=O)
            ).all()
            ids = [r.id for r in rows] or [item.id]
            tx.execute(
                update(O).where(O.c.id.in_(ids)).values(
                    status="failed", attempts=O.c.attempts + 1, claimed_until=None,
                    last_error=error[:300], file_data=None,
                )
            )
        return [_item(r) for r in rows] or [item]

    def release_claims(self) -> int:
        """Forget every lease: for a database only this process uses (SQLite), a lease left by a
        process that died would otherwise hold its rows back until it expired."""
        with writing(self.engine) as conn:
            result = conn.execute(
                update(O).where(O.c.status == "pending", O.c.claimed_until.is_not(None))
                .values(claimed_until=None)
            )
        return int(result.rowcount or 0)


def _record_thread(conn: Connection, envelope: Envelope, root: str) -> None:
    """Remember the thread a match (or a group) opened (the latest, should its first message
    go out twice)."""
    to = envelope.message.to
    table, owner = ((T, {"match_id": envelope.match_id}) if envelope.match_id is not None
                    else (GT, {"group_id": envelope.group_id}))
    key = {**owner, "participant_id": envelope.recipient_id, "platform": to.platform,
           "chat_id": to.chat_id}
    conn.execute(delete(table).where(*(table.c[name] == value for name, value in key.items())))
    conn.execute(insert(table).values(**key, thread_id=root))


def _item(row) -> OutboxItem:  # type: ignore[no-untyped-def]
    copy_id = getattr(row, "copy_id", None)
    thread = row.thread_id or getattr(row, "match_thread", None)
    message = Outbound(
        Address(row.platform, row.chat_id, thread, row.private_to), row.text,
        mapping.buttons_from_json(row.buttons), row.reply_to,
        edit_of=copy_id if row.op == OP_EDIT else None,
        delete_of=copy_id if row.op == OP_DELETE else None,
        opens_thread=bool(row.opens_thread) and row.op == OP_SEND,
        attachment=mapping.attachment_from(row) if row.op == OP_SEND else None,
    )
    envelope = Envelope(
        message, recipient_id=row.recipient_id, match_id=row.match_id,
        relayed_id=row.relayed_id, sender_id=row.sender_id, op=row.op,
        opens_thread=bool(row.opens_thread), group_id=row.group_id, post_id=row.post_id,
    )
    ids = tuple(i for i in row.platform_message_ids.split(",") if i)
    parts = getattr(row, "copy_parts", None) if row.op == OP_DELETE else None
    copy_parts = tuple(i for i in (parts or "").split(",") if i)
    return OutboxItem(row.id, envelope, row.attempts, row.parts_sent, ids, copy_parts)


@contextmanager
def _transaction(engine: Engine, conn: Connection | None) -> Iterator[Connection]:
    """The caller's transaction when there is one, else a write transaction of our own."""
    if conn is not None:
        yield conn
        return
    with writing(engine) as own:
        yield own
