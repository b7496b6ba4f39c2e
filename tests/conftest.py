"""Shared fixtures: real databases (SQLite file, and PostgreSQL when it answers), real catalogs."""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from bots.app import build_services
from core.context import Services
from storage.engine import make_engine
from storage.migrate import upgrade
from tests.harness import Harness

_SCHEMAS = itertools.count(1)
POSTGRES_URL = os.environ.get(
    "PASSERELLE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session")
def services() -> Services:
    return build_services()


def postgres_engine() -> Engine:
    """A fresh schema of its own in the `test` database, or a skip that says why there is none.

    A schema per test (not one shared `public`) lets several test runs share the server.
    """
    schema = f"t_{os.getpid()}_{next(_SCHEMAS)}"
    admin = make_engine(POSTGRES_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as error:  # no server: skip, saying so (but CI must test PostgreSQL)
        reason = f"PostgreSQL at 127.0.0.1:5432 did not answer: {type(error).__name__}"
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI runs every storage test on PostgreSQL too)")
        pytest.skip(reason)
    finally:
        admin.dispose()
    engine = make_engine(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
    engine.info = {"schema": schema}  # type: ignore[attr-defined]
    return engine


def drop_postgres_schema(engine: Engine) -> None:
    schema = engine.info["schema"]  # type: ignore[attr-defined]
    engine.dispose()
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


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
    if request.param == "postgres":
        drop_postgres_schema(engine)
    else:
        engine.dispose()


@pytest.fixture
def world(sqlite_db: Engine, services: Services) -> Harness:
    return Harness(sqlite_db, services)


@pytest.fixture
def any_world(any_db: Engine, services: Services) -> Harness:
    return Harness(any_db, services)


@pytest.fixture
def slack_world(sqlite_db: Engine, services: Services) -> Harness:
    """A world where "slack" is a platform with a thread per match."""
    return Harness(sqlite_db, dataclasses.replace(services, threaded=frozenset({"slack"})))
