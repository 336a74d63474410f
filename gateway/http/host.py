"""The pipeline host: pure ASGI, the one way into the gateway for every HTTP request.

For each request it assigns the request and interaction ids, resolves the API product from
the route table and the client's address (`gateway.http.forwarded`), opens the server span,
builds the `Exchange` and runs the pipeline with the routed app as the terminal stage. Before
the route runs it refuses what no route should see: a method the path does not serve (`405`
with `Allow`), a body that is not JSON for a route that reads JSON (`415`), a body over the
limit (`413`). The app's response is buffered, so every response phase sees the final status,
headers and body before the first byte leaves; an unhandled error becomes a `500` problem and
a client that went away a `499`, and both still pass through the response phases.
"""

from __future__ import annotations

import re

import structlog
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import (
    MethodNotAllowedError,
    PayloadTooLargeError,
    ProblemError,
    UnsupportedMediaTypeError,
    problem_outcome,
)
from gateway.http.forwarded import ClientAddresses
from gateway.http.routing import Resolved, RouteTable
from gateway.http.stack import ROUTE_KEY
from gateway.ids import new_request_id
from gateway.telemetry.logging import current_request
from gateway.telemetry.tracing import Tracing, mark_error
from policies.errors import InternalError
from policies.messages import Text
from policies.pipeline import DISCONNECTED, ClientDisconnected, Exchange, Outcome, Pipeline

SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
JSON_MEDIA_TYPE = re.compile(r"^application/(json|[^;/\s]+\+json)\s*(;|$)", re.IGNORECASE)
log = structlog.get_logger("obgw.http")
NO_STORE = ((b"cache-control", b"no-store"), (b"pragma", b"no-cache"))
NOT_ALLOWED = Text(
    "This path does not serve {method}; the methods it serves are in the Allow header: {allow}.",
    "此路径不支持 {method} 方法；支持的方法见 Allow 响应头：{allow}。",
)
NOT_JSON = Text(
    "The body must be JSON: send it with Content-Type: application/json.",
    "请求体必须是 JSON：请使用 Content-Type: application/json 发送。",
)
TOO_LARGE = Text(
    "The request body is over {limit} bytes: send a smaller body.",
    "请求体超过 {limit} 字节，请缩小后重新发送。",
)


def _safe(value: bytes | None) -> str | None:
    if value is None:
        return None
    text = value.decode("latin-1")
    return text if SAFE_ID.match(text) else None


class PipelineHost:
    """Runs `pipeline` around `app` for every HTTP request (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        table: RouteTable,
        pipeline: Pipeline,
        issuer: str,
        tracing: Tracing,
        max_body_bytes: int,
        addresses: ClientAddresses | None = None,
    ) -> None:
        self.app = app
        self.table = table
        self.pipeline = pipeline
        self.issuer = issuer
        self.tracing = tracing
        self.max_body_bytes = max_body_bytes
        self.addresses = addresses or ClientAddresses()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        raw = dict(scope["headers"])  # one pass; the Headers lookups scan the list each time
        request_id = _safe(raw.get(b"x-request-id")) or new_request_id()
        # FAPI: echo the client's interaction id, or give the exchange one of ours.
        interaction_id = _safe(raw.get(b"x-fapi-interaction-id")) or request_id
        method: str = scope["method"]
        resolved = self.table.resolve(method, scope["path"])
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else scope["path"]
        query = scope["query_string"]
        url = self.issuer + path + ("?" + query.decode("latin-1") if query else "")
        peer = scope.get("client")
        exchange = Exchange(
            product=resolved.product,
            route=resolved.template,
            method=method,
            url=url,
            headers=headers,
            request_id=request_id,
            client_address=self.addresses.resolve(peer[0] if peer else "", scope["headers"]),
        )
        body = _Body(receive, self.max_body_bytes, raw)
        exchange.read_body = body.read
        scope[ROUTE_KEY] = resolved.route
        state = scope.setdefault("state", {})
        state["exchange"] = exchange
        state["request_id"] = request_id
        server = self.tracing.open_server_span(resolved.span_name, headers)
        try:
            exchange.trace_id = server.trace_id
            exchange.is_traced = server.is_recording
            token = current_request.set(exchange)
            try:
                outcome = await self.pipeline.run(
                    exchange, lambda ex: self._route(scope, resolved, body, ex), self._render
                )
            finally:
                current_request.reset(token)
            if server.span is not None and exchange.is_traced:
                span = server.span
                span.set_attributes(
                    {
                        "http.request.method": method,
                        "http.route": exchange.route,
                        "http.response.status_code": outcome.status,
                        "obgw.product": exchange.product.name,
                        "obgw.request_id": request_id,
                        "obgw.partner_id": exchange.partner_id or "",
                        "obgw.client_id": exchange.client_id or "",
                    }
                )
                if exchange.error is not None:
                    span.set_attribute("obgw.problem", exchange.error.code)
                mark_error(span, outcome.status)
        finally:
            self.tracing.close_server_span(server)
            # The server's `receive` belongs to an object that holds this scope, which holds
            # the exchange: let go of it, so the request's objects die with the request
            # instead of waiting for the cycle collector.
            body.release()
            exchange.read_body = _no_body
        await self._send(
            send,
            exchange,
            outcome,
            interaction_id,
            is_head=method == "HEAD",
            is_no_store=resolved.is_no_store,
        )

    async def _route(
        self, scope: Scope, resolved: Resolved, body: _Body, exchange: Exchange
    ) -> Outcome:
        """Call the routed app and collect its whole response."""
        status = 0
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def collect(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        if scope["method"] == "HEAD":
            scope = {**scope, "method": "GET"}
        try:
            _refuse_early(resolved, exchange, body)
            # The body is read here, not by the framework, so that its limit is a 413 and a
            # client that leaves mid-body a 499, whatever the route does with it.
            if body.is_expected:
                await body.read()
            await self.app(scope, body.replay, collect)
        except (ClientDisconnect, ClientDisconnected):
            return Outcome(DISCONNECTED, [])
        except ProblemError as error:
            exchange.error = error
            return self._render(exchange, error)
        except Exception:
            log.exception("unhandled_error", route=exchange.route)
            exchange.error = InternalError()
            return self._render(exchange, exchange.error)
        if not status:
            exchange.error = InternalError()
            return self._render(exchange, exchange.error)
        return Outcome(status, headers, b"".join(chunks))

    def _render(self, exchange: Exchange, error: ProblemError) -> Outcome:
        return problem_outcome(error, exchange.request_id, exchange.headers.get("accept-language"))

    async def _send(
        self,
        send: Send,
        exchange: Exchange,
        outcome: Outcome,
        interaction_id: str,
        *,
        is_head: bool,
        is_no_store: bool,
    ) -> None:
        if outcome.status == DISCONNECTED:
            return
        headers = [
            *outcome.headers,
            (b"x-request-id", exchange.request_id.encode()),
            (b"x-fapi-interaction-id", interaction_id.encode()),
        ]
        present = {name for name, _ in headers}
        for key, value in exchange.response_headers:
            name = key.lower().encode("latin-1")
            if name not in present:
                headers.append((name, value.encode("latin-1")))
                present.add(name)
        if is_no_store and b"cache-control" not in present:
            headers.extend(NO_STORE)
        if b"content-length" not in present:
            headers.append((b"content-length", b"%d" % len(outcome.body)))
        body = b"" if is_head else outcome.body
        await send({"type": "http.response.start", "status": outcome.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _refuse_early(resolved: Resolved, exchange: Exchange, body: _Body) -> None:
    """What the route must not see: a method its path does not serve, a body it cannot read."""
    if resolved.route is None and resolved.allow:
        raise MethodNotAllowedError(
            NOT_ALLOWED.format(method=exchange.method, allow=resolved.allow),
            headers={"Allow": resolved.allow},
        )
    if resolved.takes_json and body.is_expected:
        media_type = exchange.headers.get("content-type", "")
        if not JSON_MEDIA_TYPE.match(media_type):
            # RFC 9110 §15.5.16: say which media types the target accepts.
            accepts = {"Accept-Post": "application/json"} if exchange.method == "POST" else {}
            raise UnsupportedMediaTypeError(NOT_JSON, headers=accepts)


async def _no_body() -> bytes:
    return b""


async def _disconnected() -> Message:
    return {"type": "http.disconnect"}


class _Body:
    """The request body: read at most once from the server, within the size limit, then
    replayed to the app (a stage may have read it first)."""

    def __init__(self, receive: Receive, limit: int, headers: dict[bytes, bytes]) -> None:
        self._receive = receive
        self._limit = limit
        self._buffered: bytes | None = None
        self._received = 0
        self._replayed = False
        declared = headers.get(b"content-length")
        self._too_large = declared is not None and declared.isdigit() and int(declared) > limit
        self.is_expected = b"transfer-encoding" in headers or declared not in (None, b"0")

    def _error(self) -> PayloadTooLargeError:
        return PayloadTooLargeError(TOO_LARGE.format(limit=self._limit))

    async def _next(self) -> Message:
        if self._too_large:
            raise self._error()
        message = await self._receive()
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if self._received > self._limit:
                raise self._error()
        return message

    def release(self) -> None:
        self._receive = _disconnected

    async def read(self) -> bytes:
        """The whole body (for a stage); raises `ClientDisconnect` if the client went away."""
        if self._buffered is None:
            chunks: list[bytes] = []
            while True:
                message = await self._next()
                if message["type"] == "http.disconnect":
                    raise ClientDisconnected()
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            self._buffered = b"".join(chunks)
        return self._buffered

    async def replay(self) -> Message:
        """The app's `receive`: the buffered body once, else the live stream."""
        if self._buffered is not None:
            if not self._replayed:
                self._replayed = True
                return {"type": "http.request", "body": self._buffered, "more_body": False}
            return await self._receive()
        return await self._next()
