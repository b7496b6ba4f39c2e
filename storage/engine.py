"""Opening the database: SQLite (WAL, foreign keys) by default, PostgreSQL with psycopg 3."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

WRITE_OPTION = "passerelle_write"


def normalise_url(url: str) -> str:
    """Accept the URLs people write (postgresql://, postgres://) and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_pre_ping=False,
            hide_parameters=True,  # an error's log line must never carry a message body
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=10, hide_parameters=True
    )


def ping(engine: Engine) -> bool:
    """Whether the database answers."""
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception:
        return False
    return True


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # Let SQLAlchemy, not the driver, decide when transactions begin (see _sqlite_begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn) -> None:  # type: ignore[no-untyped-def]
    # A writer takes the write lock at BEGIN (IMMEDIATE): two writers then queue instead of one
    # failing with "database is locked" when it upgrades a read. A reader (health, export)
    # begins DEFERRED and never holds up the writers.
    # Straight to the driver: this runs once per transaction, on the hot path.
    write = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def database_file(engine: Engine) -> Path | None:
    """The SQLite file behind `engine`; None for an in-memory database or PostgreSQL."""
    if not is_sqlite(engine):
        return None
    name = engine.url.database
    if not name or name == ":memory:" or name.startswith("file::memory:"):
        return None
    return Path(name).resolve()


_WRITE_LOCKS: WeakKeyDictionary[Engine, threading.Lock] = WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def write_lock(engine: Engine) -> AbstractContextManager[object]:
    """Serialise this process's write transactions on SQLite.

    SQLite allows one writer at a time; when two threads of one process race for it, the loser
    waits in SQLite's busy handler, which sleeps in steps of up to 100 ms. Queueing them on a
    Python lock instead hands the database over as soon as it is free. PostgreSQL needs none.
    """
    if not is_sqlite(engine):
        return nullcontext()
    with _LOCKS_GUARD:
        lock = _WRITE_LOCKS.get(engine)
        if lock is None:
            lock = _WRITE_LOCKS[engine] = threading.Lock()
    return lock


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction: this process's writers queued, the database's write lock taken."""
    with write_lock(engine), engine.connect() as conn:
        conn = conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            yield conn


def write_connection(engine: Engine) -> Connection:
    """A connection whose transactions take the write lock at BEGIN."""
    return engine.connect().execution_options(**{WRITE_OPTION: True})
