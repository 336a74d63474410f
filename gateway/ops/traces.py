"""Recent traces, for bank operations (when no OpenTelemetry collector is configured)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import ConfigDict, Field
from pydantic.config import JsonDict

from gateway.deps import Call, CallRoute
from gateway.errors import NotFoundError
from gateway.http.routing import product
from gateway.http.schemas import Schema
from gateway.telemetry.traces import TraceStore

router = APIRouter(prefix="/ops/traces", tags=["Operations"], route_class=CallRoute)
TraceId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="A W3C trace id")]


_SUMMARY: JsonDict = {
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
_SPAN: JsonDict = {
    "span_id": "53995c3f42cd8ad8",
    "parent_span_id": "00f067aa0ba902b7",
    "name": "GET /v1/accounts/{account_id}/balances",
    "kind": "server",
    "status": "ok",
    "start_offset_ms": 0.0,
    "duration_ms": 2.417,
    "attributes": {"http.response.status_code": 200, "obgw.product": "accounts.balances.read"},
}


class TraceSummary(Schema):
    """A trace, described by its root span."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_SUMMARY]})

    trace_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    root: str
    started_at: str
    duration_ms: float
    status: str
    span_count: int
    http_status: int | None
    product: str | None
    partner_id: str | None


class SpanOut(Schema):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_SPAN]})

    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    status: str
    start_offset_ms: float
    duration_ms: float
    attributes: dict[str, Any]


class TraceOut(TraceSummary):
    """Every kept span of one trace, in start order."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{**_SUMMARY, "spans": [_SPAN]}]}
    )

    spans: list[SpanOut]


class TraceList(Schema):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"data": [_SUMMARY], "next_cursor": None}]}
    )

    data: list[TraceSummary]
    next_cursor: None = None


def _store(call: Call) -> TraceStore:
    store = call.services.tracing.store
    if store is None:
        raise NotFoundError(
            "traces are exported to the OpenTelemetry collector (OBGW_OTLP_ENDPOINT); "
            "look them up there"
        )
    return store


@router.get("", summary="Recent traces", openapi_extra=product("ops.traces.read", problems=[404]))
async def recent_traces(call: Call, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> TraceList:
    """The newest traces kept in memory (sampled requests), newest first."""
    return TraceList(data=[TraceSummary(**t) for t in _store(call).recent(limit)])


@router.get(
    "/{trace_id}", summary="One trace", openapi_extra=product("ops.traces.read", problems=[404])
)
async def one_trace(call: Call, trace_id: TraceId) -> TraceOut:
    """A trace's spans: the request, each pipeline stage and each core call, in order."""
    found = _store(call).trace(trace_id)
    if found is None:
        raise NotFoundError("no such trace is kept (it may not have been sampled)")
    return TraceOut(**found)
