"""Several instances: one leader on PostgreSQL (the sweeps, the consumers only one may run), taken
over when it stops or dies; and one instance only on a SQLite file."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, text

from bots.app import Passerelle
from bots.leadership import AdvisoryLeadership, AlreadyRunning, lock_key
from bots.settings import load_settings
from core.context import Services
from storage.engine import make_engine
from storage.migrate import upgrade
from tests.adapters.service import running
from tests.conftest import POSTGRES_URL, drop_postgres_schema, postgres_engine
from tests.e2e.test_run import PASSERELLE, free_port
from tests.harness import Harness

SETTINGS = {"web": {"host": "127.0.0.1", "port": 0}, "delivery": {"poll_seconds": 0.05},
            "matching": {"sweep_seconds": 1}}


@pytest.fixture
def pg() -> Iterator[Engine]:
    engine = postgres_engine()
    upgrade(engine)
    yield engine
    drop_postgres_schema(engine)


def instance(shared: Engine, services: Services) -> Passerelle:
    """Another instance on the same database: its own engine, pool and lock connection."""
    engine = make_engine(shared.url.render_as_string(hide_password=False))
    leadership = AdvisoryLeadership(engine, retry_seconds=0.1, check_seconds=0.1, timeout=2)
    return Passerelle(load_settings(**SETTINGS), engine, services, leadership=leadership)


def leads(app: Passerelle) -> bool:
    return app.leadership is not None and app.leadership.leading


async def until(condition: Callable[[], bool], what: str, tries: int = 400) -> None:
    """Wait for `condition` (checked off the loop: it may read the database)."""
    for _ in range(tries):
        if await asyncio.to_thread(condition):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def waiting_request(engine: Engine, services: Services) -> int:
    """A mentor asked to take a student on months ago, unanswered: the next sweep expires it.
    Both are on Telegram, a platform the instances here do not serve (nothing is sent)."""
    w = Harness(engine, services)
    w.enrol_student("kid", "Zoé", platform="telegram")
    w.enrol_mentor("pro", "Marc", platform="telegram")
    return w.propose("Zoé", "Marc")


def status(engine: Engine, match_id: int) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT status FROM matches WHERE id = :id"),
                                {"id": match_id}).scalar_one())


def lock_holders(engine: Engine) -> list[int]:
    """The backends holding this schema's leader lock (PostgreSQL splits a bigint key in two)."""
    with engine.connect() as conn:
        where = conn.execute(text("SELECT current_database() || '.' || current_schema()"))
        key = lock_key(str(where.scalar_one())) & 0xFFFFFFFFFFFFFFFF
        rows = conn.execute(text(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = :hi AND objid = :lo AND objsubid = 1 AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"),
            {"hi": key >> 32, "lo": key & 0xFFFFFFFF})
        return [int(pid) for (pid,) in rows]


@pytest.mark.postgres
async def test_one_leader_and_the_follower_takes_over_and_sweeps_when_it_stops(
    pg: Engine, services: Services,
) -> None:
    a, b = instance(pg, services), instance(pg, services)
    stop_a, task_a = await running(a)
    stop_b, task_b = await running(b)
    try:
        await until(lambda: leads(a) or leads(b), "a leader elected")
        leader, follower = (a, b) if leads(a) else (b, a)
        stops = {id(a): (stop_a, task_a), id(b): (stop_b, task_b)}
        assert not leads(follower) and follower.sweeper.scheduler is None
        assert len(lock_holders(pg)) == 1
        # Both deliver: a worker per platform on each.
        assert all(w.alive() for w in a.workers + b.workers)

        stop, task = stops[id(leader)]
        stop.set()
        await task
        await until(lambda: leads(follower), "the follower took over")
        match_id = await asyncio.to_thread(waiting_request, pg, services)
        await until(lambda: status(pg, match_id) == "expired", "the new leader swept")
    finally:
        for stop, task in ((stop_a, task_a), (stop_b, task_b)):
            stop.set()
            await task
        for app in (a, b):
            app.engine.dispose()
    assert lock_holders(pg) == []


@pytest.mark.postgres
async def test_a_leader_whose_lock_connection_dies_steps_down_and_one_leader_remains(
    pg: Engine, services: Services, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="passerelle.leadership")
    a, b = instance(pg, services), instance(pg, services)
    stop_a, task_a = await running(a)
    stop_b, task_b = await running(b)
    try:
        await until(lambda: len(lock_holders(pg)) == 1, "a leader elected")
        [pid] = lock_holders(pg)
        with pg.connect() as conn:  # as if its network or its server-side session died
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await until(lambda: "reason=connection_lost" in caplog.text, "the leader stepped down")
        await until(lambda: len(lock_holders(pg)) == 1 and leads(a) != leads(b),
                    "one leader again")
        assert lock_holders(pg) != [pid]
    finally:
        for stop, task in ((stop_a, task_a), (stop_b, task_b)):
            stop.set()
            await task
        for app in (a, b):
            app.engine.dispose()


# As separate processes: a leader killed outright ---------------------------------------------

def leader_gauge(port: int) -> float | None:
    """What an instance's /metrics says of its leadership (None: not answering yet)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            body = response.read().decode()
    except OSError:
        return None
    for family in text_string_to_metric_families(body):
        if family.name == "passerelle_leader":
            return family.samples[0].value
    return None


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


@pytest.mark.postgres
def test_a_killed_leader_process_is_replaced_within_seconds(
    pg: Engine, services: Services, tmp_path: Path,
) -> None:
    schema = pg.info["schema"]  # type: ignore[attr-defined]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
    env |= {"PASSERELLE_DATABASE_URL": f"{POSTGRES_URL}?options=-csearch_path%3D{schema}",
            "PASSERELLE_MATCHING__SWEEP_SECONDS": "1"}
    ports = [free_port(), free_port()]
    processes = [
        subprocess.Popen([PASSERELLE, "run"], env=env | {"PASSERELLE_WEB__PORT": str(port)},
                         stdout=subprocess.DEVNULL, stderr=(tmp_path / f"{port}.log").open("w"))
        for port in ports
    ]
    try:
        wait_for(lambda: all(leader_gauge(p) is not None for p in ports), "both instances up")
        wait_for(lambda: sorted(leader_gauge(p) or 0 for p in ports) == [0.0, 1.0],
                 "one leader")
        first = 0 if leader_gauge(ports[0]) == 1.0 else 1
        processes[first].send_signal(signal.SIGKILL)
        processes[first].wait(timeout=10)
        other = ports[1 - first]
        wait_for(lambda: leader_gauge(other) == 1.0, "the survivor took over", seconds=15)
        match_id = waiting_request(pg, services)
        wait_for(lambda: status(pg, match_id) == "expired", "the survivor swept")
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=20)
    assert processes[1 - first].returncode == 0


# SQLite: one instance per file ------------------------------------------------------------------

async def test_a_second_instance_on_one_sqlite_file_refuses_to_start(
    sqlite_db: Engine, services: Services,
) -> None:
    settings = load_settings(**SETTINGS)
    first = Passerelle(settings, sqlite_db, services)
    stop, task = await running(first)
    try:
        second = Passerelle(settings, sqlite_db, services)
        with pytest.raises(AlreadyRunning, match="another `passerelle run` is using"):
            await second.serve(asyncio.Event())
        # As the command says it: one line, and a failure exit.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
        env |= {"PASSERELLE_DATABASE_URL": str(sqlite_db.url),
                "PASSERELLE_WEB__PORT": str(free_port())}
        done = await asyncio.to_thread(subprocess.run, [PASSERELLE, "run"], env=env,
                                       capture_output=True, text=True, timeout=60)
        assert done.returncode != 0
        assert done.stderr.strip().splitlines() == [
            f"error: another `passerelle run` is using {sqlite_db.url.database}: stop it "
            "first (several instances need PostgreSQL)"]
        assert first.leadership is not None and first.leadership.leading
    finally:
        stop.set()
        await task
    again = Passerelle(settings, sqlite_db, services)  # the lock went with the first one
    stop, task = await running(again)
    stop.set()
    await task
