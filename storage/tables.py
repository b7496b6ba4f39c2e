"""The database schema, as sqlmodel tables. Only storage/ knows these; core gets dataclasses."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary, Text, UniqueConstraint, false
from sqlmodel import Field, SQLModel


class ProgramRow(SQLModel, table=True):
    __tablename__ = "programs"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)


class SchoolRow(SQLModel, table=True):
    __tablename__ = "schools"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    program_id: int = Field(foreign_key="programs.id", index=True)


class ParticipantRow(SQLModel, table=True):
    __tablename__ = "participants"
    id: int | None = Field(default=None, primary_key=True)
    role: str = Field(max_length=16)
    pseudonym: str | None = Field(default=None, max_length=40)
    pseudonym_key: str | None = Field(default=None, max_length=40, unique=True)
    language: str = Field(default="fr", max_length=2)
    school_id: int | None = Field(default=None, foreign_key="schools.id", index=True)
    step: str = Field(default="language", max_length=16)
    age: int | None = None
    fields: str = Field(default="", max_length=400)
    mentor_kind: str | None = Field(default=None, max_length=16)
    profession: str | None = Field(default=None, max_length=120)
    years: int | None = None
    capacity: int | None = None
    vetted: bool = False
    paused: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    bio: str | None = Field(default=None, max_length=300)
    current_match_id: int | None = None
    current_group_id: int | None = None
    timezone: str | None = Field(default=None, max_length=64)
    nudges_off: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    snoozed_until: datetime | None = None
    pending_text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # A mentor a coordinator turned down (with the reason they were told): out of /pending.
    rejected_at: datetime | None = None
    rejected_reason: str | None = Field(default=None, max_length=300)
    created_at: datetime


class IdentityRow(SQLModel, table=True):
    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("platform", "platform_user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    platform_user_id: str = Field(max_length=64)
    participant_id: int = Field(foreign_key="participants.id", index=True)
    chat_id: str = Field(max_length=64)
    thread_id: str | None = Field(default=None, max_length=64)
    reachable: bool = True
    last_seen_at: datetime | None = None


class InviteRow(SQLModel, table=True):
    __tablename__ = "invites"
    code: str = Field(primary_key=True, max_length=32)
    role: str = Field(max_length=16)
    school_id: int | None = Field(default=None, foreign_key="schools.id")
    participant_id: int | None = Field(default=None, foreign_key="participants.id")
    max_uses: int | None = None
    uses: int = 0
    created_at: datetime


class MatchRow(SQLModel, table=True):
    __tablename__ = "matches"
    id: int | None = Field(default=None, primary_key=True)
    student_id: int = Field(foreign_key="participants.id", index=True)
    mentor_id: int = Field(foreign_key="participants.id", index=True)
    status: str = Field(default="active", max_length=16)
    created_at: datetime
    ended_at: datetime | None = None
    ended_by: int | None = None
    question: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    requested_by: int | None = Field(default=None, foreign_key="participants.id")
    # What the nudges need, kept up to date by the relay so that a sweep over 100,000 matches
    # is a few indexed range reads: since when a student waits for an answer (and how far the
    # nudging went), when anything was last said (and how far), when to ask how it goes.
    unanswered_since: datetime | None = None
    unanswered_stage: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    last_activity_at: datetime | None = None
    silence_stage: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    next_survey_at: datetime | None = None


class ThreadRow(SQLModel, table=True):
    """The thread a match lives in for one participant, on a platform that has threads (the
    Slack thread under the match's first message): kept so it outlives a restart."""

    __tablename__ = "conversation_threads"
    __table_args__ = (UniqueConstraint("match_id", "participant_id", "platform", "chat_id"),)
    id: int | None = Field(default=None, primary_key=True)
    match_id: int = Field(foreign_key="matches.id")
    participant_id: int = Field(foreign_key="participants.id")
    platform: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    thread_id: str = Field(max_length=64)


class GroupRow(SQLModel, table=True):
    __tablename__ = "groups"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80)
    field: str | None = Field(default=None, max_length=64)
    school_id: int | None = Field(default=None, foreign_key="schools.id", index=True)
    program: str | None = Field(default=None, max_length=200)
    min_age: int | None = None
    max_age: int | None = None
    welcome: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    closed: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    created_by: int | None = Field(default=None, foreign_key="participants.id")
    created_at: datetime


class GroupMemberRow(SQLModel, table=True):
    __tablename__ = "group_members"
    group_id: int = Field(foreign_key="groups.id", primary_key=True)
    participant_id: int = Field(foreign_key="participants.id", primary_key=True, index=True)
    muted: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    removed: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    joined_at: datetime


class GroupPostRow(SQLModel, table=True):
    __tablename__ = "group_posts"
    __table_args__ = (
        Index("ix_group_post_source", "source_platform", "source_chat_id", "source_message_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="groups.id", index=True)
    author_id: int = Field(foreign_key="participants.id")
    body: str = Field(sa_column=Column(Text, nullable=False))
    reply_to_post: int | None = None
    source_platform: str = Field(max_length=16)
    source_chat_id: str = Field(max_length=64)
    source_message_id: str = Field(default="", max_length=64)
    created_at: datetime


class GroupThreadRow(SQLModel, table=True):
    """The thread a group lives in for one member, on a platform with threads."""

    __tablename__ = "group_threads"
    __table_args__ = (UniqueConstraint("group_id", "participant_id", "platform", "chat_id"),)
    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="groups.id")
    participant_id: int = Field(foreign_key="participants.id")
    platform: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    thread_id: str = Field(max_length=64)


class RelayedMessageRow(SQLModel, table=True):
    __tablename__ = "relayed_messages"
    __table_args__ = (
        Index("ix_relayed_source", "source_platform", "source_chat_id", "source_message_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    match_id: int = Field(foreign_key="matches.id", index=True)
    sender_id: int = Field(foreign_key="participants.id")
    body: str = Field(sa_column=Column(Text, nullable=False))
    source_platform: str = Field(max_length=16)
    source_chat_id: str = Field(max_length=64)
    source_message_id: str = Field(default="", max_length=64)
    dest_message_id: str | None = Field(default=None, max_length=64)
    created_at: datetime


class SurveyAnswerRow(SQLModel, table=True):
    """One answer of one person about one match (the last one counts)."""

    __tablename__ = "survey_answers"
    __table_args__ = (UniqueConstraint("match_id", "participant_id", "question"),)
    id: int | None = Field(default=None, primary_key=True)
    match_id: int = Field(foreign_key="matches.id")
    participant_id: int = Field(foreign_key="participants.id")
    question: str = Field(max_length=16)
    answer: str = Field(max_length=16)
    at: datetime


class NudgeRow(SQLModel, table=True):
    """Each nudge sent, once: the unique key is what makes a second sweep send nothing."""

    __tablename__ = "nudges_sent"
    __table_args__ = (UniqueConstraint("kind", "participant_id", "anchor"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=24)
    participant_id: int = Field(foreign_key="participants.id")
    match_id: int | None = None
    anchor: str = Field(max_length=40)
    at: datetime


class HeldMessageRow(SQLModel, table=True):
    """A message kept from its recipient until a coordinator approves, redacts or rejects it."""

    __tablename__ = "held_messages"
    id: int | None = Field(default=None, primary_key=True)
    sender_id: int = Field(foreign_key="participants.id", index=True)
    match_id: int | None = Field(default=None, foreign_key="matches.id")
    group_id: int | None = Field(default=None, foreign_key="groups.id")
    reply_to_post: int | None = None
    body: str = Field(sa_column=Column(Text, nullable=False))
    reasons: str = Field(default="", max_length=120)
    source_platform: str = Field(max_length=16)
    source_chat_id: str = Field(max_length=64)
    source_message_id: str = Field(default="", max_length=64)
    # held, approved, redacted, rejected; a flagged message (delivered, words of concern):
    # flagged, then seen once a coordinator closes it from the queue.
    status: str = Field(default="held", max_length=16)
    school_id: int | None = Field(default=None, index=True)  # whose coordinators review it
    reviewed_by: int | None = Field(default=None, foreign_key="participants.id")
    reviewed_at: datetime | None = None
    created_at: datetime


class BlockRow(SQLModel, table=True):
    """Two people who must never be matched again (one of them used /block)."""

    __tablename__ = "blocks"
    __table_args__ = (UniqueConstraint("blocker_id", "blocked_id"),)
    id: int | None = Field(default=None, primary_key=True)
    blocker_id: int = Field(foreign_key="participants.id", index=True)
    blocked_id: int = Field(foreign_key="participants.id", index=True)
    at: datetime


class ErasureRow(SQLModel, table=True):
    """Someone erased by /forgetme: the id of their anonymous row, and where the outbox stood
    then. Until the last messages about them are delivered (their own farewell, the other
    side's notice), the sweep blanks those rows' text and address once they went out."""

    __tablename__ = "erasures"
    id: int | None = Field(default=None, primary_key=True)
    participant_id: int = Field(foreign_key="participants.id")
    outbox_after: int = 0
    at: datetime
    settled_at: datetime | None = Field(default=None, index=True)


class RetentionPurgeRow(SQLModel, table=True):
    """The days the retention purge ran: claimed by the first sweep of the day, so the
    other sweeps (and instances) of that day read one row and do nothing."""

    __tablename__ = "retention_purges"
    day: str = Field(primary_key=True, max_length=10)  # YYYY-MM-DD, UTC
    at: datetime
    bodies: int = 0


class ProcessedEventRow(SQLModel, table=True):
    __tablename__ = "processed_events"
    __table_args__ = (Index("ix_processed_events_at", "processed_at"),)
    event_key: str = Field(primary_key=True, max_length=200)
    processed_at: datetime


class OutboxRow(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_queue", "platform", "status", "chat_id", "id"),
        Index("ix_outbox_delivered", "platform", "chat_id", "platform_message_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    thread_id: str | None = Field(default=None, max_length=64)
    private_to: str | None = Field(default=None, max_length=64)
    text: str = Field(sa_column=Column(Text, nullable=False))
    buttons: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    reply_to: str | None = Field(default=None, max_length=64)
    recipient_id: int | None = None
    sender_id: int | None = None
    match_id: int | None = None
    relayed_id: int | None = None
    group_id: int | None = None
    post_id: int | None = Field(default=None, index=True)
    broadcast_id: int | None = Field(default=None, index=True)  # a copy of that broadcast
    op: str = Field(default="send", max_length=8, sa_column_kwargs={"server_default": "send"})
    opens_thread: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    parts_sent: int = 0
    next_attempt_at: datetime
    claimed_until: datetime | None = None
    platform_message_id: str | None = Field(default=None, max_length=64)
    platform_message_ids: str = Field(
        default="", sa_column=Column(Text, nullable=False, default="")
    )
    last_error: str | None = Field(default=None, max_length=300)
    # A file sent with the message (an export, a chart); its bytes are dropped once delivered.
    file_name: str | None = Field(default=None, max_length=200)
    file_type: str | None = Field(default=None, max_length=100)
    file_data: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime
    delivered_at: datetime | None = None


class BroadcastRow(SQLModel, table=True):
    """A coordinator's message to many: written first as a draft with the count of who would
    get it, sent (one outbox row per person) only once they confirm that count."""

    __tablename__ = "broadcasts"
    id: int | None = Field(default=None, primary_key=True)
    author_id: int = Field(foreign_key="participants.id", index=True)
    scope: str = Field(max_length=16)  # school, group, mentors
    target_id: int | None = None  # the school or group
    body: str = Field(sa_column=Column(Text, nullable=False))
    recipients: int = 0
    status: str = Field(default="draft", max_length=16)  # draft, sent, cancelled
    created_at: datetime
    sent_at: datetime | None = None


class AuditRow(SQLModel, table=True):
    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    actor: str = Field(max_length=64)
    action: str = Field(max_length=64)
    detail: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))


# The tables as SQLAlchemy Core sees them, under the short names every storage module uses.
A = AuditRow.__table__
BC = BroadcastRow.__table__
BL = BlockRow.__table__
E = ProcessedEventRow.__table__
G = GroupRow.__table__
GM = GroupMemberRow.__table__
GP = GroupPostRow.__table__
GT = GroupThreadRow.__table__
HM = HeldMessageRow.__table__
I = IdentityRow.__table__  # noqa: E741
INV = InviteRow.__table__
M = MatchRow.__table__
N = NudgeRow.__table__
O = OutboxRow.__table__  # noqa: E741
P = ParticipantRow.__table__
PR = ProgramRow.__table__
R = RelayedMessageRow.__table__
RP = RetentionPurgeRow.__table__
S = SchoolRow.__table__
SA = SurveyAnswerRow.__table__
T = ThreadRow.__table__
X = ErasureRow.__table__

metadata = SQLModel.metadata
