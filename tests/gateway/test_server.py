"""The HTTP server protocol: limits on request heads, answered before any route."""

from __future__ import annotations

import asyncio
import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.app import create_app
from gateway.http.server import HeadLimits, server_options
from gateway.settings import Settings
from tests.conftest import free_port, make_settings

HEADER_TIMEOUT = 1.0


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed: float
    sent: int = 0


class Gateway:
    """The gateway app (or `app`) served by uvicorn with the options of `obgw serve`."""

    def __init__(self, settings: Settings, app: ASGIApp | None = None) -> None:
        self.port = int(settings.issuer.rsplit(":", 1)[1])
        config = uvicorn.Config(
            app or create_app(settings),
            host="127.0.0.1",
            port=self.port,
            lifespan="on",
            **server_options(settings),
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Gateway:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert self.thread.is_alive(), "the server stopped"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        sock.settimeout(5)
        return sock


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    port = free_port()
    settings = make_settings(
        tmp_path_factory.mktemp("server"),
        issuer=f"http://127.0.0.1:{port}",
        header_timeout=HEADER_TIMEOUT,
    )
    with Gateway(settings) as served:
        yield served


def head(*fields: bytes, path: bytes = b"/healthz") -> bytes:
    """A GET request head for `path` with `fields` (each `Name: value`)."""
    lines = [b"GET " + path + b" HTTP/1.1", b"Host: 127.0.0.1", *fields]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def read_reply(sock: socket.socket, started: float) -> Reply:
    """One response from `sock` (status, lower-cased headers, body by Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response: {data!r}")
        data += chunk
    raw_head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = raw_head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return Reply(int(status_line.split()[1]), headers, body, time.monotonic() - started)


def send(gateway: Gateway, request: bytes) -> tuple[Reply, bool]:
    """Send `request` on a new connection: the reply, and whether the server closed."""
    with gateway.connect() as sock:
        started = time.monotonic()
        sock.sendall(request)
        reply = read_reply(sock, started)
        return reply, is_closed(sock)


def is_closed(sock: socket.socket, wait: float = 3.0) -> bool:
    sock.settimeout(wait)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def assert_problem(reply: Reply, status: int, code: str) -> dict[str, object]:
    assert reply.status == status, reply
    assert reply.headers["content-type"] == "application/problem+json"
    problem: dict[str, object] = json.loads(reply.body)
    assert problem["status"] == status
    assert problem["code"] == code
    assert problem["type"] == f"/problems/{code}"
    assert problem["instance"] == reply.headers["x-request-id"]
    return problem


class TestHeaderLimits:
    def test_head_below_the_limits_is_served(self, gateway: Gateway) -> None:
        """A 30 KiB header and 90 header fields still reach the route."""
        reply, _ = send(gateway, head(b"X-Large: " + b"a" * (30 * 1024)))
        assert reply.status == 200, reply
        fields = [b"X-Field-%d: %d" % (i, i) for i in range(90)]
        reply, _ = send(gateway, head(*fields))
        assert reply.status == 200, reply

    def test_header_past_the_byte_limit_is_refused(self, gateway: Gateway) -> None:
        """A 40 KiB header is `431 header-fields-too-large`, and the connection is closed."""
        reply, closed = send(gateway, head(b"X-Large: " + b"a" * (40 * 1024)))
        problem = assert_problem(reply, 431, "header-fields-too-large")
        assert "32768" in str(problem["detail"])
        assert reply.headers["connection"] == "close"
        assert closed

    def test_too_many_header_fields_are_refused(self, gateway: Gateway) -> None:
        """150 small header fields are `431`, though far below the byte limit."""
        fields = [b"X-Field-%d: %d" % (i, i) for i in range(150)]
        reply, closed = send(gateway, head(*fields))
        assert_problem(reply, 431, "header-fields-too-large")
        assert closed

    def test_long_request_target_is_refused(self, gateway: Gateway) -> None:
        """A 40 KiB request target counts toward the limit like the header fields."""
        reply, _ = send(gateway, head(path=b"/healthz?q=" + b"a" * (40 * 1024)))
        assert_problem(reply, 431, "header-fields-too-large")
        reply, _ = send(gateway, head(path=b"/healthz?q=" + b"a" * 1024))
        assert reply.status == 200, reply

    def test_endless_header_is_refused_before_it_ends(self, gateway: Gateway) -> None:
        """A header streamed toward 50 MB is refused after its first tens of KiB, not buffered."""
        chunk = b"a" * 65536
        total = 50 * 1024 * 1024
        with gateway.connect() as sock:
            started = time.monotonic()
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: ")
            sent = 0
            while sent < total and not select.select([sock], [], [], 0)[0]:
                try:
                    sock.sendall(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    break
                sent += len(chunk)
            reply = read_reply(sock, started)
        assert_problem(reply, 431, "header-fields-too-large")
        assert sent < 4 * 1024 * 1024
        # The server is unharmed.
        reply, _ = send(gateway, head())
        assert reply.status == 200

    def test_refusal_speaks_the_clients_language(self, gateway: Gateway) -> None:
        """`Accept-Language: zh-CN` gets the refusal in Chinese, with the interaction id echoed."""
        reply, _ = send(
            gateway,
            head(
                b"Accept-Language: zh-CN",
                b"x-fapi-interaction-id: 4f1c2a",
                b"X-Large: " + b"a" * (40 * 1024),
            ),
        )
        problem = assert_problem(reply, 431, "header-fields-too-large")
        assert reply.headers["content-language"] == "zh-CN"
        assert "请求头" in str(problem["detail"])
        assert "请求头" in str(problem["title"])
        assert reply.headers["x-fapi-interaction-id"] == "4f1c2a"


class TestHeaderTimeout:
    def test_head_in_parts_within_the_timeout_is_served(self, gateway: Gateway) -> None:
        """A head sent in two parts 0.3 s apart is served."""
        request = head(b"X-Part: 1")
        with gateway.connect() as sock:
            started = time.monotonic()
            sock.sendall(request[:20])
            time.sleep(0.3)
            sock.sendall(request[20:])
            assert read_reply(sock, started).status == 200

    def test_keep_alive_connection_outlives_the_timeout(self, gateway: Gateway) -> None:
        """Requests on one connection, spaced over more than the head timeout, are all served."""
        with gateway.connect() as sock:
            for _ in range(3):
                started = time.monotonic()
                sock.sendall(head())
                assert read_reply(sock, started).status == 200
                time.sleep(HEADER_TIMEOUT * 0.6)

    def test_trickled_head_is_cut_off(self, gateway: Gateway) -> None:
        """A head trickled a field at a time (slowloris) is `408 request-timeout`, then closed."""
        with gateway.connect() as sock:
            started = time.monotonic()
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            reply = None
            for i in range(40):
                if select.select([sock], [], [], 0.1)[0]:
                    reply = read_reply(sock, started)
                    break
                sock.sendall(b"X-Slow-%d: 1\r\n" % i)
            assert reply is not None, "the server kept waiting for the head"
            assert_problem(reply, 408, "request-timeout")
            assert reply.elapsed < HEADER_TIMEOUT + 1.5
            assert is_closed(sock)

    def test_blank_lines_do_not_hold_a_connection(self, gateway: Gateway) -> None:
        """Blank lines sent before any request, and after a served one, do not keep it open."""
        with gateway.connect() as sock:
            started = time.monotonic()
            sock.sendall(head())
            assert read_reply(sock, started).status == 200
            for _ in range(int(HEADER_TIMEOUT * 5) + 10):
                try:
                    sock.sendall(b"\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    break
                if select.select([sock], [], [], 0.2)[0]:
                    break
            assert is_closed(sock, wait=1.0)
            assert time.monotonic() - started < HEADER_TIMEOUT + 2.5

    def test_slow_response_outlives_the_timeout(self, tmp_path: Path) -> None:
        """A request whose answer takes longer than the head timeout gets it, blank line or not."""

        async def slow(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                return
            await asyncio.sleep(HEADER_TIMEOUT * 1.5)
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"late"})

        port = free_port()
        settings = make_settings(
            tmp_path, issuer=f"http://127.0.0.1:{port}", header_timeout=HEADER_TIMEOUT
        )
        with Gateway(settings, slow) as served, served.connect() as sock:
            started = time.monotonic()
            sock.sendall(head())
            time.sleep(0.1)
            sock.sendall(b"\r\n")  # as some clients send after a request
            reply = read_reply(sock, started)
        assert reply.status == 200
        assert reply.elapsed > HEADER_TIMEOUT

    def test_silent_connection_is_closed(self, gateway: Gateway) -> None:
        """A connection that never sends a byte is closed after the head timeout."""
        with gateway.connect() as sock:
            started = time.monotonic()
            assert is_closed(sock, wait=HEADER_TIMEOUT + 2)
            assert time.monotonic() - started >= HEADER_TIMEOUT * 0.9


class TestServerOptions:
    def test_protocol_defaults_are_the_settings_defaults(self, tmp_path: Path) -> None:
        """The protocol class alone (as the benchmark runs it) has the limits of the settings."""
        assert HeadLimits() == HeadLimits.from_settings(make_settings(tmp_path))

    def test_options_name_what_production_runs(self, tmp_path: Path) -> None:
        """No WebSocket protocol, no server header, no access log, a bounded keep-alive."""
        options = server_options(make_settings(tmp_path))
        assert options["ws"] == "none"
        assert options["server_header"] is False
        assert options["access_log"] is False
        assert 0 < options["timeout_keep_alive"] <= 60
