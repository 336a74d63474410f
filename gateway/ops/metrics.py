"""The Prometheus scrape endpoint."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from gateway.deps import Call, CallRoute
from gateway.http.routing import product
from gateway.telemetry.metrics import CONTENT_TYPE

router = APIRouter(tags=["Operations"], route_class=CallRoute)
EXAMPLE = 'obgw_requests_total{method="GET",product="accounts.read",status="200"} 42.0\n'


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    openapi_extra=product("ops.metrics.read"),
    response_class=Response,
    responses={
        200: {
            "content": {
                CONTENT_TYPE: {
                    "schema": {"type": "string"},
                    "example": "obgw_requests_total{...} 1.0\n",
                }
            },
            "description": "The Prometheus text exposition format.",
        }
    },
)
async def metrics(call: Call) -> Response:
    """Requests by product and status, latency histograms, core calls and errors, and the
    core's breaker state; for the ServiceMonitor of the Helm chart."""
    services = call.services
    return Response(
        services.metrics.exposition(),
        media_type=CONTENT_TYPE,
        headers={"Cache-Control": "no-store"},
    )
