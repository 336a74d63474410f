"""FastAPI dependencies, as `Annotated` aliases in one place.

`guard(product)` runs the policy pipeline for the route's API product and yields the
`RequestContext` (with the verified grant and, for customer data, the consent).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from adapters.contract import CoreContext
from gateway.services import Services
from policies.catalog import SecurityLevel
from policies.pipeline import AccessGrant, ConsentView, RequestContext


async def get_services(request: Request) -> Services:
    """The app's services (async: a plain `def` would cost a thread-pool hop per request)."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def external_url(services: Services, request: Request) -> str:
    """The URL the partner called, on the issuer's origin (what DPoP `htu` must match)."""
    scope = request.scope  # not request.url: building a URL object costs more than this
    raw_path = scope.get("raw_path")
    path: str = raw_path.decode("latin-1") if raw_path else scope["path"]
    query: str = scope["query_string"].decode("latin-1")
    return services.settings.issuer + path + (f"?{query}" if query else "")


@dataclass(frozen=True, slots=True)
class Admitted:
    """A request the pipeline let through: its context, and the services that serve it."""

    ctx: RequestContext
    services: Services

    @property
    def grant(self) -> AccessGrant:
        assert self.ctx.grant is not None, "every guarded product authenticates"
        return self.ctx.grant

    @property
    def consent(self) -> ConsentView:
        assert self.ctx.consent is not None, "only products with permissions have a consent"
        return self.ctx.consent

    @property
    def core_context(self) -> CoreContext:
        return CoreContext(self.grant.partner_id, self.ctx.request_id)


def guard(product_name: str) -> Callable[[Request], Awaitable[Admitted]]:
    """A dependency that admits the request through the pipeline for `product_name`."""

    async def admit(request: Request) -> Admitted:
        services: Services = request.app.state.services
        ctx = RequestContext(
            product=services.catalog.product(product_name),
            method=request.method,
            url=external_url(services, request),
            headers=request.headers,
            request_id=request.state.request_id,
        )
        request.state.policy_context = ctx
        await services.pipeline.run_request(ctx)
        if ctx.product.level is SecurityLevel.A2:
            ctx.response_headers.append(("Cache-Control", "no-store"))
        return Admitted(ctx, services)

    admit.__name__ = f"guard_{product_name.replace('.', '_')}"
    admit.product = product_name  # type: ignore[attr-defined]
    return admit


def guarded_routes(routes: Iterable[BaseRoute]) -> Iterator[tuple[APIRoute, str]]:
    """Each route guarded by `guard(product)`, with its product name."""

    def products(dependant: Dependant) -> Iterator[str]:
        for dependency in dependant.dependencies:
            product = getattr(dependency.call, "product", None)
            if isinstance(product, str):
                yield product
            yield from products(dependency)

    for route in routes:
        if isinstance(route, APIRoute):
            for product in products(route.dependant):
                yield route, product


CapabilitiesRead = Annotated[Admitted, Depends(guard("capabilities.read"))]
DepositProductsRead = Annotated[Admitted, Depends(guard("products.deposits.read"))]
LoanProductsRead = Annotated[Admitted, Depends(guard("products.loans.read"))]
WealthProductsRead = Annotated[Admitted, Depends(guard("products.wealth.read"))]
ConsentsCreate = Annotated[Admitted, Depends(guard("consents.create"))]
ConsentsRead = Annotated[Admitted, Depends(guard("consents.read"))]
ConsentsRevoke = Annotated[Admitted, Depends(guard("consents.revoke"))]
AccountsList = Annotated[Admitted, Depends(guard("accounts.list"))]
AccountsRead = Annotated[Admitted, Depends(guard("accounts.read"))]
BalancesRead = Annotated[Admitted, Depends(guard("accounts.balances.read"))]
