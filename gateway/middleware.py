"""Pure ASGI middleware: request identity, body limits, and a JSON last resort for errors."""

from __future__ import annotations

import re
import uuid
from typing import Any

import orjson
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import PayloadTooLargeError, ProblemError, problem_body
from policies.pipeline import Pipeline, RequestContext

SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
log = structlog.get_logger("obgw.http")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestContextMiddleware:
    """Gives every request an id, echoes FAPI headers, caps bodies, and never leaks a trace.

    - `X-Request-ID`: a safe client value is echoed, else a UUID4 is generated;
    - `x-fapi-interaction-id`: echoed when sent (and safe);
    - bodies over `max_body_bytes` are refused with `413 payload-too-large`;
    - an unhandled exception becomes a `500 internal-error` problem carrying the request id.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int = 64 * 1024) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = _header(scope, b"x-request-id")
        request_id = supplied if supplied and SAFE_ID.match(supplied) else str(uuid.uuid4())
        interaction = _header(scope, b"x-fapi-interaction-id")
        if interaction is not None and not SAFE_ID.match(interaction):
            interaction = None
        language = _header(scope, b"accept-language")
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        extra: list[tuple[bytes, bytes]] = [(b"x-request-id", request_id.encode())]
        if interaction:
            extra.append((b"x-fapi-interaction-id", interaction.encode()))
        started = False

        async def send_with_ids(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        async def reply(error: ProblemError) -> None:
            body = orjson.dumps(problem_body(error, request_id, language))
            headers = [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ]
            headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
            await send_with_ids(
                {"type": "http.response.start", "status": error.status, "headers": headers}
            )
            await send_with_ids({"type": "http.response.body", "body": body})

        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await reply(self._too_large())
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise self._too_large()
            return message

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, limited_receive, send_with_ids)
            except Exception as exc:
                if started:
                    raise
                if isinstance(exc, ProblemError):
                    await reply(exc)
                    return
                log.exception("unhandled_error", path=scope.get("path"))
                await reply(ProblemError("An unexpected error occurred; quote the request id."))

    def _too_large(self) -> PayloadTooLargeError:
        return PayloadTooLargeError(f"Request bodies are limited to {self.max_body_bytes} bytes.")


class PipelineResponseMiddleware:
    """Runs the pipeline's response phases once the status is known, before any byte is sent.

    Routes admitted through `gateway.deps.guard` leave their `RequestContext` in the scope;
    rejections rendered by the exception handlers pass here too, so the response phases
    (audit, metrics, rate-limit headers) see every outcome.
    """

    def __init__(self, app: ASGIApp, *, pipeline: Pipeline) -> None:
        self.app = app
        self.pipeline = pipeline

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_after_policies(message: Message) -> None:
            if message["type"] == "http.response.start":
                ctx = scope.get("state", {}).get("policy_context")
                if isinstance(ctx, RequestContext):
                    ctx.status = message["status"]
                    await self.pipeline.run_response(ctx)
                    if ctx.response_headers:
                        headers = list(message.get("headers", []))
                        present = {name for name, _ in headers}
                        headers += [
                            (name, v.encode())
                            for k, v in ctx.response_headers
                            if (name := k.lower().encode()) not in present
                        ]
                        message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_after_policies)


def request_id_of(scope_or_state: Any) -> str:
    """The request id the middleware assigned."""
    return str(scope_or_state.get("state", {}).get("request_id", ""))
