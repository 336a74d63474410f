"""Request metrics: every answered request counted and timed, by product, in one stage."""

from __future__ import annotations

from typing import Protocol

from policies.pipeline import BaseStage, Exchange


class RequestRecorder(Protocol):
    """Where request measurements go (the gateway's Prometheus registry)."""

    def request(self, product: str, method: str, status: int, seconds: float) -> None: ...


class RequestMetrics(BaseStage):
    """Records each request's product, method, status and latency in the response phase."""

    name = "metrics"

    def __init__(self, recorder: RequestRecorder) -> None:
        self.recorder = recorder

    async def on_response(self, exchange: Exchange) -> None:
        status = exchange.status or 0
        self.recorder.request(
            exchange.product.name, exchange.method, status, exchange.elapsed_ms / 1000
        )
