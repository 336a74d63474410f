"""Liveness and readiness probes.

Readiness is this pod's own ability to serve: its database, its Redis (when configured), a
revocation feed that is keeping up (a pod that cannot see revocations must not admit
tokens) and signing keys read recently (a pod that missed a key's revocation must not trust
it). The core's health and breaker are reported but never make a pod unready: every
replica shares the core, and taking them all out of service would turn a degraded core into
a complete outage.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import Field, with_config
from starlette.responses import Response
from typing_extensions import TypedDict

from gateway.deps import Call, CallRoute
from gateway.http.responses import JsonResponse
from gateway.http.routing import product
from gateway.http.schemas import CLOSED, closed

router = APIRouter(tags=["Operations"], route_class=CallRoute)
FEED_STALE_AFTER = 5.0  # seconds without a successful revocation poll


@with_config(closed({"status": "ok"}))
class Liveness(TypedDict):
    status: Literal["ok"]


@with_config(CLOSED)
class CoreReport(TypedDict):
    name: str
    status: Literal["up", "down"]
    breaker: Literal["closed", "open", "half_open"]
    detail: str


@with_config(
    closed(
        {
            "status": "ready",
            "checks": {
                "database": "ok",
                "revocation_feed": "ok",
                "signing_keys": "ok",
                "redis": "ok",
            },
            "core": {
                "name": "fineract",
                "status": "down",
                "breaker": "open",
                "detail": "connection refused",
            },
        }
    )
)
class Readiness(TypedDict):
    """Whether this pod can serve, what it checked, and how the core is doing."""

    status: Literal["ready", "unavailable"]
    checks: Annotated[
        dict[str, Literal["ok", "failing"]],
        Field(description="database, revocation_feed, signing_keys, and redis when configured"),
    ]
    core: CoreReport


@router.get(
    "/healthz",
    summary="The process is alive",
    openapi_extra=product("ops.health.read"),
    response_model=Liveness,
)
async def healthz() -> Response:
    """Always `ok` while the process serves requests."""
    body: Liveness = {"status": "ok"}
    return JsonResponse(body)


@router.get(
    "/readyz",
    summary="This pod can serve",
    openapi_extra=product("ops.health.read"),
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "This pod cannot serve now."}},
)
async def readyz(call: Call) -> Response:
    """`200` when this pod can serve, `503` when it cannot; the core is reported either way."""
    services = call.services
    checks = {"database": await services.db.ping()}
    lag = services.revocation_feed.lag()
    checks["revocation_feed"] = lag is not None and lag < FEED_STALE_AFTER
    keys_lag = services.keys.lag()
    checks["signing_keys"] = keys_lag is not None and keys_lag < FEED_STALE_AFTER
    if services.redis is not None:
        try:
            checks["redis"] = bool(await asyncio.wait_for(services.redis.ping(), 0.5))
        except Exception:
            checks["redis"] = False
    core = await services.core.status()
    ready = all(checks.values())
    body: Readiness = {
        "status": "ready" if ready else "unavailable",
        "checks": {k: "ok" if v else "failing" for k, v in checks.items()},
        "core": {
            "name": core.name,
            "status": "up" if core.health.is_up else "down",
            "breaker": core.breaker.value,
            "detail": core.health.detail,
        },
    }
    return JsonResponse(body, 200 if ready else 503, headers={"Cache-Control": "no-store"})
