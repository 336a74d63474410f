"""Prometheus metrics, exposed at `/metrics` for the ServiceMonitor.

One registry per gateway (not the process-global one), recorded by the pipeline's metrics
stage (requests by product, method and status; latency) and by the core client (calls and
errors per operation; breaker state). Labels never carry ids or personal data.

With `obgw serve --workers N` each worker keeps its own registry and a scrape sees one
worker; in Kubernetes run one worker per pod and let the replicas scale.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from adapters.resilience import BreakerState

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BREAKER_VALUES = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}
CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """The gateway's instruments and their exposition."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "obgw_requests",
            "Requests answered, by API product, method and status.",
            ["product", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "obgw_request_duration_seconds",
            "Time to answer a request, by API product.",
            ["product"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.core_calls = Counter(
            "obgw_core_calls",
            "Calls to the core banking system, by operation and outcome.",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.core_latency = Histogram(
            "obgw_core_call_duration_seconds",
            "Time a core call took, by operation.",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.breaker = Gauge(
            "obgw_core_breaker_state",
            "The core's circuit breaker: 0 closed, 1 half-open, 2 open.",
            ["core"],
            registry=self.registry,
        )

    def request(self, product: str, method: str, status: int, seconds: float) -> None:
        """`policies.metrics.RequestRecorder`: one answered request."""
        self.requests.labels(product, method, str(status)).inc()
        self.latency.labels(product).observe(seconds)

    def core_call(self, operation: str, outcome: str, seconds: float) -> None:
        """`adapters.resilience.CallRecorder`: one core call and how it ended."""
        self.core_calls.labels(operation, outcome).inc()
        self.core_latency.labels(operation).observe(seconds)

    def watch_breaker(self, core: str, state: Callable[[], BreakerState]) -> None:
        """Report the breaker's state at every scrape."""
        self.breaker.labels(core).set_function(lambda: BREAKER_VALUES[state()])

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
