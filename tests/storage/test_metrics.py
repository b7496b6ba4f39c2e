"""/metrics: the figures as the database has them, in Prometheus' text format."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, insert, select, update

from bots.app import Passerelle
from bots.settings import load_settings
from core.context import Services
from core.model import Address, Envelope, Outbound
from storage.store import O, SqlUnitOfWork
from storage.tables import NudgeRow
from tests.harness import Harness

N = NudgeRow.__table__


def seed(engine: Engine, services: Services, now: datetime) -> None:
    """A conversation (messages in, on two platforms), nudges, and Slack rows in every state."""
    w = Harness(engine, services)
    w.enrol_student("kid", "Zoé", platform="telegram")
    w.enrol_mentor("pro", "Marc", platform="discord")
    w.match("Zoé", "Marc")
    w.say("kid", "un", platform="telegram")
    w.say("kid", "deux", platform="telegram")
    w.say("pro", "salut", platform="discord")
    zoe, marc = w.participant("Zoé").id, w.participant("Marc").id
    ago = timedelta
    # (status, attempts, written, delivered)
    rows = [
        ("pending", 0, ago(seconds=600), None),
        ("pending", 2, ago(seconds=60), None),
        ("delivered", 1, ago(seconds=100), ago(seconds=99.93)),  # 0.07 s
        ("delivered", 3, ago(seconds=200), ago(seconds=180)),  # 20 s, after two retries
        ("delivered", 1, ago(seconds=300), ago(seconds=299.7)),  # 0.3 s
        ("delivered", 1, ago(hours=3), ago(hours=3) - ago(seconds=1)),  # out of the window
        ("failed", 5, ago(seconds=400), None),
    ]
    with SqlUnitOfWork(engine) as store:
        first = store.conn.execute(select(O.c.id).order_by(O.c.id.desc()).limit(1)).scalar()
        store.enqueue([Envelope(Outbound(Address("slack", f"C{i}"), "x")) for i in range(7)],
                      now)
        ids = store.conn.execute(select(O.c.id).where(O.c.id > (first or 0),
                                                      O.c.platform == "slack")
                                 .order_by(O.c.id)).scalars().all()
        for row_id, (status, attempts, written, delivered) in zip(ids, rows, strict=True):
            store.conn.execute(update(O).where(O.c.id == row_id).values(
                status=status, attempts=attempts, created_at=now - written,
                delivered_at=None if delivered is None else now - delivered))
        store.conn.execute(insert(N), [
            {"kind": "unanswered", "participant_id": zoe, "anchor": "a1", "at": now},
            {"kind": "unanswered", "participant_id": marc, "anchor": "a2", "at": now},
            {"kind": "survey", "participant_id": zoe, "anchor": "a3", "at": now},
        ])


async def scrape(app: Passerelle) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """GET /metrics, parsed: sample name → its labels → its value."""
    async with TestClient(TestServer(app.web_app())) as client:
        response = await client.get("/metrics")
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        body = await response.text()
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = \
                sample.value
    return samples


async def test_metrics_report_what_the_database_holds(
    any_db: Engine, services: Services,
) -> None:
    now = datetime.now(UTC)
    await asyncio.to_thread(seed, any_db, services, now)
    app = Passerelle(load_settings(), any_db, services)
    m = await scrape(app)

    def one(name: str, **labels: str) -> float:
        return m[name][tuple(sorted(labels.items()))]

    assert one("passerelle_outbox_rows", platform="slack", status="pending") == 2
    assert one("passerelle_outbox_rows", platform="slack", status="delivered") == 4
    assert one("passerelle_messages_out_total", platform="slack") == 4
    assert one("passerelle_delivery_failures_total", platform="slack") == 1
    assert one("passerelle_delivery_retries_recent", platform="slack") == 2 + 2 + 4
    age = one("passerelle_outbox_oldest_pending_age_seconds", platform="slack")
    assert 600 <= age < 600 + 300  # measured against the scrape's own clock
    within = {labels[0][1]: value for labels, value
              in m["passerelle_delivery_latency_seconds_bucket"].items()
              if dict(labels)["platform"] == "slack"}
    assert within["0.05"] == 0 and within["0.1"] == 1 and within["0.25"] == 1
    assert within["0.5"] == 2 and within["10"] == 2 and within["30"] == 3
    assert within["+Inf"] == 3
    assert one("passerelle_delivery_latency_seconds_gcount", platform="slack") == 3
    assert abs(one("passerelle_delivery_latency_seconds_gsum", platform="slack") - 20.37) < 0.01
    assert one("passerelle_messages_in_total", platform="telegram", kind="relay") == 2
    assert one("passerelle_messages_in_total", platform="discord", kind="relay") == 1
    assert one("passerelle_nudges_sent_total", kind="unanswered") == 2
    assert one("passerelle_nudges_sent_total", kind="survey") == 1
    assert one("passerelle_leader") == 0  # not serving: leading nothing


async def test_metrics_say_503_when_the_database_is_gone(services: Services) -> None:
    from storage.engine import make_engine

    app = Passerelle(load_settings(), make_engine("postgresql://nobody@127.0.0.1:1/none"),
                     services)
    async with TestClient(TestServer(app.web_app())) as client:
        response = await client.get("/metrics")
        assert response.status == 503
