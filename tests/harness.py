"""A whole Passerelle minus the network: the real bus, a real database, real delivery workers
sending to fake channels, and a clock the test moves."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from bots.delivery import DeliveryWorker
from core.bus import Bus
from core.context import Context, Services
from core.matches import create_match, propose_match
from core.model import Address, Inbound, Invite, Participant, Role
from core.ports import Store
from storage.outbox import OutboxQueue
from storage.store import SqlStore, SqlUnitOfWork, unit_of_work_factory
from tests.fakes import FakeChannel, Sent

START = datetime(2026, 9, 1, 15, 0, tzinfo=UTC)


def vet(store: Store, pseudonym: str) -> None:
    """A coordinator vouched for this mentor: only then may they be matched with a minor."""
    mentor = store.find_participant(pseudonym)
    assert mentor is not None
    if not mentor.vetted:
        mentor.vetted = True
        store.save_participant(mentor)


class Clock:
    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Harness:
    def __init__(self, engine: Engine, services: Services) -> None:
        self.engine = engine
        self.services = services
        self.clock = Clock()
        self.bus = Bus(unit_of_work_factory(engine), services)
        self.channels: dict[str, FakeChannel] = {}
        self._events = itertools.count(1)
        self._run = uuid.uuid4().hex[:8]  # two harnesses on one database never share a key
        self._messages = itertools.count(1)
        self.seen: dict[tuple[str, str], int] = {}

    # people act ----------------------------------------------------------------------------
    def say(
        self, user: str, text: str = "", *, platform: str = "playground",
        reply_to: str | None = None, action: str | None = None, locale: str | None = None,
        event_key: str | None = None, chat: str | None = None, message_id: str | None = None,
        edited: bool = False, media: str | None = None, thread: str | None = None,
        private: bool = False, deleted: bool = False,
    ) -> bool:
        """`thread`: written in that thread (its root's id is also what it replies to, as on
        Slack); `private`: a slash command, answered to `user` only."""
        inbound = Inbound(
            event_key=event_key or f"{platform}:{self._run}:{next(self._events)}",
            source=Address(platform, chat or user, thread,  # type: ignore[arg-type]
                           user if private else None),
            platform_user_id=user, text=text,
            message_id=message_id or f"in-{next(self._messages)}",
            reply_to=reply_to or thread, action=action, locale_hint=locale, edited=edited,
            media=media, deleted=deleted,
        )
        return self.bus.handle(inbound, self.clock())

    def press(self, user: str, action: str, platform: str = "playground") -> bool:
        return self.say(user, action=action, platform=platform)

    # the platforms receive -----------------------------------------------------------------
    def channel(self, platform: str = "playground") -> FakeChannel:
        if platform not in self.channels:
            threads = platform in self.services.threaded
            self.channels[platform] = FakeChannel(platform=platform, threads=threads)
        return self.channels[platform]

    def worker(self, platform: str = "playground", **options: object) -> DeliveryWorker:
        return DeliveryWorker(
            self.channel(platform), OutboxQueue(self.engine), unit_of_work_factory(self.engine),
            self.services, clock=self.clock, **options,  # type: ignore[arg-type]
        )

    def deliver(self, platform: str = "playground", rounds: int = 50) -> None:
        """Run the real delivery worker until nothing due is left."""
        worker = self.worker(platform)

        async def drain() -> None:
            for _ in range(rounds):
                if not await worker.drain_once():
                    return

        asyncio.run(drain())

    def inbox(self, user: str, platform: str = "playground") -> list[Sent]:
        """Deliver, then return what `user` received since the last call."""
        self.deliver(platform)
        received = self.channel(platform).chat(user)
        start = self.seen.get((platform, user), 0)
        self.seen[(platform, user)] = len(received)
        return received[start:]

    def texts(self, user: str, platform: str = "playground") -> list[str]:
        return [s.message.text for s in self.inbox(user, platform)]

    def last(self, user: str, platform: str = "playground") -> Sent:
        received = self.inbox(user, platform)
        assert received, f"{user} received nothing"
        return received[-1]

    # setting the scene ---------------------------------------------------------------------
    def store(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)

    def invite(self, code: str, role: Role, school_id: int | None = None, **kw: object) -> None:
        with self.store() as store:
            store.add_invite(Invite(code, role, school_id, **kw),  # type: ignore[arg-type]
                             self.clock())

    def participant(self, pseudonym: str) -> Participant:
        with self.store() as store:
            found = store.find_participant(pseudonym)
        assert found is not None
        return found

    def enrol_student(self, user: str, pseudonym: str, platform: str = "playground",
                      age: str = "16", fields: str = "1") -> None:
        self.invite(f"S-{user}".upper()[:32], Role.STUDENT)
        for text in (f"/start S-{user}", "fr", pseudonym, age, fields, "ok"):
            self.say(user, text, platform=platform)

    def enrol_mentor(self, user: str, pseudonym: str, platform: str = "playground",
                     profession: str = "infirmière") -> None:
        self.invite(f"M-{user}".upper()[:32], Role.MENTOR)
        for text in (f"/start M-{user}", "fr", pseudonym, "1", profession, "1", "8", "3"):
            self.say(user, text, platform=platform)

    def vet(self, mentor: str) -> None:
        """A coordinator vouched for this mentor (a minor may be matched only with them)."""
        with self.store() as store:
            vet(store, mentor)

    def match(self, student: str, mentor: str) -> int:
        """Match two people directly (the mentor, vetted, agreed beforehand)."""
        self.vet(mentor)
        with self.store() as store:
            ctx = Context(store, self.services, self.clock())
            match = create_match(ctx, student, mentor, actor="test")
            store.enqueue(ctx.out, ctx.now)
        assert match.id is not None
        return match.id

    def propose(self, student: str, mentor: str, question: str | None = None) -> int:
        """Send the vetted mentor a request to take the student on (they accept or decline)."""
        self.vet(mentor)
        with self.store() as store:
            ctx = Context(store, self.services, self.clock())
            match = propose_match(ctx, student, mentor, actor="test", question=question)
            store.enqueue(ctx.out, ctx.now)
        assert match.id is not None
        return match.id

    def sql(self) -> SqlStore:
        """A store on its own connection, for assertions (autocommit reads)."""
        return SqlStore(self.engine.connect())
