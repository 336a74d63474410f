"""The HTTP/1.1 server: uvicorn's httptools protocol with limits on every request head.

uvicorn's httptools protocol takes a request head of any size (httptools buffers a header
value until it ends, so a 50 MB header is held in memory) and waits as long as a client likes
for a head to finish (slowloris). `GatewayHttpProtocol` answers `431` once the request line
and header fields pass `max_bytes` or `max_count`, and `408` when a head has not arrived
`timeout` seconds after it began; a connection that sends nothing (or only blank lines) is
closed after the same time. Each refusal closes the connection. On the hot path this costs a
few attribute reads per chunk read from the socket: a head that arrives in one chunk never
arms a timer.

`server_options` is what `obgw serve` hands uvicorn; the benchmark runs the same protocol.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Any, cast

import httptools
import orjson
import structlog
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from gateway.errors import (
    HeaderFieldsTooLargeError,
    ProblemError,
    RequestTimeoutError,
    problem_body,
    problem_headers,
)
from gateway.http.host import SAFE_ID
from gateway.ids import new_request_id
from gateway.settings import Settings
from policies.messages import Text, negotiate

log = structlog.get_logger("obgw.http")

# Longer than HTTP clients keep an idle connection (httpx: 5 s), so they close it first;
# short enough that idle connections do not pile up.
KEEP_ALIVE_TIMEOUT = 15

TOO_LARGE = Text(
    "The request line and header fields exceed {max_bytes} bytes or {max_count} fields: "
    "send fewer and smaller header fields.",
    "请求行和请求头超过 {max_bytes} 字节或 {max_count} 个字段：请减少请求头的数量和大小。",
)
TOO_SLOW = Text(
    "The request line and header fields did not arrive within {seconds} seconds: send "
    "them without pauses.",
    "请求行和请求头未在 {seconds} 秒内完整到达：请连续发送，不要中途停顿。",
)

LINGER = 1.0
_IDLE, _HEAD, _BODY = 0, 1, 2


@dataclass(frozen=True, slots=True)
class HeadLimits:
    """How large a request head may be and how long it may take to arrive."""

    max_bytes: int = 32 * 1024
    max_count: int = 100
    timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> HeadLimits:
        return cls(settings.max_header_bytes, settings.max_header_count, settings.header_timeout)


class _HeadTooLarge(Exception):
    """Raised in a parser callback: httptools then stops and reports a callback error."""


class GatewayHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with `limits` on request heads (see the module docstring).

    A head is counted by the chunks it arrives in: a chunk in which it begins counts whole
    (it may also hold the end of a pipelined request), which bounds the head from above, so
    the exact size is computed only when that bound passes the limit.
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: HeadLimits | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits or HeadLimits()
        self._state = _IDLE
        self._heads = 0  # request heads begun on this connection
        self._head_bytes = 0  # of the current head, in the chunks before the one being parsed
        self._chunk = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._unset_keepalive_if_required()
        self._chunk = len(data)
        heads = self._heads
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            return
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, _HeadTooLarge):
                self._refuse(HeaderFieldsTooLargeError(self._too_large()))
            else:
                message = "Invalid HTTP request received."
                self.logger.warning(message)
                self.send_400_response(message)
            return
        if self._state == _HEAD:
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.max_bytes:
                self._refuse(HeaderFieldsTooLargeError(self._too_large()))
            elif self._head_timer is None:
                self._arm_head_timer()
        elif (
            self._state == _IDLE
            and self._heads == heads
            and self._head_timer is None
            and self._is_idle()
        ):
            self._arm_head_timer()  # blank lines that begin no request must not hold it open

    def on_message_begin(self) -> None:
        self._state = _HEAD
        self._heads += 1
        self._head_bytes = 0
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._state = _BODY
        if self._head_timer is not None:
            self._cancel_head_timer()
        limits = self.limits
        at_most = self._head_bytes + self._chunk
        if len(self.headers) > limits.max_count or (
            at_most > limits.max_bytes and self._head_size() > limits.max_bytes
        ):
            raise _HeadTooLarge
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._state = _IDLE
        super().on_message_complete()

    def _head_size(self) -> int:
        fields = sum(len(name) + len(value) + 4 for name, value in self.headers)
        return len(self.url) + fields

    def _too_large(self) -> Text:
        return TOO_LARGE.format(max_bytes=self.limits.max_bytes, max_count=self.limits.max_count)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._state == _HEAD:
            self._refuse(RequestTimeoutError(TOO_SLOW.format(seconds=self.limits.timeout)))
        elif self._is_idle():
            self.transport.close()  # nothing but blank lines since the last response

    def _is_idle(self) -> bool:
        """No request on this connection is waiting for its response."""
        return self.cycle is None or self.cycle.response_complete

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.limits.timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _header(self, name: bytes) -> bytes | None:
        return next((value for key, value in self.headers or () if key == name), None)

    def _refuse(self, error: ProblemError) -> None:
        """Answer `error` as a problem, before any route, and close the connection."""
        self._cancel_head_timer()
        accept_language = self._header(b"accept-language")
        language = negotiate(accept_language.decode("latin-1") if accept_language else None)
        request_id = new_request_id()
        body = orjson.dumps(problem_body(error, request_id, language))
        extra = problem_headers(error, language)
        headers = [
            *self.server_state.default_headers,
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", request_id.encode()),
            *((name.lower().encode(), value.encode()) for name, value in extra.items()),
            (b"connection", b"close"),
        ]
        interaction_id = self._header(b"x-fapi-interaction-id")
        if interaction_id is not None and SAFE_ID.match(interaction_id.decode("latin-1")):
            headers.append((b"x-fapi-interaction-id", interaction_id))
        head = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
        self.transport.write(STATUS_LINE[error.status] + head + b"\r\n" + body)
        # Read and drop what the client still sends for a moment before closing: closing with
        # unread data makes the kernel reset the connection, and the client would lose the answer.
        self._refused = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER, self.transport.close)
        log.info("request_refused", status=error.status, code=error.code, request_id=request_id)


def protocol_class(settings: Settings) -> type[asyncio.Protocol]:
    """`GatewayHttpProtocol` with the limits in `settings`, as uvicorn's `http` option.

    A partial rather than a subclass: uvicorn pickles its configuration for worker processes.
    """
    limits = HeadLimits.from_settings(settings)
    return cast("type[asyncio.Protocol]", functools.partial(GatewayHttpProtocol, limits=limits))


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for the gateway, besides the app, address and worker count.

    No WebSocket protocol (the gateway has no WebSocket routes, so an upgrade stays plain
    HTTP), no `server` header, no access log (the pipeline writes the request log).
    """
    return {
        "http": protocol_class(settings),
        "loop": "uvloop",
        "ws": "none",
        "access_log": False,
        "server_header": False,
        "timeout_keep_alive": KEEP_ALIVE_TIMEOUT,
        "log_level": settings.log_level.lower(),
        "log_config": None,  # uvicorn's loggers propagate to the JSON handler
        "proxy_headers": False,  # the gateway reads forwarded headers itself (OBGW_TRUSTED_PROXIES)
    }
