"""OpenTelemetry tracing, configured in one place.

One `TracerProvider` per gateway (not the global one, so several apps in one process stay
apart), parent-based ratio sampling (an incoming W3C `traceparent` decides for its trace),
and spans exported by OTLP/HTTP when `OBGW_OTLP_ENDPOINT` is set, else kept in a bounded
in-memory `TraceStore` for `/ops/traces`.

The ratio decision for requests that arrive without a `traceparent` is taken here, on a
random trace id, the way `TraceIdRatioBased` takes it: most requests are not sampled, and
those never create a span object (the request log still carries their trace id).

Span attributes name the partner, client, product and status, never personal data.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import Token
from dataclasses import dataclass

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.datastructures import Headers

from gateway.telemetry.traces import TraceStore

_PROPAGATOR = TraceContextTextMapPropagator()
_RATIO_MASK = (1 << 64) - 1  # TraceIdRatioBased decides on the trace id's low 64 bits


@dataclass(frozen=True, slots=True)
class ServerSpan:
    """A request's span (None when not sampled), its context token and its trace id."""

    span: Span | None
    token: Token[Context] | None
    trace_id: str

    @property
    def is_recording(self) -> bool:
        return self.span is not None and self.span.is_recording()


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
        # Roots are decided in `open_server_span`; spans with a parent follow its flag.
        self.provider = TracerProvider(resource=resource, sampler=ParentBased(ALWAYS_ON))
        self._bound = TraceIdRatioBased.get_bound_for_rate(sample_ratio)
        self.store: TraceStore | None = None
        if otlp_endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter(endpoint=otlp_traces_url(otlp_endpoint), timeout=5)
            self.provider.add_span_processor(BatchSpanProcessor(exporter))
        else:
            self.store = store or TraceStore()
            self.provider.add_span_processor(SimpleSpanProcessor(self.store))
        self.tracer = self.provider.get_tracer("obgw", service_version)

    def open_server_span(self, name: str, headers: Headers) -> ServerSpan:
        """Start the span of one incoming request, continuing the caller's trace if it sent
        one, and make it current; `close_server_span` ends it. An unsampled root request
        gets only a trace id."""
        if "traceparent" in headers:
            parent = _PROPAGATOR.extract(headers, getter=_GETTER)
            return self._started(self.tracer.start_span(name, context=parent, kind=SpanKind.SERVER))
        trace_id = random.getrandbits(128) or 1
        if trace_id & _RATIO_MASK >= self._bound:
            return ServerSpan(None, None, format(trace_id, "032x"))
        return self._started(self.tracer.start_span(name, kind=SpanKind.SERVER))

    @staticmethod
    def _started(span: Span) -> ServerSpan:
        token = otel_context.attach(trace.set_span_in_context(span))
        return ServerSpan(span, token, trace_id_of(span))

    @staticmethod
    def close_server_span(server: ServerSpan) -> None:
        if server.span is not None and server.token is not None:
            otel_context.detach(server.token)
            server.span.end()

    @contextmanager
    def server_span(self, name: str, headers: Headers) -> Iterator[ServerSpan]:
        """`open_server_span` and `close_server_span` as a context manager."""
        server = self.open_server_span(name, headers)
        try:
            yield server
        finally:
            self.close_server_span(server)

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
