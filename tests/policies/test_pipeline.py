"""The pipeline: request phases forward, response phases in reverse, even after a rejection."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from policies.catalog import load_catalog
from policies.errors import InsufficientScopeError
from policies.pipeline import BasePolicy, Pipeline, RequestContext
from tests.factories import partner_token, sandbox_partner, services_of


class Recorder(BasePolicy):
    def __init__(self, name: str, log: list[str], reject: bool = False) -> None:
        self.name = name
        self.log = log
        self.reject = reject

    async def on_request(self, ctx: RequestContext) -> None:
        self.log.append(f"req:{self.name}")
        if self.reject:
            raise InsufficientScopeError("no")

    async def on_response(self, ctx: RequestContext) -> None:
        self.log.append(f"resp:{self.name}:{ctx.status}")
        ctx.response_headers.append((f"x-seen-{self.name}", "1"))


def context() -> RequestContext:
    product = load_catalog().product("capabilities.read")
    return RequestContext(
        product=product, method="GET", url="http://127.0.0.1/v1", headers={}, request_id="r"
    )


class TestPipeline:
    async def test_order(self) -> None:
        """Request phases run in order; response phases in reverse."""
        log: list[str] = []
        pipeline = Pipeline([Recorder("a", log), Recorder("b", log)])
        ctx = context()
        await pipeline.run_request(ctx)
        ctx.status = 200
        await pipeline.run_response(ctx)
        assert log == ["req:a", "req:b", "resp:b:200", "resp:a:200"]

    async def test_rejection_still_runs_response_phases(self) -> None:
        """A rejection stops later request phases but the earlier ones still see the response."""
        log: list[str] = []
        pipeline = Pipeline(
            [Recorder("audit", log), Recorder("gate", log, reject=True), Recorder("never", log)]
        )
        ctx = context()
        with pytest.raises(InsufficientScopeError) as rejected:
            await pipeline.run_request(ctx)
        assert ctx.error is rejected.value
        ctx.status = 403
        await pipeline.run_response(ctx)
        assert log == ["req:audit", "req:gate", "resp:gate:403", "resp:audit:403"]


class TestPipelineInTheApp:
    async def test_response_phase_sees_rejections(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """Through the app, the response phase runs for successes and for 401s alike."""
        log: list[str] = []
        pipeline = services_of(app).pipeline
        pipeline.policies = (Recorder("first", log), *pipeline.policies)
        partner = await sandbox_partner(client)
        token = await partner_token(client, partner, "products")
        ok = await client.get("/v1/products/deposits", headers={"Authorization": f"Bearer {token}"})
        denied = await client.get("/v1/products/deposits")
        assert ok.headers["x-seen-first"] == "1"
        assert denied.status_code == 401
        assert denied.headers["x-seen-first"] == "1"
        assert log == ["req:first", "resp:first:200", "req:first", "resp:first:401"]
