"""Recent traces kept in memory, for `/ops/traces` when no collector is configured.

A span exporter that groups finished spans by trace, keeps the newest `max_traces` traces
(and at most `max_spans` spans of each), and renders them for the operations API.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import StatusCode
from pydantic import Field, with_config
from pydantic.config import JsonDict
from typing_extensions import TypedDict

from gateway.http.schemas import closed

T = TypeVar("T")

SUMMARY_EXAMPLE: JsonDict = {
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "root": "GET /v1/accounts/{account_id}/balances",
    "started_at": "2026-11-28T02:00:00.000123Z",
    "duration_ms": 2.417,
    "status": "ok",
    "span_count": 7,
    "http_status": 200,
    "product": "accounts.balances.read",
    "partner_id": "ptn_4kq7mz2n3v5w6x7y2a3b",
}
SPAN_EXAMPLE: JsonDict = {
    "span_id": "53995c3f42cd8ad8",
    "parent_span_id": "00f067aa0ba902b7",
    "name": "GET /v1/accounts/{account_id}/balances",
    "kind": "server",
    "status": "ok",
    "start_offset_ms": 0.0,
    "duration_ms": 2.417,
    "attributes": {"http.response.status_code": 200, "obgw.product": "accounts.balances.read"},
}


@with_config(closed(SUMMARY_EXAMPLE))
class TraceSummary(TypedDict):
    """A trace, described by its root span."""

    trace_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    root: str
    started_at: str
    duration_ms: float
    status: Literal["ok", "error"]
    span_count: int
    http_status: int | None
    product: str | None
    partner_id: str | None


@with_config(closed(SPAN_EXAMPLE))
class SpanOut(TypedDict):
    """One span: its parent, name, kind, status, timing and attributes."""

    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    status: Literal["ok", "error"]
    start_offset_ms: float
    duration_ms: float
    attributes: dict[str, Any]


@with_config(closed({**SUMMARY_EXAMPLE, "spans": [SPAN_EXAMPLE]}))
class TraceOut(TraceSummary):
    """Every kept span of one trace, in start order."""

    spans: list[SpanOut]


@dataclass(frozen=True, slots=True)
class SpanRecord:
    """A finished span, reduced to what the operations API shows."""

    span_id: str
    parent_id: str | None
    name: str
    kind: str
    start_ns: int
    end_ns: int
    status: Literal["ok", "error"]
    attributes: dict[str, Any]

    @classmethod
    def of(cls, span: ReadableSpan) -> SpanRecord:
        context = span.get_span_context()
        assert context is not None
        parent = span.parent
        return cls(
            span_id=format(context.span_id, "016x"),
            parent_id=format(parent.span_id, "016x") if parent is not None else None,
            name=span.name,
            kind=span.kind.name.lower(),
            start_ns=span.start_time or 0,
            end_ns=span.end_time or span.start_time or 0,
            status="error" if span.status.status_code is StatusCode.ERROR else "ok",
            attributes=dict(span.attributes or {}),
        )


def _iso(ns: int) -> str:
    return (
        datetime.fromtimestamp(ns / 1e9, UTC)
        .isoformat(timespec="microseconds")
        .replace("+00:00", "Z")
    )


class TraceStore(SpanExporter):
    """The newest traces in memory; thread-safe (exporters may run off the event loop)."""

    def __init__(self, max_traces: int = 1000, max_spans: int = 256) -> None:
        self.max_traces = max_traces
        self.max_spans = max_spans
        self._traces: OrderedDict[str, list[SpanRecord]] = OrderedDict()
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._lock:
            for span in spans:
                context = span.get_span_context()
                if context is None:
                    continue
                trace_id = format(context.trace_id, "032x")
                kept = self._traces.get(trace_id)
                if kept is None:
                    kept = self._traces[trace_id] = []
                    while len(self._traces) > self.max_traces:
                        self._traces.popitem(last=False)
                if len(kept) < self.max_spans:
                    kept.append(SpanRecord.of(span))
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            self._traces.clear()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    def recent(self, limit: int = 50) -> list[TraceSummary]:
        """Summaries of the newest traces first, each described by its root span."""
        with self._lock:
            newest = list(self._traces.items())[-limit:]
        return [_summary(trace_id, spans) for trace_id, spans in reversed(newest)]

    def trace(self, trace_id: str) -> TraceOut | None:
        """Every kept span of one trace, in start order, with offsets from the trace start."""
        with self._lock:
            spans = list(self._traces.get(trace_id, ()))
        if not spans:
            return None
        spans.sort(key=lambda s: (s.start_ns, s.end_ns))
        origin = spans[0].start_ns
        summary = _summary(trace_id, spans)
        return {
            "trace_id": summary["trace_id"],
            "root": summary["root"],
            "started_at": summary["started_at"],
            "duration_ms": summary["duration_ms"],
            "status": summary["status"],
            "span_count": summary["span_count"],
            "http_status": summary["http_status"],
            "product": summary["product"],
            "partner_id": summary["partner_id"],
            "spans": [
                {
                    "span_id": s.span_id,
                    "parent_span_id": s.parent_id,
                    "name": s.name,
                    "kind": s.kind,
                    "status": s.status,
                    "start_offset_ms": round((s.start_ns - origin) / 1e6, 3),
                    "duration_ms": round((s.end_ns - s.start_ns) / 1e6, 3),
                    "attributes": s.attributes,
                }
                for s in spans
            ],
        }


def _summary(trace_id: str, spans: list[SpanRecord]) -> TraceSummary:
    ids = {s.span_id for s in spans}
    root = next((s for s in spans if s.parent_id not in ids), spans[0])
    start = min(s.start_ns for s in spans)
    end = max(s.end_ns for s in spans)
    return {
        "trace_id": trace_id,
        "root": root.name,
        "started_at": _iso(start),
        "duration_ms": round((end - start) / 1e6, 3),
        "status": "error" if any(s.status == "error" for s in spans) else "ok",
        "span_count": len(spans),
        "http_status": _attribute(root, "http.response.status_code", int),
        "product": _attribute(root, "obgw.product", str),
        "partner_id": _attribute(root, "obgw.partner_id", str) or None,
    }


def _attribute(span: SpanRecord, name: str, kind: type[T]) -> T | None:
    value = span.attributes.get(name)
    return value if isinstance(value, kind) else None
