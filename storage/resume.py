"""Where a platform that never sends an event again (Discord) reads back after a restart.

Discord keeps no gateway event for a bot that is not connected: what a mentor wrote while the
service was down, or just before a crash and not yet committed, is only in the channel's
history. On each new session the Discord adapter reads that history again, in the channels
this query names, after the newest message already committed there; the dedup keys make any
repeat harmless.

Which channels: the DMs of the people on the platform who have something going on (a request
or a match open, a discussion group they are in, a message committed or an address taken up
within the window), and the threads of the matches and groups still open, newest first, at most
`limit`. A DM with no message in it lately and nothing open is not read: on a server of two
thousand mentors, most of them idle, a restart reads a few dozen channels, not two thousand.

The resume point of a channel is the last inbound message committed from its chat (relayed
to a match, posted to a group, or held for review) within the window: the last row written,
cheap to find, and no later than any message still in flight before it. A thread's messages are
recorded under the chat (the DM) of the person who wrote them, so a thread shares its DM's
point; the adapter reads from a little before it. Commands and onboarding answers leave no
such row: for a chat that has only those, nothing is known and the adapter falls back to the
window itself. Processed event keys are not used: they say nothing of the channel, and they
are forgotten after a week.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, or_, select

from core.model import MatchStatus
from storage.tables import (
    GM,
    GT,
    G,
    GroupPostRow,
    HeldMessageRow,
    I,
    M,
    RelayedMessageRow,
    T,
)

OPEN = (MatchStatus.REQUESTED.value, MatchStatus.ACTIVE.value)
# What people wrote that the service committed with the message's platform id.
_SOURCES = (RelayedMessageRow.__table__, GroupPostRow.__table__, HeldMessageRow.__table__)


@dataclass(frozen=True, slots=True)
class ResumePoints:
    """Channel id → the newest message id committed from it (None: none within the window)."""

    dms: dict[str, str | None] = field(default_factory=dict)
    threads: dict[str, str | None] = field(default_factory=dict)


def resume_points(engine: Engine, platform: str, since: datetime, limit: int) -> ResumePoints:
    """The channels of `platform` to read back, each with its resume point (see the module
    doc). `since` is the start of the window, on the service's clock."""
    with engine.connect() as conn:
        newest = _newest_committed(conn, platform, since)
        dms = _busy_chats(conn, platform, since) | set(newest)
        threads = _open_threads(conn, platform)
    # (is a thread, channel, its chat): the most recently active first, at most `limit`.
    channels = [(False, chat, chat) for chat in sorted(dms)]
    channels += [(True, thread, chat) for thread, chat in sorted(threads.items())]
    channels.sort(key=lambda channel: _rank(newest.get(channel[2])), reverse=True)
    found = ResumePoints()
    for is_thread, channel, chat in channels[:limit]:
        (found.threads if is_thread else found.dms)[channel] = newest.get(chat)
    return found


def _newest_committed(conn: Connection, platform: str, since: datetime) -> dict[str, str]:
    """Chat → the id of the last message committed from it within the window (of the three
    tables' last rows, the newest: ids compared as numbers, since Discord's snowflakes grow
    with time and a string order would be wrong across lengths)."""
    newest: dict[str, str] = {}
    for table in _SOURCES:
        rows = conn.execute(
            select(table.c.source_chat_id, table.c.source_message_id)
            .where(table.c.id.in_(
                select(func.max(table.c.id))
                .where(table.c.source_platform == platform, table.c.created_at >= since,
                       table.c.source_message_id != "")
                .group_by(table.c.source_chat_id)))).all()
        for row in rows:
            if _rank(row.source_message_id) > _rank(newest.get(row.source_chat_id)):
                newest[row.source_chat_id] = row.source_message_id
    return newest


def _busy_chats(conn: Connection, platform: str, since: datetime) -> set[str]:
    """The chats of people reachable on `platform` with something open, or seen lately."""
    in_match = (select(M.c.id).where(or_(M.c.student_id == I.c.participant_id,
                                         M.c.mentor_id == I.c.participant_id),
                                     M.c.status.in_(OPEN)).exists())
    in_group = (select(GM.c.group_id).join(G, G.c.id == GM.c.group_id)
                .where(GM.c.participant_id == I.c.participant_id, GM.c.removed.is_(False),
                       G.c.closed.is_(False)).exists())
    rows = conn.execute(
        select(I.c.chat_id).where(
            I.c.platform == platform, I.c.reachable.is_(True),
            or_(in_match, in_group, I.c.last_seen_at >= since))).all()
    return {row.chat_id for row in rows}


def _open_threads(conn: Connection, platform: str) -> dict[str, str]:
    """Thread → its chat, for the threads of open matches and of groups their member is in."""
    matches = conn.execute(
        select(T.c.thread_id, T.c.chat_id).join(M, M.c.id == T.c.match_id)
        .where(T.c.platform == platform, M.c.status.in_(OPEN))).all()
    groups = conn.execute(
        select(GT.c.thread_id, GT.c.chat_id).join(G, G.c.id == GT.c.group_id)
        .join(GM, (GM.c.group_id == GT.c.group_id) & (GM.c.participant_id == GT.c.participant_id))
        .where(GT.c.platform == platform, G.c.closed.is_(False), GM.c.removed.is_(False))).all()
    return {row.thread_id: row.chat_id for row in (*matches, *groups)}


def _rank(message_id: Any) -> int:
    """A message id as a number to order by (-1: none, or not a number)."""
    return int(message_id) if isinstance(message_id, str) and message_id.isdigit() else -1
