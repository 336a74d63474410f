"""Capabilities and product catalogues (A1: product and service information)."""

from __future__ import annotations

from fastapi import APIRouter

from adapters.contract import PageRequest
from gateway.deps import CallDep
from gateway.http.params import Cursor, PageSize
from gateway.http.routing import product
from gateway.http.schemas import Money, Page
from gateway.products.schemas import CapabilitiesOut, DepositProductOut

router = APIRouter(prefix="/v1", tags=["Capabilities and products"])
DepositProductPage = Page[DepositProductOut]


@router.get(
    "/capabilities",
    summary="What this bank's core supports",
    openapi_extra=product("capabilities.read"),
)
async def capabilities(call: CallDep) -> CapabilitiesOut:
    """The capabilities the bank's core declares; any valid access token may ask."""
    services = call.services
    return CapabilitiesOut(
        core=services.core.name,
        environment=services.settings.environment.value,
        capabilities=sorted(c.value for c in services.core.capabilities()),
    )


@router.get(
    "/products/deposits",
    summary="Term-deposit products",
    openapi_extra=product("products.deposits.read", problems=[501, 503, 504]),
)
async def deposit_products(
    call: CallDep, page_size: PageSize = 50, cursor: Cursor = None
) -> DepositProductPage:
    """The term deposits on offer, with their rates and minimum amounts."""
    found = await call.services.core.deposits.list_deposit_products(
        call.core_context(), PageRequest(page_size, cursor)
    )
    return DepositProductPage(
        data=[
            DepositProductOut(
                product_id="prd_" + p.core_ref.replace("/", "_"),
                name=p.name,
                term_months=p.term_months,
                annual_rate=str(p.annual_rate),
                min_amount=Money.of(p.min_amount),
                currency=p.currency,
                description=p.description,
            )
            for p in found.items
        ],
        next_cursor=found.next_cursor,
    )
