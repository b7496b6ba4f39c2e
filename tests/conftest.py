"""Shared fixtures: real databases (SQLite file, and PostgreSQL when it answers), real catalogs."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from bots.app import build_services
from core.context import Services
from storage.engine import make_engine
from storage.migrate import upgrade
from tests.harness import Harness

POSTGRES_URL = os.environ.get(
    "PASSERELLE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session")
def services() -> Services:
    return build_services()


def postgres_engine() -> Engine:
    """A clean `test` database, or a skip that says why there is none."""
    engine = make_engine(POSTGRES_URL)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    except Exception as error:  # no server: skip, saying so
        engine.dispose()
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 did not answer: {type(error).__name__}")
    return engine


def sqlite_engine(tmp_path) -> Engine:  # type: ignore[no-untyped-def]
    return make_engine(f"sqlite:///{tmp_path / 'passerelle.db'}")


@pytest.fixture
def sqlite_db(tmp_path) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    engine = sqlite_engine(tmp_path)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db(request, tmp_path) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    """The same test on SQLite and on PostgreSQL."""
    engine = sqlite_engine(tmp_path) if request.param == "sqlite" else postgres_engine()
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def world(sqlite_db: Engine, services: Services) -> Harness:
    return Harness(sqlite_db, services)


@pytest.fixture
def any_world(any_db: Engine, services: Services) -> Harness:
    return Harness(any_db, services)
