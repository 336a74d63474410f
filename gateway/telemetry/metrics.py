"""Prometheus metrics, exposed at `/metrics` for the ServiceMonitor.

Requests by product, method and status with a latency histogram, core calls by operation and
outcome with theirs, the core's breaker state, and security events by kind. Labels never carry
ids or personal data.

Recording happens on every request, so it is plain arithmetic on the event loop's thread
(no locks, no label lookups): each label set owns a `_Series` of counts. A custom collector
turns them into Prometheus families at scrape time, in a registry per gateway.

With `obgw serve --workers N` each worker keeps its own counts and a scrape sees one worker;
in Kubernetes run one worker per pod and let the replicas scale.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from adapters.resilience import BreakerState

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BREAKER_VALUES = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}
CONTENT_TYPE = CONTENT_TYPE_LATEST


class _Series:
    """One label set's count, sum and histogram buckets (cumulated at scrape time)."""

    __slots__ = ("buckets", "count", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)

    def observe(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        self.buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1

    def cumulative(self) -> list[tuple[str, float]]:
        running = 0
        out = []
        for bound, count in zip((*LATENCY_BUCKETS, float("inf")), self.buckets, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), float(running)))
        return out


class Metrics(Collector):
    """The gateway's measurements and their exposition."""

    def __init__(self) -> None:
        self._requests: dict[tuple[str, str, int], _Series] = {}
        self._core: dict[tuple[str, str], _Series] = {}
        self._breakers: dict[str, Callable[[], BreakerState]] = {}
        self._security_events: dict[str, int] = {}
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def request(self, product: str, method: str, status: int, seconds: float) -> None:
        """`policies.metrics.RequestRecorder`: one answered request."""
        key = (product, method, status)
        series = self._requests.get(key)
        if series is None:
            series = self._requests[key] = _Series()
        series.observe(seconds)

    def core_call(self, operation: str, outcome: str, seconds: float) -> None:
        """`adapters.resilience.CallRecorder`: one core call and how it ended."""
        key = (operation, outcome)
        series = self._core.get(key)
        if series is None:
            series = self._core[key] = _Series()
        series.observe(seconds)

    def security_event(self, kind: str) -> None:
        """One failed customer authentication or lock-out (`gateway.oauth.security_events`)."""
        self._security_events[kind] = self._security_events.get(kind, 0) + 1

    def watch_breaker(self, core: str, state: Callable[[], BreakerState]) -> None:
        """Report the breaker's state at every scrape."""
        self._breakers[core] = state

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "obgw_requests",
            "Requests answered, by API product, method and status.",
            labels=["product", "method", "status"],
        )
        latency = HistogramMetricFamily(
            "obgw_request_duration_seconds",
            "Time to answer a request, by API product, method and status.",
            labels=["product", "method", "status"],
        )
        for (product, method, status), series in list(self._requests.items()):
            labels = [product, method, str(status)]
            requests.add_metric(labels, series.count)
            latency.add_metric(labels, series.cumulative(), series.total)
        yield requests
        yield latency
        calls = CounterMetricFamily(
            "obgw_core_calls",
            "Calls to the core banking system, by operation and outcome.",
            labels=["operation", "outcome"],
        )
        durations = HistogramMetricFamily(
            "obgw_core_call_duration_seconds",
            "Time a core call took, by operation and outcome.",
            labels=["operation", "outcome"],
        )
        for (operation, outcome), series in list(self._core.items()):
            calls.add_metric([operation, outcome], series.count)
            durations.add_metric([operation, outcome], series.cumulative(), series.total)
        yield calls
        yield durations
        breaker = GaugeMetricFamily(
            "obgw_core_breaker_state",
            "The core's circuit breaker: 0 closed, 1 half-open, 2 open.",
            labels=["core"],
        )
        for core, state in self._breakers.items():
            breaker.add_metric([core], BREAKER_VALUES[state()])
        yield breaker
        security = CounterMetricFamily(
            "obgw_security_events",
            "Failed customer authentications and lock-outs at the authorize pages, by kind.",
            labels=["kind"],
        )
        for kind, count in list(self._security_events.items()):
            security.add_metric([kind], count)
        yield security

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
