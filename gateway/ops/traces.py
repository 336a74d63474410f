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
from policies.messages import Text

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
            Text(
                "Traces are exported to the OpenTelemetry collector (OBGW_OTLP_ENDPOINT): "
                "look them up there.",
                "链路数据已导出到 OpenTelemetry 采集器（OBGW_OTLP_ENDPOINT），请在那里查询。",
            )
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
        raise NotFoundError(
            Text(
                "No trace with this id is kept: it may not have been sampled, or it is older "
                "than the traces kept in memory.",
                "未保留该编号的链路：它可能未被采样，或已超出内存中保留的范围。",
            )
        )
    return JsonResponse(found)
