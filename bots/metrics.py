"""`/metrics` in Prometheus' text format.

The figures are read from the database at each scrape (storage/telemetry.py) by a custom
collector: every instance reports the same truth, a restart loses nothing, and the delivery
code needs no counters of its own. Counts only: nothing here names or identifies anyone.

The latency is a gauge histogram over the newest rows (the last hour, at most 10,000 rows),
not a cumulative one (and the retries a gauge over the newest 10,000 rows): that keeps a scrape
to a few indexed reads however large the outbox grows. Read a quantile straight from the
buckets, without rate():
`histogram_quantile(0.99, sum by (le) (passerelle_delivery_latency_seconds_bucket))`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TypeVar

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from storage.telemetry import LATENCY_BUCKETS, Telemetry, read_telemetry

_Family = TypeVar("_Family", CounterMetricFamily, GaugeMetricFamily)

# The classic text format, which every Prometheus reads (our names need nothing newer).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class DatabaseCollector(Collector):
    """The service's figures, as the database has them at the moment of the scrape."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime],
                 leading: Callable[[], bool]) -> None:
        self.engine = engine
        self.clock = clock
        self.leading = leading

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        yield from families(read_telemetry(self.engine, now), now)
        leader = GaugeMetricFamily(
            "passerelle_leader",
            "1 on the instance running the sweeps, Telegram polling and the Discord gateway")
        leader.add_metric([], 1.0 if self.leading() else 0.0)
        yield leader


def families(t: Telemetry, now: datetime) -> Iterator[Metric]:
    """The metric families of one reading."""
    rows = GaugeMetricFamily("passerelle_outbox_rows", "Outbox rows by platform and status "
                             "(status=pending: the queue's depth)", labels=["platform", "status"])
    for (platform, status), n in sorted(t.outbox.items()):
        rows.add_metric([platform, status], n)
    yield rows

    age = GaugeMetricFamily("passerelle_outbox_oldest_pending_age_seconds",
                            "Age of the oldest message waiting to be sent", labels=["platform"])
    for platform, at in sorted(t.oldest_pending.items()):
        age.add_metric([platform], max(0.0, (now - at).total_seconds()))
    yield age

    yield _per_platform(CounterMetricFamily(
        "passerelle_messages_out", "Messages the platform accepted", labels=["platform"]),
        {p: n for (p, status), n in t.outbox.items() if status == "delivered"})
    yield _per_platform(CounterMetricFamily(
        "passerelle_delivery_failures", "Messages given up on (failed for good)",
        labels=["platform"]),
        {p: n for (p, status), n in t.outbox.items() if status == "failed"})
    yield _per_platform(GaugeMetricFamily(
        "passerelle_delivery_retries_recent", "Send attempts tried again after a failure, "
        "among the newest 10,000 messages", labels=["platform"]), t.retries)

    latency = GaugeHistogramMetricFamily(
        "passerelle_delivery_latency_seconds",
        "From written to the outbox to accepted by the platform, over the last hour's "
        "deliveries (at most the newest 10,000 rows)", labels=["platform"])
    for platform, seen in sorted(t.latency.items()):
        buckets = [(_bound(b), n) for b, n in zip(LATENCY_BUCKETS, seen.within, strict=True)]
        buckets.append(("+Inf", seen.count))
        latency.add_metric([platform], buckets, gsum_value=seen.total_seconds)
    yield latency

    received = CounterMetricFamily("passerelle_messages_in", "Messages people wrote that were "
                                   "relayed (kind: relay to a match, group post)",
                                   labels=["platform", "kind"])
    for (platform, kind), n in sorted(t.messages_in.items()):
        received.add_metric([platform, kind], n)
    yield received

    nudges = CounterMetricFamily("passerelle_nudges_sent", "Nudges sent, by kind",
                                 labels=["kind"])
    for kind, n in sorted(t.nudges.items()):
        nudges.add_metric([kind], n)
    yield nudges


def _per_platform(family: _Family, counts: dict[str, int]) -> _Family:
    for platform, n in sorted(counts.items()):
        family.add_metric([platform], n)
    return family


def _bound(seconds: float) -> str:
    return f"{seconds:g}"


def metrics_registry(engine: Engine, clock: Callable[[], datetime],
                     leading: Callable[[], bool]) -> CollectorRegistry:
    """A registry of this service's own (not the process-wide default one: several services
    may live in one process, in tests)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(engine, clock, leading))
    ProcessCollector(registry=registry)  # this process's CPU, memory, open files
    return registry


def metrics_routes(registry: CollectorRegistry) -> list[web.RouteDef]:
    async def metrics(_: web.Request) -> web.Response:
        try:
            body = await asyncio.to_thread(generate_latest, registry)
        except Exception as error:  # the database is down: say so, as /healthz does
            return web.Response(status=503, text=f"metrics unavailable: {type(error).__name__}\n")
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    return [web.get("/metrics", metrics)]
