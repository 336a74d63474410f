"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from starlette.responses import JSONResponse

from gateway.deps import ServicesDep

router = APIRouter(tags=["Operations"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Database and core reachable")
async def readyz(services: ServicesDep) -> JSONResponse:
    checks = {
        "database": await services.db.ping(),
        "core": await services.core.health(),
    }
    if services.redis is not None:
        try:
            checks["redis"] = bool(await asyncio.wait_for(services.redis.ping(), 0.5))
        except Exception:
            checks["redis"] = False
    ready = all(checks.values())
    body = {
        "status": "ready" if ready else "unavailable",
        "checks": {k: "ok" if v else "failing" for k, v in checks.items()},
    }
    return JSONResponse(body, 200 if ready else 503, headers={"Cache-Control": "no-store"})
