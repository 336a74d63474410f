"""FastAPI dependencies, as `Annotated` aliases in one place.

`guard(product)` runs the policy pipeline for the route's API product and yields the
`RequestContext` (with the verified grant and, for customer data, the consent).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from gateway.services import Services
from policies.catalog import SecurityLevel
from policies.pipeline import RequestContext


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def external_url(services: Services, request: Request) -> str:
    """The URL the partner called, on the issuer's origin (what DPoP `htu` must match)."""
    query = request.url.query
    return services.settings.issuer + request.url.path + (f"?{query}" if query else "")


def guard(product_name: str) -> Callable[[Request, Response], Awaitable[RequestContext]]:
    """A dependency that admits the request through the pipeline for `product_name`."""

    async def admit(request: Request, response: Response) -> RequestContext:
        services = get_services(request)
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
            response.headers["Cache-Control"] = "no-store"
        return ctx

    admit.__name__ = f"guard_{product_name.replace('.', '_')}"
    admit.product = product_name  # type: ignore[attr-defined]
    return admit


def guarded_products(routes: Iterable[BaseRoute]) -> set[str]:
    """The products named by the guards of `routes` (checked against the catalogue)."""
    found: set[str] = set()

    def walk(dependant: Dependant) -> None:
        for dependency in dependant.dependencies:
            product = getattr(dependency.call, "product", None)
            if isinstance(product, str):
                found.add(product)
            walk(dependency)

    for route in routes:
        if isinstance(route, APIRoute):
            walk(route.dependant)
    return found


CapabilitiesRead = Annotated[RequestContext, Depends(guard("capabilities.read"))]
DepositProductsRead = Annotated[RequestContext, Depends(guard("products.deposits.read"))]
LoanProductsRead = Annotated[RequestContext, Depends(guard("products.loans.read"))]
WealthProductsRead = Annotated[RequestContext, Depends(guard("products.wealth.read"))]
ConsentsCreate = Annotated[RequestContext, Depends(guard("consents.create"))]
ConsentsRead = Annotated[RequestContext, Depends(guard("consents.read"))]
ConsentsRevoke = Annotated[RequestContext, Depends(guard("consents.revoke"))]
AccountsList = Annotated[RequestContext, Depends(guard("accounts.list"))]
AccountsRead = Annotated[RequestContext, Depends(guard("accounts.read"))]
BalancesRead = Annotated[RequestContext, Depends(guard("accounts.balances.read"))]
