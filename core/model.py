"""The domain's own types.

They are plain dataclasses so that the core can be exercised without a database, and so that the
ORM never leaks into the domain (storage/ maps its tables to these).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal

Platform = Literal["telegram", "slack", "discord", "playground"]
PLATFORMS: tuple[Platform, ...] = ("telegram", "slack", "discord", "playground")
Language = Literal["fr", "en"]
LANGUAGES: tuple[Language, ...] = ("fr", "en")
DEFAULT_LANGUAGE: Language = "fr"


class Role(StrEnum):
    STUDENT = "student"
    MENTOR = "mentor"
    COORDINATOR = "coordinator"


class MentorKind(StrEnum):
    PROFESSIONAL = "professional"
    PEER = "peer"
    REPRESENTATIVE = "representative"


class Step(StrEnum):
    """Where a participant stands in onboarding; DONE means they use the service normally."""

    LANGUAGE = "language"
    PSEUDONYM = "pseudonym"
    AGE = "age"
    FIELDS = "fields"
    MENTOR_KIND = "mentor_kind"
    PROFESSION = "profession"
    MENTOR_FIELD = "mentor_field"
    YEARS = "years"
    CAPACITY = "capacity"
    REFUSED = "refused"
    DONE = "done"
    ERASED = "erased"  # after /forgetme: an anonymous row, kept for the statistics


class MatchStatus(StrEnum):
    REQUESTED = "requested"  # waiting for the mentor to accept or decline
    ACTIVE = "active"
    DECLINED = "declined"
    EXPIRED = "expired"  # a request nobody answered in time
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class Address:
    """Where a participant is reached; opaque to the domain."""

    platform: Platform
    chat_id: str
    thread_id: str | None = None
    # Shown to this platform user only (a Slack ephemeral answer to a slash command). Only ever
    # the recipient's own handle, never the sender's.
    private_to: str | None = None

    @property
    def home(self) -> Address:
        """The chat itself, without a thread or a private view: what an identity remembers."""
        if self.thread_id is None and self.private_to is None:
            return self
        return Address(self.platform, self.chat_id)


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    action: str


@dataclass(frozen=True, slots=True)
class Inbound:
    """One thing a person did on a platform, translated by an adapter."""

    event_key: str
    source: Address
    platform_user_id: str
    text: str = ""
    message_id: str = ""
    reply_to: str | None = None
    action: str | None = None
    locale_hint: str | None = None
    edited: bool = False  # the person edited their message `message_id` (text is the new one)
    media: str | None = None  # what came instead of text: sticker, photo, contact, location…
    deleted: bool = False  # the person deleted their message `message_id`


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file that goes with a message (a data export, a chart, a CSV). Its bytes travel in the
    outbox row, so a file written in a transaction is delivered like any text, after a crash
    too; they are dropped from the row once delivered."""

    name: str  # what the recipient sees, e.g. "passerelle-mes-donnees.json"
    mime: str  # e.g. "application/json", "image/png", "text/csv"
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Outbound:
    """A message to deliver. It has no field for the sender's identity, on purpose."""

    to: Address
    text: str
    buttons: tuple[Button, ...] = ()
    reply_to: str | None = None
    edit_of: str | None = None  # replace the text of this message (a platform id in `to`)
    delete_of: str | None = None  # remove this message instead of sending anything
    # The first message of a match to this recipient (see Envelope.opens_thread): a platform
    # whose threads are not hung under a message (Discord's private threads) opens one here.
    opens_thread: bool = False
    # A file sent with the message; the text goes with it (as its caption or comment) where it
    # fits the platform's limit for that, else as a message of its own just before the file.
    attachment: Attachment | None = None


OP_SEND, OP_EDIT, OP_DELETE = "send", "edit", "delete"


@dataclass(frozen=True, slots=True)
class Envelope:
    """An Outbound plus the bookkeeping the outbox needs; none of it is ever sent."""

    message: Outbound
    recipient_id: int | None = None
    match_id: int | None = None
    relayed_id: int | None = None
    sender_id: int | None = None
    op: str = OP_SEND  # edit/delete act on the delivered copy of `relayed_id`
    # The first message of a match to this recipient: on a platform with threads, the rest of
    # the match's messages go into a thread under it.
    opens_thread: bool = False
    group_id: int | None = None  # a group's copy: its thread on platforms with threads
    post_id: int | None = None  # the group post this is a copy of (replies are routed by it)
    broadcast_id: int | None = None  # a coordinator's broadcast this is a copy of


@dataclass(slots=True)
class Participant:
    role: Role
    pseudonym: str | None = None
    language: Language = DEFAULT_LANGUAGE
    school_id: int | None = None
    step: Step = Step.LANGUAGE
    age: int | None = None
    fields: list[str] = field(default_factory=list)
    mentor_kind: MentorKind | None = None
    profession: str | None = None
    years: int | None = None
    capacity: int | None = None
    vetted: bool = False
    paused: bool = False  # a mentor taking a break: no new requests meanwhile
    bio: str | None = None  # a mentor's few words about themselves, shown to students
    current_match_id: int | None = None
    current_group_id: int | None = None  # where plain text goes when it names no conversation
    timezone: str | None = None  # IANA name; None: the program's (quiet hours are local)
    nudges_off: bool = False  # reminders and surveys not wanted (safety messages still come)
    snoozed_until: datetime | None = None  # reminders wait until then
    pending_text: str | None = None
    created_at: datetime | None = None
    # A mentor a coordinator turned down (they were told why): never listed, matched,
    # suggested, nor in a group.
    rejected_at: datetime | None = None
    rejected_reason: str | None = None
    id: int | None = None


@dataclass(slots=True)
class Identity:
    platform: Platform
    platform_user_id: str
    participant_id: int
    address: Address
    reachable: bool = True
    last_seen_at: datetime | None = None  # when this address was last taken up (passed in)
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Invite:
    code: str
    role: Role
    school_id: int | None
    participant_id: int | None = None
    max_uses: int | None = None
    uses: int = 0

    @property
    def exhausted(self) -> bool:
        return self.max_uses is not None and self.uses >= self.max_uses


@dataclass(slots=True)
class Match:
    student_id: int
    mentor_id: int
    status: MatchStatus = MatchStatus.ACTIVE
    created_at: datetime | None = None
    ended_at: datetime | None = None
    ended_by: int | None = None
    question: str | None = None  # the student's first question, shown with the request
    requested_by: int | None = None  # the student, when they asked themselves (not proposed)
    id: int | None = None

    def other(self, participant_id: int) -> int:
        return self.mentor_id if participant_id == self.student_id else self.student_id


@dataclass(frozen=True, slots=True)
class School:
    name: str
    program: str = "default"
    id: int | None = None


@dataclass(frozen=True, slots=True)
class DeliveredRef:
    """What the outbox remembers about a delivered copy, so a reply to it can be routed."""

    match_id: int | None
    relayed_id: int | None
    group_id: int | None = None
    post_id: int | None = None


@dataclass(slots=True)
class Group:
    """A discussion group: everyone in it reads every post, each author shown by pseudonym.

    Who may join is what the group is about: a field (its members chose that field), a school
    (its students and the mentors serving it), a program; and, where the program keeps minors
    and adults apart, an age band (students only: mentors are vetted adults)."""

    name: str
    field: str | None = None
    school_id: int | None = None
    program: str | None = None
    min_age: int | None = None
    max_age: int | None = None
    welcome: str | None = None  # pinned: every newcomer reads it first
    closed: bool = False
    created_by: int | None = None
    created_at: datetime | None = None
    id: int | None = None


@dataclass(slots=True)
class Membership:
    group_id: int
    participant_id: int
    muted: bool = False  # reads, cannot post
    removed: bool = False  # taken out by a coordinator: cannot come back by themselves
    joined_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class GroupPost:
    group_id: int
    author_id: int
    body: str
    reply_to_post: int | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Member:
    """A member as the group's own list and its fan-out see them: no platform identity,
    and where they are reached only for delivering."""

    participant_id: int
    pseudonym: str
    role: Role
    language: Language
    muted: bool
    address: Address | None


@dataclass(frozen=True, slots=True)
class GroupRules:
    """The program's rules for groups (config/passerelle.toml [groups]).

    `age_bands`: where minors and adults are kept apart, the student age bands; every group
    then belongs to exactly one band and a student sees only those of theirs. Empty: one
    space for all ages. `program_age_bands` overrides it for a program by name."""

    age_bands: tuple[tuple[int, int], ...] = ()
    program_age_bands: dict[str, tuple[tuple[int, int], ...]] = field(default_factory=dict)

    def bands_for(self, program: str | None) -> tuple[tuple[int, int], ...]:
        if program is not None and program in self.program_age_bands:
            return self.program_age_bands[program]
        return self.age_bands


@dataclass(frozen=True, slots=True)
class Nudgeable:
    """A match a sweep found due for something: who is in it, and since when."""

    match_id: int
    student_id: int
    mentor_id: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NudgeRules:
    """When mentorships get a nudge (config/passerelle.toml [nudges]); hours and days."""

    unanswered_hours: float = 48.0  # a student's message still unanswered: the mentor hears
    student_after_hours: float = 24.0  # …and this much later, the student gets a kind word
    checkin_days: float = 14.0  # nothing said in a match: a check-in to both sides
    warning_days: float = 60.0  # a warning that it will end
    end_days: float = 67.0  # it ends, with the end survey
    first_survey_days: float = 30.0  # "how is it going?" (1–5) at day 30…
    survey_every_days: float = 60.0  # …and every 60 days after
    reminder_days: float = 3.0  # an unanswered end survey is recalled once, after this
    timezone: str = "America/Toronto"  # a person's, unless they set theirs
    quiet_from: int = 21  # no nudge between 21:00…
    quiet_until: int = 8  # …and 08:00, local time (they wait for the morning)
    batch: int = 5000  # at most this many of each kind per sweep (the next sweep goes on)


@dataclass(frozen=True, slots=True)
class Held:
    """A message kept from its recipients until a coordinator decides (a minor is in the
    conversation and it carries contact details)."""

    sender_id: int
    body: str
    source: Address
    message_id: str = ""
    match_id: int | None = None
    group_id: int | None = None
    reply_to_post: int | None = None
    reasons: tuple[str, ...] = ()
    status: str = "held"  # held, approved, redacted, rejected; flagged, seen
    school_id: int | None = None  # whose coordinators decide (None: program staff)
    id: int | None = None


@dataclass(frozen=True, slots=True)
class SafetyRules:
    """The program's safety policy (config/passerelle.toml [safety])."""

    minor_age: int = 18  # under this, a student is a minor
    hold_for_minors: bool = True  # contact details to or from a minor wait for a coordinator
    program_hold: dict[str, bool] = field(default_factory=dict)  # per program, by name
    report_messages: int = 10  # how many of the last messages a report carries
    keywords: dict[str, tuple[str, ...]] = field(default_factory=dict)  # flag → words

    def holds(self, program: str | None) -> bool:
        if program is not None and program in self.program_hold:
            return self.program_hold[program]
        return self.hold_for_minors


@dataclass(frozen=True, slots=True)
class Figures:
    """What the program reports, for a school or for all of it."""

    students: int
    mentors: int
    vetted_mentors: int
    active_mentors: int  # who accompanied a student in scope during the period
    coordinators: int
    schools: int
    active_matches: int
    ended_matches: int
    average_days: float | None  # how long an ended match lasted, on average
    relayed: int  # messages relayed in those matches
    influenced: int  # students who said it influenced their choice (yes or somewhat)
    influence_answers: int
    # Median hours from a student's first message to their mentor's first answer after it,
    # over the matches where the mentor answered; the active ones still waiting for it.
    first_response_hours: float | None = None
    answered_matches: int = 0
    waiting_matches: int = 0

    @property
    def participants(self) -> int:
        return self.students + self.mentors + self.coordinators


@dataclass(slots=True)
class Broadcast:
    """A coordinator's message to many (core.broadcast): a draft with the count of who would
    get it, sent once they confirm that count, or cancelled."""

    author_id: int
    scope: str  # school, group, mentors, all
    body: str
    target_id: int | None = None  # the school or the group
    recipients: int = 0
    status: str = "draft"  # draft, sent, cancelled
    created_at: datetime | None = None
    sent_at: datetime | None = None
    id: int | None = None
