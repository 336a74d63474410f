"""What routes receive: the services, and the admitted request as a `Call`.

The pipeline has already admitted the request before the route runs; a route takes what it
established (the caller, the grant, the consent) from its `Call` parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from adapters.contract import CoreContext
from gateway.services import Services
from policies.pipeline import AccessGrant, ConsentView, Exchange


class Call(Request):
    """A request the pipeline admitted: its exchange, and the services that serve it.

    A route takes it as a parameter typed `Call` (FastAPI hands request objects to such
    parameters, without the cost of a dependency); `CallRoute` builds it.
    """

    @property
    def exchange(self) -> Exchange:
        exchange: Exchange = self.scope["state"]["exchange"]
        return exchange

    @property
    def services(self) -> Services:
        services: Services = self.scope["app"].state.services
        return services

    @property
    def grant(self) -> AccessGrant:
        grant = self.exchange.grant
        assert grant is not None, "the product takes an access token"
        return grant

    @property
    def consent(self) -> ConsentView:
        consent = self.exchange.consent
        assert consent is not None, "the product needs a consent"
        return consent

    @property
    def partner_id(self) -> str:
        partner_id = self.exchange.partner_id
        assert partner_id is not None, "the product authenticates a partner's client"
        return partner_id

    def core_context(self, *, idempotency_key: str | None = None) -> CoreContext:
        """A context for core calls on behalf of this request, with the core's deadline."""
        return self.services.core.context(
            self.partner_id,
            request_id=self.exchange.request_id,
            idempotency_key=idempotency_key,
        )


class CallRoute(APIRoute):
    """A route whose handler receives a `Call` (set as `route_class` of the routers)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def admitted(request: Request) -> Response:
            return await handler(Call(request.scope, request.receive))

        return admitted
