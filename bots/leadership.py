"""Who runs what only one instance may run: the scheduler's sweeps, Telegram long polling and
the Discord gateway. Everything else (delivery workers, the web server and its webhooks, the
playground, Slack) runs on every instance.

On PostgreSQL the leader is whichever instance holds a session-level advisory lock, taken on a
connection of its own (not one of the pool's, which come and go with transactions). When the
leader dies its connection dies with it, PostgreSQL lets go of the lock, and a follower, trying
every second or two, takes over. The leader checks its connection every few seconds and steps
down as soon as it is lost: its lock may already be someone else's.

Leadership spares the platforms; it is not what keeps messages whole. The sweep is idempotent and
every inbound event is deduplicated by its key, so the seconds during which two instances may both
act as leader (an old leader that has not noticed yet) cost a 409 from Telegram, never a message
sent twice or lost.

On SQLite there is one instance: it leads from the start, and holds an exclusive lock on a file
next to the database for as long as it runs, so that a second `passerelle run` refuses to start.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

from bots.settings import SettingsError
from storage.engine import database_file, is_sqlite

log = logging.getLogger("passerelle.leadership")

Hook = Callable[[], Awaitable[None]]


class AlreadyRunning(SettingsError):
    """Another `passerelle run` uses this SQLite database."""


class Leadership(Protocol):
    leading: bool

    def claim(self) -> None:
        """Before anything starts: raise AlreadyRunning if this instance may not run at all."""

    def start(self, elected: Hook, deposed: Hook) -> None:
        """Seek the lead in the background; call `elected` on winning it, `deposed` on losing it."""

    async def stop(self) -> None:
        """Let go of every lock (another instance may take the lead at once). `deposed` is not
        called: whoever stops leadership is stopping everything it guards anyway."""


class _Leadership:
    """The life cycle both kinds share: hooks called once per change, never concurrently."""

    def __init__(self) -> None:
        self.leading = False
        self._elected: Hook | None = None
        self._deposed: Hook | None = None
        self._task: asyncio.Task[None] | None = None

    def claim(self) -> None:
        return None

    def start(self, elected: Hook, deposed: Hook) -> None:
        self._elected, self._deposed = elected, deposed
        self._task = asyncio.create_task(self._run(), name="leadership")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self.leading:
            self.leading = False
            log.info("event=leader_deposed reason=stopping")
        self._release()

    async def _run(self) -> None:
        raise NotImplementedError

    def _release(self) -> None:
        return None

    async def _take_lead(self) -> None:
        self.leading = True
        log.info("event=leader_elected")
        await _call_hook(self._elected, "elected")

    async def _step_down(self, reason: str) -> None:
        if not self.leading:
            return
        self.leading = False
        log.info("event=leader_deposed reason=%s", reason)
        await _call_hook(self._deposed, "deposed")


async def _call_hook(hook: Hook | None, name: str) -> None:
    """A hook that fails (a platform refusing to start) must not stop the election loop."""
    if hook is None:
        return
    try:
        await hook()
    except Exception:
        log.exception("event=leadership_hook_failed hook=%s", name)


class SoleInstance(_Leadership):
    """SQLite: the only instance, leader from the start. A file lock (flock, released by the
    kernel when the process dies, however it dies) keeps a second one from starting; an
    in-memory database needs none."""

    def __init__(self, lock_path: Path | None) -> None:
        super().__init__()
        self.lock_path = lock_path
        self._fd: int | None = None

    def claim(self) -> None:
        if self.lock_path is None or self._fd is not None:
            return
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            database = self.lock_path.with_suffix("")
            raise AlreadyRunning(
                f"another `passerelle run` is using {database}: stop it first "
                "(several instances need PostgreSQL)") from None
        self._fd = fd

    async def _run(self) -> None:
        await self._take_lead()
        await asyncio.Event().wait()  # until stopped

    def _release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # the lock goes with the descriptor
            self._fd = None


class AdvisoryLeadership(_Leadership):
    """PostgreSQL: the instance holding the advisory lock leads."""

    def __init__(self, engine: Engine, *, retry_seconds: float = 1.5,
                 check_seconds: float = 3.0, timeout: float = 5.0) -> None:
        super().__init__()
        # Its own engine without a pool: one connection, held for as long as the lead is.
        self._engine = create_engine(engine.url, poolclass=NullPool, hide_parameters=True,
                                     connect_args={"connect_timeout": max(1, int(timeout))})
        self.retry_seconds = retry_seconds
        self.check_seconds = check_seconds
        self.timeout = timeout
        self._conn: Connection | None = None
        self._key: int | None = None
        self._lost = False  # the database did not answer last time (said once, not each retry)

    async def _run(self) -> None:
        while True:
            if self.leading:
                if not await self._ask(self._alive):
                    log.warning("event=leader_connection_lost")
                    await self._step_down("connection_lost")
                    self._drop()
                    continue
                await asyncio.sleep(self.check_seconds)
            else:
                if await self._ask(self._try_lock):
                    await self._take_lead()
                    continue
                await asyncio.sleep(self.retry_seconds)

    async def _ask(self, question: Callable[[], bool]) -> bool:
        """Ask the database on our connection, off the loop; no answer in time counts as no
        (a connection that hangs is as good as lost)."""
        try:
            answer = await asyncio.wait_for(asyncio.to_thread(question), self.timeout)
        except Exception as error:
            if not self._lost:
                log.warning("event=leadership_database_unavailable error=%s",
                            type(error).__name__)
            self._lost = True
            self._drop()
            return False
        self._lost = False
        return answer

    def _try_lock(self) -> bool:
        if self._conn is None:
            self._conn = self._connect()
        return bool(self._conn.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}).scalar_one())

    def _connect(self) -> Connection:
        conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            # The server notices a leader's vanished host in about 11 s (rather than hours),
            # and so lets go of its lock. Ignored on a Unix socket, where a death is seen at once.
            for setting in ("tcp_keepalives_idle = 5", "tcp_keepalives_interval = 2",
                            "tcp_keepalives_count = 3"):
                conn.exec_driver_sql(f"SET {setting}")
            where = conn.exec_driver_sql(
                "SELECT current_database() || '.' || current_schema()").scalar_one()
        except Exception:
            conn.close()
            raise
        self._key = lock_key(str(where))
        return conn

    def _alive(self) -> bool:
        if self._conn is None:
            return False
        self._conn.exec_driver_sql("SELECT 1")
        return True

    def _drop(self) -> None:
        """Forget our connection; closing it may hang on a dead network, so not on the loop."""
        conn, self._conn = self._conn, None
        if conn is not None:
            threading.Thread(target=_close_quietly, args=(conn,), daemon=True).start()

    def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            _close_quietly(conn)  # closing the session releases its advisory lock
        self._engine.dispose()


def _close_quietly(conn: Connection) -> None:
    with contextlib.suppress(Exception):
        conn.close()


def lock_key(where: str) -> int:
    """The advisory lock's key: one per database and schema, so that two deployments sharing a
    server (or two test runs, each in its own schema) never wait on each other's leader."""
    digest = hashlib.blake2b(f"passerelle.leader:{where}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def leadership_for(engine: Engine) -> Leadership:
    """Advisory-lock leadership on PostgreSQL; on SQLite the one instance the file allows."""
    if is_sqlite(engine):
        path = database_file(engine)
        return SoleInstance(path.with_name(path.name + ".lock") if path is not None else None)
    return AdvisoryLeadership(engine)
