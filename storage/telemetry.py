"""What /metrics reports, read from the database at scrape time.

Read from the database rather than counted in memory, every instance reports the same truth
(and a restart loses nothing). Each query stays cheap on a large outbox: counts by platform and
status in one pass, the oldest pending row through the queue index, and the latency histogram
over a window of the newest rows found through the primary key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, case, func, literal, select

from storage.tables import GP, N, O, R

# Upper bounds of the latency buckets, in seconds (from a quick relay to a long back-off).
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)
# Latency and retries are measured over the newest rows only (found through the primary key):
# at most this many, and for the latency, delivered within this long.
RECENT_ROWS = 10_000
LATENCY_WINDOW = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Latency:
    """Delivered rows of one platform in the window: how many took at most each bound."""

    within: tuple[int, ...]  # one count per LATENCY_BUCKETS bound
    count: int
    total_seconds: float


@dataclass(frozen=True, slots=True)
class Telemetry:
    outbox: dict[tuple[str, str], int] = field(default_factory=dict)  # (platform, status)
    retries: dict[str, int] = field(default_factory=dict)  # platform → among the newest rows
    oldest_pending: dict[str, datetime] = field(default_factory=dict)  # platform → created_at
    latency: dict[str, Latency] = field(default_factory=dict)  # platform → recent latency
    messages_in: dict[tuple[str, str], int] = field(default_factory=dict)  # (platform, kind)
    nudges: dict[str, int] = field(default_factory=dict)  # kind → sent


def read_telemetry(engine: Engine, now: datetime) -> Telemetry:
    """Everything /metrics shows, in one read-only connection."""
    with engine.connect() as conn:
        outbox = _outbox_counts(conn)
        pending = sorted({platform for (platform, status) in outbox if status == "pending"})
        newest = conn.execute(select(func.max(O.c.id))).scalar_one() or 0
        since_id = newest - RECENT_ROWS
        return Telemetry(
            outbox=outbox, retries=_retries(conn, since_id),
            oldest_pending=_oldest_pending(conn, pending),
            latency=_latency(conn, now, since_id),
            messages_in=_messages_in(conn),
            nudges={kind: int(n) for kind, n in conn.execute(
                select(N.c.kind, func.count()).group_by(N.c.kind))},
        )


def _outbox_counts(conn: Connection) -> dict[tuple[str, str], int]:
    """Rows by platform and status: read from the queue index alone."""
    return {(platform, status): int(n) for platform, status, n in conn.execute(
        select(O.c.platform, O.c.status, func.count()).group_by(O.c.platform, O.c.status))}


def _retries(conn: Connection, since_id: int) -> dict[str, int]:
    """Attempts tried again among the newest rows: every attempt after a row's first (a
    pending row's attempts all failed, and each is followed by another)."""
    again = case((O.c.status == "pending", O.c.attempts), else_=O.c.attempts - 1)
    return {platform: int(n or 0) for platform, n in conn.execute(
        select(O.c.platform, func.sum(case((again > 0, again), else_=0)))
        .where(O.c.id > since_id).group_by(O.c.platform))}


def _oldest_pending(conn: Connection, platforms: list[str]) -> dict[str, datetime]:
    """When the oldest row still waiting was written, per platform: the lowest pending id, from
    the queue index (ids are handed out as rows are written), then that row's time."""
    oldest: dict[str, datetime] = {}
    for platform in platforms:
        first = (select(func.min(O.c.id))
                 .where(O.c.platform == platform, O.c.status == "pending").scalar_subquery())
        at = conn.execute(select(O.c.created_at).where(O.c.id == first)).scalar()
        if at is not None:
            oldest[platform] = _utc(at)
    return oldest


def _seconds(conn: Connection, later: Any, earlier: Any) -> Any:
    """`later - earlier` in seconds, in SQL (each database says it its own way)."""
    if conn.dialect.name == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)


def _latency(conn: Connection, now: datetime, since_id: int) -> dict[str, Latency]:
    """From written to accepted by the platform, for the rows delivered in the window, counted
    per bucket in SQL (a few numbers come back, not thousands of rows)."""
    seconds = _seconds(conn, O.c.delivered_at, O.c.created_at)
    columns = [func.sum(case((seconds <= bound, 1), else_=0)) for bound in LATENCY_BUCKETS]
    rows = conn.execute(
        select(O.c.platform, func.count(), func.coalesce(func.sum(seconds), literal(0.0)),
               *columns)
        .where(O.c.id > since_id, O.c.status == "delivered",
               O.c.delivered_at >= now - LATENCY_WINDOW)
        .group_by(O.c.platform)
    ).all()
    return {
        row[0]: Latency(tuple(int(n or 0) for n in row[3:]), int(row[1]), float(row[2] or 0))
        for row in rows
    }


def _messages_in(conn: Connection) -> dict[tuple[str, str], int]:
    """Messages people wrote that were relayed: to a match, or to a group."""
    counts: dict[tuple[str, str], int] = {}
    for kind, table in (("relay", R), ("group", GP)):
        for platform, n in conn.execute(
            select(table.c.source_platform, func.count()).group_by(table.c.source_platform)
        ):
            counts[(platform, kind)] = int(n)
    return counts


def _utc(at: datetime) -> datetime:
    """A time read back without its zone is UTC (SQLite keeps none)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
