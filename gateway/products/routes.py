"""Capabilities and product catalogues (A1: product and service information)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from adapters.contract import Capability, PageRequest
from gateway.deps import Call, CallRoute
from gateway.http.params import Cursor, PageSize
from gateway.http.responses import JsonResponse
from gateway.http.routing import product
from gateway.http.schemas import Page, money
from gateway.products.schemas import (
    CapabilitiesOut,
    DepositProductOut,
    LoanProductOut,
    WealthProductOut,
)

router = APIRouter(prefix="/v1", tags=["Capabilities and products"], route_class=CallRoute)
DepositProductPage = Page[DepositProductOut]
LoanProductPage = Page[LoanProductOut]
WealthProductPage = Page[WealthProductOut]
CORE_PROBLEMS = [501, 503, 504]


def _product_id(core_ref: str) -> str:
    return "prd_" + core_ref.replace("/", "_")


def offered(declared: frozenset[Capability]) -> frozenset[Capability]:
    """What partners can use: the core's capabilities, and collections (bills and statements
    kept by the gateway) wherever the core can take payments."""
    if Capability.PAYMENTS in declared:
        return declared | {Capability.COLLECTIONS}
    return declared


@router.get(
    "/capabilities",
    summary="What this bank's core supports",
    openapi_extra=product("capabilities.read"),
    response_model=CapabilitiesOut,
)
async def capabilities(call: Call) -> Response:
    """The capabilities the bank's core declares; any valid access token may ask."""
    services = call.services
    body: CapabilitiesOut = {
        "core": services.core.name,
        "environment": services.settings.environment.value,
        "capabilities": sorted(c.value for c in offered(services.core.capabilities())),
    }
    return JsonResponse(body)


@router.get(
    "/products/deposits",
    summary="Term-deposit products",
    openapi_extra=product("products.deposits.read", problems=CORE_PROBLEMS),
    response_model=DepositProductPage,
)
async def deposit_products(call: Call, page_size: PageSize = 50, cursor: Cursor = None) -> Response:
    """The term deposits on offer, with their rates and minimum amounts."""
    found = await call.services.core.deposits.list_deposit_products(
        call.core_context(), PageRequest(page_size, cursor)
    )
    page: DepositProductPage = {
        "data": [
            {
                "product_id": _product_id(p.core_ref),
                "name": p.name,
                "term_months": p.term_months,
                "annual_rate": str(p.annual_rate),
                "min_amount": money(p.min_amount),
                "currency": p.currency,
                "description": p.description,
            }
            for p in found.items
        ],
        "next_cursor": found.next_cursor,
    }
    return JsonResponse(page)


@router.get(
    "/products/loans",
    summary="Loan products",
    openapi_extra=product("products.loans.read", problems=CORE_PROBLEMS),
    response_model=LoanProductPage,
)
async def loan_products(call: Call, page_size: PageSize = 50, cursor: Cursor = None) -> Response:
    """The loans on offer, with their amount and term ranges and rates."""
    found = await call.services.core.loans.list_loan_products(
        call.core_context(), PageRequest(page_size, cursor)
    )
    page: LoanProductPage = {
        "data": [
            {
                "product_id": _product_id(p.core_ref),
                "name": p.name,
                "min_amount": money(p.min_amount),
                "max_amount": money(p.max_amount),
                "min_term_months": p.min_term_months,
                "max_term_months": p.max_term_months,
                "annual_rate": str(p.annual_rate),
                "description": p.description,
            }
            for p in found.items
        ],
        "next_cursor": found.next_cursor,
    }
    return JsonResponse(page)


@router.get(
    "/products/wealth",
    summary="Wealth-management products",
    openapi_extra=product("products.wealth.read", problems=CORE_PROBLEMS),
    response_model=WealthProductPage,
)
async def wealth_products(call: Call, page_size: PageSize = 50, cursor: Cursor = None) -> Response:
    """The wealth products on offer, each with its risk level R1-R5: a customer of risk
    tolerance Cn may subscribe products up to Rn."""
    found = await call.services.core.wealth.list_wealth_products(
        call.core_context(), PageRequest(page_size, cursor)
    )
    page: WealthProductPage = {
        "data": [
            {
                "product_id": _product_id(p.core_ref),
                "name": p.name,
                "risk_level": p.risk_level,
                "expected_annual_return": str(p.expected_annual_return),
                "min_amount": money(p.min_amount),
                "unit_nav": str(p.unit_nav),
                "description": p.description,
            }
            for p in found.items
        ],
        "next_cursor": found.next_cursor,
    }
    return JsonResponse(page)
