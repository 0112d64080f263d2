"""/metrics in Prometheus text format, read from the database and the queue at scrape time.

Counting at scrape time, not in process memory, because the events happen in other processes:
hooks run as git's children and checks in any number of `gitserver worker` processes.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable, Iterator
from typing import Any, cast

from peewee import Case, fn
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from gitserver.core.models import Check, Push, RejectedPush, database

DURATION_BUCKETS_MS = (25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000)


# prometheus_client's Collector interface is the one method collect().
class StoreCollector(Collector):  # pylint: disable=too-few-public-methods
    """Reads the counts from the database, and the queue depth, at each scrape."""
    def __init__(self, queue_depth: Callable[[], int]) -> None:
        self.queue_depth = queue_depth

    def collect(self) -> Iterator[Metric]:
        pushes = CounterMetricFamily("gitserver_pushes", "Pushes received", labels=["result"])
        # `database` passed explicitly: pylint cannot see through peewee's @database_required.
        pushes.add_metric(["accepted"], Push.select().count(database))
        pushes.add_metric(["rejected"], RejectedPush.select().count(database))
        yield pushes
        states = GaugeMetricFamily("gitserver_checks", "Checks by state", labels=["state"])
        for row in Check.select(Check.state, fn.COUNT(Check.id).alias("n")).group_by(
                Check.state).dicts():
            counted = cast(dict[str, Any], row)  # .dicts() rows, which peewee types as models
            states.add_metric([counted["state"]], counted["n"])
        yield states
        yield self._durations()
        mails = CounterMetricFamily("gitserver_report_mails", "Report mails", labels=["result"])
        for state, label in (("sent", "sent"), ("failed", "failed"), ("skipped", "skipped")):
            mails.add_metric([label], Push.select().where(Push.report_state == state).count())
        yield mails
        depth = GaugeMetricFamily("gitserver_queue_depth", "Tasks waiting in the queue")
        depth.add_metric([], float(self.queue_depth()))
        yield depth

    @staticmethod
    def _durations() -> HistogramMetricFamily:
        # A peewee expression: `== False` builds the SQL comparison.
        not_reused = Check.reused == False  # noqa: E712  # pylint: disable=singleton-comparison
        linted = Check.select().where(Check.duration_ms.is_null(False) & not_reused)
        columns = [fn.SUM(Case(None, [(Check.duration_ms <= b, 1)], 0)).alias(f"le{b}")
                   for b in DURATION_BUCKETS_MS]
        row = cast(dict[str, Any], linted.select(
            fn.COUNT(Check.id).alias("n"), fn.SUM(Check.duration_ms).alias("s"),
            *columns).dicts().get())
        buckets = [(str(b / 1000), row[f"le{b}"] or 0) for b in DURATION_BUCKETS_MS]
        buckets.append(("+Inf", row["n"] or 0))
        histogram = HistogramMetricFamily("gitserver_check_duration_seconds",
                                          "Time pylint took per file")
        histogram.add_metric([], buckets, sum_value=(row["s"] or 0) / 1000)
        return histogram


def may_scrape(request: Request, token: str) -> bool:
    """A client on this host, or one with the configured bearer token (compared in constant
    time). Behind a proxy on this host the client is the address the proxy forwards."""
    host = request.client.host if request.client else ""
    try:
        if ipaddress.ip_address(host).is_loopback:
            return True
    except ValueError:
        pass
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and \
        hmac.compare_digest(sent.strip().encode(), token.encode())


def metrics_endpoint(registry: CollectorRegistry, token: str):
    """The /metrics endpoint: `registry` in Prometheus text format, for `may_scrape` only."""
    def metrics(request: Request) -> Response:
        if not may_scrape(request, token):
            return PlainTextResponse("Metrics are served to this host only, or with "
                                     "`Authorization: Bearer <server.metrics_token>`.\n",
                                     status_code=403)
        return Response(generate_latest(registry),
                        media_type="text/plain; version=0.0.4; charset=utf-8")
    return metrics


def build_registry(queue_depth: Callable[[], int]) -> CollectorRegistry:
    """A registry with our one collector; `queue_depth()` is called at each scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(queue_depth))
    return registry
