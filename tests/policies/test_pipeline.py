"""The pipeline: request phases forward, response phases in reverse, for every outcome."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.datastructures import Headers

from gateway.http.routing import product
from policies.catalog import load_catalog
from policies.errors import InsufficientScopeError, ProblemError
from policies.pipeline import BaseStage, Exchange, Outcome, Pipeline
from tests.factories import partner_token, sandbox_partner, services_of


class Recorder(BaseStage):
    """Records each phase it sees; optionally rejects, answers itself or reads the body."""

    def __init__(
        self,
        name: str,
        log: list[str],
        *,
        reject: bool = False,
        answer: Outcome | None = None,
        read_body: bool = False,
    ) -> None:
        self.name = name
        self.log = log
        self.reject = reject
        self.answer = answer
        self.read_body = read_body
        self.bodies: list[bytes] = []

    async def on_request(self, exchange: Exchange) -> Outcome | None:
        self.log.append(f"req:{self.name}")
        if self.read_body:
            self.bodies.append(await exchange.body())
        if self.reject:
            raise InsufficientScopeError("no")
        return self.answer

    async def on_response(self, exchange: Exchange) -> None:
        self.log.append(f"resp:{self.name}:{exchange.status}")
        exchange.response_headers.append((f"x-seen-{self.name}", "1"))


def exchange() -> Exchange:
    return Exchange(
        product=load_catalog().product("capabilities.read"),
        route="/v1/capabilities",
        method="GET",
        url="http://127.0.0.1/v1/capabilities",
        headers=Headers({}),
        request_id="r",
    )


def render(ex: Exchange, error: ProblemError) -> Outcome:
    return Outcome.json(error.status, {"code": error.code})


async def ok(ex: Exchange) -> Outcome:
    return Outcome.json(200, {"ok": True})


def insert_first(app: FastAPI, *stages: BaseStage) -> None:
    pipeline = services_of(app).pipeline
    pipeline.stages = (*stages, *pipeline.stages)


class TestPipeline:
    async def test_order(self) -> None:
        """Request phases run in order; response phases in reverse."""
        log: list[str] = []
        outcome = await Pipeline([Recorder("a", log), Recorder("b", log)]).run(
            exchange(), ok, render
        )
        assert outcome.status == 200
        assert log == ["req:a", "req:b", "resp:b:200", "resp:a:200"]

    async def test_rejection_still_runs_response_phases(self) -> None:
        """A rejection stops later request phases but the earlier ones still see the response."""
        log: list[str] = []
        pipeline = Pipeline(
            [Recorder("audit", log), Recorder("gate", log, reject=True), Recorder("never", log)]
        )
        ex = exchange()
        outcome = await pipeline.run(ex, ok, render)
        assert outcome.status == 403
        assert isinstance(ex.error, InsufficientScopeError)
        assert log == ["req:audit", "req:gate", "resp:gate:403", "resp:audit:403"]

    async def test_a_stage_may_answer_itself(self) -> None:
        """A stage's own outcome replaces the route; earlier stages see it in their response."""
        log: list[str] = []
        reply = Outcome.json(200, {"replayed": True})
        routed: list[bool] = []

        async def route(ex: Exchange) -> Outcome:
            routed.append(True)
            return await ok(ex)

        pipeline = Pipeline(
            [Recorder("log", log), Recorder("replay", log, answer=reply), Recorder("later", log)]
        )
        outcome = await pipeline.run(exchange(), route, render)
        assert outcome is reply
        assert routed == []
        assert log == ["req:log", "req:replay", "resp:replay:200", "resp:log:200"]

    async def test_a_failing_response_phase_turns_the_answer_into_a_500(self) -> None:
        """A response phase that fails (an audit write) does not let the original answer out."""
        log: list[str] = []

        class Broken(BaseStage):
            name = "broken"

            async def on_response(self, exchange: Exchange) -> None:
                raise RuntimeError("disk full")

        outcome = await Pipeline([Recorder("first", log), Broken()]).run(exchange(), ok, render)
        assert outcome.status == 500
        assert log == ["req:first", "resp:first:500"]

    async def test_cancellation_still_runs_response_phases(self) -> None:
        """A cancelled request (a server that cancels on disconnect) still runs them, as 499."""
        log: list[str] = []
        started = asyncio.Event()

        async def slow(ex: Exchange) -> Outcome:
            started.set()
            await asyncio.sleep(10)
            return await ok(ex)

        task = asyncio.create_task(Pipeline([Recorder("log", log)]).run(exchange(), slow, render))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert log == ["req:log", "resp:log:499"]


async def asgi_call(
    app: FastAPI, method: str, path: str, messages: list[dict[str, Any]], headers: list[Any]
) -> list[dict[str, Any]]:
    """Drive the app with raw ASGI messages; return what it sent."""
    sent: list[dict[str, Any]] = []
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        if queue:
            return queue.pop(0)
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    await app(scope, receive, send)
    return sent


class TestPipelineInTheApp:
    async def test_response_phase_sees_rejections(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """Through the app, the response phase runs for successes and for 401s alike."""
        log: list[str] = []
        insert_first(app, Recorder("first", log))
        partner = await sandbox_partner(client)
        token = await partner_token(client, partner, "products")
        log.clear()
        ok = await client.get("/v1/products/deposits", headers={"Authorization": f"Bearer {token}"})
        denied = await client.get("/v1/products/deposits")
        assert ok.headers["x-seen-first"] == "1"
        assert denied.status_code == 401
        assert denied.headers["x-seen-first"] == "1"
        assert log == ["req:first", "resp:first:200", "req:first", "resp:first:401"]

    async def test_every_route_enters_the_pipeline(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """The OAuth endpoints, probes, portal, sandbox and unknown paths pass the stages too."""
        log: list[str] = []
        insert_first(app, Recorder("first", log))
        for path in ("/healthz", "/", "/openapi.json", "/.well-known/oauth-authorization-server"):
            assert (await client.get(path)).headers["x-seen-first"] == "1", path
        assert (await client.post("/oauth/token", data={})).headers["x-seen-first"] == "1"
        assert (await client.get("/sandbox/customers")).headers["x-seen-first"] == "1"
        missing = await client.get("/no/such/route")
        assert missing.status_code == 404
        assert missing.headers["x-seen-first"] == "1"

    async def test_malformed_body_without_credentials_is_401(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """Authentication runs before the body is parsed: a broken body without a token is 401."""
        response = await client.post(
            "/v1/consents", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 401
        assert response.json()["code"] == "invalid-token"
        partner = await sandbox_partner(client)
        token = await partner_token(client, partner, "consents")
        control = await client.post(
            "/v1/consents",
            content=b"{not json",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        assert control.status_code == 400

    async def test_unhandled_exception_is_a_500_problem_after_response_phases(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """A route that raises answers a 500 problem with the request id; phases still run."""
        log: list[str] = []
        insert_first(app, Recorder("first", log))

        async def boom() -> None:
            raise RuntimeError("the database caught fire")

        app.add_api_route("/boom", boom, openapi_extra=product("unrouted"))
        response = await client.get("/boom", headers={"X-Request-ID": "req-boom-1"})
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["instance"] == "req-boom-1"
        assert body["code"] == "internal-error"
        assert "fire" not in response.text
        assert response.headers["x-seen-first"] == "1"
        assert log == ["req:first", "resp:first:500"]

    async def test_stage_reply_reaches_the_client_with_other_response_phases(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """A stage answering by itself is what the client gets; stages before it still respond."""
        log: list[str] = []
        reply = Outcome.json(202, {"answered": "by a stage"}, headers={"X-From": "stage"})
        insert_first(app, Recorder("outer", log), Recorder("answer", log, answer=reply))
        response = await client.get("/healthz")
        assert response.status_code == 202
        assert response.json() == {"answered": "by a stage"}
        assert response.headers["x-from"] == "stage"
        assert response.headers["x-seen-outer"] == "1"
        assert response.headers["x-seen-answer"] == "1"
        assert log == ["req:outer", "req:answer", "resp:answer:202", "resp:outer:202"]

    async def test_a_stage_reads_the_body_and_the_route_sees_it_too(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """A stage that asks for the body gets it, and the route still parses the same bytes."""
        log: list[str] = []
        reader = Recorder("reader", log, read_body=True)
        insert_first(app, reader)
        body = b'{"partner_name":"P","sector":"school","contact_email":"a@b.example"}'
        response = await client.post(
            "/sandbox/signup", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 201, response.text
        assert reader.bodies == [body]

    async def test_client_disconnect_runs_response_phases(self, app: FastAPI) -> None:
        """A client that goes away mid-body ends as 499 after every response phase, unsent."""
        log: list[str] = []
        insert_first(app, Recorder("first", log))
        sent = await asgi_call(
            app,
            "POST",
            "/sandbox/signup",
            [
                {"type": "http.request", "body": b'{"partner_', "more_body": True},
                {"type": "http.disconnect"},
            ],
            [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
        )
        assert sent == []
        assert log == ["req:first", "resp:first:499"]

    async def test_disconnect_while_a_stage_reads_the_body(self, app: FastAPI) -> None:
        """The same when a stage was reading the body when the client left."""
        log: list[str] = []
        insert_first(app, Recorder("first", log), Recorder("reader", log, read_body=True))
        sent = await asgi_call(
            app,
            "POST",
            "/sandbox/signup",
            [{"type": "http.disconnect"}],
            [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
        )
        assert sent == []
        assert log == ["req:first", "req:reader", "resp:reader:499", "resp:first:499"]
