"""Recent traces, for bank operations (when no OpenTelemetry collector is configured)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import with_config
from starlette.responses import Response
from typing_extensions import TypedDict

from gateway.deps import Call, CallRoute
from gateway.errors import NotFoundError
from gateway.http.responses import JsonResponse
from gateway.http.routing import product
from gateway.http.schemas import closed
from gateway.telemetry.traces import SUMMARY_EXAMPLE, TraceOut, TraceStore, TraceSummary

router = APIRouter(prefix="/ops/traces", tags=["Operations"], route_class=CallRoute)
TraceId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="A W3C trace id")]


@with_config(closed({"data": [SUMMARY_EXAMPLE], "next_cursor": None}))
class TraceList(TypedDict):
    data: list[TraceSummary]
    next_cursor: None


def _store(call: Call) -> TraceStore:
    store = call.services.tracing.store
    if store is None:
        raise NotFoundError(
            "traces are exported to the OpenTelemetry collector (OBGW_OTLP_ENDPOINT); "
            "look them up there"
        )
    return store


@router.get(
    "",
    summary="Recent traces",
    openapi_extra=product("ops.traces.read", problems=[404]),
    response_model=TraceList,
)
async def recent_traces(call: Call, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Response:
    """The newest traces kept in memory (sampled requests), newest first."""
    body: TraceList = {"data": _store(call).recent(limit), "next_cursor": None}
    return JsonResponse(body)


@router.get(
    "/{trace_id}",
    summary="One trace",
    openapi_extra=product("ops.traces.read", problems=[404]),
    response_model=TraceOut,
)
async def one_trace(call: Call, trace_id: TraceId) -> Response:
    """A trace's spans: the request, each pipeline stage and each core call, in order."""
    found = _store(call).trace(trace_id)
    if found is None:
        raise NotFoundError("no such trace is kept (it may not have been sampled)")
    return JsonResponse(found)
