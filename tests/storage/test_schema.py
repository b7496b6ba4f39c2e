"""Migrations and the store, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from core.model import Address, Identity, Invite, Match, Participant, Role, School, Step
from storage.migrate import current_revision
from storage.store import SqlUnitOfWork
from storage.tables import metadata

NOW = datetime(2026, 9, 1, 12, tzinfo=UTC)


def test_migrations_build_exactly_the_tables_the_code_declares(any_db: Engine) -> None:
    with any_db.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []
    assert current_revision(any_db) is not None


def test_sqlite_runs_in_wal_with_foreign_keys(sqlite_db: Engine) -> None:
    with sqlite_db.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_every_required_table_exists(any_db: Engine) -> None:
    tables = set(inspect(any_db).get_table_names())
    assert {"programs", "schools", "participants", "identities", "invites", "matches",
            "relayed_messages", "processed_events", "outbox", "audit_log"} <= tables


def test_store_round_trips_the_domain(any_db: Engine) -> None:
    with SqlUnitOfWork(any_db) as store:
        school = store.add_school(School("Polyvalente Sud", "Montréal"))
        student = store.add_participant(
            Participant(Role.STUDENT, "Zoé", "fr", school.id, Step.DONE, age=15,
                        fields=["health", "arts"], created_at=NOW)
        )
        mentor = store.add_participant(
            Participant(Role.MENTOR, "Marc", "en", school.id, Step.DONE, capacity=2,
                        profession="welder", created_at=NOW)
        )
        assert student.id and mentor.id
        store.add_identity(Identity("telegram", "777", student.id, Address("telegram", "777")))
        store.add_invite(Invite("abcd-efgh", Role.STUDENT, school.id, max_uses=2), NOW)
        match = store.add_match(Match(student.id, mentor.id, created_at=NOW))
    with SqlUnitOfWork(any_db) as store:
        assert store.school(school.id or 0) == School("Polyvalente Sud", "Montréal", school.id)
        again = store.participant(student.id)
        assert again is not None and again.fields == ["health", "arts"] and again.age == 15
        assert store.pseudonym_taken("ZOÉ") and not store.pseudonym_taken("Zoe")
        assert store.pseudonym_taken("Zoé", except_id=student.id) is False
        assert store.address_of(student.id) == Address("telegram", "777")
        assert store.invite("ABCD-EFGH") is not None  # codes are case-insensitive
        assert store.use_invite("abcd-efgh") is True
        assert store.use_invite("abcd-efgh") is True
        assert store.use_invite("abcd-efgh") is False  # used up: a third person is refused
        invite = store.invite("abcd-efgh")
        assert invite is not None and invite.exhausted and invite.uses == 2
        assert [m.id for m in store.active_matches(mentor.id)] == [match.id]
        assert store.mark_unreachable(Address("telegram", "777")) is True
        assert store.mark_unreachable(Address("telegram", "777")) is False
        assert store.address_of(student.id) is None


def test_event_keys_are_claimed_once(any_db: Engine) -> None:
    with SqlUnitOfWork(any_db) as store:
        assert store.claim_event("telegram:1", NOW) is True
        assert store.claim_event("telegram:1", NOW) is False
        assert store.claim_event("telegram:2", NOW) is True
    with SqlUnitOfWork(any_db) as store:
        assert store.claim_event("telegram:1", NOW) is False


def test_a_failed_transaction_leaves_nothing(any_db: Engine) -> None:
    with pytest.raises(RuntimeError), SqlUnitOfWork(any_db) as store:
        store.claim_event("slack:9", NOW)
        raise RuntimeError("crash in the middle of handling")
    with SqlUnitOfWork(any_db) as store:
        assert store.claim_event("slack:9", NOW) is True


def test_a_batch_of_event_keys_is_claimed_in_one_go(any_db: Engine) -> None:
    with SqlUnitOfWork(any_db) as store:
        assert store.claim_events(["a", "b"], NOW) == {"a", "b"}
        assert store.claim_events(["a", "c", "c", "d"], NOW) == {"c", "d"}
        assert store.claim_events([], NOW) == set()


def test_a_reader_never_holds_up_a_writer(sqlite_db: Engine) -> None:
    """An export or a health check reads; the relay must keep writing meanwhile."""
    import time

    from sqlalchemy import text

    with sqlite_db.connect() as reader:
        reader.execute(text("SELECT count(*) FROM participants")).scalar_one()  # transaction open
        started = time.perf_counter()
        with SqlUnitOfWork(sqlite_db) as store:
            assert store.claim_event("while-reading", NOW)
        assert time.perf_counter() - started < 5  # not the 30 s busy timeout
