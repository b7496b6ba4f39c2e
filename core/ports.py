"""The ports the core needs from the outside world, declared here and implemented elsewhere.

storage/ implements `UnitOfWork`; adapters/ implement `Channel` and `LanguageDetector`. Keeping the
declarations in core is what lets the domain be tested with fakes and with a real in-memory store.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from core.model import (
    Address,
    Broadcast,
    DeliveredRef,
    Envelope,
    Figures,
    Group,
    GroupPost,
    Held,
    Identity,
    Invite,
    Match,
    Member,
    Membership,
    Nudgeable,
    Outbound,
    Participant,
    Platform,
    School,
)

if TYPE_CHECKING:
    from core.figure_chart import ChartSpec
    from core.privacy import Holdings
    from core.scoring import MentorCard, StudentCard

LanguageDetector = Callable[[str], "str | None"]
# Draws the figures' chart (core.figure_chart.ChartSpec, in the reader's language) as PNG bytes.
ChartRenderer = Callable[["ChartSpec"], bytes]


class GroupStore(Protocol):
    """Discussion groups: who is in them, what was posted, where the copies went."""

    def add_group(self, group: Group, now: datetime) -> Group: ...
    def save_group(self, group: Group) -> None: ...
    def group(self, group_id: int) -> Group | None: ...
    def open_groups(self, school_id: int | None, program: str | None, *,
                    everywhere: bool = False) -> list[Group]:
        """Open groups for everyone, this school or this program (`everywhere`: all open
        groups); field and age are not checked."""
        ...

    def groups_of(self, participant_id: int) -> list[Group]:
        """The open groups someone is a member of."""
        ...

    def membership(self, group_id: int, participant_id: int) -> Membership | None: ...
    def save_membership(self, membership: Membership) -> None: ...
    def leave_group(self, group_id: int, participant_id: int) -> bool: ...
    def members(self, group_id: int) -> list[Member]:
        """Members not removed, with where each is reached (None: unreachable)."""
        ...

    def count_members(self, group_id: int) -> int: ...
    def add_post(self, post: GroupPost, source: Address, message_id: str, now: datetime
                 ) -> GroupPost: ...
    def post(self, post_id: int) -> GroupPost | None: ...
    def find_post(self, source: Address, message_id: str, author_id: int
                  ) -> GroupPost | None: ...
    def set_post_body(self, post_id: int, body: str) -> None: ...
    def post_recipients(self, post_id: int) -> list[tuple[int, Address]]: ...
    def post_copies(self, post_id: int) -> dict[int, str]:
        """participant id → the platform id of their copy of the post (the author: theirs)."""
        ...


class NudgeStore(Protocol):
    """A match's activity and nudging stages, survey answers, the log of nudges sent."""

    def record_activity(self, match_id: int, by_student: bool, now: datetime) -> None: ...
    def unanswered(self, before: datetime, stage: int, limit: int) -> list[Nudgeable]: ...
    def silent(self, before: datetime, stage: int, limit: int) -> list[Nudgeable]: ...
    def survey_due(self, now: datetime, first_before: datetime, limit: int
                   ) -> list[Nudgeable]: ...
    def silent_since(self, match_id: int) -> datetime: ...
    def last_nudge_at(self, match_id: int, kind: str) -> datetime | None: ...
    def advance(self, match_id: int, what: str, from_stage: int, to_stage: int) -> bool:
        """Move a match's `what` stage on if it still is `from_stage` (False: taken)."""
        ...

    def next_survey(self, match_id: int, was: datetime | None, at: datetime) -> bool: ...
    def survey_date(self, match_id: int) -> datetime | None: ...
    def record_nudge(self, kind: str, participant_id: int, match_id: int | None, anchor: str,
                     now: datetime) -> bool:
        """Log a nudge; False if (kind, participant, anchor) was logged before."""
        ...

    def answer_survey(self, match_id: int, participant_id: int, question: str, answer: str,
                      now: datetime) -> bool: ...
    def survey_answers(self, match_id: int) -> dict[tuple[int, str], str]: ...
    def end_surveys_unanswered(self, ended_before: datetime, ended_after: datetime,
                               limit: int) -> list[tuple[int, int]]: ...
    def mentor_figures(self, since: datetime, until: datetime
                       ) -> list[tuple[int, int, int]]: ...


class SafetyStore(Protocol):
    """Messages held for review, blocks, who reviews."""

    def hold(self, held: Held, now: datetime) -> Held: ...
    def held(self, held_id: int) -> Held | None: ...
    def review(self, held_id: int, status: str, reviewer_id: int, now: datetime,
               was: str = "held") -> bool:
        """Decide on a held message (or close a flagged one: `was="flagged"`) if nobody did
        first (True: this decision counts)."""
        ...

    def moderation_queue(self, school_id: int | None, limit: int) -> list[Held]:
        """Held messages awaiting a decision and flagged ones not closed (of one school;
        None: all)."""
        ...

    def identities_of(self, participant_id: int) -> list[Identity]: ...

    def coordinators_of(self, school_id: int | None) -> list[Participant]: ...
    def block(self, blocker_id: int, blocked_id: int, now: datetime) -> None: ...
    def blocked_with(self, participant_id: int) -> frozenset[int]: ...
    def recent_messages(self, match_id: int, limit: int) -> list[tuple[int, str]]: ...


class PrivacyStore(Protocol):
    """A person's privacy rights (core.privacy): what is held on them, erasing them, and the
    retention of message bodies."""

    def holdings(self, participant_id: int) -> Holdings: ...
    def erase_participant(self, participant_id: int, now: datetime) -> dict[str, int]:
        """Erase all that is held on a person but an anonymous participant row (kept for the
        statistics, marked erased); rows touched, by kind. Messages written afterwards in the
        same transaction about them are blanked by `settle_erasures` once delivered."""
        ...

    def settle_erasures(self, now: datetime) -> int:
        """Blank the outbox copies about erased people delivered since their erasure."""
        ...

    def claim_purge(self, day: str, now: datetime) -> bool:
        """Record that `day`'s retention purge runs; False if it ran already."""
        ...

    def purge_bodies(self, before: datetime, day: str | None = None) -> int:
        """Blank every message body written before `before`; how many were (kept with
        `day`'s purge, when given)."""
        ...


class FigureStore(Protocol):
    def figures(self, school_id: int | None, *, since: datetime | None = None,
                until: datetime | None = None) -> Figures:
        """Counts for one school's students (mentors program-wide), or all (None), over the
        period [since, until) (None: open on that side); storage/figures.py says how."""
        ...


class BroadcastStore(Protocol):
    """Coordinators' broadcasts (core.broadcast): drafts, and who each audience reaches. Each
    audience is (participant, address) pairs of onboarded people that can be reached."""

    def add_broadcast(self, broadcast: Broadcast) -> Broadcast: ...
    def broadcast(self, broadcast_id: int) -> Broadcast | None: ...
    def mark_broadcast(self, broadcast_id: int, from_status: str, to_status: str,
                       now: datetime, recipients: int | None = None) -> bool:
        """Move it from `from_status` to `to_status` if nobody did first (True: this one)."""
        ...

    def school_list(self) -> list[School]: ...
    def school_students(self, school_id: int) -> list[tuple[Participant, Address]]: ...
    def vetted_mentors(self) -> list[tuple[Participant, Address]]: ...
    def group_recipients(self, group_id: int) -> list[tuple[Participant, Address]]: ...
    def program_recipients(self) -> list[tuple[Participant, Address]]: ...


class Store(GroupStore, NudgeStore, SafetyStore, PrivacyStore, FigureStore,
            BroadcastStore, Protocol):
    """Everything the domain reads and writes, inside one transaction."""

    def claim_events(self, event_keys: Sequence[str], now: datetime) -> set[str]:
        """Record the keys; return those not recorded before (the others are repeats)."""
        ...

    def forget_events(self, before: datetime) -> int:
        """Drop dedup keys recorded before `before` (no platform retries that late)."""
        ...

    def identity(self, platform: Platform, platform_user_id: str) -> Identity | None: ...
    def add_identity(self, identity: Identity) -> Identity: ...
    def save_identity(self, identity: Identity) -> None: ...
    def mark_unreachable(self, address: Address) -> bool:
        """Mark the identities at this address unreachable; True if one was reachable before."""
        ...

    def address_of(self, participant_id: int) -> Address | None:
        """The reachable address a participant was last seen at, if any."""
        ...

    def participant(self, participant_id: int) -> Participant | None: ...
    def add_participant(self, participant: Participant) -> Participant: ...
    def save_participant(self, participant: Participant) -> None: ...
    def pseudonym_taken(self, pseudonym: str, except_id: int | None = None) -> bool: ...
    def find_participant(self, pseudonym: str) -> Participant | None: ...

    def school(self, school_id: int) -> School | None: ...
    def add_school(self, school: School) -> School: ...
    def find_school(self, name: str) -> School | None: ...
    def participants(self, role: str | None = None) -> list[Participant]:
        """Everyone (of a role), by id: for short lists such as mentors awaiting vetting."""
        ...

    def invite(self, code: str) -> Invite | None: ...
    def add_invite(self, invite: Invite, now: datetime) -> Invite: ...
    def use_invite(self, code: str) -> bool:
        """Count one use; False when the code was used up (by someone faster)."""
        ...

    def match(self, match_id: int) -> Match | None: ...
    def add_match(self, match: Match) -> Match: ...
    def save_match(self, match: Match) -> None: ...
    def active_matches(self, participant_id: int) -> list[Match]: ...
    def mentor_cards(self) -> list[MentorCard]:
        """Every onboarded mentor as matching sees them (with their current load), by id."""
        ...

    def mentors_met(self, student_id: int) -> frozenset[int]:
        """Every mentor this student was ever matched with or asked, whatever came of it."""
        ...

    def waiting_students(self, school_id: int | None = None) -> list[StudentCard]:
        """Onboarded students with no mentor and no request waiting (of one school, if given)."""
        ...

    def expired_requests(self, before: datetime) -> list[Match]:
        """Requests still unanswered that were made before `before`."""
        ...

    def open_matches(self, participant_id: int) -> list[Match]:
        """Active matches and requests still waiting for the mentor's answer."""
        ...

    def add_relayed(
        self, match_id: int, sender_id: int, body: str, source: Address, message_id: str,
        now: datetime,
    ) -> int: ...
    def relayed_source(self, relayed_id: int) -> tuple[Address, str] | None:
        """Where a relayed message was first written, and its id there."""
        ...
    def delivered_ref(self, address: Address, platform_message_id: str) -> DeliveredRef | None: ...
    def find_relayed(
        self, source: Address, message_id: str, sender_id: int
    ) -> tuple[int, int] | None:
        """(relayed id, match id) of what `sender_id` wrote as `message_id` at `source`."""
        ...

    def set_relayed_body(self, relayed_id: int, body: str) -> None: ...

    def enqueue(self, envelopes: Sequence[Envelope], now: datetime) -> None: ...
    def audit(self, actor: str, action: str, detail: dict[str, object], now: datetime) -> None: ...


class UnitOfWork(Protocol):
    """A transaction: `with uow_factory() as store:` commits on success, rolls back on error."""

    def __enter__(self) -> Store: ...
    def __exit__(self, *exc: object) -> bool | None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]


class DeliveryError(Exception):
    """Base of what a Channel raises when a platform did not accept a message."""


class RetryLater(DeliveryError):
    """Rate limited or temporarily unavailable; `retry_after` seconds when the platform said so."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentFailure(DeliveryError):
    """The platform refused the message for good (bad request, chat gone)."""


class Unreachable(DeliveryError):
    """The person blocked the bot or left: nothing will reach them until they come back."""


class Channel(Protocol):
    """A platform, seen from the delivery workers: four verbs, as in matterbridge's bridges.

    Files: an Outbound may carry an `attachment`. The workers give it to exactly one call of
    `send`, the row's last part (parts are recorded as they go: a retry resumes after the last
    recorded one, and the file is uploaded once, after its text). When the whole text fits
    `max_caption` (the platform's limit for a file's caption or comment; default `max_text`),
    the file goes in one message with the text as its caption; else the text goes first, as
    messages of its own, then the file alone (empty text); likewise when the text has buttons
    and `file_buttons` is False (Slack's uploads carry none). A file over `max_file_bytes`
    (the platform's upload limit; none when the channel does not say) is refused before
    anything is sent (PermanentFailure). `send` returns the id of the message that holds the
    file, as for text.
    """

    platform: Platform
    max_text: int

    async def start(self, feed: Callable[[object], Awaitable[None]]) -> None: ...
    async def send(self, message: Outbound) -> str:
        """Deliver one message (already within max_text); return the platform message id."""
        ...

    async def edit(self, message: Outbound) -> None:
        """Replace the text of `message.edit_of`; PermanentFailure when it cannot be edited."""
        ...

    async def delete(self, message: Outbound) -> None:
        """Remove `message.delete_of`; PermanentFailure when it cannot be removed."""
        ...

    async def stop(self) -> None: ...
