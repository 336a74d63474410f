"""structlog set-up: JSON lines on stdout, each carrying the request it belongs to.

The pipeline host puts the current request in `current_request`; every line logged while it
is served names its request id, trace id and partner (one context variable per request,
cheaper than binding several).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from contextvars import ContextVar
from typing import Any, Literal

import orjson
import structlog

from policies.pipeline import Exchange

current_request: ContextVar[Exchange | None] = ContextVar("obgw_request", default=None)
# Libraries that log every call at INFO (the core adapter's HTTP client, migrations).
QUIET = {"httpx": logging.WARNING, "httpcore": logging.WARNING}


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


class _Lines:
    """A structlog logger writing each line to the current `sys.stdout` or `sys.stderr`
    (looked up per line, so that a replaced stream, as test runners use, is followed)."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream

    def msg(self, message: bytes | str) -> None:
        stream = getattr(sys, self.stream)
        if isinstance(message, bytes):
            stream.buffer.write(message + b"\n")
        else:
            stream.write(message + "\n")
        stream.flush()

    debug = info = warning = warn = error = critical = exception = fatal = failure = err = msg


class _LineHandler(logging.Handler):
    """Standard-library records to the current `sys.stdout` or `sys.stderr`."""

    def __init__(self, stream: Stream) -> None:
        super().__init__()
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = getattr(sys, self.stream)
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


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
        structlog.contextvars.merge_contextvars,
        add_request_context,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
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
    root.setLevel(numeric)
    for name, quiet in QUIET.items():
        logging.getLogger(name).setLevel(max(quiet, numeric))
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=lambda *_args: lines,
        cache_logger_on_first_use=True,
    )
