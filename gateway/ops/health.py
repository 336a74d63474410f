"""Liveness and readiness probes.

Readiness is this pod's own ability to serve: its database, its Redis (when configured) and
a revocation feed that is keeping up (a pod that cannot see revocations must not admit
tokens). The core's health and breaker are reported but never make a pod unready: every
replica shares the core, and taking them all out of service would turn a degraded core into
a complete outage.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter
from pydantic import ConfigDict, Field
from starlette.responses import Response

from gateway.deps import Call, CallRoute
from gateway.http.routing import product
from gateway.http.schemas import Schema

router = APIRouter(tags=["Operations"], route_class=CallRoute)
FEED_STALE_AFTER = 5.0  # seconds without a successful revocation poll


class Liveness(Schema):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"status": "ok"}]})

    status: Literal["ok"]


class CoreReport(Schema):
    name: str
    status: Literal["up", "down"]
    breaker: Literal["closed", "open", "half_open"]
    detail: str


class Readiness(Schema):
    """Whether this pod can serve, what it checked, and how the core is doing."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "status": "ready",
                    "checks": {"database": "ok", "revocation_feed": "ok", "redis": "ok"},
                    "core": {
                        "name": "fineract",
                        "status": "down",
                        "breaker": "open",
                        "detail": "connection refused",
                    },
                }
            ]
        },
    )

    status: Literal["ready", "unavailable"]
    checks: dict[str, Literal["ok", "failing"]] = Field(
        description="database, revocation_feed, and redis when configured"
    )
    core: CoreReport


@router.get("/healthz", summary="The process is alive", openapi_extra=product("ops.health.read"))
async def healthz() -> Liveness:
    """Always `ok` while the process serves requests."""
    return Liveness(status="ok")


@router.get(
    "/readyz",
    summary="This pod can serve",
    openapi_extra=product("ops.health.read"),
    responses={503: {"model": Readiness, "description": "This pod cannot serve now."}},
)
async def readyz(call: Call, response: Response) -> Readiness:
    """`200` when this pod can serve, `503` when it cannot; the core is reported either way."""
    services = call.services
    checks = {"database": await services.db.ping()}
    lag = services.revocation_feed.lag()
    checks["revocation_feed"] = lag is not None and lag < FEED_STALE_AFTER
    if services.redis is not None:
        try:
            checks["redis"] = bool(await asyncio.wait_for(services.redis.ping(), 0.5))
        except Exception:
            checks["redis"] = False
    core = await services.core.status()
    ready = all(checks.values())
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    return Readiness(
        status="ready" if ready else "unavailable",
        checks={k: "ok" if v else "failing" for k, v in checks.items()},
        core=CoreReport(
            name=core.name,
            status="up" if core.health.is_up else "down",
            breaker=core.breaker.value,
            detail=core.health.detail,
        ),
    )
