"""OpenTelemetry tracing, configured in one place.

One `TracerProvider` per gateway (not the global one, so several apps in one process stay
apart), parent-based ratio sampling (an incoming W3C `traceparent` decides for its trace),
and spans exported by OTLP/HTTP when `OBGW_OTLP_ENDPOINT` is set, else kept in a bounded
in-memory `TraceStore` for `/ops/traces`.

Span attributes name the partner, client, product and status, never personal data.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.datastructures import Headers

from gateway.telemetry.traces import TraceStore

_PROPAGATOR = TraceContextTextMapPropagator()


class _HeaderGetter(Getter[Headers]):
    """Reads W3C trace headers from Starlette's `Headers`."""

    def get(self, carrier: Headers, key: str) -> list[str] | None:
        values = carrier.getlist(key)
        return values or None

    def keys(self, carrier: Headers) -> list[str]:
        return list(carrier.keys())


_GETTER = _HeaderGetter()


def otlp_traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL for a collector base URL (or a full `/v1/traces` URL)."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else endpoint + "/v1/traces"


class Tracing:
    """The gateway's tracer, its sampler and the destination of its spans."""

    def __init__(
        self,
        *,
        service_version: str,
        environment: str,
        sample_ratio: float,
        otlp_endpoint: str = "",
        store: TraceStore | None = None,
    ) -> None:
        resource = Resource.create(
            {
                "service.name": "obgw",
                "service.version": service_version,
                "deployment.environment.name": environment,
            }
        )
        self.provider = TracerProvider(
            resource=resource, sampler=ParentBased(TraceIdRatioBased(sample_ratio))
        )
        self.store: TraceStore | None = None
        if otlp_endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter(endpoint=otlp_traces_url(otlp_endpoint), timeout=5)
            self.provider.add_span_processor(BatchSpanProcessor(exporter))
        else:
            self.store = store or TraceStore()
            self.provider.add_span_processor(SimpleSpanProcessor(self.store))
        self.tracer = self.provider.get_tracer("obgw", service_version)

    @contextmanager
    def server_span(self, name: str, headers: Headers) -> Iterator[Span]:
        """The span of one incoming request, continuing the caller's trace if it sent one."""
        parent = _PROPAGATOR.extract(headers, getter=_GETTER) if "traceparent" in headers else None
        span = self.tracer.start_span(name, context=parent, kind=SpanKind.SERVER)
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            yield span
        finally:
            otel_context.detach(token)
            span.end()

    def span(self, name: str) -> AbstractContextManager[object]:
        """A child span of the current one (a pipeline stage, a core call)."""
        return self.tracer.start_as_current_span(name)

    def shutdown(self) -> None:
        self.provider.shutdown()


def mark_error(span: Span, status: int) -> None:
    """Server spans are errors for 5xx answers only (OpenTelemetry HTTP conventions)."""
    if status >= 500:
        span.set_status(StatusCode.ERROR)


def trace_id_of(span: Span) -> str:
    return format(span.get_span_context().trace_id, "032x")
