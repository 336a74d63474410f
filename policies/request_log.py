"""The request log: one JSON line per request, whatever its outcome.

It names the request, its trace, the partner and client, the product and route template
(never the concrete path, which carries resource ids), the status, the problem code and the
latency. Placed first in the pipeline, its response phase sees every outcome.
"""

from __future__ import annotations

import contextlib
from typing import Any

import structlog

from policies.errors import ProblemError
from policies.pipeline import BaseStage, Exchange

_log = structlog.get_logger("obgw.request")


class RequestLog(BaseStage):
    """Writes the request's log line in the response phase."""

    name = "request_log"

    def __init__(self, logger: Any = None) -> None:
        self.log = logger or _log

    async def on_response(self, exchange: Exchange) -> None:
        error = exchange.error
        # A broken log stream must not fail the request it reports.
        with contextlib.suppress(Exception):
            self._write(exchange, error)

    def _write(self, exchange: Exchange, error: ProblemError | None) -> None:
        self.log.info(
            "request",
            request_id=exchange.request_id,
            trace_id=exchange.trace_id,
            method=exchange.method,
            route=exchange.route,
            product=exchange.product.name,
            partner_id=exchange.partner_id,
            client_id=exchange.client_id,
            status=exchange.status,
            problem=error.code if error is not None else None,
            latency_ms=round(exchange.elapsed_ms, 3),
        )
