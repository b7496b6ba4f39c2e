"""Shared fixtures: real databases (SQLite file, and PostgreSQL when it answers), real catalogs."""

from __future__ import annotations

import dataclasses
import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per run: each test gets a copy (migrating takes far longer)."""
    path = tmp_path_factory.mktemp("migrated") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection closing checkpoints the WAL into the file
    return path


def fresh_sqlite(template: Path, tmp_path: Path) -> Engine:
    path = tmp_path / "passerelle.db"
    shutil.copyfile(template, path)
    return make_engine(f"sqlite:///{path}")


@pytest.fixture
def sqlite_db(migrated_sqlite: Path, tmp_path: Path) -> Iterator[Engine]:
    engine = fresh_sqlite(migrated_sqlite, tmp_path)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db(request, tmp_path, migrated_sqlite) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    """The same test on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        engine = fresh_sqlite(migrated_sqlite, tmp_path)
    else:
        engine = postgres_engine()
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
