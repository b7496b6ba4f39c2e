"""Where the Discord adapter reads back after a restart (storage/resume.py), on SQLite and
PostgreSQL: which channels, and after which message in each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert

from core.model import (
    Address,
    Group,
    GroupPost,
    Held,
    Identity,
    Match,
    MatchStatus,
    Membership,
    MentorKind,
    Participant,
    Role,
    School,
    Step,
)
from storage.resume import ResumePoints, resume_points
from storage.store import SqlUnitOfWork
from storage.tables import GroupThreadRow, ThreadRow

NOW = datetime(2025, 3, 10, 12, tzinfo=UTC)
SINCE = NOW - timedelta(days=3)
OLD = NOW - timedelta(days=10)
# Snowflakes of different lengths: compared as numbers, 99… is older than 1000….
EARLY, LATE, LATER = "99999999999999999", "1000000000000000001", "1000000000000000002"


class Scene:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        with SqlUnitOfWork(engine) as store:
            self.school = store.add_school(School("École", "Programme")).id

    def person(self, name: str, role: Role = Role.MENTOR, *, platform: str = "discord",
               seen: datetime | None = OLD, reachable: bool = True) -> int:
        """Someone on `platform`, whose chat id is `dm-<name>` (and user id their name)."""
        with SqlUnitOfWork(self.engine) as store:
            person = store.add_participant(Participant(
                role, name, "fr", self.school, Step.DONE, age=16 if role is Role.STUDENT else None,
                mentor_kind=MentorKind.PROFESSIONAL if role is Role.MENTOR else None,
                created_at=OLD))
            assert person.id is not None
            store.add_identity(Identity(platform, name, person.id,
                                        Address(platform, chat(name)), reachable=reachable,
                                        last_seen_at=seen))
            return person.id

    def match(self, student: int, mentor: int, status: MatchStatus = MatchStatus.ACTIVE) -> int:
        with SqlUnitOfWork(self.engine) as store:
            match = store.add_match(Match(student, mentor, status=status, created_at=OLD))
            assert match.id is not None
            return match.id

    def relayed(self, match: int, sender: str, sender_id: int, message_id: str,
                at: datetime = NOW, platform: str = "discord") -> None:
        with SqlUnitOfWork(self.engine) as store:
            store.add_relayed(match, sender_id, "bonjour", Address(platform, chat(sender)),
                              message_id, at)

    def thread(self, match: int, participant: int, name: str, thread_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(ThreadRow.__table__).values(
                match_id=match, participant_id=participant, platform="discord",
                chat_id=chat(name), thread_id=thread_id))

    def points(self, limit: int = 100) -> ResumePoints:
        return resume_points(self.engine, "discord", SINCE, limit)


def chat(name: str) -> str:
    return f"dm-{name}"


def test_the_dms_of_people_with_something_going_on_after_their_newest_message(
    any_db: Engine,
) -> None:
    scene = Scene(any_db)
    lea = scene.person("lea", Role.STUDENT, platform="playground")
    marc, idle, paul = scene.person("marc"), scene.person("idle"), scene.person("paul")
    scene.person("new", seen=NOW - timedelta(hours=1))  # onboarding: his address is recent
    scene.person("gone", reachable=False, seen=NOW)  # blocked the bot: cannot write either
    match = scene.match(lea, marc)
    scene.match(lea, paul, MatchStatus.REQUESTED)
    scene.match(lea, idle, MatchStatus.ENDED)
    for message_id in (EARLY, LATER, LATE):  # the last committed (the cheaper, safer bound)
        scene.relayed(match, "marc", marc, message_id)
    scene.relayed(match, "lea", lea, "5", platform="playground")

    assert scene.points() == ResumePoints(
        dms={chat("marc"): LATE, chat("paul"): None, chat("new"): None}, threads={})


def test_what_is_older_than_the_window_gives_no_point_and_no_reason_to_read(
    any_db: Engine,
) -> None:
    scene = Scene(any_db)
    lea = scene.person("lea", Role.STUDENT, platform="playground")
    marc, ana = scene.person("marc"), scene.person("ana")
    old_match = scene.match(lea, ana, MatchStatus.ENDED)
    scene.relayed(old_match, "ana", ana, LATE, at=OLD)  # ended and silent for 10 days
    match = scene.match(lea, marc)
    scene.relayed(match, "marc", marc, LATE, at=OLD)
    assert scene.points() == ResumePoints(dms={chat("marc"): None})
    scene.relayed(old_match, "ana", ana, LATER, at=NOW)  # wrote lately: read her DM again
    assert scene.points().dms == {chat("ana"): LATER, chat("marc"): None}


def test_group_posts_and_held_messages_are_committed_messages_too(any_db: Engine) -> None:
    scene = Scene(any_db)
    lea = scene.person("lea", Role.STUDENT, platform="playground")
    marc, ana = scene.person("marc"), scene.person("ana")
    with SqlUnitOfWork(any_db) as store:
        group = store.add_group(Group("Soudure", field="trades"), OLD)
        assert group.id is not None
        store.save_membership(Membership(group.id, marc, joined_at=OLD))
        store.add_post(GroupPost(group.id, marc, "salut"), Address("discord", chat("marc")),
                       LATE, NOW)
        held = Held(ana, "mon numéro", Address("discord", chat("ana")), message_id=LATER)
        store.hold(held, NOW)
    match = scene.match(lea, ana)
    scene.relayed(match, "ana", ana, LATE)
    assert scene.points().dms == {chat("ana"): LATER, chat("marc"): LATE}


def test_the_threads_of_open_matches_and_groups_share_their_dms_point(any_db: Engine) -> None:
    scene = Scene(any_db)
    lea = scene.person("lea", Role.STUDENT, platform="playground")
    marc = scene.person("marc")
    match, ended = scene.match(lea, marc), scene.match(lea, marc, MatchStatus.ENDED)
    scene.thread(match, marc, "marc", "7001")
    scene.thread(ended, marc, "marc", "7002")
    with SqlUnitOfWork(any_db) as store:
        group = store.add_group(Group("Soudure", field="trades"), OLD)
        closed = store.add_group(Group("Ancien", field="trades", closed=True), OLD)
        assert group.id is not None and closed.id is not None
        for gid in (group.id, closed.id):
            store.save_membership(Membership(gid, marc, joined_at=OLD))
    with any_db.begin() as conn:
        for gid, thread in ((group.id, "8001"), (closed.id, "8002")):
            conn.execute(insert(GroupThreadRow.__table__).values(
                group_id=gid, participant_id=marc, platform="discord", chat_id=chat("marc"),
                thread_id=thread))
    scene.relayed(match, "marc", marc, LATE)
    assert scene.points() == ResumePoints(
        dms={chat("marc"): LATE}, threads={"7001": LATE, "8001": LATE})


def test_at_most_limit_channels_the_most_recently_active_first(any_db: Engine) -> None:
    scene = Scene(any_db)
    lea = scene.person("lea", Role.STUDENT, platform="playground")
    for n, message_id in enumerate(("", EARLY, LATER, LATE)):
        mentor = scene.person(f"m{n}")
        match = scene.match(lea, mentor)
        if message_id:
            scene.relayed(match, f"m{n}", mentor, message_id)
    assert scene.points(limit=2).dms == {chat("m2"): LATER, chat("m3"): LATE}
    assert len(scene.points(limit=10).dms) == 4
