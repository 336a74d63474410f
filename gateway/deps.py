"""FastAPI dependencies, as `Annotated` aliases in one place.

The pipeline has already admitted the request before the route runs; a route takes what it
established (the caller, the grant, the consent) as a `Call`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from adapters.contract import CoreContext
from gateway.services import Services
from policies.pipeline import AccessGrant, ConsentView, Exchange


async def get_services(request: Request) -> Services:
    """The app's services (async: a plain `def` would cost a thread-pool hop per request)."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


@dataclass(frozen=True, slots=True)
class Call:
    """A request the pipeline admitted: its exchange, and the services that serve it."""

    exchange: Exchange
    services: Services

    @property
    def grant(self) -> AccessGrant:
        assert self.exchange.grant is not None, "the product takes an access token"
        return self.exchange.grant

    @property
    def consent(self) -> ConsentView:
        assert self.exchange.consent is not None, "the product needs a consent"
        return self.exchange.consent

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


async def get_call(request: Request) -> Call:
    exchange: Exchange = request.scope["state"]["exchange"]
    return Call(exchange, request.app.state.services)


CallDep = Annotated[Call, Depends(get_call)]
