"""structlog set-up: JSON lines on stdout, each carrying the request it belongs to.

The pipeline host puts the current request in `current_request`; every line logged while it
is served names its request id, trace id and partner (one context variable per request,
cheaper than binding several through structlog's contextvars).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import sys
import threading
import time
from collections.abc import MutableMapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
import structlog

from policies.pipeline import Exchange

current_request: ContextVar[Exchange | None] = ContextVar("obgw_request", default=None)
# Libraries that log every call at INFO (the core adapter's HTTP client, migrations).
QUIET = {"httpx": logging.WARNING, "httpcore": logging.WARNING}


class _Timestamp:
    """RFC 3339 UTC timestamps with microseconds (structlog's TimeStamper formats a datetime
    per line; this formats the date and time once per second)."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(
        self, _logger: Any, _method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        event["timestamp"] = f"{self._prefix}.{int((now - second) * 1e6):06d}Z"
        return event


def add_request_context(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Name the request being served (unless the line already does)."""
    exchange = current_request.get()
    if exchange is not None:
        event.setdefault("request_id", exchange.request_id)
        event.setdefault("trace_id", exchange.trace_id)
        if exchange.partner_id is not None:
            event.setdefault("partner_id", exchange.partner_id)
    return event


Stream = Literal["stdout", "stderr"]


class _Pending:
    """Routine log lines not yet written: each costs a system call on an unbuffered stream
    (containers run Python with PYTHONUNBUFFERED), so while a gateway serves they are written
    in batches. Batching lasts only while someone holds it (`flush_periodically`, which
    writes the batches); otherwise each line is written at once. The lines logged after an
    app stops (the server's own shutdown lines) therefore never wait for `atexit`, which does
    not run when the server ends by re-raising SIGTERM."""

    LIMIT = 64 * 1024

    def __init__(self) -> None:
        self._lines: list[tuple[Stream, bytes]] = []
        self._size = 0
        self._holders = 0
        self._lock = threading.Lock()

    def add(self, stream: Stream, line: bytes) -> None:
        with self._lock:
            self._lines.append((stream, line))
            self._size += len(line)
            due = self._size >= self.LIMIT or not self._holders
        if due:
            self.flush()

    def hold(self) -> None:
        """Batch lines until the matching `release`."""
        with self._lock:
            self._holders += 1

    def release(self) -> None:
        """End one `hold`; write what is pending."""
        with self._lock:
            self._holders -= 1
        self.flush()

    def flush(self) -> None:
        with self._lock:
            lines, self._lines, self._size = self._lines, [], 0
        for name in ("stdout", "stderr"):
            chunk = b"".join(line for stream, line in lines if stream == name)
            if chunk:
                out = getattr(sys, name)
                with contextlib.suppress(Exception):
                    out.buffer.write(chunk)
                    out.flush()


_PENDING = _Pending()
atexit.register(_PENDING.flush)


class _Lines:
    """A structlog logger writing to the current `sys.stdout` or `sys.stderr` (looked up at
    each write, so that a replaced stream, as test runners use, is followed).

    Routine lines (the request log) are batched while the gateway serves and written by
    `flush` (every quarter second) or when 64 KiB are pending; warnings and errors go out at
    once, after what is pending, so the order of lines is kept.
    """

    def __init__(self, stream: Stream) -> None:
        self.stream = stream

    def routine(self, message: bytes | str) -> None:
        data = message if isinstance(message, bytes) else message.encode()
        _PENDING.add(self.stream, data + b"\n")

    def urgent(self, message: bytes | str) -> None:
        self.routine(message)
        _PENDING.flush()

    debug = info = msg = routine
    warning = warn = error = critical = exception = fatal = failure = err = urgent


def flush() -> None:
    """Write out every pending log line."""
    _PENDING.flush()


async def flush_periodically(interval: float = 0.25) -> None:
    """Batch routine log lines and write them every `interval` seconds until cancelled; then
    write what is pending, and (unless another gateway in the process still batches) write
    each later line at once."""
    _PENDING.hold()
    try:
        while True:
            await asyncio.sleep(interval)
            flush()
    finally:
        _PENDING.release()


class _LineHandler(logging.Handler):
    """Standard-library records to the current `sys.stdout` or `sys.stderr`."""

    def __init__(self, stream: Stream) -> None:
        super().__init__()
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = (self.format(record) + "\n").encode()
            _PENDING.add(self.stream, line)
            if record.levelno >= logging.WARNING:
                _PENDING.flush()
        except Exception:
            self.handleError(record)


class RequestLines:
    """`policies.request_log.LogSink`: the request log, in the same JSON shape and stream as
    structlog's lines (level, timestamp), written directly: it is one line per request, and
    structlog's processor chain would cost more than the rest of the response phase."""

    def __init__(self, *, enabled: bool, is_json: bool = True, stream: Stream = "stdout") -> None:
        self.enabled = enabled
        self.stream: Stream = stream
        self._timestamp = _Timestamp()
        # Console output (development) goes through structlog's renderer.
        self._console = None if is_json else structlog.get_logger("obgw.request").bind()

    def write(self, event: dict[str, Any]) -> None:
        if not self.enabled:
            return
        if self._console is not None:
            self._console.info(event.pop("event"), **event)
            return
        event["level"] = "info"
        self._timestamp(None, "info", event)
        _PENDING.add(self.stream, orjson.dumps(event) + b"\n")


def request_lines() -> RequestLines:
    """The request log's sink under the current configuration (INFO enables it)."""
    level, is_json, stream = _applied or (logging.INFO, True, "stdout")
    return RequestLines(enabled=level <= logging.INFO, is_json=is_json, stream=stream)


_applied: tuple[int, bool, Stream] | None = None


def configure_logging(level: str = "INFO", *, json: bool = True, stream: Stream = "stdout") -> None:
    """Configure structlog and the standard library once per process (again only if
    something changes): contextvars, request context, ISO time, orjson renderer.

    The gateway logs to stdout; one-off commands log to stderr, so that what they print
    (`--json`) stays machine-readable.
    """
    global _applied
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    if _applied == (numeric, json, stream):
        return
    _applied = (numeric, json, stream)
    lines = _Lines(stream)
    processors: list[structlog.typing.Processor] = [
        add_request_context,
        structlog.processors.add_log_level,
        _Timestamp(),
        structlog.processors.format_exc_info,
    ]
    if json:
        processors.append(structlog.processors.JSONRenderer(serializer=orjson.dumps))
    else:
        processors.append(structlog.dev.ConsoleRenderer(colors=False))
    # Standard-library loggers (uvicorn, SQLAlchemy) render through the same JSON pipeline.
    handler = _LineHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                add_request_context,
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer()
                if json
                else structlog.dev.ConsoleRenderer(colors=False),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    logging.captureWarnings(True)  # Python's warnings as log lines, not bare text on stderr
    root.setLevel(numeric)
    for name, quiet in QUIET.items():
        logging.getLogger(name).setLevel(max(quiet, numeric))
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=lambda *_args: lines,
        cache_logger_on_first_use=True,
    )
