"""The request log: one JSON line per request, whatever its outcome.

It names the request, its trace, the partner and client, the product and route template
(never the concrete path, which carries resource ids), the status, the problem code and the
latency. Placed first in the pipeline, its response phase sees every outcome.
"""

from __future__ import annotations

from typing import Any, Protocol

from policies.pipeline import BaseStage, Exchange


class LogSink(Protocol):
    """Where request lines go (the gateway's log stream); it never raises: a broken log
    stream must not fail the request it reports."""

    def write(self, event: dict[str, Any]) -> None: ...


class RequestLog(BaseStage):
    """Writes the request's log line in the response phase."""

    name = "request_log"

    def __init__(self, sink: LogSink) -> None:
        self.sink = sink

    async def on_response(self, exchange: Exchange) -> None:
        error = exchange.error
        caller = exchange.caller
        self.sink.write(
            {
                "request_id": exchange.request_id,
                "trace_id": exchange.trace_id,
                "method": exchange.method,
                "route": exchange.route,
                "product": exchange.product.name,
                "partner_id": caller.partner_id if caller is not None else None,
                "client_id": caller.client_id if caller is not None else None,
                "status": exchange.status,
                "problem": error.code if error is not None else None,
                "latency_ms": round(exchange.elapsed_ms, 3),
                "event": "request",
            }
        )
